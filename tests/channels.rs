//! lvng channels end to end: join with history, messages, typing, leave,
//! update, and the separation of channels from conversations.

use e2e::{TestApp, TestClient, both_backends, join, send};
use serde_json::{Value, json};
use store::Backend;

both_backends!(
    joining_a_channel_answers_the_ack_sends_the_history_and_tells_the_others,
    the_history_holds_the_latest_fifty_messages_with_has_more_and_the_total,
    channel_messages_reach_the_channel_room_and_no_one_else,
    typing_in_a_channel_reaches_the_others,
    a_member_who_leaves_a_channel_stops_hearing_it_and_the_others_are_told,
    the_creator_and_staff_may_update_a_channel_and_other_members_may_not,
    a_channel_and_a_conversation_with_the_same_id_are_kept_apart,
);

/// `channel:join` with an ack; returns the ack and the `channel:history`.
async fn join_channel(client: &mut TestClient, channel: &str) -> (Value, Value) {
    let ack = client
        .emit_with_ack("channel:join", json!({ "channelId": channel }))
        .await;
    let history = client
        .expect_where("channel:history", |h| h["channelId"] == channel)
        .await;
    (ack, history)
}

async fn post(client: &mut TestClient, channel: &str, content: &str) -> Value {
    client
        .emit(
            "message:send",
            json!({ "channelId": channel, "content": content }),
        )
        .await;
    client.expect("message:sent").await
}

async fn joining_a_channel_answers_the_ack_sends_the_history_and_tells_the_others(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "customer").await;
    let (ack, history) = join_channel(&mut ana, "general").await;
    assert_eq!(ack["success"], true);
    assert_eq!(ack["channelId"], "general");
    assert_eq!(history["messages"], json!([]));
    assert_eq!(history["hasMore"], false);
    assert_eq!(history["total"], 0);

    post(&mut ana, "general", "first!").await;
    let (_, history) = join_channel(&mut bob, "general").await;
    assert_eq!(history["total"], 1);
    assert_eq!(history["messages"][0]["content"], "first!");
    assert_eq!(history["messages"][0]["channelId"], "general");
    let joined = ana.expect("channel:join").await;
    assert_eq!(joined["channelId"], "general");
    assert_eq!(joined["userId"], "bob");
    assert_eq!(joined["userName"], "bob name");
    assert_eq!(joined["user"], json!({ "id": "bob", "name": "bob name" }));
    assert!(joined["timestamp"].is_string());
    // The joiner is not told of its own join.
    bob.expect_none("channel:join").await;
    app.stop().await;
}

async fn the_history_holds_the_latest_fifty_messages_with_has_more_and_the_total(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "agent").await;
    join_channel(&mut ana, "busy").await;
    for n in 0..55 {
        post(&mut ana, "busy", &format!("message {n}")).await;
    }
    let mut bob = app.client("acme", "bob", "customer").await;
    let (_, history) = join_channel(&mut bob, "busy").await;
    let contents: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (5..55).map(|n| format!("message {n}")).collect();
    assert_eq!(contents, expected);
    assert_eq!(history["hasMore"], true);
    assert_eq!(history["total"], 55);
    app.stop().await;
}

async fn channel_messages_reach_the_channel_room_and_no_one_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "customer").await;
    let mut carol = app.client("acme", "carol", "customer").await;
    let mut eve = app.client("globex", "eve", "customer").await;
    join_channel(&mut ana, "general").await;
    join_channel(&mut bob, "general").await;
    // Another tenant's channel of the same name is another channel.
    join_channel(&mut eve, "general").await;

    let sent = post(&mut ana, "general", "hello channel").await;
    assert_eq!(sent["channelId"], "general");
    assert_eq!(sent["conversationId"], Value::Null);
    let received = bob.expect("message:new").await;
    assert_eq!(received["id"], sent["id"]);
    assert_eq!(received["channelId"], "general");
    assert_eq!(received["conversationId"], Value::Null);
    assert_eq!(received["content"], "hello channel");
    carol.expect_none("message:new").await;
    eve.expect_none("message:new").await;

    // Only members may post.
    carol
        .emit(
            "message:send",
            json!({ "channelId": "general", "content": "let me in" }),
        )
        .await;
    assert_eq!(carol.expect("error").await["code"], "FORBIDDEN");
    app.stop().await;
}

async fn typing_in_a_channel_reaches_the_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "customer").await;
    join_channel(&mut ana, "general").await;
    join_channel(&mut bob, "general").await;
    ana.emit(
        "typing:start",
        json!({ "channelId": "general", "userId": "ana", "userName": "Ana" }),
    )
    .await;
    let typing = bob.expect("typing:start").await;
    assert_eq!(typing["channelId"], "general");
    assert_eq!(typing["conversationId"], Value::Null);
    assert_eq!(typing["userId"], "ana");
    ana.emit("typing:stop", json!({ "channelId": "general" }))
        .await;
    assert_eq!(bob.expect("typing:stop").await["userId"], "ana");
    ana.expect_none("typing:start").await;
    app.stop().await;
}

async fn a_member_who_leaves_a_channel_stops_hearing_it_and_the_others_are_told(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "customer").await;
    join_channel(&mut ana, "general").await;
    join_channel(&mut bob, "general").await;
    let ack = bob
        .emit_with_ack("channel:leave", json!({ "channelId": "general" }))
        .await;
    assert_eq!(ack["success"], true);
    let left = ana.expect("channel:leave").await;
    assert_eq!(left["channelId"], "general");
    assert_eq!(left["userId"], "bob");
    post(&mut ana, "general", "anyone?").await;
    bob.expect_none("message:new").await;
    app.stop().await;
}

async fn the_creator_and_staff_may_update_a_channel_and_other_members_may_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "customer").await;
    let mut sam = app.client("acme", "sam", "supervisor").await;
    join_channel(&mut ana, "launch").await;
    join_channel(&mut bob, "launch").await;
    join_channel(&mut sam, "launch").await;

    let ack = ana
        .emit_with_ack(
            "channel:update",
            json!({ "channelId": "launch", "updates": { "name": "Launch 🚀", "topic": "Q4", "color": "red" } }),
        )
        .await;
    assert_eq!(ack["success"], true);
    let update = bob.expect("channel:update").await;
    assert_eq!(update["channelId"], "launch");
    // Only what was applied; unknown keys are ignored.
    assert_eq!(
        update["updates"],
        json!({ "name": "Launch 🚀", "topic": "Q4" })
    );
    assert_eq!(update["channel"]["name"], "Launch 🚀");
    assert_eq!(update["channel"]["topic"], "Q4");
    assert_eq!(update["channel"]["description"], "");
    assert_eq!(update["channel"]["createdBy"], "ana");
    assert_eq!(update["updatedBy"], "ana");
    assert_eq!(update["updatedByName"], "ana name");
    // The updater's own sockets hear it too.
    ana.expect("channel:update").await;

    let before = app.event_count().await;
    bob.emit(
        "channel:update",
        json!({ "channelId": "launch", "updates": { "name": "mine" } }),
    )
    .await;
    assert_eq!(bob.expect("error").await["code"], "FORBIDDEN");
    bob.emit(
        "channel:update",
        json!({ "channelId": "launch", "updates": { "name": "   " } }),
    )
    .await;
    assert_eq!(bob.expect("error").await["code"], "VALIDATION_ERROR");
    assert_eq!(app.event_count().await, before);

    sam.emit(
        "channel:update",
        json!({ "channelId": "launch", "updates": { "description": "moderated" } }),
    )
    .await;
    let update = ana
        .expect_where("channel:update", |u| u["updatedBy"] == "sam")
        .await;
    assert_eq!(update["channel"]["name"], "Launch 🚀");
    assert_eq!(update["channel"]["description"], "moderated");

    // The channel list shows the result.
    let (status, list) = app
        .get(
            "/api/v1/conversations?kind=channel",
            Some(&e2e::token("acme", "ana", "customer")),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(list["conversations"][0]["channelId"], "launch");
    assert_eq!(
        list["conversations"][0]["channel"]["description"],
        "moderated"
    );
    app.stop().await;
}

async fn a_channel_and_a_conversation_with_the_same_id_are_kept_apart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "agent").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join(&mut ana, "acme", "same").await;
    join_channel(&mut bob, "same").await;
    send(&mut ana, "acme", "same", "in the conversation").await;
    // Ana's own echo, from the conversation's room.
    assert_eq!(ana.expect("message:new").await["conversationId"], "same");
    bob.expect_none("message:new").await;
    let sent = post(&mut bob, "same", "in the channel").await;
    ana.expect_none("message:new").await;
    let (_, history) = join_channel(&mut ana, "same").await;
    assert_eq!(history["total"], 1);
    assert_eq!(history["messages"][0]["id"], sent["id"]);
    app.stop().await;
}
