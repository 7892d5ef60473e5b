//! Signed manifests and the keys that sign them.

mod common;

use audit::{
    Format, Manifest, SignatureStatus, generate_key_pair, parse_public_key, parse_signing_key,
    verify_reader,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Edit, events, export, manifest, time};
use ed25519_dalek::{SigningKey, VerifyingKey};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn signed(format: Format) -> (Vec<u8>, Manifest) {
    let (bytes, summary) = export(&events(20), format);
    let mut manifest = manifest(&summary, format);
    manifest.sign(&key(1));
    (bytes, manifest)
}

#[test]
fn a_signed_manifest_verifies_as_trusted_with_its_public_key() {
    for format in [Format::Jsonl, Format::Csv] {
        let (bytes, manifest) = signed(format);
        let public = key(1).verifying_key();
        let report = verify_reader(&bytes[..], format, Some(&manifest), Some(&public)).unwrap();
        assert_eq!(report.signature, SignatureStatus::Valid { trusted: true });
        assert!(report.is_ok());
        // Without a trusted key only the embedded one can be used.
        let report = verify_reader(&bytes[..], format, Some(&manifest), None).unwrap();
        assert_eq!(report.signature, SignatureStatus::Valid { trusted: false });
    }
}

#[test]
fn a_manifest_signed_by_another_key_is_the_wrong_key() {
    let (bytes, manifest) = signed(Format::Jsonl);
    let other = key(2).verifying_key();
    let report = verify_reader(&bytes[..], Format::Jsonl, Some(&manifest), Some(&other)).unwrap();
    assert_eq!(report.signature, SignatureStatus::WrongKey);
    assert!(report.problem.is_none());
    assert!(!report.is_ok());

    // Re-signing an edited manifest with one's own key is caught the same way.
    let mut forged = manifest.clone();
    forged.count += 1;
    forged.sign(&key(2));
    assert_eq!(
        forged.check_signature(None),
        SignatureStatus::Valid { trusted: false }
    );
    assert_eq!(
        forged.check_signature(Some(&key(1).verifying_key())),
        SignatureStatus::WrongKey
    );
}

#[test]
fn editing_any_manifest_field_invalidates_the_signature() {
    let (_, manifest) = signed(Format::Jsonl);
    let trusted = key(1).verifying_key();
    assert_eq!(
        manifest.check_signature(Some(&trusted)),
        SignatureStatus::Valid { trusted: true }
    );
    let edits: Vec<(&str, Edit)> = vec![
        ("manifest_version", |m| m.manifest_version = 2),
        ("tool", |m| m.tool.push('x')),
        ("tool_version", |m| m.tool_version = "0.1.1".into()),
        ("created_at", |m| {
            m.created_at += chrono::Duration::microseconds(1)
        }),
        ("format", |m| m.format = Format::Csv),
        ("file_sha256", |m| m.file_sha256 = "0".repeat(64)),
        ("count", |m| m.count -= 1),
        ("first_position", |m| m.first_position = Some(11)),
        ("last_position", |m| m.last_position = None),
        ("head_hash", |m| m.head_hash = audit::GENESIS.into()),
        ("filters.tenant", |m| m.filters.tenant = "acme2".into()),
        ("filters.from", |m| m.filters.from = None),
        ("filters.to", |m| m.filters.to = Some(time(5))),
        ("filters.conversation", |m| m.filters.conversation = None),
        ("filters.types", |m| {
            m.filters.types.push("ReactionAdded".into())
        }),
        ("signature.algorithm", |m| {
            m.signature.as_mut().unwrap().algorithm = "rsa".into()
        }),
        ("signature.value", |m| {
            let s = m.signature.as_mut().unwrap();
            let mut value = STANDARD.decode(&s.value).unwrap();
            value[0] ^= 1;
            s.value = STANDARD.encode(value);
        }),
    ];
    for (field, edit) in edits {
        let mut edited = manifest.clone();
        edit(&mut edited);
        for trusted in [Some(&trusted), None] {
            assert!(
                matches!(edited.check_signature(trusted), SignatureStatus::Invalid(_)),
                "{field}: {:?}",
                edited.check_signature(trusted)
            );
        }
    }
    // Swapping in another public key: the wrong key when one is trusted,
    // and a signature that does not match it otherwise.
    let mut edited = manifest.clone();
    edited.signature.as_mut().unwrap().public_key =
        STANDARD.encode(key(2).verifying_key().as_bytes());
    assert_eq!(
        edited.check_signature(Some(&trusted)),
        SignatureStatus::WrongKey
    );
    assert!(matches!(
        edited.check_signature(None),
        SignatureStatus::Invalid(_)
    ));
}

#[test]
fn an_edited_manifest_file_fails_the_signature_after_loading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl.manifest.json");
    let (_, manifest) = signed(Format::Jsonl);
    manifest.save(&path).unwrap();
    let loaded = Manifest::load(&path).unwrap();
    assert_eq!(
        loaded.check_signature(Some(&key(1).verifying_key())),
        SignatureStatus::Valid { trusted: true }
    );

    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("\"count\": 20", "\"count\": 19", 1);
    assert_ne!(text, edited);
    std::fs::write(&path, edited).unwrap();
    let loaded = Manifest::load(&path).unwrap();
    assert!(matches!(
        loaded.check_signature(None),
        SignatureStatus::Invalid(_)
    ));

    // A key the signature does not cover is refused rather than ignored.
    let added = text.replacen("\"count\": 20", "\"count\": 20,\n  \"note\": \"x\"", 1);
    std::fs::write(&path, added).unwrap();
    assert!(matches!(
        Manifest::load(&path),
        Err(audit::AuditError::Manifest { .. })
    ));
}

#[test]
fn an_unsigned_manifest_is_unsigned() {
    let (bytes, summary) = export(&events(3), Format::Csv);
    let manifest = manifest(&summary, Format::Csv);
    assert!(manifest.signature.is_none());
    assert!(
        !serde_json::to_string(&manifest)
            .unwrap()
            .contains("signature")
    );
    let report = verify_reader(
        &bytes[..],
        Format::Csv,
        Some(&manifest),
        Some(&key(1).verifying_key()),
    )
    .unwrap();
    assert_eq!(report.signature, SignatureStatus::Unsigned);
    assert!(report.is_ok());
}

#[test]
fn generated_pem_keys_round_trip_and_sign() {
    let (private, public) = generate_key_pair();
    assert!(
        private.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "{private}"
    );
    assert!(
        public.starts_with("-----BEGIN PUBLIC KEY-----\n"),
        "{public}"
    );
    let signing = parse_signing_key(&format!("\n  {private}\n\n")).unwrap();
    let verifying = parse_public_key(&public).unwrap();
    assert_eq!(signing.verifying_key(), verifying);

    let (_, summary) = export(&events(2), Format::Jsonl);
    let mut manifest = manifest(&summary, Format::Jsonl);
    manifest.sign(&signing);
    assert_eq!(
        manifest.check_signature(Some(&verifying)),
        SignatureStatus::Valid { trusted: true }
    );

    let (other_private, _) = generate_key_pair();
    assert_ne!(other_private, private);
}

#[test]
fn base64_and_hex_seeds_and_public_keys_parse() {
    let seed = [7u8; 32];
    let expected = SigningKey::from_bytes(&seed);
    for text in [
        hex::encode(seed),
        hex::encode_upper(seed),
        STANDARD.encode(seed),
        format!(" {}\n", STANDARD.encode(seed)),
    ] {
        assert_eq!(parse_signing_key(&text).unwrap().to_bytes(), seed, "{text}");
    }
    let public: VerifyingKey = expected.verifying_key();
    for text in [
        hex::encode(public.as_bytes()),
        STANDARD.encode(public.as_bytes()),
    ] {
        assert_eq!(parse_public_key(&text).unwrap(), public, "{text}");
    }
}

#[test]
fn garbage_keys_are_refused() {
    let (private, public) = generate_key_pair();
    for text in [
        "",
        "hello world",
        &hex::encode([7u8; 31]),
        &STANDARD.encode([7u8; 33]),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        &public,
    ] {
        assert!(
            matches!(
                parse_signing_key(text),
                Err(audit::AuditError::InvalidKey(_))
            ),
            "signing key {text:?}"
        );
    }
    for text in ["", "zz", &STANDARD.encode([1u8; 16]), &private] {
        assert!(
            matches!(
                parse_public_key(text),
                Err(audit::AuditError::InvalidKey(_))
            ),
            "public key {text:?}"
        );
    }
}
