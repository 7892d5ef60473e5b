//! Edits, deletions, reactions and read receipts end to end, and a rejoin
//! after them that equals a fresh load.

use e2e::{TestApp, TestClient, both_backends, join, send, token};
use serde_json::{Value, json};
use store::Backend;

both_backends!(
    the_author_edits_a_message_and_the_room_hears_message_update,
    editing_or_deleting_another_users_message_is_forbidden_and_changes_nothing,
    editing_reacting_to_or_reading_a_missing_message_is_not_found,
    a_deleted_message_stays_as_a_tombstone_and_cannot_be_edited,
    reactions_count_once_per_user_and_emoji_and_can_be_removed,
    a_read_receipt_reaches_the_room_and_many_at_once_arrive_as_a_batch,
    unread_counts_in_the_conversation_list_follow_the_read_marker,
    a_rejoin_after_edits_deletions_and_reactions_equals_a_fresh_load,
    malformed_changes_are_refused_with_a_validation_error,
);

const CONV: &str = "conv-1";

/// Ana (customer) and Bob (agent) in conv-1.
async fn pair(app: &TestApp) -> (TestClient, TestClient) {
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join(&mut ana, "acme", CONV).await;
    join(&mut bob, "acme", CONV).await;
    ana.expect("member:joined").await;
    (ana, bob)
}

fn target(extra: Value) -> Value {
    let mut payload = json!({ "conversationId": CONV, "customerId": "acme" });
    payload
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    payload
}

/// The latest page, as a fresh client would load it.
async fn fresh_history(app: &TestApp) -> Vec<Value> {
    let mut fresh = app.client("acme", "fresh-agent", "agent").await;
    fresh.emit("conversation:rejoin", target(json!({}))).await;
    let rejoined = fresh.expect("conversation:rejoined").await;
    fresh.disconnect().await;
    rejoined["missed_messages"].as_array().unwrap().clone()
}

async fn the_author_edits_a_message_and_the_room_hears_message_update(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mut ana, mut bob) = pair(&app).await;
    let sent = send(&mut ana, "acme", CONV, "helo").await;
    let id = sent["id"].as_str().unwrap();
    let ack = ana
        .emit_with_ack(
            "message:update",
            target(
                json!({ "messageId": id, "content": "hello", "metadata": { "reason": "typo" } }),
            ),
        )
        .await;
    assert_eq!(ack["success"], true);
    let update = bob.expect("message:update").await;
    assert_eq!(update["messageId"], id);
    assert_eq!(update["content"], "hello");
    assert_eq!(update["metadata"], json!({ "reason": "typo" }));
    assert_eq!(update["conversationId"], CONV);
    assert_eq!(update["channelId"], Value::Null);
    assert_eq!(update["updatedBy"], "ana");
    assert!(update["timestamp"].is_string());
    // History shows the edited message.
    let history = fresh_history(&app).await;
    assert_eq!(history[0]["content"], "hello");
    assert!(history[0]["editedAt"].is_string());
    assert_eq!(history[0]["metadata"]["reason"], "typo");
    app.stop().await;
}

async fn editing_or_deleting_another_users_message_is_forbidden_and_changes_nothing(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (mut ana, mut bob) = pair(&app).await;
    let mut cid = app.client("acme", "cid", "customer").await;
    let sent = send(&mut bob, "acme", CONV, "from the agent").await;
    let id = sent["id"].as_str().unwrap();
    let before = app.event_count().await;
    ana.emit(
        "message:update",
        target(json!({ "messageId": id, "content": "rewritten" })),
    )
    .await;
    let error = ana.expect("error").await;
    assert_eq!(error["code"], "FORBIDDEN");
    ana.emit("message:delete", target(json!({ "messageId": id })))
        .await;
    assert_eq!(ana.expect("error").await["code"], "FORBIDDEN");
    // Not even a participant: forbidden before anything else.
    cid.emit("message:delete", target(json!({ "messageId": id })))
        .await;
    assert_eq!(cid.expect("error").await["code"], "FORBIDDEN");
    assert_eq!(app.event_count().await, before);
    bob.expect_none("message:update").await;
    bob.expect_none("message:delete").await;
    assert_eq!(fresh_history(&app).await[0]["content"], "from the agent");
    app.stop().await;
}

async fn editing_reacting_to_or_reading_a_missing_message_is_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mut ana, _bob) = pair(&app).await;
    let before = app.event_count().await;
    for (event, extra) in [
        (
            "message:update",
            json!({ "messageId": "msg_nope", "content": "x" }),
        ),
        (
            "message:react",
            json!({ "messageId": "msg_nope", "emoji": "👍", "action": "add" }),
        ),
        ("message:delete", json!({ "messageId": "msg_nope" })),
        ("message:read", json!({ "messageId": "msg_nope" })),
    ] {
        ana.emit(event, target(extra)).await;
        let error = ana.expect("error").await;
        assert_eq!(error["code"], "NOT_FOUND", "{event}: {error}");
    }
    assert_eq!(app.event_count().await, before);
    app.stop().await;
}

async fn a_deleted_message_stays_as_a_tombstone_and_cannot_be_edited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mut ana, mut bob) = pair(&app).await;
    let sent = send(&mut ana, "acme", CONV, "oops, my card number").await;
    let id = sent["id"].as_str().unwrap();
    // Staff may delete anyone's message.
    let ack = bob
        .emit_with_ack("message:delete", target(json!({ "messageId": id })))
        .await;
    assert_eq!(ack["success"], true);
    let deleted = ana.expect("message:delete").await;
    // The deleter's own sockets hear it too.
    assert_eq!(bob.expect("message:delete").await, deleted);
    assert_eq!(deleted["messageId"], id);
    assert_eq!(deleted["deletedBy"], "bob");
    assert_eq!(deleted["deletedByName"], "bob name");
    assert_eq!(deleted["conversationId"], CONV);
    let history = fresh_history(&app).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["id"], id);
    assert_eq!(history[0]["deleted"], true);
    assert_eq!(history[0]["content"], "");
    assert_eq!(history[0]["deletedBy"], "bob");
    ana.emit(
        "message:update",
        target(json!({ "messageId": id, "content": "too late" })),
    )
    .await;
    assert_eq!(ana.expect("error").await["code"], "NOT_FOUND");
    // Deleting again is acknowledged and tells no one.
    let before = app.event_count().await;
    ana.emit_with_ack("message:delete", target(json!({ "messageId": id })))
        .await;
    assert_eq!(app.event_count().await, before);
    bob.expect_none("message:delete").await;
    app.stop().await;
}

async fn reactions_count_once_per_user_and_emoji_and_can_be_removed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mut ana, bob) = pair(&app).await;
    let sent = send(&mut ana, "acme", CONV, "ship it?").await;
    let id = sent["id"].as_str().unwrap();
    let react = |emoji: &str, action: &str| {
        target(json!({ "messageId": id, "emoji": emoji, "action": action }))
    };
    bob.emit_with_ack("message:react", react("👍", "add")).await;
    let reaction = ana.expect("message:reaction").await;
    assert_eq!(reaction["messageId"], id);
    assert_eq!(reaction["emoji"], "👍");
    assert_eq!(reaction["userId"], "bob");
    assert_eq!(reaction["userName"], "bob name");
    assert_eq!(reaction["action"], "add");
    // Twice is once.
    let before = app.event_count().await;
    bob.emit_with_ack("message:react", react("👍", "add")).await;
    assert_eq!(app.event_count().await, before);
    ana.emit_with_ack("message:react", react("👍", "add")).await;
    ana.emit_with_ack("message:react", react("🎉", "add")).await;
    let history = fresh_history(&app).await;
    assert_eq!(
        history[0]["reactions"],
        json!([
            { "emoji": "👍", "count": 2, "userIds": ["bob", "ana"],
              "users": [{ "id": "bob", "name": "bob name" }, { "id": "ana", "name": "ana name" }] },
            { "emoji": "🎉", "count": 1, "userIds": ["ana"], "users": [{ "id": "ana", "name": "ana name" }] },
        ])
    );
    bob.emit_with_ack("message:react", react("👍", "remove"))
        .await;
    let removed = ana
        .expect_where("message:reaction", |r| r["action"] == "remove")
        .await;
    assert_eq!(removed["userId"], "bob");
    let history = fresh_history(&app).await;
    assert_eq!(history[0]["reactions"][0]["userIds"], json!(["ana"]));
    app.stop().await;
}

async fn a_read_receipt_reaches_the_room_and_many_at_once_arrive_as_a_batch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ana, mut bob) = pair(&app).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(send(&mut bob, "acme", CONV, &format!("note {n}")).await["id"].clone());
    }
    ana.emit_with_ack("message:read", target(json!({ "messageId": ids[0] })))
        .await;
    let read = bob.expect("message:read").await;
    assert_eq!(read["messageId"], ids[0]);
    assert_eq!(read["userId"], "ana");
    assert_eq!(read["userName"], "ana name");
    assert_eq!(read["conversationId"], CONV);
    ana.emit_with_ack(
        "message:read",
        target(json!({ "messageIds": [ids[1], ids[2]] })),
    )
    .await;
    let batch = bob.expect("message:read:batch").await;
    assert_eq!(batch["messageIds"], json!([ids[1], ids[2]]));
    assert_eq!(batch["userId"], "ana");
    // Older than the marker: acknowledged, nobody told.
    ana.emit_with_ack("message:read", target(json!({ "messageId": ids[0] })))
        .await;
    bob.expect_none("message:read").await;
    app.stop().await;
}

async fn unread_counts_in_the_conversation_list_follow_the_read_marker(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mut ana, mut bob) = pair(&app).await;
    send(&mut ana, "acme", CONV, "mine does not count").await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(send(&mut bob, "acme", CONV, &format!("reply {n}")).await["id"].clone());
    }
    let unread = |list: &Value| list["conversations"][0]["unreadCount"].clone();
    let ana_token = token("acme", "ana", "customer");
    let (_, list) = app
        .get("/api/v1/conversations", Some(&ana_token))
        .await
        .unwrap();
    assert_eq!(unread(&list), 4);
    ana.emit_with_ack("message:read", target(json!({ "messageId": ids[1] })))
        .await;
    let (_, list) = app
        .get("/api/v1/conversations", Some(&ana_token))
        .await
        .unwrap();
    assert_eq!(unread(&list), 2);
    // A deleted message is no longer unread.
    bob.emit_with_ack("message:delete", target(json!({ "messageId": ids[3] })))
        .await;
    let (_, list) = app
        .get("/api/v1/conversations", Some(&ana_token))
        .await
        .unwrap();
    assert_eq!(unread(&list), 1);
    // Bob's own messages never count for him.
    let (_, list) = app
        .get(
            "/api/v1/conversations",
            Some(&token("acme", "bob", "agent")),
        )
        .await
        .unwrap();
    assert_eq!(unread(&list), 1);
    app.stop().await;
}

async fn a_rejoin_after_edits_deletions_and_reactions_equals_a_fresh_load(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mut ana, mut bob) = pair(&app).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(
            send(&mut ana, "acme", CONV, &format!("message {n}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Ana's view before she drops: a fresh load.
    let mut view = fresh_history(&app).await;
    assert_eq!(view.len(), 4);
    ana.disconnect().await;

    // While she is away: an edit, a deletion, reactions, a new message.
    bob.emit_with_ack(
        "message:update",
        target(json!({ "messageId": ids[0], "content": "message 0, moderated" })),
    )
    .await;
    bob.emit_with_ack("message:delete", target(json!({ "messageId": ids[1] })))
        .await;
    for emoji in ["👍", "👀"] {
        bob.emit_with_ack(
            "message:react",
            target(json!({ "messageId": ids[3], "emoji": emoji, "action": "add" })),
        )
        .await;
    }
    bob.emit_with_ack(
        "message:react",
        target(json!({ "messageId": ids[3], "emoji": "👀", "action": "remove" })),
    )
    .await;
    let newer = send(&mut bob, "acme", CONV, "are you still there?").await;
    // A reaction to the new message is part of that message's state.
    bob.emit_with_ack(
        "message:react",
        target(json!({ "messageId": newer["id"], "emoji": "❓", "action": "add" })),
    )
    .await;

    let mut ana = app.client("acme", "ana", "customer").await;
    ana.emit(
        "conversation:rejoin",
        target(json!({ "lastMessageId": ids[3] })),
    )
    .await;
    let rejoined = ana.expect("conversation:rejoined").await;
    let missed = rejoined["missed_messages"].as_array().unwrap();
    let updates = rejoined["missed_updates"].as_array().unwrap();
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0]["id"], newer["id"]);
    let changed: Vec<&str> = updates.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(changed, [ids[0].as_str(), ids[1].as_str(), ids[3].as_str()]);
    assert_eq!(rejoined["hasMoreUpdates"], false);

    // Apply as a client would: replace by id, append what is new.
    for update in updates {
        let slot = view.iter_mut().find(|m| m["id"] == update["id"]).unwrap();
        *slot = update.clone();
    }
    view.extend(missed.iter().cloned());
    assert_eq!(view, fresh_history(&app).await);
    app.stop().await;
}

async fn malformed_changes_are_refused_with_a_validation_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mut ana, _bob) = pair(&app).await;
    let sent = send(&mut ana, "acme", CONV, "hi").await;
    let id = sent["id"].as_str().unwrap();
    let before = app.event_count().await;
    for (event, extra) in [
        ("message:update", json!({ "messageId": id })),
        (
            "message:update",
            json!({ "messageId": id, "content": "   " }),
        ),
        (
            "message:update",
            json!({ "messageId": id, "content": "x", "metadata": [1] }),
        ),
        ("message:update", json!({ "content": "no id" })),
        (
            "message:react",
            json!({ "messageId": id, "emoji": "👍", "action": "love" }),
        ),
        (
            "message:react",
            json!({ "messageId": id, "emoji": "thumbs up" }),
        ),
        ("message:react", json!({ "messageId": id })),
        ("message:read", json!({})),
        ("message:read", json!({ "messageIds": "not a list" })),
        ("message:delete", json!({ "messageId": 42 })),
    ] {
        ana.emit(event, target(extra.clone())).await;
        let error = ana.expect("error").await;
        assert_eq!(
            error["code"], "VALIDATION_ERROR",
            "{event} {extra}: {error}"
        );
    }
    ana.emit(
        "message:update",
        json!({ "messageId": id, "content": "where?" }),
    )
    .await;
    assert_eq!(ana.expect("error").await["code"], "VALIDATION_ERROR");
    assert_eq!(app.event_count().await, before);
    app.stop().await;
}
