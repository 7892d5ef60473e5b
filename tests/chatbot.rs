//! The chatbot dialect end to end: a widget's conversation from the first
//! message through the queue to an agent, its end and its rating; the
//! consoles' conversation list, organisation notifications and dashboards;
//! tracking; tenancy.

use e2e::{TestApp, TestClient, both_backends};
use serde_json::{Value, json};
use std::sync::Arc;
use store::Backend;
use store::testing::TestDatabase;

both_backends!(
    a_widget_conversation_goes_from_the_first_message_through_the_queue_to_an_agent_and_ends,
    rating_a_conversation_without_messages_is_invalid_state,
    rejoining_with_the_same_session_returns_the_same_conversation_with_its_messages,
    an_explicit_conversation_id_must_exist_and_be_the_callers,
    others_in_the_room_see_typing_with_the_senders_role,
    the_conversation_list_pages_and_filters_by_status_agent_and_dates,
    bad_list_requests_are_validation_errors_and_customers_may_not_list,
    the_org_room_is_for_its_staff_and_hears_queued_conversations_and_bad_ratings,
    a_customer_of_another_tenant_cannot_join_post_or_end_and_hears_nothing,
    dashboards_hear_support_changes_with_the_queue,
    metadata_updates_apply_to_the_joined_conversation,
    merged_metadata_stops_at_64_kib_and_100_keys,
    ping_and_tracking_are_answered_and_tracking_is_recorded,
    bad_input_on_every_event_is_an_error_and_writes_nothing,
    a_widget_visitor_is_its_session_and_finds_its_conversation_again_after_reconnecting,
    another_customers_conversation_answers_forbidden_whatever_its_state,
);

/// A gateway with the assistant off: it answers every customer of a
/// session in AI handling (it has a suite of its own), and its answers
/// would race the workflow steps these tests take.
async fn spawn(backend: Backend) -> TestApp {
    let db = Arc::new(TestDatabase::new(backend).await);
    TestApp::spawn_with(db, |config| config.assistant = "off".into()).await
}

/// `join-conversation` and its `conversation-started`.
async fn start(client: &mut TestClient, session: &str) -> Value {
    client
        .emit("join-conversation", json!({ "sessionId": session }))
        .await;
    client.expect("conversation-started").await
}

/// `join-conversation` into a known conversation.
async fn enter(client: &mut TestClient, session: &str, conversation: &str) -> Value {
    client
        .emit(
            "join-conversation",
            json!({ "sessionId": session, "conversationId": conversation }),
        )
        .await;
    client
        .expect_where("conversation-started", |v| {
            v["conversationId"] == conversation
        })
        .await
}

/// `send-message` with an ack: the ack carries the message.
async fn say(client: &TestClient, conversation: &str, content: &str) -> Value {
    let ack = client
        .emit_with_ack(
            "send-message",
            json!({ "conversationId": conversation, "content": content }),
        )
        .await;
    assert_eq!(ack["conversationId"], conversation, "{ack}");
    ack["message"].clone()
}

/// Emit with an ack and expect it refused with `code`.
async fn refused(client: &mut TestClient, event: &str, payload: Value, code: &str) -> Value {
    let ack = client.emit_with_ack(event, payload).await;
    assert_eq!(ack["error"]["code"], code, "{event}: {ack}");
    let error = client.expect("error").await;
    assert_eq!(error["code"], code, "{event}: {error}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    error
}

/// Emit with an ack and expect `{success: true}`.
async fn accepted(client: &TestClient, event: &str, payload: Value) -> Value {
    let ack = client.emit_with_ack(event, payload).await;
    assert_eq!(ack["success"], true, "{event}: {ack}");
    ack
}

fn status_is(status: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["status"] == status
}

fn in_conversation(id: Value) -> impl Fn(&Value) -> bool {
    move |v| v["conversationId"] == id
}

/// `request-conversation-list` with `filters`: its `data`.
async fn list(client: &mut TestClient, filters: Value) -> Value {
    client.emit("request-conversation-list", filters).await;
    let answer = client.expect("conversation-list").await;
    assert_eq!(answer["success"], true, "{answer}");
    assert!(answer["timestamp"].is_string(), "{answer}");
    answer["data"].clone()
}

fn ids(data: &Value) -> Vec<String> {
    data["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .map(|c| c["conversationId"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_widget_conversation_goes_from_the_first_message_through_the_queue_to_an_agent_and_ends(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let started = start(&mut ana, "session-ana").await;
    assert_eq!(started["status"], "new", "{started}");
    assert_eq!(started["sessionId"], "session-ana");
    assert_eq!(started["messages"], json!([]));
    let conv = started["conversationId"].clone();
    let conv_id = conv.as_str().unwrap().to_owned();
    assert!(conv_id.starts_with("s-"), "{started}");

    let acked = say(&ana, &conv_id, "Hello, I need help!").await;
    let heard = ana.expect("message").await;
    assert_eq!(heard["conversationId"], conv);
    let message = &heard["message"];
    assert_eq!(
        *message, acked,
        "the ack and the room carry the same message"
    );
    assert!(
        message["messageId"]
            .as_str()
            .is_some_and(|id| id.starts_with("msg_")),
        "{message}"
    );
    assert_eq!(message["conversationId"], conv);
    assert_eq!(message["userId"], "ana");
    assert_eq!(message["sender"], "user");
    assert_eq!(message["senderName"], "ana name");
    assert_eq!(message["content"], "Hello, I need help!");
    assert!(
        message["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 24),
        "{message}"
    );
    assert_eq!(
        message["status"],
        json!({ "sent": true, "delivered": true })
    );
    assert!(message.get("metadata").is_none(), "{message}");
    // A session's conversation is in AI handling, however its customer
    // signed in (the seed's AI support answers them all).
    ana.expect_where("status-change", status_is("ai")).await;

    accepted(
        &ana,
        "escalate",
        json!({ "conversationId": conv, "reason": "a human, please" }),
    )
    .await;
    let queued = ana.expect_where("status-change", status_is("queued")).await;
    assert_eq!(queued["conversationId"], conv);
    let position = ana.expect("queue-update").await;
    assert_eq!(position["conversationId"], conv);
    assert_eq!(position["position"], 1);
    assert!(position["estimatedWait"].as_u64().is_some(), "{position}");

    // A second customer escalating waits behind the first.
    let mut bea = app.client("acme", "bea", "customer").await;
    let second = start(&mut bea, "session-bea").await["conversationId"].clone();
    say(&bea, second.as_str().unwrap(), "Me too").await;
    accepted(&bea, "escalate", json!({ "conversationId": second })).await;
    let waiting = bea
        .expect_where("queue-update", in_conversation(second.clone()))
        .await;
    assert_eq!(waiting["position"], 2);

    // An agent takes the first (an agent joining a queued conversation
    // takes it): the second moves up, the first hears who took it.
    let mut bob = app.client("acme", "bob", "agent").await;
    let taken = enter(&mut bob, "console", &conv_id).await;
    assert_eq!(taken["messages"][0]["content"], "Hello, I need help!");
    let moved = bea
        .expect_where("queue-update", |v| v["position"] == 1)
        .await;
    assert_eq!(moved["conversationId"], second);
    let joined = ana.expect("agent-joined").await;
    assert_eq!(
        joined,
        json!({ "agentName": "bob name", "agentId": "bob", "conversationId": conv })
    );
    let serving = ana.expect_where("status-change", status_is("agent")).await;
    assert_eq!(
        serving,
        json!({ "status": "agent", "conversationId": conv, "agentName": "bob name", "agentId": "bob" })
    );
    // Ana's queue is behind her; Bea never heard of Ana's conversation.
    bea.expect_none("agent-joined").await;

    let answer = say(&bob, &conv_id, "Hi Ana, Bob here.").await;
    assert_eq!(answer["sender"], "agent");
    assert_eq!(
        ana.expect_where("message", |m| m["message"]["userId"] == "bob")
            .await["message"],
        answer
    );

    accepted(&ana, "end-conversation", json!({ "conversationId": conv })).await;
    let ended = ana.expect("conversation-ended").await;
    assert_eq!(
        ended,
        json!({ "conversationId": conv, "reason": "user_ended" })
    );
    assert_eq!(
        bob.expect("conversation-ended").await["reason"],
        "user_ended"
    );
    ana.expect_where("status-change", status_is("ended")).await;

    let rated = accepted(
        &ana,
        "rate",
        json!({ "conversationId": conv, "rating": "good" }),
    )
    .await;
    assert_eq!(rated["rating"], "good");
    ana.expect_none("error").await;
    refused(
        &mut ana,
        "end-conversation",
        json!({ "conversationId": conv }),
        "INVALID_STATE",
    )
    .await;
    app.stop().await;
}

async fn rating_a_conversation_without_messages_is_invalid_state(backend: Backend) {
    let app = spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let conv = start(&mut ana, "quiet").await["conversationId"].clone();
    let before = app.event_count().await;
    let error = refused(
        &mut ana,
        "rate",
        json!({ "conversationId": conv, "rating": "good" }),
        "INVALID_STATE",
    )
    .await;
    assert_eq!(error["conversationId"], conv);
    assert_eq!(app.event_count().await, before);
    app.stop().await;
}

async fn rejoining_with_the_same_session_returns_the_same_conversation_with_its_messages(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let conv = start(&mut ana, "session-1").await["conversationId"].clone();
    let conv_id = conv.as_str().unwrap().to_owned();
    let first = say(&ana, &conv_id, "first").await;
    let second = say(&ana, &conv_id, "second").await;
    ana.disconnect().await;

    let mut again = app.client("acme", "ana", "customer").await;
    let rejoined = start(&mut again, "session-1").await;
    assert_eq!(rejoined["conversationId"], conv);
    assert_eq!(rejoined["status"], "ai");
    assert_eq!(rejoined["messages"], json!([first, second]));
    // And the room is hers again.
    let third = say(&again, &conv_id, "third").await;
    assert_eq!(
        again
            .expect_where("message", |m| m["message"] == third)
            .await["conversationId"],
        conv
    );
    // Another session is another conversation.
    let other = start(&mut again, "session-2").await;
    assert_ne!(other["conversationId"], conv);
    assert_eq!(other["messages"], json!([]));
    app.stop().await;
}

async fn an_explicit_conversation_id_must_exist_and_be_the_callers(backend: Backend) {
    let app = spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let conv = start(&mut ana, "s-ana").await["conversationId"].clone();
    say(&ana, conv.as_str().unwrap(), "mine").await;
    let mut eve = app.client("acme", "eve", "customer").await;
    let before = app.event_count().await;
    refused(
        &mut ana,
        "join-conversation",
        json!({ "sessionId": "s-ana", "conversationId": "made-up" }),
        "NOT_FOUND",
    )
    .await;
    refused(
        &mut eve,
        "join-conversation",
        json!({ "sessionId": "s-eve", "conversationId": conv }),
        "FORBIDDEN",
    )
    .await;
    refused(
        &mut eve,
        "send-message",
        json!({ "conversationId": conv, "content": "let me in" }),
        "FORBIDDEN",
    )
    .await;
    assert_eq!(app.event_count().await, before);
    eve.expect_none("message").await;
    // Her own conversation opens the same way as Ana's.
    let hers = start(&mut eve, "s-eve").await;
    assert_ne!(hers["conversationId"], conv);
    app.stop().await;
}

async fn others_in_the_room_see_typing_with_the_senders_role(backend: Backend) {
    let app = spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let conv = start(&mut ana, "typing").await["conversationId"].clone();
    let mut bob = app.client("acme", "bob", "agent").await;
    enter(&mut bob, "console", conv.as_str().unwrap()).await;

    ana.emit(
        "typing",
        json!({ "conversationId": conv, "isTyping": true }),
    )
    .await;
    let typing = bob.expect("typing").await;
    assert_eq!(
        typing,
        json!({ "sender": "user", "senderName": "ana name", "isTyping": true, "conversationId": conv })
    );
    bob.emit(
        "typing",
        json!({ "conversationId": conv, "isTyping": false }),
    )
    .await;
    let stopped = ana.expect("typing").await;
    assert_eq!(stopped["sender"], "agent");
    assert_eq!(stopped["senderName"], "bob name");
    assert_eq!(stopped["isTyping"], false);
    // Nobody hears their own typing.
    ana.expect_none("typing").await;
    bob.expect_none("typing").await;
    app.stop().await;
}

/// Open a conversation for `user` with one message; escalate it when asked.
async fn conversation(app: &TestApp, user: &str, escalate: bool) -> (TestClient, String) {
    let mut client = app.client("acme", user, "customer").await;
    let conv = start(&mut client, &format!("session-{user}")).await["conversationId"]
        .as_str()
        .unwrap()
        .to_owned();
    say(&client, &conv, "hello").await;
    if escalate {
        accepted(&client, "escalate", json!({ "conversationId": conv })).await;
        client
            .expect_where("status-change", status_is("queued"))
            .await;
    }
    (client, conv)
}

async fn the_conversation_list_pages_and_filters_by_status_agent_and_dates(backend: Backend) {
    let app = spawn(backend).await;
    let (_ana, a) = conversation(&app, "ana", false).await;
    let (_bea, b) = conversation(&app, "bea", true).await;
    let (mut cai, c) = conversation(&app, "cai", true).await;
    let mut bob = app.client("acme", "bob", "agent").await;
    // Taken over REST: the widget hears it all the same.
    let claimed = reqwest::Client::new()
        .post(format!("{}/api/v1/conversations/{c}/claim", app.url()))
        .bearer_auth(e2e::token("acme", "bob", "agent"))
        .send()
        .await
        .unwrap();
    assert_eq!(claimed.status().as_u16(), 200);
    assert_eq!(cai.expect("agent-joined").await["agentId"], "bob");
    cai.expect_where("status-change", status_is("agent")).await;
    // Another tenant's conversations never show.
    let mut gus = app.client("globex", "gus", "customer").await;
    start(&mut gus, "session-gus").await;

    let all = list(&mut bob, json!({})).await;
    assert_eq!(
        ids(&all),
        vec![c.clone(), b.clone(), a.clone()],
        "newest first"
    );
    assert_eq!(
        all["pagination"],
        json!({ "page": 1, "limit": 20, "total": 3, "totalPages": 1 })
    );
    let first = &all["conversations"][0];
    assert_eq!(first["tenantId"], "acme");
    assert_eq!(first["sessionId"], "session-cai");
    assert_eq!(first["userId"], "cai");
    assert_eq!(first["status"], "agent");
    assert_eq!(first["assignedAgentId"], "bob");
    assert_eq!(first["messages"], json!([]));
    // No forwarding header: the address is the peer's.
    assert_eq!(first["metadata"]["ipAddress"], "127.0.0.1", "{first}");
    assert!(first["metadata"].get("userAgent").is_some(), "{first}");
    assert!(first["timestamps"]["created"].is_string(), "{first}");
    assert!(first["timestamps"]["queuedAt"].is_string(), "{first}");
    assert!(
        first["timestamps"]["agentAssignedAt"].is_string(),
        "{first}"
    );
    assert_eq!(first["metrics"]["messageCount"], 1, "{first}");
    assert!(first["metrics"]["queueTimeSeconds"].is_number(), "{first}");

    let page = list(&mut bob, json!({ "page": 2, "limit": 2 })).await;
    assert_eq!(ids(&page), vec![a.clone()]);
    assert_eq!(
        page["pagination"],
        json!({ "page": 2, "limit": 2, "total": 3, "totalPages": 2 })
    );
    let beyond = list(&mut bob, json!({ "page": 9, "limit": 2 })).await;
    assert_eq!(ids(&beyond), Vec::<String>::new());
    assert_eq!(beyond["pagination"]["total"], 3);
    assert_eq!(beyond["pagination"]["totalPages"], 2);

    let queued = list(&mut bob, json!({ "status": "queued" })).await;
    assert_eq!(ids(&queued), vec![b.clone()]);
    assert_eq!(queued["pagination"]["total"], 1);
    let bobs = list(&mut bob, json!({ "agentId": "bob" })).await;
    assert_eq!(ids(&bobs), vec![c.clone()]);
    let nobodys = list(&mut bob, json!({ "agentId": "someone-else" })).await;
    assert_eq!(nobodys["pagination"]["total"], 0);

    let today = chrono::Utc::now().date_naive().to_string();
    let dated = list(&mut bob, json!({ "startDate": today, "endDate": today })).await;
    assert_eq!(dated["pagination"]["total"], 3);
    let past = list(
        &mut bob,
        json!({ "startDate": "2020-01-01", "endDate": "2020-12-31T23:59:59Z" }),
    )
    .await;
    assert_eq!(past["pagination"]["total"], 0);
    let future = list(&mut bob, json!({ "startDate": "2999-01-01T00:00:00Z" })).await;
    assert_eq!(future["pagination"]["total"], 0);
    app.stop().await;
}

async fn bad_list_requests_are_validation_errors_and_customers_may_not_list(backend: Backend) {
    let app = spawn(backend).await;
    let mut bob = app.client("acme", "bob", "agent").await;
    for filters in [
        json!({ "status": "open" }),
        json!({ "startDate": "yesterday" }),
        json!({ "endDate": "2026-13-40" }),
        json!({ "page": 0 }),
        json!({ "limit": 1000 }),
        json!({ "page": "two" }),
        json!({ "agentId": "a b" }),
    ] {
        refused(
            &mut bob,
            "request-conversation-list",
            filters,
            "VALIDATION_ERROR",
        )
        .await;
    }
    bob.expect_none("conversation-list").await;
    let mut ana = app.client("acme", "ana", "customer").await;
    refused(
        &mut ana,
        "request-conversation-list",
        json!({}),
        "FORBIDDEN",
    )
    .await;
    refused(
        &mut ana,
        "join-conversation-list",
        json!({ "tenantId": "acme" }),
        "FORBIDDEN",
    )
    .await;
    refused(
        &mut bob,
        "join-conversation-list",
        json!({ "tenantId": "globex" }),
        "FORBIDDEN",
    )
    .await;
    app.stop().await;
}

async fn the_org_room_is_for_its_staff_and_hears_queued_conversations_and_bad_ratings(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let mut sue = app.client("acme", "sue", "supervisor").await;
    refused(
        &mut sue,
        "join-org",
        json!({ "orgId": "globex" }),
        "JOIN_ORG_FAILED",
    )
    .await;
    refused(
        &mut sue,
        "join-org",
        json!({ "orgId": "acme", "userId": "bob" }),
        "JOIN_ORG_FAILED",
    )
    .await;
    let mut ana = app.client("acme", "ana", "customer").await;
    refused(
        &mut ana,
        "join-org",
        json!({ "orgId": "acme" }),
        "JOIN_ORG_FAILED",
    )
    .await;
    let mut gus = app.client("globex", "gus", "admin").await;
    gus.emit("join-org", json!({ "orgId": "globex" })).await;
    gus.expect("org-joined").await;

    sue.emit("join-org", json!({ "orgId": "acme", "userId": "sue" }))
        .await;
    let joined = sue.expect("org-joined").await;
    assert_eq!(joined["orgId"], "acme");
    assert_eq!(joined["roomName"], "chatbot:acme:org");
    assert!(joined["timestamp"].is_string());
    // The list room hears status changes.
    sue.emit("join-conversation-list", json!({ "tenantId": "acme" }))
        .await;
    assert_eq!(
        sue.expect("joined-conversation-list").await,
        json!({ "tenantId": "acme" })
    );

    let conv = start(&mut ana, "org").await["conversationId"].clone();
    assert_eq!(
        sue.expect_where("status-change", status_is("new")).await["conversationId"],
        conv
    );
    say(&ana, conv.as_str().unwrap(), "help").await;
    accepted(
        &ana,
        "escalate",
        json!({ "conversationId": conv, "reason": "angry" }),
    )
    .await;
    let queued = sue.expect("notification").await;
    assert_eq!(queued["type"], "conversation-queued");
    assert!(queued["title"].is_string() && queued["message"].is_string());
    assert_eq!(queued["data"]["conversationId"], conv);
    assert_eq!(queued["data"]["reason"], "angry");
    assert!(queued["timestamp"].is_string());
    assert_eq!(
        sue.expect_where("status-change", status_is("queued")).await["conversationId"],
        conv
    );

    accepted(
        &ana,
        "rate",
        json!({ "conversationId": conv, "rating": "bad", "comment": "slow" }),
    )
    .await;
    let bad = sue.expect("notification").await;
    assert_eq!(bad["type"], "bad-rating");
    assert_eq!(bad["data"]["comment"], "slow");
    // A good rating notifies nobody; another tenant hears nothing.
    accepted(
        &ana,
        "rate",
        json!({ "conversationId": conv, "rating": "good" }),
    )
    .await;
    sue.expect_none("notification").await;
    gus.expect_none("notification").await;

    sue.emit("leave-org", json!({ "orgId": "acme" })).await;
    assert_eq!(sue.expect("org-left").await["orgId"], "acme");
    accepted(
        &ana,
        "rate",
        json!({ "conversationId": conv, "rating": "bad" }),
    )
    .await;
    sue.expect_none("notification").await;
    app.stop().await;
}

async fn a_customer_of_another_tenant_cannot_join_post_or_end_and_hears_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let conv = start(&mut ana, "acme-session").await["conversationId"].clone();
    say(&ana, conv.as_str().unwrap(), "secret").await;
    let mut gus = app.client("globex", "gus", "customer").await;
    let mut gia = app.client("globex", "gia", "agent").await;
    let before = app.event_count().await;
    for client in [&mut gus, &mut gia] {
        let joined = refused(
            client,
            "join-conversation",
            json!({ "sessionId": "acme-session", "conversationId": conv }),
            "NOT_FOUND",
        )
        .await;
        assert_eq!(joined["conversationId"], conv);
        refused(
            client,
            "send-message",
            json!({ "conversationId": conv, "content": "hi" }),
            "NOT_FOUND",
        )
        .await;
        refused(
            client,
            "end-conversation",
            json!({ "conversationId": conv }),
            "NOT_FOUND",
        )
        .await;
        refused(
            client,
            "escalate",
            json!({ "conversationId": conv }),
            "NOT_FOUND",
        )
        .await;
    }
    assert_eq!(app.event_count().await, before);
    say(&ana, conv.as_str().unwrap(), "still secret").await;
    accepted(&ana, "escalate", json!({ "conversationId": conv })).await;
    for client in [&mut gus, &mut gia] {
        client.expect_none("message").await;
        client.expect_none("status-change").await;
        client.expect_none("queue-update").await;
    }
    app.stop().await;
}

async fn dashboards_hear_support_changes_with_the_queue(backend: Backend) {
    let app = spawn(backend).await;
    let mut sue = app.client("acme", "sue", "supervisor").await;
    let mut ana = app.client("acme", "ana", "customer").await;
    refused(
        &mut ana,
        "subscribe-dashboard",
        json!({ "dashboardId": "ops" }),
        "FORBIDDEN",
    )
    .await;
    refused(
        &mut sue,
        "subscribe-dashboard",
        json!({}),
        "VALIDATION_ERROR",
    )
    .await;
    for id in ["ops", "wallboard"] {
        sue.emit("subscribe-dashboard", json!({ "dashboardId": id }))
            .await;
        let subscribed = sue.expect("dashboard-subscribed").await;
        assert_eq!(subscribed["dashboardId"], id);
        assert!(subscribed["timestamp"].is_string());
    }
    let mut gus = app.client("globex", "gus", "admin").await;
    gus.emit("subscribe-dashboard", json!({ "dashboardId": "ops" }))
        .await;
    gus.expect("dashboard-subscribed").await;

    let conv = start(&mut ana, "dash").await["conversationId"].clone();
    say(&ana, conv.as_str().unwrap(), "help").await;
    accepted(&ana, "escalate", json!({ "conversationId": conv })).await;
    let escalated = |v: &Value| v["change"]["type"] == "escalated";
    let ops = sue
        .expect_where("dashboard-update", move |v| {
            escalated(v) && v["dashboardId"] == "ops"
        })
        .await;
    assert_eq!(ops["change"]["conversationId"], conv);
    assert_eq!(ops["change"]["status"], "queued");
    assert_eq!(ops["queue"]["length"], 1, "{ops}");
    let entry = &ops["queue"]["entries"][0];
    assert_eq!(entry["conversationId"], conv);
    assert_eq!(entry["position"], 1);
    assert_eq!(entry["userId"], "ana");
    assert!(ops["timestamp"].is_string());
    sue.expect_where("dashboard-update", move |v| {
        escalated(v) && v["dashboardId"] == "wallboard"
    })
    .await;
    gus.expect_none("dashboard-update").await;
    app.stop().await;
}

async fn metadata_updates_apply_to_the_joined_conversation(backend: Backend) {
    let app = spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    refused(
        &mut ana,
        "update-conversation-metadata",
        json!({ "metadata": { "plan": "pro" } }),
        "VALIDATION_ERROR",
    )
    .await;
    let conv = start(&mut ana, "meta").await["conversationId"].clone();
    let ack = accepted(
        &ana,
        "update-conversation-metadata",
        json!({ "metadata": { "plan": "pro", "page": "/pricing" } }),
    )
    .await;
    assert_eq!(ack["conversationId"], conv);
    assert_eq!(
        ack["metadata"],
        json!({ "plan": "pro", "page": "/pricing" })
    );
    accepted(
        &ana,
        "update-conversation-metadata",
        json!({ "conversationId": conv, "metadata": { "page": null } }),
    )
    .await;
    refused(
        &mut ana,
        "update-conversation-metadata",
        json!({ "metadata": "plan=pro" }),
        "VALIDATION_ERROR",
    )
    .await;
    let mut bob = app.client("acme", "bob", "agent").await;
    let listed = list(&mut bob, json!({})).await;
    let metadata = &listed["conversations"][0]["metadata"];
    assert_eq!(metadata["plan"], "pro", "{metadata}");
    assert!(metadata.get("page").is_none(), "{metadata}");
    app.stop().await;
}

async fn merged_metadata_stops_at_64_kib_and_100_keys(backend: Backend) {
    let app = spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let conv = start(&mut ana, "meta").await["conversationId"].clone();
    let update = |metadata: Value| json!({ "conversationId": conv, "metadata": metadata });
    // As reported: updates of 15 KB each. Four fit in 64 KiB merged.
    let chunk = "x".repeat(15_000);
    for i in 0..4 {
        accepted(
            &ana,
            "update-conversation-metadata",
            update(json!({ format!("big-{i}"): chunk })),
        )
        .await;
    }
    let before = app.event_count().await;
    let error = refused(
        &mut ana,
        "update-conversation-metadata",
        update(json!({ "big-4": chunk })),
        "VALIDATION_ERROR",
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("65536"),
        "{error}"
    );
    assert_eq!(app.event_count().await, before);
    // Replacing a key with as much is fine.
    accepted(
        &ana,
        "update-conversation-metadata",
        update(json!({ "big-0": "y".repeat(15_000) })),
    )
    .await;
    // Small keys up to 100 in all, in one update; the 101st is refused.
    let small: serde_json::Map<String, Value> =
        (0..96).map(|i| (format!("k{i}"), json!(i))).collect();
    accepted(
        &ana,
        "update-conversation-metadata",
        update(Value::Object(small)),
    )
    .await;
    let error = refused(
        &mut ana,
        "update-conversation-metadata",
        update(json!({ "one-more": 1 })),
        "VALIDATION_ERROR",
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("100"),
        "{error}"
    );
    // Removing a key makes room for another.
    accepted(
        &ana,
        "update-conversation-metadata",
        update(json!({ "k0": null, "one-more": 1 })),
    )
    .await;

    let mut bob = app.client("acme", "bob", "agent").await;
    let listed = list(&mut bob, json!({})).await;
    // The seed's metadata also carries the visitor's browser details.
    let mut metadata = listed["conversations"][0]["metadata"].clone();
    for key in ["userAgent", "ipAddress", "referrer"] {
        metadata.as_object_mut().expect("metadata").remove(key);
    }
    assert_eq!(metadata.as_object().unwrap().len(), 100);
    let size = metadata.to_string().len();
    assert!(size <= 64 * 1024, "{size}");
    assert!(metadata["big-0"].as_str().unwrap().starts_with('y'));
    assert!(metadata.get("big-4").is_none() && metadata.get("k0").is_none());
    assert_eq!(metadata["one-more"], 1);
    app.stop().await;
}

async fn ping_and_tracking_are_answered_and_tracking_is_recorded(backend: Backend) {
    let app = spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    ana.emit("ping", json!(null)).await;
    assert!(ana.expect("pong").await["timestamp"].is_string());

    // Connecting records presence: connect everyone before counting.
    let mut lou = app.client("acme", "lou", "analyst").await;
    let before = app.event_count().await;
    accepted(
        &ana,
        "track-activity",
        json!({ "activity": "button_click", "data": { "button": "pricing" } }),
    )
    .await;
    accepted(
        &ana,
        "page-view",
        json!({ "page": "/pricing", "referrer": "https://example.com/" }),
    )
    .await;
    // Without an ack nothing is sent back, and it is recorded all the same.
    ana.emit("page-view", json!({ "page": "/checkout" })).await;
    ana.expect_none("error").await;
    assert_eq!(app.event_count().await, before + 3);
    let db = store::Db::connect(app.db.url()).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT stream_id, event_type FROM events WHERE stream_id LIKE 'visitor/%' ORDER BY position",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    db.close().await;
    assert_eq!(
        rows,
        vec![
            ("visitor/acme/ana".to_owned(), "ActivityTracked".to_owned()),
            ("visitor/acme/ana".to_owned(), "PageViewed".to_owned()),
            ("visitor/acme/ana".to_owned(), "PageViewed".to_owned()),
        ]
    );

    refused(
        &mut ana,
        "track-activity",
        json!({ "data": {} }),
        "VALIDATION_ERROR",
    )
    .await;
    refused(
        &mut ana,
        "page-view",
        json!({ "page": "/a b" }),
        "VALIDATION_ERROR",
    )
    .await;
    refused(&mut lou, "page-view", json!({ "page": "/" }), "FORBIDDEN").await;
    assert_eq!(app.event_count().await, before + 3);
    app.stop().await;
}

async fn bad_input_on_every_event_is_an_error_and_writes_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let conv = start(&mut ana, "bad").await["conversationId"].clone();
    say(&ana, conv.as_str().unwrap(), "hello").await;
    let before = app.event_count().await;
    let long = "x".repeat(10_001);
    for (event, payload) in [
        ("join-conversation", json!({})),
        ("join-conversation", json!({ "sessionId": "a:b" })),
        (
            "join-conversation",
            json!({ "sessionId": "ok", "conversationId": "a/b" }),
        ),
        ("send-message", json!({ "conversationId": conv })),
        (
            "send-message",
            json!({ "conversationId": conv, "content": "" }),
        ),
        (
            "send-message",
            json!({ "conversationId": conv, "content": long }),
        ),
        ("send-message", json!({ "content": "where to?" })),
        ("send-message", json!("not an object")),
        ("typing", json!({ "conversationId": conv })),
        (
            "typing",
            json!({ "conversationId": conv, "isTyping": "yes" }),
        ),
        (
            "escalate",
            json!({ "conversationId": conv, "reason": "a\u{0}b" }),
        ),
        ("rate", json!({ "conversationId": conv, "rating": "meh" })),
        ("rate", json!({ "conversationId": conv })),
        ("end-conversation", json!({})),
        (
            "update-conversation-metadata",
            json!({ "conversationId": conv }),
        ),
        ("join-conversation-list", json!({})),
        ("leave-org", json!({})),
    ] {
        refused(&mut ana, event, payload, "VALIDATION_ERROR").await;
    }
    assert_eq!(app.event_count().await, before);
    // An event no dialect has.
    refused(&mut ana, "search-everything", json!({}), "UNKNOWN_EVENT").await;
    app.stop().await;
}

/// A widget visitor of `tenant`'s chatbot `bot-1`, connected with browser
/// headers, and the key it used.
async fn widget_visitor(app: &TestApp, key: &str) -> TestClient {
    let auth = json!({ "widgetKey": key, "chatbotId": "bot-1" });
    let headers = [
        ("User-Agent", "Mozilla/5.0 (Widget test)".to_owned()),
        ("Referer", "https://shop.example/pricing".to_owned()),
        ("X-Forwarded-For", "203.0.113.7, 10.0.0.1".to_owned()),
    ];
    let mut client = TestClient::connect(&app.url(), Some(auth), &headers).await;
    client.expect("connected").await;
    client
}

async fn a_widget_visitor_is_its_session_and_finds_its_conversation_again_after_reconnecting(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/keys", app.url()))
        .bearer_auth(e2e::token("acme", "root", "admin"))
        .json(&json!({ "kind": "widget", "chatbotId": "bot-1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();

    let mut visitor = widget_visitor(&app, &key).await;
    let started = start(&mut visitor, "sess-1").await;
    assert_eq!(started["status"], "new");
    let conv = started["conversationId"].clone();
    let conv_id = conv.as_str().unwrap().to_owned();
    let hello = say(&visitor, &conv_id, "Hi from the widget").await;
    assert_eq!(hello["userId"], "visitor-sess-1");
    assert_eq!(hello["sender"], "user");
    // One connection, one session.
    refused(
        &mut visitor,
        "join-conversation",
        json!({ "sessionId": "sess-2" }),
        "FORBIDDEN",
    )
    .await;
    visitor.disconnect().await;

    // The same session from a new connection is the same visitor.
    let mut back = widget_visitor(&app, &key).await;
    let again = enter(&mut back, "sess-1", &conv_id).await;
    // The visitor's message, then (a widget's conversation being in AI
    // handling) perhaps the assistant's answer to it already.
    let messages = again["messages"].as_array().unwrap();
    assert_eq!(messages[0], hello, "{again}");
    assert!(
        messages[1..].iter().all(|m| m["sender"] == "ai") && messages.len() <= 2,
        "{again}"
    );
    let mut same = widget_visitor(&app, &key).await;
    assert_eq!(start(&mut same, "sess-1").await["conversationId"], conv);
    // Another session may not enter it, even knowing its id.
    let mut stranger = widget_visitor(&app, &key).await;
    refused(
        &mut stranger,
        "join-conversation",
        json!({ "sessionId": "sess-3", "conversationId": conv }),
        "FORBIDDEN",
    )
    .await;

    let mut bob = app.client("acme", "bob", "agent").await;
    let listed = list(&mut bob, json!({})).await;
    let conversation = &listed["conversations"][0];
    assert_eq!(conversation["conversationId"], conv);
    assert_eq!(conversation["chatbotId"], "bot-1");
    assert_eq!(conversation["sessionId"], "sess-1");
    assert_eq!(conversation["userId"], "visitor-sess-1");
    assert_eq!(
        conversation["metadata"]["userAgent"],
        "Mozilla/5.0 (Widget test)"
    );
    assert_eq!(conversation["metadata"]["ipAddress"], "203.0.113.7");
    assert_eq!(
        conversation["metadata"]["referrer"],
        "https://shop.example/pricing"
    );
    assert_eq!(listed["pagination"]["total"], 1);
    app.stop().await;
}

async fn another_customers_conversation_answers_forbidden_whatever_its_state(backend: Backend) {
    let app = spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let open = start(&mut ana, "open-one").await["conversationId"].clone();
    say(&ana, open.as_str().unwrap(), "still going").await;
    let ended = start(&mut ana, "ended-one").await["conversationId"].clone();
    say(&ana, ended.as_str().unwrap(), "bye").await;
    accepted(&ana, "end-conversation", json!({ "conversationId": ended })).await;
    let mut eve = app.client("acme", "eve", "customer").await;
    let before = app.event_count().await;
    // The same answer for an open and an ended conversation: a state-first
    // check would say INVALID_STATE ("has ended") for the second.
    for conversation in [&open, &ended] {
        for (event, payload) in [
            (
                "end-conversation",
                json!({ "conversationId": conversation }),
            ),
            ("escalate", json!({ "conversationId": conversation })),
            (
                "rate",
                json!({ "conversationId": conversation, "rating": "good" }),
            ),
            (
                "send-message",
                json!({ "conversationId": conversation, "content": "hi" }),
            ),
        ] {
            let error = refused(&mut eve, event, payload, "FORBIDDEN").await;
            assert!(
                !error["message"].as_str().unwrap().contains("ended"),
                "{event}: {error}"
            );
        }
    }
    assert_eq!(app.event_count().await, before, "nothing was written");
    app.stop().await;
}
