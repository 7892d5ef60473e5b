//! Ed25519 keys for signing manifests, in the forms people paste: PEM from
//! `keygen` or OpenSSL, or the raw 32 bytes as base64 or hex.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::AuditError;

/// A private key from PKCS#8 PEM, or base64 or hex of the 32-byte seed.
pub fn parse_signing_key(text: &str) -> Result<SigningKey, AuditError> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return SigningKey::from_pkcs8_pem(text).map_err(|e| {
            AuditError::InvalidKey(format!("not a PKCS#8 PEM Ed25519 private key: {e}"))
        });
    }
    Ok(SigningKey::from_bytes(&decode_32(text, "private key")?))
}

/// A public key from SPKI PEM, or base64 or hex of its 32 bytes.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, AuditError> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(text).map_err(|e| {
            AuditError::InvalidKey(format!("not an SPKI PEM Ed25519 public key: {e}"))
        });
    }
    VerifyingKey::from_bytes(&decode_32(text, "public key")?)
        .map_err(|_| AuditError::InvalidKey("the 32 bytes are not an Ed25519 public key".into()))
}

/// A fresh key pair: (private key as PKCS#8 PEM, public key as SPKI PEM).
///
/// # Panics
/// When the operating system has no random source to read the seed from.
pub fn generate_key_pair() -> (String, String) {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the operating system's random source is unavailable");
    let key = SigningKey::from_bytes(&seed);
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .expect("an Ed25519 key encodes as PKCS#8");
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("an Ed25519 key encodes as SPKI");
    (private.to_string(), public)
}

fn decode_32(text: &str, what: &str) -> Result<[u8; 32], AuditError> {
    // 64 hex digits are also valid base64 (of 48 bytes), so hex goes first.
    let mut bytes = [0u8; 32];
    if text.len() == 64 && hex::decode_to_slice(text, &mut bytes).is_ok() {
        return Ok(bytes);
    }
    let decoded = STANDARD_PAD_INDIFFERENT
        .decode(text)
        .or_else(|_| URL_SAFE_PAD_INDIFFERENT.decode(text))
        .map_err(|_| {
            AuditError::InvalidKey(format!(
                "the {what} is neither PEM nor base64 or hex of 32 bytes"
            ))
        })?;
    decoded.try_into().map_err(|d: Vec<u8>| {
        AuditError::InvalidKey(format!("the {what} is {} bytes long, expected 32", d.len()))
    })
}
