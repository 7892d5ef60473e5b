//! Bad input gets a clear `error {code, message, details?}` to the sender
//! only, changes nothing, and leaves the connection open.

use e2e::{RawSocket, TestApp, TestClient, both_backends, join, send, token};
use serde_json::{Value, json};
use store::Backend;

both_backends!(
    missing_fields_are_validation_errors,
    wrong_types_and_malformed_values_are_validation_errors,
    an_unknown_conversation_is_not_found,
    content_must_be_one_to_ten_thousand_characters,
    a_payload_over_one_megabyte_is_refused_and_the_connection_stays,
    an_unknown_event_is_named_in_the_error,
    errors_go_to_the_sender_only,
    garbage_in_every_event_gets_an_answer_and_never_a_write,
    a_lone_surrogate_in_content_is_a_validation_error_and_writes_nothing,
);

const EVENTS: [&str; 6] = [
    "conversation:join",
    "conversation:leave",
    "conversation:rejoin",
    "message:send",
    "typing:start",
    "typing:stop",
];

/// Emit, expect an error with `code`, and return it.
async fn refused(client: &mut TestClient, event: &str, payload: Value, code: &str) -> Value {
    client.emit(event, payload.clone()).await;
    let error = client.expect("error").await;
    assert_eq!(error["code"], code, "{event} {payload}: {error}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{event}: an error needs a message: {error}"
    );
    error
}

/// The connection still works: a real message goes through.
async fn still_open(client: &mut TestClient) {
    join(client, "acme", "alive").await;
    send(client, "acme", "alive", "still here").await;
}

async fn missing_fields_are_validation_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "conv-1").await;
    let before = app.event_count().await;
    for event in EVENTS {
        let error = refused(&mut ana, event, json!({}), "VALIDATION_ERROR").await;
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("conversationId"),
            "{error}"
        );
    }
    let error = refused(
        &mut ana,
        "message:send",
        json!({ "conversationId": "conv-1", "customerId": "acme" }),
        "VALIDATION_ERROR",
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("content"),
        "{error}"
    );
    assert_eq!(error["conversationId"], "conv-1");
    assert_eq!(app.event_count().await, before);
    still_open(&mut ana).await;
    app.stop().await;
}

async fn wrong_types_and_malformed_values_are_validation_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "conv-1").await;
    let before = app.event_count().await;
    let base = |extra: Value| {
        let mut payload =
            json!({ "conversationId": "conv-1", "customerId": "acme", "content": "x" });
        payload
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        payload
    };
    let cases = [
        ("conversation:join", json!({ "conversationId": 42 })),
        ("conversation:join", json!({ "conversationId": "a:b" })),
        ("conversation:join", json!({ "conversationId": "a/b" })),
        (
            "conversation:join",
            json!({ "conversationId": "x".repeat(129) }),
        ),
        (
            "conversation:join",
            json!({ "conversationId": "c", "customerId": {} }),
        ),
        ("message:send", base(json!({ "content": ["x"] }))),
        ("message:send", base(json!({ "mentions": "bob" }))),
        ("message:send", base(json!({ "mentions": ["has space"] }))),
        ("message:send", base(json!({ "optimisticId": 7 }))),
        (
            "message:send",
            base(json!({ "optimisticId": "o".repeat(129) })),
        ),
        ("message:send", base(json!({ "threadId": "not/an/id" }))),
        ("conversation:rejoin", base(json!({ "lastMessageId": 5 }))),
        ("conversation:rejoin", base(json!({ "limit": "ten" }))),
        ("conversation:rejoin", base(json!({ "limit": 0 }))),
        ("conversation:rejoin", base(json!({ "limit": 501 }))),
        (
            "conversation:rejoin",
            base(json!({ "lastMessageTimestamp": "yesterday" })),
        ),
        ("typing:start", json!({ "conversationId": true })),
    ];
    for (event, payload) in cases {
        let error = refused(&mut ana, event, payload, "VALIDATION_ERROR").await;
        assert!(error.get("details").is_some() || error["message"].is_string());
    }
    assert_eq!(app.event_count().await, before);
    still_open(&mut ana).await;
    app.stop().await;
}

async fn an_unknown_conversation_is_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut bob = app.client("acme", "bob", "agent").await;
    let before = app.event_count().await;
    let nowhere = json!({ "conversationId": "nowhere", "customerId": "acme", "content": "hello?" });
    for event in [
        "conversation:leave",
        "conversation:rejoin",
        "message:send",
        "typing:start",
        "typing:stop",
    ] {
        let error = refused(&mut bob, event, nowhere.clone(), "NOT_FOUND").await;
        assert_eq!(error["conversationId"], "nowhere");
    }
    // A cursor that names no message of the conversation is not found either.
    join(&mut bob, "acme", "conv-1").await;
    let before_cursor = app.event_count().await;
    refused(
        &mut bob,
        "conversation:rejoin",
        json!({ "conversationId": "conv-1", "customerId": "acme", "lastMessageId": "msg_unknown" }),
        "NOT_FOUND",
    )
    .await;
    assert_eq!(app.event_count().await, before_cursor);
    assert_eq!(
        before_cursor,
        before + 2,
        "only the join wrote (opened + joined)"
    );
    app.stop().await;
}

async fn content_must_be_one_to_ten_thousand_characters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "conv-1").await;
    let before = app.event_count().await;
    // NUL would poison PostgreSQL text columns; other controls are junk.
    for content in [
        String::new(),
        "   \n".into(),
        "x".repeat(10_001),
        "é".repeat(10_001),
        "\u{0}\u{0}\u{0}".into(),
        "ring \u{7}".into(),
    ] {
        let error = refused(
            &mut ana,
            "message:send",
            json!({ "conversationId": "conv-1", "customerId": "acme", "content": content }),
            "VALIDATION_ERROR",
        )
        .await;
        assert!(
            error["message"].as_str().unwrap().contains("content"),
            "{error}"
        );
    }
    assert_eq!(app.event_count().await, before);
    // The limits themselves are fine: 1 and 10,000 characters (not bytes).
    send(&mut ana, "acme", "conv-1", "x").await;
    send(&mut ana, "acme", "conv-1", &"é".repeat(10_000)).await;
    // Two messages, and the `ConversationActivated` of the customer's first.
    assert_eq!(app.event_count().await, before + 3);
    app.stop().await;
}

async fn a_payload_over_one_megabyte_is_refused_and_the_connection_stays(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "conv-1").await;
    let before = app.event_count().await;
    let huge = json!({
        "conversationId": "conv-1", "customerId": "acme", "content": "x",
        "padding": "p".repeat(1_200_000)
    });
    let error = refused(&mut ana, "message:send", huge, "PAYLOAD_TOO_LARGE").await;
    assert!(
        error["message"].as_str().unwrap().contains("1000000"),
        "{error}"
    );
    assert_eq!(app.event_count().await, before);
    still_open(&mut ana).await;
    app.stop().await;
}

async fn an_unknown_event_is_named_in_the_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let error = refused(&mut ana, "conversation:explode", json!({}), "UNKNOWN_EVENT").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("conversation:explode")
    );
    still_open(&mut ana).await;
    app.stop().await;
}

async fn errors_go_to_the_sender_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join(&mut ana, "acme", "conv-1").await;
    join(&mut bob, "acme", "conv-1").await;
    refused(
        &mut ana,
        "message:send",
        json!({ "conversationId": "conv-1", "customerId": "acme", "content": "" }),
        "VALIDATION_ERROR",
    )
    .await;
    bob.expect_none("error").await;
    bob.expect_none("message:new").await;
    app.stop().await;
}

/// Odd payloads of every kind, into every event: each gets a reply (an
/// answer or an error with a code), nothing invalid is written, and the
/// connection survives all of it.
async fn garbage_in_every_event_gets_an_answer_and_never_a_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let before = app.event_count().await;
    let garbage = [
        Value::Null,
        json!(0),
        json!(-1.5e300),
        json!("conversationId"),
        json!([]),
        json!([{ "conversationId": "conv-1" }]),
        json!({ "conversationId": null }),
        json!({ "conversationId": "" }),
        json!({ "conversationId": "\u{0}" }),
        json!({ "conversationId": "💬" }),
        json!({ "conversationId": { "$ne": null } }),
        json!({ "conversationId": "c", "customerId": "" }),
        json!({ "conversationId": "c", "customerId": "ACME" }),
    ];
    for event in EVENTS {
        for payload in &garbage {
            ana.emit(event, payload.clone()).await;
            let error = ana.expect("error").await;
            assert!(error["code"].is_string(), "{event} {payload}: {error}");
        }
    }
    assert_eq!(app.event_count().await, before);
    still_open(&mut ana).await;
    app.stop().await;
}

async fn a_lone_surrogate_in_content_is_a_validation_error_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana =
        RawSocket::connect(&app, json!({ "token": token("acme", "ana", "customer") })).await;
    ana.send_text(r#"42["conversation:join",{"conversationId":"c1","customerId":"acme"}]"#)
        .await;
    ana.expect("room:joined").await;
    let before = app.event_count().await;
    // JSON may escape half of a surrogate pair; no Unicode text holds one.
    for content in [r"a\ud800b", r"\udfff", r"x\ud83d"] {
        ana.send_text(&format!(
            r#"42["message:send",{{"conversationId":"c1","customerId":"acme","content":"{content}"}}]"#
        ))
        .await;
        let error = ana.expect("error").await;
        assert_eq!(error["code"], "VALIDATION_ERROR", "{content}: {error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("not valid JSON"),
            "{content}: {error}"
        );
    }
    assert_eq!(app.event_count().await, before, "nothing was written");
    // A proper pair (an emoji) is text like any other.
    ana.send_text(r#"42["message:send",{"conversationId":"c1","customerId":"acme","content":"ok \ud83d\ude00"}]"#)
        .await;
    ana.expect("message:sent").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join(&mut bob, "acme", "c1").await;
    bob.emit(
        "conversation:rejoin",
        json!({ "conversationId": "c1", "customerId": "acme" }),
    )
    .await;
    let rejoined = bob.expect("conversation:rejoined").await;
    assert_eq!(
        rejoined["missed_messages"][0]["content"], "ok \u{1F600}",
        "{rejoined}"
    );
    app.stop().await;
}
