//! The buddy dialect end to end, on both stores: the seed's conversation
//! client (join, send, type, page through messages), robot messages that
//! only staff see until shared, an agent taking a queued conversation, the
//! dashboard, and refusals that write nothing.

use e2e::{TestApp, TestClient, both_backends, token};
use serde_json::{Value, json};
use store::Backend;

both_backends!(
    the_seeds_conversation_client_joins_sends_and_types,
    get_messages_pages_oldest_first_by_limit_and_offset,
    robot_messages_reach_staff_only_until_shared,
    an_agent_joining_a_queued_conversation_takes_it_and_the_dashboard_hears_it,
    the_dashboard_hears_conversations_open_fill_and_empty_in_its_tenant_only,
    payloads_naming_someone_else_are_forbidden_and_write_nothing,
    malformed_payloads_are_validation_errors_and_write_nothing,
    another_tenants_conversation_is_not_found_and_its_rooms_stay_apart,
    a_seed_client_with_a_widget_key_talks_to_an_agent_and_comes_back_after_a_reconnect,
);

/// `join_room` as the client's own user; the ack is the caller's
/// `user_joined`.
async fn join_room(client: &mut TestClient, conversation: &str, user: &str, role: &str) -> Value {
    let ack = client
        .emit_with_ack(
            "join_room",
            json!({ "conversationId": conversation, "userId": user, "userRole": role }),
        )
        .await;
    assert!(ack.get("error").is_none(), "join_room refused: {ack}");
    // The same payload also came as an event: take it out of the way.
    assert_eq!(
        client
            .expect_where("user_joined", |v| v["participant"]["userId"] == user)
            .await,
        ack
    );
    ack
}

/// `send_message` with an ack: the `Message`.
async fn send_message(
    client: &TestClient,
    conversation: &str,
    user: &str,
    role: &str,
    content: &str,
    kind: Option<&str>,
) -> Value {
    let mut dto = json!({
        "conversationId": conversation,
        "fromUserId": user,
        "fromRole": role,
        "content": content,
    });
    if let Some(kind) = kind {
        dto["type"] = json!(kind);
    }
    let ack = client.emit_with_ack("send_message", dto).await;
    assert!(ack.get("error").is_none(), "send_message refused: {ack}");
    ack
}

/// `get_messages` with an ack: the `Message[]` (or the error).
async fn get_messages(client: &TestClient, payload: Value) -> Value {
    client.emit_with_ack("get_messages", payload).await
}

fn contents(messages: &Value) -> Vec<&str> {
    messages
        .as_array()
        .unwrap_or_else(|| panic!("a Message[]: {messages}"))
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect()
}

/// The `error` an ack'd event was refused with.
async fn refused(client: &mut TestClient, event: &str, payload: Value, code: &str) -> Value {
    let ack = client.emit_with_ack(event, payload.clone()).await;
    let error = &ack["error"];
    assert_eq!(error["code"], code, "{event} {payload}: {ack}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{event}: an error needs a message: {ack}"
    );
    // The error event too, to the sender.
    let event_error = client.expect("error").await;
    assert_eq!(&event_error, error);
    event_error
}

async fn join_dashboard(client: &TestClient) {
    let ack = client.emit_with_ack("join_dashboard", Value::Null).await;
    assert_eq!(ack["success"], true, "{ack}");
}

fn is_time(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|t| t.ends_with('Z') && chrono_like(t))
}

/// `2026-11-22T09:00:00.123Z`: the shape, not the value.
fn chrono_like(t: &str) -> bool {
    t.len() == 24 && t.as_bytes()[10] == b'T' && t.as_bytes()[19] == b'.'
}

async fn the_seeds_conversation_client_joins_sends_and_types(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "user123", "customer").await;
    let mut bob = app.client("acme", "agent456", "agent").await;

    let joined = join_room(&mut ana, "my-conversation-id", "user123", "cx-customer").await;
    assert_eq!(joined["conversationId"], "my-conversation-id");
    assert_eq!(joined["participant"]["userId"], "user123");
    assert_eq!(joined["participant"]["userRole"], "cx-customer");
    assert!(is_time(&joined["participant"]["joinedAt"]), "{joined}");

    let bob_joined = join_room(&mut bob, "my-conversation-id", "agent456", "cx-agent").await;
    // Those already in the room hear who joined, with the same participant.
    let heard = ana
        .expect_where("user_joined", |v| v["participant"]["userId"] == "agent456")
        .await;
    assert_eq!(heard, bob_joined);
    assert_eq!(heard["participant"]["userRole"], "cx-agent");

    let message = send_message(
        &ana,
        "my-conversation-id",
        "user123",
        "cx-customer",
        "Hello, I need help!",
        Some("text"),
    )
    .await;
    assert!(message["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(message["conversationId"], "my-conversation-id");
    assert_eq!(message["fromUserId"], "user123");
    assert_eq!(message["fromRole"], "cx-customer");
    assert_eq!(message["content"], "Hello, I need help!");
    assert_eq!(message["type"], "text");
    assert_eq!(message["isVisible"], true);
    assert!(is_time(&message["timestamp"]), "{message}");
    // Everyone in the room gets exactly the acknowledged message, the
    // sender too.
    assert_eq!(bob.expect("new_message").await, message);
    assert_eq!(ana.expect("new_message").await, message);
    // Without a type it is text; staff answer as their role.
    let answer = send_message(
        &bob,
        "my-conversation-id",
        "agent456",
        "cx-agent",
        "How can I help?",
        None,
    )
    .await;
    assert_eq!(answer["type"], "text");
    assert_eq!(answer["fromRole"], "cx-agent");
    assert_eq!(ana.expect("new_message").await, answer);

    ana.emit(
        "typing_start",
        json!({ "conversationId": "my-conversation-id", "userId": "user123", "userName": "Ana" }),
    )
    .await;
    let typing = bob.expect("user_typing").await;
    assert_eq!(
        typing,
        json!({
            "conversationId": "my-conversation-id",
            "userId": "user123",
            // The token's name, not the payload's.
            "userName": "user123 name",
            "isTyping": true,
        })
    );
    ana.emit(
        "typing_stop",
        json!({ "conversationId": "my-conversation-id", "userId": "user123" }),
    )
    .await;
    // A seed client shows "X is typing…" on every `user_typing`: a stop is
    // an event of its own.
    let stopped = bob.expect("user_stopped_typing").await;
    assert_eq!(
        stopped,
        json!({
            "conversationId": "my-conversation-id",
            "userId": "user123",
            "userName": "user123 name",
            "isTyping": false,
        })
    );
    bob.expect_none("user_typing").await;
    // The typist hears neither.
    ana.expect_none("user_typing").await;
    ana.expect_none("user_stopped_typing").await;

    // Leaving: the others hear it, and the leaver hears the room no more.
    let ack = ana
        .emit_with_ack(
            "leave_room",
            json!({ "conversationId": "my-conversation-id", "userId": "user123" }),
        )
        .await;
    assert_eq!(
        ack,
        json!({ "conversationId": "my-conversation-id", "userId": "user123" })
    );
    assert_eq!(
        bob.expect("user_left").await,
        json!({ "conversationId": "my-conversation-id", "userId": "user123" })
    );
    send_message(
        &bob,
        "my-conversation-id",
        "agent456",
        "cx-agent",
        "Bye?",
        None,
    )
    .await;
    bob.expect_where("new_message", |m| m["content"] == "Bye?")
        .await;
    ana.expect_none("new_message").await;
    app.stop().await;
}

async fn get_messages_pages_oldest_first_by_limit_and_offset(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    join_room(&mut ana, "c1", "ana", "cx-customer").await;
    let mut sent = Vec::new();
    for n in 1..=5 {
        sent.push(send_message(&ana, "c1", "ana", "cx-customer", &format!("m{n}"), None).await);
    }

    // Everything (the default limit is 50), oldest first, exactly as sent.
    let all = get_messages(&ana, json!({ "conversationId": "c1" })).await;
    assert_eq!(all, json!(sent));
    let page = get_messages(
        &ana,
        json!({ "conversationId": "c1", "limit": 2, "offset": 1 }),
    )
    .await;
    assert_eq!(contents(&page), ["m2", "m3"]);
    let page = get_messages(
        &ana,
        json!({ "conversationId": "c1", "limit": 2, "offset": 4 }),
    )
    .await;
    assert_eq!(contents(&page), ["m5"]);
    let page = get_messages(&ana, json!({ "conversationId": "c1", "offset": 5 })).await;
    assert_eq!(page, json!([]));
    let page = get_messages(&ana, json!({ "conversationId": "c1", "limit": 100 })).await;
    assert_eq!(contents(&page).len(), 5);

    // Without an ack callback, the answer comes as `messages`.
    ana.emit(
        "get_messages",
        json!({ "conversationId": "c1", "limit": 1 }),
    )
    .await;
    let answer = ana.expect("messages").await;
    assert_eq!(answer["conversationId"], "c1");
    assert_eq!(answer["limit"], 1);
    assert_eq!(answer["offset"], 0);
    assert_eq!(contents(&answer["messages"]), ["m1"]);

    // Connecting writes presence: connect first, then count.
    let mut cleo = app.client("acme", "cleo", "customer").await;
    let bob = app.client("acme", "bob", "agent").await;
    let before = app.event_count().await;
    for bad in [
        json!({ "conversationId": "c1", "limit": 0 }),
        json!({ "conversationId": "c1", "limit": 101 }),
        json!({ "conversationId": "c1", "limit": -1 }),
        json!({ "conversationId": "c1", "offset": -1 }),
        json!({ "conversationId": "c1", "limit": "ten" }),
        json!({ "conversationId": "c1", "offset": 1.5 }),
        json!({ "limit": 10 }),
    ] {
        refused(&mut ana, "get_messages", bad, "VALIDATION_ERROR").await;
    }
    refused(
        &mut ana,
        "get_messages",
        json!({ "conversationId": "nope" }),
        "NOT_FOUND",
    )
    .await;
    // A customer reads only conversations they take part in; staff any.
    refused(
        &mut cleo,
        "get_messages",
        json!({ "conversationId": "c1" }),
        "FORBIDDEN",
    )
    .await;
    let page = get_messages(&bob, json!({ "conversationId": "c1", "limit": 3 })).await;
    assert_eq!(contents(&page), ["m1", "m2", "m3"]);
    assert_eq!(app.event_count().await, before, "queries write nothing");
    app.stop().await;
}

async fn robot_messages_reach_staff_only_until_shared(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join_room(&mut ana, "c1", "ana", "cx-customer").await;
    join_room(&mut bob, "c1", "bob", "cx-agent").await;
    ana.expect_where("user_joined", |v| v["participant"]["userId"] == "bob")
        .await;

    // Staff post a robot's suggestion as `robot`.
    let robot = send_message(
        &bob,
        "c1",
        "bob",
        "robot",
        "Try turning it off and on",
        None,
    )
    .await;
    assert_eq!(robot["fromRole"], "robot");
    assert_eq!(robot["type"], "robot");
    assert_eq!(robot["isVisible"], false);
    assert_eq!(bob.expect("new_message").await, robot);
    // Or as their role with type robot: a robot message all the same.
    let typed = send_message(
        &bob,
        "c1",
        "bob",
        "cx-agent",
        "Or check the cable",
        Some("robot"),
    )
    .await;
    assert_eq!(typed["fromRole"], "robot");
    assert_eq!(typed["isVisible"], false);
    assert_eq!(bob.expect("new_message").await, typed);
    ana.expect_none("new_message").await;

    // History: customers do not see them, staff do.
    let seen = get_messages(&ana, json!({ "conversationId": "c1" })).await;
    assert_eq!(seen, json!([]));
    let staff_sees = get_messages(&bob, json!({ "conversationId": "c1" })).await;
    assert_eq!(staff_sees, json!([robot, typed]));

    // Customers can neither post as robot nor share.
    let before = app.event_count().await;
    refused(
        &mut ana,
        "send_message",
        json!({ "conversationId": "c1", "fromUserId": "ana", "fromRole": "robot", "content": "x" }),
        "FORBIDDEN",
    )
    .await;
    refused(
        &mut ana,
        "send_message",
        json!({ "conversationId": "c1", "fromUserId": "ana", "fromRole": "cx-customer",
                "content": "x", "type": "robot" }),
        "FORBIDDEN",
    )
    .await;
    refused(
        &mut ana,
        "share_robot_message",
        json!({ "originalMessageId": robot["id"], "conversationId": "c1", "fromUserId": "ana" }),
        "FORBIDDEN",
    )
    .await;
    assert_eq!(app.event_count().await, before);

    // Shared: now the customer gets it, visible, and so does its history.
    let ack = bob
        .emit_with_ack(
            "share_robot_message",
            json!({ "originalMessageId": robot["id"], "conversationId": "c1", "fromUserId": "bob" }),
        )
        .await;
    assert_eq!(ack["success"], true, "{ack}");
    let shared = ana.expect("new_message").await;
    let mut visible = robot.clone();
    visible["isVisible"] = json!(true);
    assert_eq!(shared, visible);
    assert_eq!(bob.expect("new_message").await, visible);
    let seen = get_messages(&ana, json!({ "conversationId": "c1" })).await;
    assert_eq!(seen, json!([visible]));
    // An unknown message is not found.
    refused(
        &mut bob,
        "share_robot_message",
        json!({ "originalMessageId": "msg_nope", "conversationId": "c1", "fromUserId": "bob" }),
        "NOT_FOUND",
    )
    .await;
    app.stop().await;
}

async fn an_agent_joining_a_queued_conversation_takes_it_and_the_dashboard_hears_it(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let mut sue = app.client("acme", "sue", "supervisor").await;
    join_dashboard(&sue).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    join_room(&mut ana, "c1", "ana", "cx-customer").await;
    send_message(&ana, "c1", "ana", "cx-customer", "I need a human", None).await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/conversations/c1/escalate", app.url()))
        .bearer_auth(token("acme", "ana", "customer"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let queued = sue
        .expect_where("conversation_updated", |v| {
            v["changes"]["status"] == "queued"
        })
        .await;
    assert_eq!(queued["conversationId"], "c1");
    assert_eq!(queued["changes"]["assignedAgentId"], Value::Null);
    assert_eq!(queued["changes"]["isActive"], true);

    let mut bob = app.client("acme", "bob", "agent").await;
    join_room(&mut bob, "c1", "bob", "cx-agent").await;
    let added = sue
        .expect_where("conversation_participant_added", |v| {
            v["participant"]["userId"] == "bob"
        })
        .await;
    assert_eq!(added["conversationId"], "c1");
    assert_eq!(added["action"], "added");
    assert_eq!(added["participant"]["userRole"], "cx-agent");
    assert!(is_time(&added["timestamp"]));
    let taken = sue
        .expect_where("conversation_updated", |v| {
            v["changes"]["status"] == "agent"
        })
        .await;
    assert_eq!(taken["conversationId"], "c1");
    assert_eq!(taken["changes"]["assignedAgentId"], "bob");
    assert!(is_time(&taken["changes"]["updatedAt"]));
    // The customer hears the agent come in.
    ana.expect_where("user_joined", |v| v["participant"]["userId"] == "bob")
        .await;
    // The queue is empty: the join took it.
    let (status, body) = app
        .get("/api/v1/queue", Some(&token("acme", "sue", "supervisor")))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["queue"], json!([]));
    app.stop().await;
}

async fn the_dashboard_hears_conversations_open_fill_and_empty_in_its_tenant_only(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let mut bob = app.client("acme", "bob", "agent").await;
    let mut eve = app.client("globex", "eve", "agent").await;
    join_dashboard(&bob).await;
    join_dashboard(&eve).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    // Customers do not watch the dashboard.
    refused(&mut ana, "join_dashboard", Value::Null, "FORBIDDEN").await;

    join_room(&mut ana, "c1", "ana", "cx-customer").await;
    let created = bob.expect("conversation_created").await;
    let conversation = &created["conversation"];
    assert_eq!(conversation["id"], "c1");
    assert_eq!(conversation["participantIds"], json!(["ana"]));
    assert_eq!(conversation["participantRoles"], json!(["cx-customer"]));
    assert_eq!(conversation["messageCount"], 0);
    assert_eq!(conversation["isActive"], true);
    assert!(is_time(&conversation["createdAt"]));
    assert!(is_time(&conversation["updatedAt"]));
    assert!(is_time(&conversation["lastMessageAt"]));
    assert_eq!(created["createdBy"], "ana");
    assert_eq!(created["initialParticipants"][0]["userId"], "ana");
    assert_eq!(created["initialParticipants"][0]["userRole"], "cx-customer");
    assert!(is_time(&created["timestamp"]));
    let added = bob.expect("conversation_participant_added").await;
    assert_eq!(added["conversationId"], "c1");
    assert_eq!(added["participant"]["userId"], "ana");
    assert_eq!(added["action"], "added");

    let first = send_message(&ana, "c1", "ana", "cx-customer", "one", None).await;
    let second = send_message(&ana, "c1", "ana", "cx-customer", "two", None).await;
    let counted = |n: u64| move |v: &Value| v["changes"]["messageCount"] == n;
    let one = bob.expect_where("conversation_updated", counted(1)).await;
    assert_eq!(one["conversationId"], "c1");
    assert_eq!(one["changes"]["lastMessageAt"], first["timestamp"]);
    assert_eq!(one["changes"]["updatedAt"], first["timestamp"]);
    let two = bob.expect_where("conversation_updated", counted(2)).await;
    assert_eq!(two["changes"]["lastMessageAt"], second["timestamp"]);
    // The customer's first message made the conversation active.
    bob.expect_where("conversation_updated", |v| {
        v["changes"]["status"] == "active"
    })
    .await;

    ana.emit_with_ack("leave_room", json!({ "conversationId": "c1" }))
        .await;
    let removed = bob.expect("conversation_participant_removed").await;
    assert_eq!(removed["conversationId"], "c1");
    assert_eq!(removed["action"], "removed");
    assert_eq!(removed["participant"]["userId"], "ana");
    assert_eq!(removed["participant"]["userRole"], "cx-customer");
    assert!(is_time(&removed["timestamp"]));

    // Another tenant's dashboard heard none of it.
    for event in [
        "conversation_created",
        "conversation_updated",
        "conversation_participant_added",
        "conversation_participant_removed",
    ] {
        eve.expect_none(event).await;
    }
    // After leaving the dashboard, nothing more.
    let ack = bob.emit_with_ack("leave_dashboard", Value::Null).await;
    assert_eq!(ack["success"], true);
    let mut cleo = app.client("acme", "cleo", "customer").await;
    join_room(&mut cleo, "c2", "cleo", "cx-customer").await;
    bob.expect_none("conversation_created").await;
    app.stop().await;
}

async fn payloads_naming_someone_else_are_forbidden_and_write_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join_room(&mut ana, "c1", "ana", "cx-customer").await;
    let mut cleo = app.client("acme", "cleo", "customer").await;
    let before = app.event_count().await;
    for (who, event, payload) in [
        (
            "ana",
            "send_message",
            json!({ "conversationId": "c1", "fromUserId": "bob", "fromRole": "cx-customer",
                    "content": "I am bob" }),
        ),
        (
            "ana",
            "send_message",
            json!({ "conversationId": "c1", "fromUserId": "ana", "fromRole": "cx-agent",
                    "content": "I am staff" }),
        ),
        (
            "bob",
            "send_message",
            json!({ "conversationId": "c1", "fromUserId": "bob", "fromRole": "cx-supervisor",
                    "content": "promoted" }),
        ),
        (
            "ana",
            "join_room",
            json!({ "conversationId": "c9", "userId": "bob", "userRole": "cx-customer" }),
        ),
        (
            "ana",
            "join_room",
            json!({ "conversationId": "c9", "userId": "ana", "userRole": "cx-agent" }),
        ),
        (
            "bob",
            "join_room",
            json!({ "conversationId": "c1", "userId": "bob", "userRole": "robot" }),
        ),
        (
            "ana",
            "leave_room",
            json!({ "conversationId": "c1", "userId": "bob" }),
        ),
        (
            "ana",
            "typing_start",
            json!({ "conversationId": "c1", "userId": "bob", "userName": "Bob" }),
        ),
        (
            "ana",
            "typing_stop",
            json!({ "conversationId": "c1", "userId": "bob" }),
        ),
        (
            "bob",
            "share_robot_message",
            json!({ "originalMessageId": "msg_1", "conversationId": "c1", "fromUserId": "ana" }),
        ),
        // A customer may not enter someone else's conversation.
        (
            "cleo",
            "join_room",
            json!({ "conversationId": "c1", "userId": "cleo", "userRole": "cx-customer" }),
        ),
        (
            "cleo",
            "send_message",
            json!({ "conversationId": "c1", "fromUserId": "cleo", "fromRole": "cx-customer",
                    "content": "let me in" }),
        ),
    ] {
        let client = match who {
            "ana" => &mut ana,
            "bob" => &mut bob,
            _ => &mut cleo,
        };
        let error = refused(client, event, payload, "FORBIDDEN").await;
        assert!(error["conversationId"].is_string(), "{event}: {error}");
    }
    assert_eq!(app.event_count().await, before, "nothing was written");
    // Nothing reached the room either.
    ana.expect_none("new_message").await;
    app.stop().await;
}

async fn malformed_payloads_are_validation_errors_and_write_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join_room(&mut ana, "c1", "ana", "cx-customer").await;
    let before = app.event_count().await;
    let message = |changes: Value| {
        let mut dto = json!({ "conversationId": "c1", "fromUserId": "ana",
                              "fromRole": "cx-customer", "content": "hi" });
        for (key, value) in changes.as_object().unwrap() {
            if value.is_null() {
                dto.as_object_mut().unwrap().remove(key);
            } else {
                dto[key] = value.clone();
            }
        }
        dto
    };
    for (event, payload) in [
        ("send_message", message(json!({ "conversationId": null }))),
        ("send_message", message(json!({ "fromUserId": null }))),
        ("send_message", message(json!({ "fromRole": null }))),
        ("send_message", message(json!({ "content": null }))),
        ("send_message", message(json!({ "content": "" }))),
        ("send_message", message(json!({ "content": "   " }))),
        (
            "send_message",
            message(json!({ "content": "x".repeat(10_001) })),
        ),
        ("send_message", message(json!({ "content": 42 }))),
        ("send_message", message(json!({ "fromRole": "customer" }))),
        ("send_message", message(json!({ "type": "image" }))),
        ("send_message", message(json!({ "conversationId": "c 1" }))),
        ("send_message", json!("just a string")),
        ("send_message", json!(null)),
        (
            "join_room",
            json!({ "conversationId": "c1", "userId": "ana" }),
        ),
        (
            "join_room",
            json!({ "conversationId": "c1", "userId": "ana", "userRole": "cx-admin" }),
        ),
        (
            "join_room",
            json!({ "conversationId": "", "userId": "ana", "userRole": "cx-customer" }),
        ),
        ("leave_room", json!({ "userId": "ana" })),
        ("leave_room", json!({ "conversationId": 7 })),
        ("typing_start", json!({ "conversationId": "c1" })),
        (
            "typing_start",
            json!({ "conversationId": "c1", "userId": "ana", "userName": 5 }),
        ),
        ("typing_stop", json!({ "userId": "ana" })),
        ("get_messages", json!({})),
        (
            "share_robot_message",
            json!({ "conversationId": "c1", "fromUserId": "ana" }),
        ),
    ] {
        refused(&mut ana, event, payload, "VALIDATION_ERROR").await;
    }
    // A robot's message is of type robot.
    refused(
        &mut bob,
        "send_message",
        json!({ "conversationId": "c1", "fromUserId": "bob", "fromRole": "robot",
                "content": "hi", "type": "text" }),
        "VALIDATION_ERROR",
    )
    .await;
    refused(
        &mut bob,
        "share_robot_message",
        json!({ "originalMessageId": "bad id!", "conversationId": "c1", "fromUserId": "bob" }),
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(app.event_count().await, before, "nothing was written");
    // And the connection still works.
    send_message(&ana, "c1", "ana", "cx-customer", "still here", None).await;
    ana.expect_where("new_message", |m| m["content"] == "still here")
        .await;
    app.stop().await;
}

async fn another_tenants_conversation_is_not_found_and_its_rooms_stay_apart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    let mut eve = app.client("globex", "eve", "agent").await;
    join_room(&mut ana, "c1", "ana", "cx-customer").await;
    join_room(&mut bob, "c1", "bob", "cx-agent").await;
    send_message(&ana, "c1", "ana", "cx-customer", "acme only", None).await;

    // For globex, acme's c1 does not exist.
    let before = app.event_count().await;
    for (event, payload) in [
        (
            "send_message",
            json!({ "conversationId": "c1", "fromUserId": "eve", "fromRole": "cx-agent",
                    "content": "peek" }),
        ),
        ("get_messages", json!({ "conversationId": "c1" })),
        (
            "typing_start",
            json!({ "conversationId": "c1", "userId": "eve", "userName": "Eve" }),
        ),
        (
            "share_robot_message",
            json!({ "originalMessageId": "msg_1", "conversationId": "c1", "fromUserId": "eve" }),
        ),
    ] {
        refused(&mut eve, event, payload, "NOT_FOUND").await;
    }
    assert_eq!(app.event_count().await, before);

    // Joining "c1" opens globex's own c1: acme's room stays acme's.
    join_room(&mut eve, "c1", "eve", "cx-agent").await;
    assert_eq!(
        get_messages(&eve, json!({ "conversationId": "c1" })).await,
        json!([])
    );
    send_message(&bob, "c1", "bob", "cx-agent", "still acme", None).await;
    ana.expect_where("new_message", |m| m["content"] == "still acme")
        .await;
    send_message(&eve, "c1", "eve", "cx-agent", "globex only", None).await;
    eve.expect_where("new_message", |m| m["content"] == "globex only")
        .await;
    let heard: Vec<Value> = eve.drain("new_message").await;
    assert!(
        heard.iter().all(|m| m["content"] == "globex only"),
        "{heard:?}"
    );
    let heard: Vec<Value> = ana.drain("new_message").await;
    assert!(
        heard.iter().all(|m| m["content"] != "globex only"),
        "{heard:?}"
    );
    app.stop().await;
}

/// A widget visitor's handshake, as README tells a buddy seed client to
/// add: `io(url, { auth: { widgetKey, chatbotId, sessionId } })`.
async fn widget_visitor(app: &TestApp, key: &str, session: &str) -> (TestClient, String) {
    let mut client = TestClient::connect(
        &app.url(),
        Some(json!({ "widgetKey": key, "chatbotId": "help-bot", "sessionId": session })),
        &[],
    )
    .await;
    let connected = client.expect("connected").await;
    let user = connected["userId"].as_str().unwrap().to_owned();
    (client, user)
}

async fn a_seed_client_with_a_widget_key_talks_to_an_agent_and_comes_back_after_a_reconnect(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (status, issued) = app
        .post(
            "/api/v1/keys",
            &token("acme", "ada", "admin"),
            json!({ "kind": "widget", "chatbotId": "help-bot" }),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let key = issued["key"].as_str().unwrap().to_owned();

    let (mut visitor, user) = widget_visitor(&app, &key, "sess-42").await;
    assert_eq!(user, "visitor-sess-42");
    join_room(&mut visitor, "widget-chat", &user, "cx-customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join_room(&mut bob, "widget-chat", "bob", "cx-agent").await;
    send_message(
        &visitor,
        "widget-chat",
        &user,
        "cx-customer",
        "Hello?",
        None,
    )
    .await;
    let heard = bob
        .expect_where("new_message", |m| m["content"] == "Hello?")
        .await;
    assert_eq!(heard["fromUserId"], user.as_str());

    // Reconnecting with the same session is the same customer: its
    // conversation is still its own.
    visitor.disconnect().await;
    let (mut again, same) = widget_visitor(&app, &key, "sess-42").await;
    assert_eq!(same, user);
    join_room(&mut again, "widget-chat", &same, "cx-customer").await;
    let history = get_messages(&again, json!({ "conversationId": "widget-chat" })).await;
    assert_eq!(contents(&history), ["Hello?"], "{history}");

    // Another session is another visitor: the conversation is not theirs.
    let (mut stranger, other) = widget_visitor(&app, &key, "sess-43").await;
    assert_eq!(other, "visitor-sess-43");
    refused(
        &mut stranger,
        "join_room",
        json!({ "conversationId": "widget-chat", "userId": other, "userRole": "cx-customer" }),
        "FORBIDDEN",
    )
    .await;
    app.stop().await;
}
