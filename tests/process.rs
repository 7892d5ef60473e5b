//! The real `gateway` binary as a child process: it serves on SQLite or
//! PostgreSQL, drains on SIGTERM, keeps every acknowledged message through
//! SIGKILL, and never writes a secret to its output.

use e2e::{GatewayProcess, SECRET, TestClient, both_backends, join, send, token};
use serde_json::{Value, json};
use std::collections::HashSet;
use store::Backend;
use store::testing::TestDatabase;

both_backends!(
    the_binary_drains_and_exits_cleanly_on_sigterm_and_logs_no_secret,
    acknowledged_messages_survive_kill_9_under_load,
);

/// The database URL with a password in it (trust auth ignores it), so the
/// test can check that the password never reaches the output.
fn with_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    match rest.split_once('@') {
        Some((user, host)) if !user.contains(':') && scheme.starts_with("postgres") => {
            let password = "pw-never-logged-7f3a".to_owned();
            (
                format!("{scheme}://{user}:{password}@{host}"),
                Some(password),
            )
        }
        Some((userinfo, _)) => (
            url.to_owned(),
            userinfo.split_once(':').map(|(_, p)| p.to_owned()),
        ),
        None => (url.to_owned(), None),
    }
}

async fn client(url: &str, user: &str) -> TestClient {
    let mut client = TestClient::connect(
        url,
        Some(json!({ "token": token("acme", user, "agent") })),
        &[],
    )
    .await;
    client.expect("connected").await;
    client
}

async fn the_binary_drains_and_exits_cleanly_on_sigterm_and_logs_no_secret(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (url, password) = with_password(db.url());
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("PARLEY_JWT_SECRET", SECRET),
    ];
    let gateway = GatewayProcess::start(&env);
    let mut ana = client(&gateway.url(), "ana").await;
    join(&mut ana, "acme", "conv-1").await;
    let sent = send(&mut ana, "acme", "conv-1", "before SIGTERM").await;
    let (status, output) = gateway.terminate();
    assert!(status.success(), "exit status {status}: {output}");
    assert!(output.contains("stopped"), "{output}");
    assert!(
        !output.contains(SECRET),
        "the JWT secret reached the output"
    );
    if let Some(password) = password {
        assert!(
            !output.contains(&password),
            "the database password reached the output"
        );
    }

    let gateway = GatewayProcess::start(&env);
    let mut bob = client(&gateway.url(), "bob").await;
    bob.emit(
        "conversation:rejoin",
        json!({ "conversationId": "conv-1", "customerId": "acme" }),
    )
    .await;
    let rejoined = bob.expect("conversation:rejoined").await;
    assert_eq!(rejoined["missed_messages"][0]["id"], sent["id"]);
    let (status, _) = gateway.terminate();
    assert!(status.success());
}

async fn acknowledged_messages_survive_kill_9_under_load(backend: Backend) {
    const SENDERS: usize = 4;
    const PER_SENDER: usize = 150;
    let db = TestDatabase::new(backend).await;
    // Each sender sends more than a person would: lift the rate limit.
    let env = [
        ("DATABASE_URL", db.url()),
        ("PARLEY_JWT_SECRET", SECRET),
        ("PARLEY_RATE_LIMIT_EVENTS", "100000"),
    ];
    let gateway = GatewayProcess::start(&env);
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let mut sender = client(&gateway.url(), &format!("sender-{s}")).await;
        join(&mut sender, "acme", "load").await;
        senders.push(sender);
    }
    for n in 0..PER_SENDER {
        for (s, sender) in senders.iter().enumerate() {
            sender
                .emit(
                    "message:send",
                    json!({ "conversationId": "load", "customerId": "acme",
                            "content": format!("{s}/{n}"), "optimisticId": format!("{s}/{n}") }),
                )
                .await;
        }
    }
    // Kill as soon as a third of the messages are acknowledged.
    let mut acked = HashSet::new();
    for sender in senders.iter_mut() {
        for _ in 0..PER_SENDER / 3 {
            acked.insert(
                sender.expect("message:sent").await["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    gateway.kill();
    for sender in senders.iter_mut() {
        for ack in sender.drain("message:sent").await {
            acked.insert(ack["id"].as_str().unwrap().to_owned());
        }
    }

    let gateway = GatewayProcess::start(&env);
    let mut reader = client(&gateway.url(), "reader").await;
    let mut stored: Vec<String> = Vec::new();
    let mut request = json!({ "conversationId": "load", "customerId": "acme", "limit": 500,
                              "lastMessageTimestamp": "2000-01-01T00:00Z" });
    loop {
        reader.emit("conversation:rejoin", request.clone()).await;
        let page = reader.expect("conversation:rejoined").await;
        let messages = page["missed_messages"].as_array().unwrap();
        stored.extend(
            messages
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned()),
        );
        if page["hasMore"] != Value::Bool(true) {
            break;
        }
        request = json!({ "conversationId": "load", "customerId": "acme", "limit": 500,
                          "lastMessageId": page["nextCursor"] });
    }
    let unique: HashSet<String> = stored.iter().cloned().collect();
    assert_eq!(unique.len(), stored.len(), "a message was stored twice");
    let lost: Vec<&String> = acked.difference(&unique).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages lost",
        lost.len(),
        acked.len()
    );
    eprintln!(
        "kill -9: {} acknowledged, {} stored, 0 lost",
        acked.len(),
        unique.len()
    );
    let (status, _) = gateway.terminate();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_the_binary_prints_demo_tokens_that_work() {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let gateway = GatewayProcess::start(&[("DATABASE_URL", db.url())]);
    // The demo tokens are printed before the server starts serving.
    let output = gateway.output();
    let customer = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("customer "))
        .unwrap_or_else(|| panic!("no demo customer token in: {output}"))
        .trim()
        .to_owned();
    assert!(output.contains("PARLEY_JWT_SECRET is not set"), "{output}");
    let mut demo =
        TestClient::connect(&gateway.url(), Some(json!({ "token": customer })), &[]).await;
    let connected = demo.expect("connected").await;
    assert_eq!(connected["tenantId"], "demo");
    assert_eq!(connected["userId"], "demo-customer");
    let (status, _) = gateway.terminate();
    assert!(status.success());
}
