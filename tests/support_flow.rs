//! The support life of a conversation across dialects: a widget visitor
//! (chatbot dialect) asks for help, an agent takes it from a buddy console,
//! the visitor ends and rates it, and the metrics show the wait and the
//! handling. The buddy dashboard watches the whole time.

use e2e::{TestApp, TestClient, both_backends, token};
use serde_json::{Value, json};
use store::Backend;

both_backends!(a_widget_visitor_is_queued_served_by_an_agent_on_buddy_and_the_metrics_show_it,);

async fn a_widget_visitor_is_queued_served_by_an_agent_on_buddy_and_the_metrics_show_it(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let admin = token("acme", "ada", "admin");

    // An admin issues a widget key for the chatbot.
    let (status, issued) = app
        .post(
            "/api/v1/keys",
            &admin,
            json!({ "kind": "widget", "chatbotId": "support-bot" }),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let key = issued["key"].as_str().unwrap().to_owned();

    // A supervisor watches the buddy dashboard; an agent is on buddy too.
    let mut dashboard = app.client("acme", "sam", "supervisor").await;
    dashboard.emit("join_dashboard", Value::Null).await;
    let mut agent = app.client("acme", "alice", "agent").await;

    // The visitor opens the widget.
    let mut visitor = TestClient::connect(
        &app.url(),
        Some(json!({ "widgetKey": key, "chatbotId": "support-bot" })),
        &[],
    )
    .await;
    let greeting = visitor.expect("connected").await;
    assert_eq!(greeting["tenantId"], "acme");
    visitor
        .emit("join-conversation", json!({ "sessionId": "sess-42" }))
        .await;
    let started = visitor.expect("conversation-started").await;
    assert_eq!(started["status"], "new", "{started}");
    assert_eq!(started["sessionId"], "sess-42");
    let conversation = started["conversationId"].as_str().unwrap().to_owned();
    let created = dashboard.expect("conversation_created").await;
    assert_eq!(created["conversation"]["id"], conversation.as_str());

    visitor
        .emit(
            "send-message",
            json!({ "conversationId": conversation, "content": "My order never arrived" }),
        )
        .await;
    let said = visitor.expect("message").await;
    assert_eq!(said["message"]["sender"], "user", "{said}");
    assert_eq!(said["message"]["content"], "My order never arrived");

    // Asking for a human queues the conversation.
    visitor
        .emit(
            "escalate",
            json!({ "conversationId": conversation, "reason": "need a person" }),
        )
        .await;
    let queued = visitor
        .expect_where("status-change", |p| p["status"] == "queued")
        .await;
    assert_eq!(queued["conversationId"], conversation.as_str());
    let place = visitor.expect("queue-update").await;
    assert_eq!(place["position"], 1, "{place}");
    assert_eq!(place["conversationId"], conversation.as_str());
    assert!(place["estimatedWait"].as_u64().is_some(), "{place}");

    // The agent takes it by joining from buddy.
    agent
        .emit(
            "join_room",
            json!({ "conversationId": conversation, "userId": "alice", "userRole": "cx-agent" }),
        )
        .await;
    agent.expect("user_joined").await;
    let joined = visitor.expect("agent-joined").await;
    assert_eq!(joined["agentId"], "alice", "{joined}");
    assert_eq!(joined["conversationId"], conversation.as_str());
    let handled = visitor
        .expect_where("status-change", |p| p["status"] == "agent")
        .await;
    assert_eq!(handled["agentId"], "alice", "{handled}");
    let added = dashboard
        .expect_where("conversation_participant_added", |p| {
            p["participant"]["userId"] == "alice"
        })
        .await;
    assert_eq!(added["participant"]["userRole"], "cx-agent", "{added}");

    // The agent answers from buddy; the visitor hears an agent.
    agent
        .emit(
            "send_message",
            json!({
                "conversationId": conversation, "fromUserId": "alice",
                "fromRole": "cx-agent", "content": "Let me check that for you",
            }),
        )
        .await;
    let answer = visitor
        .expect_where("message", |p| p["message"]["sender"] == "agent")
        .await;
    assert_eq!(answer["message"]["content"], "Let me check that for you");
    assert_eq!(answer["message"]["userId"], "alice");
    let updated = dashboard
        .expect_where("conversation_updated", |p| {
            p["changes"]["messageCount"] == 2
        })
        .await;
    assert_eq!(updated["conversationId"], conversation.as_str());

    // The visitor ends and rates it.
    visitor
        .emit(
            "end-conversation",
            json!({ "conversationId": conversation }),
        )
        .await;
    let ended = visitor.expect("conversation-ended").await;
    assert_eq!(ended["reason"], "user_ended", "{ended}");
    visitor
        .emit(
            "rate",
            json!({ "conversationId": conversation, "rating": "good", "comment": "quick" }),
        )
        .await;
    visitor.expect_none("error").await;

    // The metrics show the wait and the handling.
    let (status, metrics) = app
        .get("/api/v1/metrics", Some(&token("acme", "sam", "supervisor")))
        .await
        .unwrap();
    assert_eq!(status, 200, "{metrics}");
    let overall = &metrics["overall"];
    assert_eq!(overall["conversations"], 1, "{metrics}");
    assert!(
        overall["queueTime"]["median"].as_f64().is_some(),
        "{metrics}"
    );
    assert!(
        overall["handleTime"]["median"].as_f64().is_some(),
        "{metrics}"
    );
    assert_eq!(overall["ratings"]["good"], 1, "{metrics}");
    let per_agent = metrics["perAgent"].as_array().unwrap();
    assert_eq!(per_agent.len(), 1, "{metrics}");
    assert_eq!(per_agent[0]["agentId"], "alice");

    // The lifecycle is in the conversation list too.
    let (status, list) = app
        .get(
            "/api/v1/conversations?status=ended",
            Some(&token("acme", "sam", "supervisor")),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["pagination"]["total"], 1, "{list}");

    app.stop().await;
}
