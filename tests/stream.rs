//! The stream dialect end to end, with a real WebSocket client: greeting,
//! ping, bad input; refused tokens; a chat answered by streamed tokens that
//! make the recorded answer; the conversation continuing across
//! reconnects; escalation to a human whose replies reach the stream; and a
//! reconnect in the middle of an answer.

use e2e::{PATIENCE, QUIET, TestApp, both_backends, join, send, token};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use store::testing::TestDatabase;
use store::{Backend, Db};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

both_backends!(
    a_stream_client_is_greeted_answers_pings_and_survives_bad_messages,
    missing_or_bad_tokens_and_staff_are_refused_before_the_upgrade,
    a_chat_is_answered_by_streamed_tokens_that_make_the_recorded_answer,
    the_conversation_continues_across_reconnects_and_a_human_takes_over_after_escalation,
    a_client_that_reconnects_mid_answer_gets_the_text_so_far_and_the_rest,
);

struct Ws(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Ws {
    async fn connect(app: &TestApp, path: &str, user: &str) -> Self {
        let url = format!(
            "ws://{}{path}?token={}",
            app.addr,
            token("acme", user, "customer")
        );
        let (stream, _) = connect_async(url).await.expect("a WebSocket");
        let mut ws = Self(stream);
        let hello = ws.next().await;
        assert_eq!(hello["type"], "connection", "{hello}");
        assert_eq!(hello["message"], "Connected to chatbot server");
        ws
    }

    async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    async fn send_text(&mut self, text: &str) {
        self.0.send(Message::Text(text.into())).await.expect("sent");
    }

    /// The next JSON message.
    async fn next(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.0.next())
                .await
                .expect("a message in time")
                .expect("the connection open")
                .expect("a frame");
            if let Message::Text(text) = frame {
                let value: Value = serde_json::from_str(&text).expect("JSON");
                assert!(
                    value["timestamp"]
                        .as_str()
                        .is_some_and(|t| t.ends_with('Z')),
                    "{value}"
                );
                return value;
            }
        }
    }

    /// The next message of `kind` (others skipped).
    async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let message = self.next().await;
            if message["type"] == kind {
                return message;
            }
        }
    }

    /// A whole answer: its id and its tokens, from `stream-start` to
    /// `stream-end`.
    async fn answer(&mut self) -> (String, Vec<String>) {
        let start = self.next_of("stream-start").await;
        let id = start["messageId"].as_str().unwrap().to_owned();
        let mut tokens = Vec::new();
        loop {
            let message = self.next().await;
            assert_eq!(message["messageId"], id.as_str(), "{message}");
            match message["type"].as_str() {
                Some("stream-token") => tokens.push(message["token"].as_str().unwrap().to_owned()),
                Some("stream-end") => return (id, tokens),
                _ => panic!("unexpected {message}"),
            }
        }
    }

    async fn close(mut self) {
        let _ = self.0.close(None).await;
    }
}

async fn query_one(app: &TestApp, sql: &str, bind: &str) -> Option<String> {
    let db = Db::connect(app.db.url()).await.unwrap();
    let value = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(bind.to_owned())
        .fetch_optional(db.pool())
        .await
        .unwrap();
    db.close().await;
    value
}

/// The recorded content of a message.
async fn recorded(app: &TestApp, message: &str) -> String {
    query_one(
        app,
        "SELECT content FROM conversation_messages WHERE message_id = $1",
        message,
    )
    .await
    .expect("the answer is recorded")
}

/// The stream conversations of `user`, newest first.
async fn conversations(app: &TestApp, user: &str) -> Vec<String> {
    let db = Db::connect(app.db.url()).await.unwrap();
    let ids = sqlx::query_scalar(
        "SELECT conversation_id FROM support_conversations \
         WHERE user_id = $1 AND chatbot_id = 'stream' ORDER BY created_at DESC",
    )
    .bind(user)
    .fetch_all(db.pool())
    .await
    .unwrap();
    db.close().await;
    ids
}

async fn password_article(app: &TestApp) {
    let (status, body) = app
        .post(
            "/api/v1/kb/articles",
            &token("acme", "ada", "admin"),
            json!({
                "title": "Resetting your password",
                "body": "To reset your password, open Settings and choose Security. \
                         Click Reset password and follow the link we email you.",
            }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn a_stream_client_is_greeted_answers_pings_and_survives_bad_messages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ws = Ws::connect(&app, "/", "ana").await;
    let before = app.event_count().await;
    ws.send(json!({ "type": "ping", "timestamp": "2025-09-12T10:00:00.000Z" }))
        .await;
    assert_eq!(ws.next().await["type"], "pong");
    for bad in [
        "not json",
        "{}",
        "[1, 2]",
        r#"{"type": 7}"#,
        r#"{"type": "dance"}"#,
        r#"{"type": "chat"}"#,
        r#"{"type": "chat", "content": ""}"#,
        r#"{"type": "chat", "content": 42}"#,
        r#"{"type": "human-escalation", "reason": {"no": 1}}"#,
    ] {
        ws.send_text(bad).await;
        let error = ws.next().await;
        assert_eq!(error["type"], "error", "{bad}: {error}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{error}"
        );
    }
    ws.send(json!({ "type": "ping" })).await;
    assert_eq!(ws.next().await["type"], "pong", "the connection is kept");
    assert_eq!(app.event_count().await, before, "bad input writes nothing");
    ws.close().await;
    // `/ws` is the same dialect.
    Ws::connect(&app, "/ws", "ana").await.close().await;
    app.stop().await;
}

async fn missing_or_bad_tokens_and_staff_are_refused_before_the_upgrade(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (query, status) in [
        (String::new(), 401),
        ("?token=not-a-jwt".to_owned(), 401),
        (format!("?token={}", token("acme", "bob", "agent")), 403),
    ] {
        let url = format!("ws://{}/ws{query}", app.addr);
        match connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), status, "{query}");
                let body: Value =
                    serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                        .expect("a JSON body");
                assert!(body["error"]["code"].is_string(), "{body}");
            }
            other => panic!("expected a refusal for {query:?}, got {other:?}"),
        }
    }
    // Without an upgrade, `/` is not a page.
    let (status, body) = app.get("/", None).await.unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    app.stop().await;
}

async fn a_chat_is_answered_by_streamed_tokens_that_make_the_recorded_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    password_article(&app).await;
    let mut ws = Ws::connect(&app, "/", "ana").await;
    ws.send(json!({ "type": "chat", "content": "How do I reset my password?", "timestamp": "2025-09-12T10:00:00.000Z" }))
        .await;
    let (id, tokens) = ws.answer().await;
    assert!(tokens.len() > 3, "{tokens:?}");
    let text = tokens.concat();
    assert!(text.contains("open Settings and choose Security"), "{text}");
    assert!(
        text.contains("Resetting your password"),
        "cites its article: {text}"
    );
    assert_eq!(recorded(&app, &id).await, text, "the stream is the answer");
    assert_eq!(conversations(&app, "ana").await.len(), 1);
    ws.close().await;
    app.stop().await;
}

async fn the_conversation_continues_across_reconnects_and_a_human_takes_over_after_escalation(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let mut ws = Ws::connect(&app, "/", "ana").await;
    ws.send(json!({ "type": "chat", "content": "Hello?" }))
        .await;
    ws.answer().await;
    ws.close().await;

    let mut ws = Ws::connect(&app, "/ws", "ana").await;
    ws.send(json!({ "type": "chat", "content": "Still there?" }))
        .await;
    ws.answer().await;
    let ids = conversations(&app, "ana").await;
    assert_eq!(ids.len(), 1, "one conversation across reconnects");
    let conversation = ids[0].clone();
    let count = query_one(
        &app,
        "SELECT CAST(COUNT(*) AS TEXT) FROM conversation_messages WHERE conversation_id = $1",
        &conversation,
    )
    .await;
    assert_eq!(count.as_deref(), Some("4"), "two questions, two answers");

    ws.send(json!({ "type": "human-escalation", "reason": "Need human assistance" }))
        .await;
    let response = ws.next_of("human-escalation-response").await;
    assert_eq!(response["message"], "A human agent will contact you soon.");
    let agent = token("acme", "bob", "agent");
    let (status, queue) = app.get("/api/v1/queue", Some(&agent)).await.unwrap();
    assert_eq!(status, 200, "{queue}");
    assert!(queue.to_string().contains(&conversation), "{queue}");

    // The agent takes it on lvng and answers: the stream shows the reply.
    let mut bob = app.client("acme", "bob", "agent").await;
    join(&mut bob, "acme", &conversation).await;
    send(&mut bob, "acme", &conversation, "Hi Ana, Bob here.").await;
    let start = ws.next_of("stream-start").await;
    assert_eq!(
        (&start["sender"], &start["senderName"]),
        (&json!("agent"), &json!("bob name"))
    );
    let token_message = ws.next().await;
    assert_eq!(token_message["type"], "stream-token");
    assert_eq!(token_message["token"], "Hi Ana, Bob here.");
    assert_eq!(ws.next().await["type"], "stream-end");

    // The assistant no longer answers.
    ws.send(json!({ "type": "chat", "content": "Thanks Bob" }))
        .await;
    let quiet = tokio::time::timeout(QUIET, ws.next()).await;
    assert!(
        quiet.is_err(),
        "nothing streams while an agent handles it: {quiet:?}"
    );
    ws.close().await;
    app.stop().await;
}

async fn a_client_that_reconnects_mid_answer_gets_the_text_so_far_and_the_rest(backend: Backend) {
    let db = Arc::new(TestDatabase::new(backend).await);
    let app = TestApp::spawn_with(db, |config| {
        config.assistant_token_delay_ms = 60;
    })
    .await;
    password_article(&app).await;
    let mut ws = Ws::connect(&app, "/", "ana").await;
    ws.send(json!({ "type": "chat", "content": "How do I reset my password?" }))
        .await;
    let start = ws.next_of("stream-start").await;
    let id = start["messageId"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(ws.next().await["type"], "stream-token");
    }
    // The connection drops mid-answer.
    drop(ws);

    let mut again = Ws::connect(&app, "/", "ana").await;
    let (resumed, tokens) = again.answer().await;
    assert_eq!(resumed, id, "the same answer");
    assert!(
        tokens[0].split_whitespace().count() >= 3,
        "the text so far first: {tokens:?}"
    );
    let text = tokens.concat();
    assert_eq!(
        recorded(&app, &id).await,
        text,
        "so far + the rest = the answer"
    );
    again.close().await;
    app.stop().await;
}
