//! The `replay` executable as an auditor runs it: exit codes, messages,
//! keys from the environment, on SQLite and PostgreSQL.

use std::process::{Command, Output};

use serde_json::json;
use store::testing::TestDatabase;
use store::{Backend, EventLog, ExpectedVersion, NewEvent, both_backends};

both_backends!(
    verify_exits_zero_on_an_intact_signed_export_and_one_on_a_tampered_one,
    bad_arguments_exit_one_with_a_clear_message_and_write_nothing,
);

fn replay(url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replay"))
        .env("DATABASE_URL", url)
        .env_remove("PARLEY_EXPORT_SIGNING_KEY")
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("the replay executable runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A few events of two tenants, straight into the log.
async fn seeded(backend: Backend) -> TestDatabase {
    let db = TestDatabase::new(backend).await;
    let log = EventLog::connect(db.url()).await.unwrap();
    for tenant in ["acme", "globex"] {
        for n in 0..5 {
            let event = NewEvent {
                event_id: uuid::Uuid::new_v4(),
                event_type: "NotePosted".into(),
                schema_version: 1,
                tenant: tenant.into(),
                payload: json!({ "n": n, "text": format!("note {n} of {tenant}") }),
                metadata: json!({ "actor": "ana" }),
            };
            log.append(
                &format!("note/{tenant}/1"),
                ExpectedVersion::Any,
                vec![event],
            )
            .await
            .unwrap();
        }
    }
    log.close().await;
    log.db().close().await;
    db
}

async fn verify_exits_zero_on_an_intact_signed_export_and_one_on_a_tampered_one(backend: Backend) {
    let db = seeded(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = replay(db.url(), &["keygen"], &[]);
    assert!(keys.status.success(), "{}", text(&keys));
    let pem = String::from_utf8(keys.stdout).unwrap();
    let split = pem
        .find("-----BEGIN PUBLIC KEY-----")
        .expect("a public key");
    let (private, public) = pem.split_at(split);
    let public_file = dir.path().join("public.pem");
    std::fs::write(&public_file, public).unwrap();

    let file = dir.path().join("acme.jsonl");
    let export = replay(
        db.url(),
        &[
            "export",
            "--tenant",
            "acme",
            "--out",
            file.to_str().unwrap(),
        ],
        &[("PARLEY_EXPORT_SIGNING_KEY", private)],
    );
    assert!(export.status.success(), "{}", text(&export));
    assert!(
        text(&export).contains("exported 5 events"),
        "{}",
        text(&export)
    );
    assert!(
        !text(&export).contains("PRIVATE KEY"),
        "the key never appears in output"
    );

    let verify = replay(
        db.url(),
        &[
            "verify",
            file.to_str().unwrap(),
            "--public-key",
            public_file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
    assert!(text(&verify).contains("OK: 5 events"), "{}", text(&verify));
    assert!(
        text(&verify).contains("signature valid"),
        "{}",
        text(&verify)
    );

    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        original.replacen("note 3 of acme", "note 3 of acmf", 1),
    )
    .unwrap();
    let verify = replay(db.url(), &["verify", file.to_str().unwrap()], &[]);
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    assert!(
        text(&verify).contains("record 4"),
        "the edited record is named: {}",
        text(&verify)
    );
}

async fn bad_arguments_exit_one_with_a_clear_message_and_write_nothing(backend: Backend) {
    let db = seeded(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.jsonl");
    let absent = dir.path().join("absent.jsonl");
    let cases: [(&[&str], &str); 4] = [
        (
            &["rebuild", "--projection", "nope"],
            "no projection named \"nope\"",
        ),
        (
            &[
                "export",
                "--tenant",
                "acme",
                "--out",
                file.to_str().unwrap(),
                "--signing-key",
                "not a key",
            ],
            "key",
        ),
        (
            &["as-of", "--conversation", "missing", "--position", "3"],
            "no conversation missing",
        ),
        (&["verify", absent.to_str().unwrap()], "absent.jsonl"),
    ];
    for (args, says) in cases {
        let output = replay(db.url(), args, &[]);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", text(&output));
        assert!(text(&output).contains(says), "{args:?}: {}", text(&output));
    }
    assert!(!file.exists(), "a bad key writes no export");
}
