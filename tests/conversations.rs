//! lvng conversations end to end: join, send, receive, typing, leave.

use e2e::{TestApp, both_backends, join, send};
use serde_json::json;
use store::Backend;

both_backends!(
    members_join_send_and_receive_messages_in_their_room,
    the_sender_is_acknowledged_only_with_a_durable_message_id,
    others_in_the_room_see_typing_but_the_typist_does_not,
    a_member_who_leaves_stops_hearing_the_room_and_the_others_are_told,
    a_socket_outside_the_room_hears_nothing,
    polling_clients_work_as_well_as_websocket_clients,
);

async fn members_join_send_and_receive_messages_in_their_room(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    let joined = join(&mut ana, "acme", "conv-1").await;
    assert_eq!(joined["room"], "customer:acme:conversation:conv-1");
    assert_eq!(joined["conversationId"], "conv-1");
    assert_eq!(joined["customerId"], "acme");
    join(&mut bob, "acme", "conv-1").await;
    let member = ana.expect("member:joined").await;
    assert_eq!(member["userId"], "bob");
    assert_eq!(member["userName"], "bob name");
    assert_eq!(member["conversationId"], "conv-1");

    let sent = send(&mut ana, "acme", "conv-1", "Hello, I need help!").await;
    let received = bob.expect("message:new").await;
    for field in [
        "id",
        "channelId",
        "conversationId",
        "userId",
        "userName",
        "content",
        "contentType",
        "threadId",
        "attachments",
        "createdAt",
        "updatedAt",
        "metadata",
    ] {
        assert!(
            received.get(field).is_some(),
            "message:new lacks {field}: {received}"
        );
    }
    assert_eq!(received["id"], sent["id"]);
    assert_eq!(received["content"], "Hello, I need help!");
    assert_eq!(received["userId"], "ana");
    assert_eq!(received["conversationId"], "conv-1");
    // The sender's own sockets in the room get it too (other devices).
    assert_eq!(ana.expect("message:new").await["id"], sent["id"]);

    let reply = send(&mut bob, "acme", "conv-1", "How can I help?").await;
    assert_eq!(ana.expect("message:new").await["id"], reply["id"]);
    app.stop().await;
}

async fn the_sender_is_acknowledged_only_with_a_durable_message_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "conv-1").await;
    let before = app.event_count().await;
    ana.emit(
        "message:send",
        json!({ "conversationId": "conv-1", "customerId": "acme", "content": "hi", "optimisticId": "tmp_abc123" }),
    )
    .await;
    let sent = ana.expect("message:sent").await;
    // Acknowledged means stored: the event is in the log already (with the
    // `ConversationActivated` a customer's first message records).
    assert_eq!(app.event_count().await, before + 2);
    assert_eq!(sent["optimisticId"], "tmp_abc123");
    assert!(sent["id"].as_str().unwrap().starts_with("msg_"));
    assert!(sent["timestamp"].is_string());
    assert!(sent.get("channelId").is_some());
    // With an ack callback, the same answer comes back through it.
    let acked = ana
        .emit_with_ack(
            "message:send",
            json!({ "conversationId": "conv-1", "customerId": "acme", "content": "again", "optimisticId": "tmp_2" }),
        )
        .await;
    assert_eq!(acked["optimisticId"], "tmp_2");
    assert!(acked["id"].is_string());
    app.stop().await;
}

async fn others_in_the_room_see_typing_but_the_typist_does_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join(&mut ana, "acme", "conv-1").await;
    join(&mut bob, "acme", "conv-1").await;
    ana.emit("typing:start", json!({ "conversationId": "conv-1", "customerId": "acme", "userId": "spoofed", "userName": "Mallory" }))
        .await;
    let typing = bob.expect("typing:start").await;
    // The token, not the payload, says who is typing.
    assert_eq!(typing["userId"], "ana");
    assert_eq!(typing["userName"], "ana name");
    assert_eq!(typing["conversationId"], "conv-1");
    assert!(typing["timestamp"].is_string());
    ana.emit(
        "typing:stop",
        json!({ "conversationId": "conv-1", "customerId": "acme" }),
    )
    .await;
    assert_eq!(bob.expect("typing:stop").await["userId"], "ana");
    ana.expect_none("typing:start").await;
    ana.expect_none("typing:stop").await;
    app.stop().await;
}

async fn a_member_who_leaves_stops_hearing_the_room_and_the_others_are_told(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join(&mut ana, "acme", "conv-1").await;
    join(&mut bob, "acme", "conv-1").await;
    let ack = bob
        .emit_with_ack(
            "conversation:leave",
            json!({ "conversationId": "conv-1", "customerId": "acme" }),
        )
        .await;
    assert_eq!(ack["conversationId"], "conv-1");
    let left = ana.expect("member:left").await;
    assert_eq!(left["userId"], "bob");
    assert_eq!(left["conversationId"], "conv-1");
    send(&mut ana, "acme", "conv-1", "anyone?").await;
    bob.expect_none("message:new").await;
    app.stop().await;
}

async fn a_socket_outside_the_room_hears_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut eve = app.client("acme", "eve", "agent").await;
    join(&mut ana, "acme", "conv-1").await;
    join(&mut eve, "acme", "conv-2").await;
    send(&mut ana, "acme", "conv-1", "private").await;
    ana.emit(
        "typing:start",
        json!({ "conversationId": "conv-1", "customerId": "acme" }),
    )
    .await;
    eve.expect_none("message:new").await;
    eve.expect_none("typing:start").await;
    eve.expect_none("member:joined").await;
    app.stop().await;
}

async fn polling_clients_work_as_well_as_websocket_clients(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let auth = json!({ "token": e2e::token("acme", "pat", "customer") });
    let mut pat = e2e::TestClient::connect_with(
        &app.url(),
        Some(auth),
        &[],
        rust_socketio::TransportType::Polling,
    )
    .await;
    pat.expect("connected").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join(&mut pat, "acme", "conv-1").await;
    join(&mut bob, "acme", "conv-1").await;
    let sent = send(&mut pat, "acme", "conv-1", "over long-polling").await;
    assert_eq!(bob.expect("message:new").await["id"], sent["id"]);
    let reply = send(&mut bob, "acme", "conv-1", "over websocket").await;
    let heard = pat
        .expect_where("message:new", |m| m["id"] == reply["id"])
        .await;
    assert_eq!(heard["content"], "over websocket");
    app.stop().await;
}
