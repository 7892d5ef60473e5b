//! The replay tool against a live server: rebuilds while it serves, views of
//! the past, verifiable exports and statistics, on SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Parser;
use e2e::{TestApp, TestClient, both_backends, join, send, token};
use serde_json::{Value, json};
use store::{Backend, Db};

both_backends!(
    a_rebuild_while_the_server_serves_swaps_in_the_same_read_models_and_the_server_follows,
    an_interrupted_rebuild_resumes_and_never_touches_the_live_read_models,
    as_of_shows_a_conversation_between_its_messages_and_a_tenants_metrics_as_they_were,
    an_export_of_one_tenant_verifies_and_any_tampering_is_found,
    stats_count_the_tenants_events_by_type_and_day,
);

/// Run `replay ARGS…` on the app's database; (exit status 0?, its output).
async fn replay(app: &TestApp, args: &[&str]) -> (bool, String) {
    let mut argv = vec!["replay", "--database-url", app.db.url()];
    argv.extend_from_slice(args);
    let cli = replay::Cli::try_parse_from(argv).expect("valid arguments");
    let mut out = Vec::new();
    let ok = replay::run(cli, &mut out, replay::Feedback::Quiet)
        .await
        .unwrap_or_else(|e| panic!("replay {args:?} failed: {e}"));
    (ok, String::from_utf8(out).unwrap())
}

/// A little of everything in `tenant`: a conversation with messages, an
/// edit, a deletion, a reaction and a read marker (lvng); a widget visitor who asks for
/// a human (chatbot); a knowledge article and a key (REST). Returns the
/// visitor's conversation id.
async fn workload(app: &TestApp, tenant: &str) -> String {
    let admin = token(tenant, "ada", "admin");
    let mut ana = app.client(tenant, "ana", "customer").await;
    let mut bob = app.client(tenant, "bob", "agent").await;
    join(&mut ana, tenant, "conv-1").await;
    join(&mut bob, tenant, "conv-1").await;
    let first = send(&mut ana, tenant, "conv-1", "Where is my parcel?").await;
    let first = first["id"].as_str().unwrap().to_owned();
    let second = send(&mut bob, tenant, "conv-1", "Let me check").await;
    let second = second["id"].as_str().unwrap().to_owned();
    bob.emit(
        "message:react",
        json!({ "messageId": first, "conversationId": "conv-1", "emoji": "👍", "action": "add" }),
    )
    .await;
    bob.expect("message:reaction").await;
    ana.emit(
        "message:update",
        json!({ "messageId": first, "conversationId": "conv-1", "content": "Where is my parcel, please?" }),
    )
    .await;
    ana.expect("message:update").await;
    bob.emit(
        "message:delete",
        json!({ "messageId": second, "conversationId": "conv-1" }),
    )
    .await;
    ana.expect("message:delete").await;
    bob.emit(
        "message:read",
        json!({ "messageId": first, "conversationId": "conv-1" }),
    )
    .await;

    let (status, article) = app
        .post(
            "/api/v1/kb/articles",
            &admin,
            json!({ "title": "Shipping times", "body": "Parcels arrive in 3 days.", "tags": ["shipping"] }),
        )
        .await;
    assert_eq!(status, 201, "{article}");
    let (status, issued) = app
        .post(
            "/api/v1/keys",
            &admin,
            json!({ "kind": "widget", "chatbotId": "support-bot" }),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let key = issued["key"].as_str().unwrap();
    let mut visitor = TestClient::connect(
        &app.url(),
        Some(json!({ "widgetKey": key, "chatbotId": "support-bot" })),
        &[],
    )
    .await;
    visitor.expect("connected").await;
    visitor
        .emit("join-conversation", json!({ "sessionId": "sess-1" }))
        .await;
    let started = visitor.expect("conversation-started").await;
    let conversation = started["conversationId"].as_str().unwrap().to_owned();
    visitor
        .emit(
            "send-message",
            json!({ "conversationId": conversation, "content": "My order never arrived" }),
        )
        .await;
    visitor.expect("message").await;
    visitor
        .emit(
            "escalate",
            json!({ "conversationId": conversation, "reason": "need a person" }),
        )
        .await;
    visitor
        .expect_where("status-change", |p| p["status"] == "queued")
        .await;
    for client in [ana, bob, visitor] {
        client.disconnect().await;
    }
    conversation
}

/// One string field of every object in a JSON array.
fn field<'v>(list: &'v Value, name: &str) -> Vec<&'v str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|item| item[name].as_str().unwrap_or_default())
        .collect()
}

async fn connect(app: &TestApp) -> Db {
    Db::connect(app.db.url()).await.unwrap()
}

/// Every read-model table, once the projections have stopped changing it.
async fn settled(db: &Db) -> BTreeMap<&'static str, Vec<String>> {
    let all = projections::all();
    let mut last = projections::rebuild::snapshot(db, &all).await.unwrap();
    for _ in 0..40 {
        // Longer than the projector's poll: a quiet spell means caught up.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let now = projections::rebuild::snapshot(db, &all).await.unwrap();
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("the read models never settled");
}

async fn count(db: &Db, sql: &str, tenant: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(tenant)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

async fn a_rebuild_while_the_server_serves_swaps_in_the_same_read_models_and_the_server_follows(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    workload(&app, "acme").await;
    let db = connect(&app).await;
    let live = settled(&db).await;
    assert!(live["conversation_messages"].len() >= 3, "{live:?}");

    // Rebuild while a customer keeps talking.
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join(&mut ana, "acme", "conv-2").await;
    join(&mut bob, "acme", "conv-2").await;
    let talk = async {
        for i in 0..20 {
            send(&mut ana, "acme", "conv-2", &format!("still there? {i}")).await;
        }
    };
    let ((ok, output), ()) = tokio::join!(replay(&app, &["rebuild"]), talk);
    assert!(ok, "{output}");
    assert!(output.contains("swapped in"), "{output}");
    assert!(output.contains("the swap held appends for"), "{output}");

    // The server still serves and pushes, from the swapped read models.
    let sent = send(&mut bob, "acme", "conv-2", "yes, here").await;
    let heard = ana
        .expect_where("message:new", |m| m["id"] == sent["id"])
        .await;
    assert_eq!(heard["content"], "yes, here");
    let after_first = settled(&db).await;
    let messages: i64 = count(
        &db,
        "SELECT COUNT(*) FROM conversation_messages WHERE tenant = $1 AND conversation_id = 'conv-2'",
        "acme",
    )
    .await;
    assert_eq!(messages, 21, "every message once");

    // What the server built on top of the swap equals a rebuild from scratch.
    let (ok, output) = replay(&app, &["rebuild", "--fresh"]).await;
    assert!(ok, "{output}");
    assert_eq!(settled(&db).await, after_first);
    db.close().await;
    ana.disconnect().await;
    bob.disconnect().await;
    app.stop().await;
}

async fn an_interrupted_rebuild_resumes_and_never_touches_the_live_read_models(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    workload(&app, "acme").await;
    let db = connect(&app).await;
    let live = settled(&db).await;

    let log = store::EventLog::connect(app.db.url()).await.unwrap();
    let head = log.stored_head().await.unwrap();
    let mut rebuild = projections::rebuild::Rebuild::open(log.clone(), projections::all(), true)
        .await
        .unwrap();
    rebuild.catch_up(head / 2, &mut |_| {}).await.unwrap();
    let stopped_at = rebuild.position();
    // Interrupted: the process stops here, before any swap.
    rebuild.pause().await;
    log.close().await;
    assert_eq!(settled(&db).await, live, "live read models untouched");

    let (ok, output) = replay(&app, &["rebuild"]).await;
    assert!(ok, "{output}");
    assert!(
        output.contains(&format!(
            "resuming an interrupted rebuild from position {stopped_at}"
        )),
        "{output}"
    );
    assert_eq!(settled(&db).await, live);
    db.close().await;
    app.stop().await;
}

async fn as_of_shows_a_conversation_between_its_messages_and_a_tenants_metrics_as_they_were(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let db = connect(&app).await;
    let head = || async {
        let head: i64 = sqlx::query_scalar("SELECT MAX(position) FROM events")
            .fetch_one(db.pool())
            .await
            .unwrap();
        head
    };
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "conv-9").await;
    send(&mut ana, "acme", "conv-9", "first").await;
    let after_first = head().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let between = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join(&mut bob, "acme", "conv-9").await;
    send(&mut bob, "acme", "conv-9", "second").await;
    let before_visitor = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let visitor_conversation = workload(&app, "acme").await;

    let position = after_first.to_string();
    for when in [
        ["--position", position.as_str()],
        ["--at", between.as_str()],
    ] {
        let (ok, output) = replay(
            &app,
            &[&["as-of", "--conversation", "conv-9"][..], &when[..]].concat(),
        )
        .await;
        assert!(ok, "{output}");
        let view: Value = serde_json::from_str(&output).unwrap();
        let contents = field(&view["messages"], "content");
        assert_eq!(contents, ["first"], "{when:?}: {view}");
        let participants = field(&view["participants"], "userId");
        assert_eq!(participants, ["ana"], "{view}");
        assert_eq!(view["tenant"], "acme");
    }
    let now = chrono::Utc::now().to_rfc3339();
    let (_, output) = replay(&app, &["as-of", "--conversation", "conv-9", "--at", &now]).await;
    let view: Value = serde_json::from_str(&output).unwrap();
    let contents = field(&view["messages"], "content");
    assert_eq!(contents, ["first", "second"], "{view}");

    // The visitor's conversation: queued now, first in line.
    let (_, output) = replay(
        &app,
        &[
            "as-of",
            "--conversation",
            &visitor_conversation,
            "--at",
            &now,
        ],
    )
    .await;
    let view: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(view["status"], "queued", "{view}");
    assert_eq!(view["queuePosition"], 1, "{view}");
    assert_eq!(view["support"]["status"], "queued", "{view}");

    // Metrics: conv-9 alone before the workload; then conv-1 and the
    // visitor's too, one of them queued.
    let (_, output) = replay(
        &app,
        &[
            "as-of",
            "--tenant",
            "acme",
            "--metrics",
            "--at",
            &before_visitor,
        ],
    )
    .await;
    let then: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(then["metrics"]["overall"]["conversations"], 1, "{then}");
    assert_eq!(then["metrics"]["overall"]["queued"], 0, "{then}");
    assert_eq!(then["queue"], json!([]), "{then}");
    let (_, output) = replay(
        &app,
        &["as-of", "--tenant", "acme", "--metrics", "--at", &now],
    )
    .await;
    let now: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(now["metrics"]["overall"]["conversations"], 3, "{now}");
    assert_eq!(now["metrics"]["overall"]["queued"], 1, "{now}");
    assert_eq!(
        now["queue"][0]["conversationId"],
        visitor_conversation.as_str()
    );

    // Another tenant cannot be reached through the id.
    let other = token("globex", "gus", "customer");
    let mut gus = TestClient::connect(&app.url(), Some(json!({ "token": other })), &[]).await;
    gus.expect("connected").await;
    join(&mut gus, "globex", "conv-9").await;
    send(&mut gus, "globex", "conv-9", "globex only").await;
    let (_, output) = replay(
        &app,
        &[
            "as-of",
            "--tenant",
            "globex",
            "--conversation",
            "conv-9",
            "--at",
            &chrono::Utc::now().to_rfc3339(),
        ],
    )
    .await;
    let view: Value = serde_json::from_str(&output).unwrap();
    let contents = field(&view["messages"], "content");
    assert_eq!(contents, ["globex only"], "{view}");
    db.close().await;
    app.stop().await;
}

async fn an_export_of_one_tenant_verifies_and_any_tampering_is_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    workload(&app, "acme").await;
    workload(&app, "globex").await;
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = audit::generate_key_pair();
    let (_, stranger) = audit::generate_key_pair();
    let key_file = dir.path().join("signing.pem");
    std::fs::write(&key_file, &private).unwrap();
    let public_file = dir.path().join("public.pem");
    std::fs::write(&public_file, &public).unwrap();
    let stranger_file = dir.path().join("stranger.pem");
    std::fs::write(&stranger_file, &stranger).unwrap();

    let file = dir.path().join("acme.jsonl");
    let file_arg = file.to_str().unwrap();
    let (ok, output) = replay(
        &app,
        &[
            "export",
            "--tenant",
            "acme",
            "--format",
            "jsonl",
            "--out",
            file_arg,
            "--signing-key",
            key_file.to_str().unwrap(),
        ],
    )
    .await;
    assert!(ok, "{output}");
    let records: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        records.iter().all(|r| r["tenant"] == "acme"),
        "only acme's events"
    );
    let db = connect(&app).await;
    let last = records.last().unwrap()["position"].as_i64().unwrap();
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE tenant = $1 AND position <= $2")
            .bind("acme")
            .bind(last)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(records.len() as i64, stored, "every event of the tenant");
    for field in [
        "position",
        "event_id",
        "type",
        "schema_version",
        "stream",
        "time",
        "actor",
        "payload",
        "prev_hash",
        "hash",
    ] {
        assert!(records[0].get(field).is_some(), "a record lacks {field}");
    }
    assert_eq!(records[0]["prev_hash"], audit::GENESIS);
    assert_eq!(records[1]["prev_hash"], records[0]["hash"]);

    let public_arg = public_file.to_str().unwrap();
    let (ok, output) = replay(&app, &["verify", file_arg, "--public-key", public_arg]).await;
    assert!(ok, "{output}");
    assert!(
        output.contains(&format!("OK: {} events", records.len())),
        "{output}"
    );
    let (ok, output) = replay(
        &app,
        &[
            "verify",
            file_arg,
            "--public-key",
            stranger_file.to_str().unwrap(),
        ],
    )
    .await;
    assert!(!ok, "another signer's key must fail: {output}");

    // Tampering anywhere is found: an edit, a deletion, a cut tail.
    let original = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let tampered = dir.path().join("tampered.jsonl");
    let tampered_arg = tampered.to_str().unwrap();
    let manifest = audit::manifest_path_for(&file);
    std::fs::copy(&manifest, audit::manifest_path_for(&tampered)).unwrap();
    let edit = |i: usize| {
        let mut copy = lines.clone();
        let edited = lines[i].replacen("\"payload\":{", "\"payload\":{\"x\":1,", 1);
        assert_ne!(edited, lines[i]);
        copy[i] = &*Box::leak(edited.into_boxed_str());
        copy
    };
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("an edited payload".into(), edit(2)),
        (
            "a deleted record".into(),
            [&lines[..3], &lines[4..]].concat(),
        ),
        ("a cut tail".into(), lines[..lines.len() - 1].to_vec()),
        ("two records swapped".into(), {
            let mut copy = lines.clone();
            copy.swap(1, 2);
            copy
        }),
    ];
    for (what, content) in cases {
        std::fs::write(&tampered, content.join("\n") + "\n").unwrap();
        let (ok, output) =
            replay(&app, &["verify", tampered_arg, "--public-key", public_arg]).await;
        assert!(!ok, "{what} went unnoticed: {output}");
        assert!(output.contains("FAILED"), "{what}: {output}");
    }

    // CSV, one conversation, some types.
    let csv = dir.path().join("conv.csv");
    let (ok, output) = replay(
        &app,
        &[
            "export",
            "--tenant",
            "acme",
            "--conversation",
            "conv-1",
            "--types",
            "MessagePosted,MessageEdited",
            "--format",
            "csv",
            "--out",
            csv.to_str().unwrap(),
        ],
    )
    .await;
    assert!(ok, "{output}");
    let (ok, output) = replay(&app, &["verify", csv.to_str().unwrap()]).await;
    assert!(ok, "{output}");
    assert!(
        output.contains("OK: 3 events"),
        "two posts and an edit: {output}"
    );
    db.close().await;
    app.stop().await;
}

async fn stats_count_the_tenants_events_by_type_and_day(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    workload(&app, "acme").await;
    workload(&app, "globex").await;
    let db = connect(&app).await;
    let (ok, output) = replay(&app, &["stats", "--tenant", "acme", "--json"]).await;
    assert!(ok, "{output}");
    let stats: Value = serde_json::from_str(&output).unwrap();
    let events = stats["totals"]["events"].as_i64().unwrap();
    let stored = count(&db, "SELECT COUNT(*) FROM events WHERE tenant = $1", "acme").await;
    assert!(events > 0 && events <= stored, "{events} of {stored}");
    let by_type: i64 = stats["byType"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["events"].as_i64().unwrap())
        .sum();
    assert_eq!(by_type, events);
    let posted = stats["byType"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "MessagePosted")
        .unwrap();
    let stored_posts = count(
        &db,
        "SELECT COUNT(*) FROM events WHERE tenant = $1 AND event_type = 'MessagePosted'",
        "acme",
    )
    .await;
    assert!(posted["events"].as_i64().unwrap() >= 3, "{stats}");
    assert!(
        posted["events"].as_i64().unwrap() <= stored_posts,
        "{stats}"
    );
    assert!(
        stats.get("byTenant").is_none(),
        "one tenant's stats name no other"
    );
    let (ok, text) = replay(&app, &["stats"]).await;
    assert!(
        ok && text.contains("by tenant:") && text.contains("globex"),
        "{text}"
    );
    db.close().await;
    app.stop().await;
}
