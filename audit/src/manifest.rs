//! The manifest written beside an export: what the file must hold, and an
//! optional Ed25519 signature over all of it.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{AuditError, ChainSummary, Format};

/// The `manifest_version` this crate writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// The `tool` named in manifests this crate writes.
pub const TOOL: &str = "parley-audit";

const ALGORITHM: &str = "ed25519";

/// Which events the export was asked for, so an auditor can tell a
/// deliberately partial export from a truncated one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    pub tenant: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub conversation: Option<String>,
    #[serde(default)]
    pub types: Vec<String>,
}

/// The manifest. Unknown keys are refused when reading, because anything in
/// the file that the signature did not cover must not look as if it were.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub manifest_version: u32,
    pub tool: String,
    pub tool_version: String,
    pub created_at: DateTime<Utc>,
    pub format: Format,
    pub file_sha256: String,
    pub count: u64,
    pub first_position: Option<i64>,
    pub last_position: Option<i64>,
    pub head_hash: String,
    pub filters: Filters,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// An Ed25519 signature over the manifest's canonical JSON without `signature`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Always `"ed25519"`.
    pub algorithm: String,
    /// Base64 of the 32-byte public key.
    pub public_key: String,
    /// Base64 of the 64-byte signature.
    pub value: String,
}

/// The outcome of checking a manifest's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureStatus {
    Unsigned,
    /// `trusted` is false when the signature was checked only against the
    /// key embedded in the manifest, which proves integrity but not origin.
    Valid {
        trusted: bool,
    },
    Invalid(String),
    /// A trusted key was given and the manifest was signed by another.
    WrongKey,
}

impl Manifest {
    /// An unsigned manifest for an export that `summary` describes.
    pub fn new(
        summary: &ChainSummary,
        format: Format,
        filters: Filters,
        tool_version: &str,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            manifest_version: MANIFEST_VERSION,
            tool: TOOL.to_owned(),
            tool_version: tool_version.to_owned(),
            created_at,
            format,
            file_sha256: summary.sha256.clone(),
            count: summary.count,
            first_position: summary.first_position,
            last_position: summary.last_position,
            head_hash: summary.head_hash.clone(),
            filters,
            signature: None,
        }
    }

    /// Signs every other field; replaces any earlier signature.
    pub fn sign(&mut self, key: &SigningKey) {
        let signature = key.sign(&self.signed_bytes());
        self.signature = Some(Signature {
            algorithm: ALGORITHM.to_owned(),
            public_key: STANDARD.encode(key.verifying_key().as_bytes()),
            value: STANDARD.encode(signature.to_bytes()),
        });
    }

    /// Checks the signature, against `trusted` when given. Without it, only
    /// the key embedded in the manifest is available, which anyone who
    /// rewrote the manifest could have replaced: hence `trusted: false`.
    pub fn check_signature(&self, trusted: Option<&VerifyingKey>) -> SignatureStatus {
        let Some(signature) = &self.signature else {
            return SignatureStatus::Unsigned;
        };
        if signature.algorithm != ALGORITHM {
            return SignatureStatus::Invalid(format!(
                "unsupported signature algorithm {:?}",
                signature.algorithm
            ));
        }
        let embedded = match decode_array::<32>(&signature.public_key)
            .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
        {
            Some(key) => key,
            None => {
                return SignatureStatus::Invalid(
                    "the public key is not a base64 Ed25519 key".into(),
                );
            }
        };
        if trusted.is_some_and(|t| t.as_bytes() != embedded.as_bytes()) {
            return SignatureStatus::WrongKey;
        }
        let Some(value) = decode_array::<64>(&signature.value) else {
            return SignatureStatus::Invalid(
                "the signature value is not 64 bytes of base64".into(),
            );
        };
        let value = ed25519_dalek::Signature::from_bytes(&value);
        match embedded.verify_strict(&self.signed_bytes(), &value) {
            Ok(()) => SignatureStatus::Valid {
                trusted: trusted.is_some(),
            },
            Err(_) => SignatureStatus::Invalid("the signature does not match the manifest".into()),
        }
    }

    /// Reads a manifest; refuses unknown keys and other manifest versions.
    pub fn load(path: &Path) -> Result<Self, AuditError> {
        let unreadable = |reason: String| AuditError::Manifest {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
        let manifest: Manifest =
            serde_json::from_slice(&text).map_err(|e| unreadable(e.to_string()))?;
        if manifest.manifest_version != MANIFEST_VERSION {
            return Err(unreadable(format!(
                "manifest_version {} is not supported (expected {MANIFEST_VERSION})",
                manifest.manifest_version
            )));
        }
        Ok(manifest)
    }

    /// Writes the manifest as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), AuditError> {
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        std::fs::write(path, text)?;
        Ok(())
    }

    /// The canonical JSON that the signature covers: everything but `signature`.
    fn signed_bytes(&self) -> Vec<u8> {
        let unsigned = Manifest {
            signature: None,
            ..self.clone()
        };
        serde_json_canonicalizer::to_vec(&unsigned)
            .expect("a manifest has string keys and no floats, so JCS cannot fail")
    }
}

/// Where the manifest of `export` lives: `<file>.manifest.json`.
pub fn manifest_path_for(export: &Path) -> PathBuf {
    let mut path = export.as_os_str().to_owned();
    path.push(".manifest.json");
    PathBuf::from(path)
}

fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    STANDARD.decode(text).ok()?.try_into().ok()
}
