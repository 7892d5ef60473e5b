//! The assistant end to end: a widget visitor in AI handling is answered
//! from the tenant's knowledge base with the articles cited; nothing
//! matching, an agent taking over, a failing provider; an OpenAI-compatible
//! provider (a local fake) streams a grounded answer; and the chatbot
//! seed's knowledge and AI events.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::post;
use e2e::{QUIET, TestApp, TestClient, both_backends, token};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use store::Backend;
use store::testing::TestDatabase;

both_backends!(
    a_widget_visitor_is_answered_from_the_knowledge_base_and_the_answer_cites_its_article,
    when_nothing_matches_the_assistant_says_so_and_offers_a_human,
    once_the_conversation_is_queued_for_a_human_the_assistant_stays_quiet,
    a_provider_that_cannot_be_reached_tells_the_customer_and_offers_a_human,
    an_openai_compatible_provider_answers_grounded_on_the_articles_it_was_given,
    the_chatbot_knowledge_events_search_answer_stream_analyse_and_summarise,
    bad_ai_requests_are_errors_and_write_nothing,
    a_customer_signed_in_with_a_token_is_answered_like_a_widget_visitor,
);

const PASSWORD_ARTICLE: &str = "To reset your password, open Settings and choose Security. \
     Click \"Reset password\" and follow the link we email you. \
     The link expires after one hour.";

/// An admin of `tenant` writes an article; its id.
async fn article(app: &TestApp, tenant: &str, title: &str, body: &str, tags: Value) -> String {
    let admin = token(tenant, "ada", "admin");
    let (status, created) = app
        .post(
            "/api/v1/kb/articles",
            &admin,
            json!({ "title": title, "body": body, "category": "account", "tags": tags }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let article = created.get("article").unwrap_or(&created);
    article["id"].as_str().expect("an article id").to_owned()
}

/// A widget visitor of `tenant` (chatbot `help-bot`), in a conversation of
/// its own: (client, conversation id).
async fn visitor(app: &TestApp, tenant: &str, session: &str) -> (TestClient, String) {
    let admin = token(tenant, "ada", "admin");
    let (status, issued) = app
        .post(
            "/api/v1/keys",
            &admin,
            json!({ "kind": "widget", "chatbotId": "help-bot" }),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let key = issued["key"].as_str().expect("a key").to_owned();
    let mut client = TestClient::connect(
        &app.url(),
        Some(json!({ "widgetKey": key, "chatbotId": "help-bot" })),
        &[],
    )
    .await;
    client.expect("connected").await;
    client
        .emit("join-conversation", json!({ "sessionId": session }))
        .await;
    let started = client.expect("conversation-started").await;
    let id = started["conversationId"].as_str().unwrap().to_owned();
    (client, id)
}

async fn say(client: &TestClient, conversation: &str, content: &str) {
    let ack = client
        .emit_with_ack(
            "send-message",
            json!({ "conversationId": conversation, "content": content }),
        )
        .await;
    assert_eq!(ack["conversationId"], conversation, "{ack}");
}

/// The next message from the assistant in the room.
async fn answer(client: &mut TestClient) -> Value {
    client
        .expect_where("message", |m| m["message"]["sender"] == "ai")
        .await["message"]
        .clone()
}

async fn a_widget_visitor_is_answered_from_the_knowledge_base_and_the_answer_cites_its_article(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let id = article(
        &app,
        "acme",
        "Resetting your password",
        PASSWORD_ARTICLE,
        json!(["password"]),
    )
    .await;
    article(
        &app,
        "acme",
        "Shipping times",
        "Orders ship within two business days. Express delivery arrives the next day.",
        json!(["shipping"]),
    )
    .await;
    // Another tenant's article on the same subject is never used.
    article(
        &app,
        "globex",
        "Password policy",
        "Globex passwords rotate every thirty days through the intranet portal.",
        json!([]),
    )
    .await;

    let (mut ana, conversation) = visitor(&app, "acme", "session-ana").await;
    say(&ana, &conversation, "How do I reset my password?").await;
    ana.expect_where("status-change", |v| v["status"] == "ai")
        .await;
    let reply = answer(&mut ana).await;
    let content = reply["content"].as_str().unwrap();
    assert!(content.contains("Settings"), "{reply}");
    assert!(!content.contains("Globex"), "{reply}");
    let provenance = &reply["metadata"]["assistant"];
    assert_eq!(provenance["outcome"], "answered", "{reply}");
    assert_eq!(provenance["provider"], "embedded");
    assert_eq!(
        provenance["sources"],
        json!([{ "id": id, "version": 1, "title": "Resetting your password" }])
    );
    assert_eq!(reply["userId"], "parley-assistant");

    // The answer is part of the history a rejoining visitor gets.
    ana.emit(
        "join-conversation",
        json!({ "sessionId": "session-ana", "conversationId": conversation }),
    )
    .await;
    let again = ana.expect("conversation-started").await;
    let messages = again["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{again}");
    assert_eq!(messages[1]["metadata"]["assistant"]["sources"][0]["id"], id);
    app.stop().await;
}

async fn a_customer_signed_in_with_a_token_is_answered_like_a_widget_visitor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    article(
        &app,
        "acme",
        "Resetting your password",
        PASSWORD_ARTICLE,
        json!(["password"]),
    )
    .await;
    let mut ana = app.client("acme", "ana", "customer").await;
    ana.emit("join-conversation", json!({ "sessionId": "session-ana" }))
        .await;
    let started = ana.expect("conversation-started").await;
    let conversation = started["conversationId"].as_str().unwrap().to_owned();
    say(&ana, &conversation, "How do I reset my password?").await;
    ana.expect_where("status-change", |v| v["status"] == "ai")
        .await;
    let reply = answer(&mut ana).await;
    assert!(
        reply["content"].as_str().unwrap().contains("Settings"),
        "{reply}"
    );
    assert_eq!(reply["metadata"]["assistant"]["outcome"], "answered");
    app.stop().await;
}

async fn when_nothing_matches_the_assistant_says_so_and_offers_a_human(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    article(
        &app,
        "acme",
        "Shipping times",
        "Orders ship within two business days.",
        json!([]),
    )
    .await;
    let (mut ana, conversation) = visitor(&app, "acme", "session-ana").await;
    say(&ana, &conversation, "Can I pay with cryptocurrency?").await;
    let reply = answer(&mut ana).await;
    let provenance = &reply["metadata"]["assistant"];
    assert_eq!(provenance["outcome"], "no_match", "{reply}");
    assert_eq!(provenance["handoffOffered"], true);
    assert_eq!(provenance["sources"], json!([]));
    assert!(
        reply["content"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("human"),
        "{reply}"
    );
    app.stop().await;
}

async fn once_the_conversation_is_queued_for_a_human_the_assistant_stays_quiet(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    article(
        &app,
        "acme",
        "Resetting your password",
        PASSWORD_ARTICLE,
        json!([]),
    )
    .await;
    let (mut ana, conversation) = visitor(&app, "acme", "session-ana").await;
    say(&ana, &conversation, "How do I reset my password?").await;
    answer(&mut ana).await;
    let ack = ana
        .emit_with_ack("escalate", json!({ "conversationId": conversation }))
        .await;
    assert_eq!(ack["success"], true, "{ack}");
    ana.expect_where("status-change", |v| v["status"] == "queued")
        .await;
    say(&ana, &conversation, "And how do I reset my password again?").await;
    ana.expect_where("message", |m| m["message"]["sender"] == "user")
        .await;
    tokio::time::sleep(QUIET).await;
    let late: Vec<Value> = ana
        .drain("message")
        .await
        .into_iter()
        .filter(|m| m["message"]["sender"] == "ai")
        .collect();
    assert_eq!(
        late,
        Vec::<Value>::new(),
        "the assistant answered a queued conversation"
    );
    app.stop().await;
}

async fn a_provider_that_cannot_be_reached_tells_the_customer_and_offers_a_human(backend: Backend) {
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let db = Arc::new(TestDatabase::new(backend).await);
    let app = TestApp::spawn_with(db, |config| {
        config.llm_url = Some(url);
        config.llm_model = Some("fake-model".into());
    })
    .await;
    article(
        &app,
        "acme",
        "Resetting your password",
        PASSWORD_ARTICLE,
        json!([]),
    )
    .await;
    let (mut ana, conversation) = visitor(&app, "acme", "session-ana").await;
    say(&ana, &conversation, "How do I reset my password?").await;
    let reply = answer(&mut ana).await;
    let provenance = &reply["metadata"]["assistant"];
    assert_eq!(provenance["outcome"], "failed", "{reply}");
    assert_eq!(provenance["provider"], "openai");
    assert_eq!(provenance["model"], "fake-model");
    assert_eq!(provenance["handoffOffered"], true);
    assert!(
        reply["content"].as_str().unwrap().contains("human agent"),
        "{reply}"
    );
    app.stop().await;
}

/// What the fake provider was asked.
/// A request as the fake saw it: its bearer, its body.
type Request = (Option<String>, Value);

#[derive(Clone, Default)]
struct Asked(Arc<Mutex<Vec<Request>>>);

async fn completions(
    State(asked): State<Asked>,
    headers: axum::http::HeaderMap,
    axum::Json(request): axum::Json<Value>,
) -> impl IntoResponse {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    asked.0.lock().unwrap().push((bearer, request));
    let mut body = String::new();
    for token in ["Open ", "Settings, ", "then ", "Security ", "[1]."] {
        let chunk = json!({ "choices": [{ "index": 0, "delta": { "content": token } }] });
        body.push_str(&format!("data: {chunk}\n\n"));
    }
    body.push_str("data: [DONE]\n\n");
    ([("content-type", "text/event-stream")], body)
}

async fn an_openai_compatible_provider_answers_grounded_on_the_articles_it_was_given(
    backend: Backend,
) {
    let asked = Asked::default();
    let fake = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(asked.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, fake).await });

    let db = Arc::new(TestDatabase::new(backend).await);
    let app = TestApp::spawn_with(db, |config| {
        config.llm_url = Some(url);
        config.llm_model = Some("fake-model".into());
        config.llm_api_key = Some(gateway::config::Secret::new("sk-test-key"));
    })
    .await;
    let id = article(
        &app,
        "acme",
        "Resetting your password",
        PASSWORD_ARTICLE,
        json!([]),
    )
    .await;
    let (mut ana, conversation) = visitor(&app, "acme", "session-ana").await;
    say(&ana, &conversation, "How do I reset my password?").await;
    let reply = answer(&mut ana).await;
    assert_eq!(reply["content"], "Open Settings, then Security [1].");
    let provenance = &reply["metadata"]["assistant"];
    assert_eq!(provenance["outcome"], "answered", "{reply}");
    assert_eq!(provenance["provider"], "openai");
    assert_eq!(provenance["model"], "fake-model");
    assert_eq!(provenance["sources"][0]["id"], id);

    let asked = asked.0.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "one question, one request");
    let (bearer, request) = &asked[0];
    assert_eq!(bearer.as_deref(), Some("Bearer sk-test-key"));
    assert_eq!(request["model"], "fake-model");
    assert_eq!(request["stream"], true);
    let prompt = request["messages"].to_string();
    assert!(
        prompt.contains("open Settings and choose Security"),
        "{prompt}"
    );
    assert!(prompt.contains("How do I reset my password?"), "{prompt}");
    app.stop().await;
    server.abort();
}

async fn the_chatbot_knowledge_events_search_answer_stream_analyse_and_summarise(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = article(
        &app,
        "acme",
        "Resetting your password",
        PASSWORD_ARTICLE,
        json!(["password", "reset"]),
    )
    .await;
    article(
        &app,
        "globex",
        "Resetting your password at Globex",
        "Globex staff reset passwords through the intranet portal.",
        json!(["password"]),
    )
    .await;
    let (mut ana, conversation) = visitor(&app, "acme", "session-ana").await;

    ana.emit("join-knowledge-room", json!({ "tenantId": "acme" }))
        .await;
    assert_eq!(
        ana.expect("knowledge-room-joined").await,
        json!({ "tenantId": "acme" })
    );

    ana.emit(
        "search-knowledge",
        json!({ "query": "How to reset password?", "category": "account", "tags": ["password", "reset"] }),
    )
    .await;
    let found = ana.expect("knowledge-search-results").await;
    assert_eq!(found["query"], "How to reset password?");
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["results"][0]["id"], id);
    assert_eq!(found["results"][0]["title"], "Resetting your password");

    ana.emit(
        "request-rag-response",
        json!({ "query": "reset my password" }),
    )
    .await;
    let rag = ana.expect("rag-response").await;
    assert_eq!(rag["query"], "reset my password");
    assert!(
        rag["response"].as_str().unwrap().contains("Settings"),
        "{rag}"
    );
    assert_eq!(rag["sources"][0]["id"], id);

    ana.emit(
        "request-rag-response-stream",
        json!({ "query": "reset my password" }),
    )
    .await;
    let start = ana.expect("rag-response-start").await;
    let response_id = start["responseId"].clone();
    let done = ana.expect("rag-response").await;
    assert_eq!(done["responseId"], response_id);
    let chunks: String = ana
        .drain("rag-response-chunk")
        .await
        .iter()
        .inspect(|c| assert_eq!(c["responseId"], response_id))
        .map(|c| c["chunk"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        chunks,
        done["response"].as_str().unwrap(),
        "the chunks make the answer"
    );

    for (kind, message, check) in [
        (
            "pii",
            "Mail me at ana@example.com or charge 4111 1111 1111 1111",
            json!(true),
        ),
        (
            "language",
            "Bonjour, je voudrais changer mon mot de passe s'il vous plaît",
            json!("fr"),
        ),
        (
            "sentiment",
            "I am frustrated and angry with this terrible service",
            json!("negative"),
        ),
    ] {
        ana.emit(
            "request-ai-analysis",
            json!({ "message": message, "analysisType": kind }),
        )
        .await;
        let result = ana.expect("ai-analysis-result").await;
        assert_eq!(result["analysisType"], kind, "{result}");
        let got = match kind {
            "pii" => result["result"]["found"].clone(),
            "language" => result["result"]["language"].clone(),
            _ => result["result"]["label"].clone(),
        };
        assert_eq!(got, check, "{result}");
    }

    say(&ana, &conversation, "How do I reset my password?").await;
    answer(&mut ana).await;
    ana.emit("request-conversation-summary", json!({})).await;
    let summary = ana.expect("conversation-summary").await;
    assert_eq!(summary["conversationId"], conversation.as_str());
    assert!(
        summary["summary"].as_str().is_some_and(|s| !s.is_empty()),
        "{summary}"
    );
    assert!(
        summary["keyPoints"]
            .as_array()
            .is_some_and(|k| !k.is_empty()),
        "{summary}"
    );
    assert!(summary["sentiment"].is_string(), "{summary}");
    app.stop().await;
}

async fn bad_ai_requests_are_errors_and_write_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut bob = app.client("acme", "bob", "agent").await;
    let before = app.event_count().await;
    for (event, payload, code) in [
        ("search-knowledge", json!({}), "VALIDATION_ERROR"),
        (
            "search-knowledge",
            json!({ "query": "   " }),
            "VALIDATION_ERROR",
        ),
        (
            "search-knowledge",
            json!({ "query": 42 }),
            "VALIDATION_ERROR",
        ),
        ("request-rag-response", json!({}), "VALIDATION_ERROR"),
        (
            "request-rag-response-stream",
            json!({ "query": "x".repeat(5000) }),
            "VALIDATION_ERROR",
        ),
        (
            "request-ai-analysis",
            json!({ "message": "hi", "analysisType": "astrology" }),
            "VALIDATION_ERROR",
        ),
        (
            "request-ai-analysis",
            json!({ "analysisType": "pii" }),
            "VALIDATION_ERROR",
        ),
        (
            "request-ai-analysis",
            json!({ "message": "", "analysisType": "pii" }),
            "VALIDATION_ERROR",
        ),
        // The seed's own code for a knowledge room that cannot be joined.
        (
            "join-knowledge-room",
            json!({ "tenantId": "globex" }),
            "JOIN_KNOWLEDGE_ERROR",
        ),
        (
            "join-knowledge-room",
            json!({ "tenantId": 7 }),
            "JOIN_KNOWLEDGE_ERROR",
        ),
        (
            "request-conversation-summary",
            json!({}),
            "NOT_IN_CONVERSATION",
        ),
    ] {
        bob.emit(event, payload.clone()).await;
        let error = bob.expect("error").await;
        assert_eq!(error["code"], code, "{event} {payload}: {error}");
    }
    // Still connected and answering.
    bob.emit("ping", json!({})).await;
    bob.expect("pong").await;
    bob.expect_none("knowledge-room-joined").await;
    assert_eq!(app.event_count().await, before, "queries record nothing");
    app.stop().await;
}
