//! The helpdesk dialect end to end on `/helpdesk`, following the seed's
//! implementation example: an API key, the customer room, a first message
//! answered by SATE, the conversation room, an agent taking over and
//! answering, close and review; voice calls with a LiveKit token; the
//! three-conversation limit; refused connections; bad input.

use e2e::{TestApp, TestClient, both_backends, join, send, token};
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};
use std::sync::Arc;
use store::Backend;
use store::testing::TestDatabase;

both_backends!(
    a_customer_is_answered_by_sate_then_served_by_an_agent_closes_and_reviews,
    a_session_may_have_three_open_conversations_and_the_fourth_is_refused,
    a_call_gets_a_livekit_token_for_its_room_and_one_call_at_a_time,
    bad_keys_and_malformed_connections_are_refused_with_the_envelope_in_connect_error_data,
    bad_input_gets_an_envelope_with_a_4xx_status_and_writes_nothing,
    a_customer_who_names_another_customers_session_hears_none_of_its_answers_and_cannot_use_its_tickets,
    staff_of_the_tenant_may_enter_any_ticket_of_their_tenant_and_no_other,
    a_client_may_enter_its_conversation_before_naming_its_session_as_the_seeds_clients_do,
);

const LIVEKIT_SECRET: &str = "livekit-secret-livekit-secret-32";

async fn api_key(app: &TestApp, tenant: &str) -> String {
    let (status, issued) = app
        .post(
            "/api/v1/keys",
            &token(tenant, "ada", "admin"),
            json!({ "kind": "api" }),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    issued["key"].as_str().unwrap().to_owned()
}

/// A `/helpdesk` client with an API key, greeted.
async fn customer(app: &TestApp, key: &str) -> TestClient {
    let url = format!("{}?token_source=api&token={key}", app.url());
    let mut client = TestClient::connect_namespace(&url, "/helpdesk", None)
        .await
        .expect("a connection");
    let hello = client.expect("connected").await;
    assert_eq!(hello["status_code"], 200, "{hello}");
    assert_eq!(hello["message"], "Connected");
    assert_eq!(hello["data"], json!({}));
    assert!(
        hello["sid"].as_str().is_some_and(|s| !s.is_empty()),
        "{hello}"
    );
    client
}

/// A `/helpdesk` client signed in with a JWT, greeted.
async fn signed_in(app: &TestApp, tenant: &str, user: &str, role: &str) -> TestClient {
    let auth = json!({ "token": token(tenant, user, role) });
    let mut client = TestClient::connect_namespace(&app.url(), "/helpdesk", Some(auth))
        .await
        .expect("a connection");
    ok(&client.expect("connected").await);
    client
}

/// Emit and take the envelope answered on `answer`.
async fn ask(client: &mut TestClient, event: &str, payload: Value, answer: &str) -> Value {
    client.emit(event, payload).await;
    client.expect(answer).await
}

/// Emit and take the refusal answered on the event's own name (on
/// `support`, SATE's replies come too: they are 200s).
async fn refused(client: &mut TestClient, event: &str, payload: Value) -> Value {
    client.emit(event, payload).await;
    client
        .expect_where(event, |v| v["status_code"] != 200)
        .await
}

fn ok(envelope: &Value) -> &Value {
    assert_eq!(envelope["status_code"], 200, "{envelope}");
    &envelope["data"]
}

async fn password_article(app: &TestApp) {
    let (status, body) = app
        .post(
            "/api/v1/kb/articles",
            &token("acme", "ada", "admin"),
            json!({
                "title": "Order tracking",
                "body": "Track your order from the Orders page. Each order number links to its parcel.",
            }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn first_message(client: &mut TestClient, session: &str, text: &str) -> String {
    let echo = ask(
        client,
        "support",
        json!({ "session_id": session, "message": text, "attachment": false, "ticket_chat_id": null }),
        "support_echo",
    )
    .await;
    assert_eq!(echo["message"], "support_echo", "{echo}");
    ok(&echo)["ticket_chat_id"].as_str().unwrap().to_owned()
}

async fn a_customer_is_answered_by_sate_then_served_by_an_agent_closes_and_reviews(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    password_article(&app).await;
    let key = api_key(&app, "acme").await;
    let mut ana = customer(&app, &key).await;

    let entered = ask(
        &mut ana,
        "enter_customer_support",
        json!({ "session_id": "customer_123" }),
        "enter_customer_support",
    )
    .await;
    assert_eq!(entered["message"], "Joined customer support room");
    ok(&entered);

    let ticket = first_message(&mut ana, "customer_123", "Where can I track my order?").await;
    // SATE's reply, on `support`, in the customer's room.
    let reply = ana.expect("support").await;
    let data = ok(&reply);
    assert_eq!(data["sender"], "sate", "{reply}");
    assert_eq!(data["ticket_chat_id"], ticket.as_str());
    assert!(
        data["message"].as_str().unwrap().contains("Orders page"),
        "{reply}"
    );
    assert_eq!(data["closed_support"], false);
    assert_eq!(reply["sid"].as_str().map(str::is_empty), Some(false));

    let joined = ask(
        &mut ana,
        "enter_support",
        json!({ "ticket_chat_id": ticket }),
        "enter_support",
    )
    .await;
    assert_eq!(joined["message"], "Joined support room");
    let read = ask(
        &mut ana,
        "mark_conversation_read",
        json!({ "ticket_chat_id": ticket, "entity": "customer" }),
        "mark_conversation_read",
    )
    .await;
    assert_eq!(read["message"], "Marked as read");

    // An attachment's details are kept with the message.
    let echo = ask(
        &mut ana,
        "support",
        json!({
            "session_id": "customer_123",
            "message": "Here is my receipt",
            "attachment": true,
            "attachment_metadata": [{ "name": "receipt.pdf", "size": 1024 }],
            "ticket_chat_id": ticket,
        }),
        "support_echo",
    )
    .await;
    ok(&echo);
    // SATE's answer to it comes after it in the read model.
    ana.expect_where("support", |v| v["data"]["sender"] == "sate")
        .await;
    let db = store::Db::connect(app.db.url()).await.unwrap();
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT metadata FROM conversation_messages WHERE content = 'Here is my receipt'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    db.close().await;
    let stored: Value = serde_json::from_str(&stored.expect("metadata")).unwrap();
    assert_eq!(
        stored,
        json!({ "attachment_metadata": [{ "name": "receipt.pdf", "size": 1024 }] })
    );

    // An agent takes it over and answers on lvng.
    let mut bob = app.client("acme", "bob", "agent").await;
    let (status, claimed) = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/conversations/{ticket}/claim"),
            &token("acme", "bob", "agent"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{claimed}");
    let changed = ana.expect("support_handler_changed").await;
    let data = ok(&changed);
    assert_eq!(data["handler"], "agent");
    assert_eq!(
        data["agent"],
        json!({ "id": "bob", "username": "bob name" })
    );
    join(&mut bob, "acme", &ticket).await;
    send(
        &mut bob,
        "acme",
        &ticket,
        "Hi, Bob here. Your parcel ships today.",
    )
    .await;
    let agent_reply = ana.expect("customer_support").await;
    let data = ok(&agent_reply);
    assert_eq!(data["sender"], "agent");
    assert_eq!(data["message"], "Hi, Bob here. Your parcel ships today.");

    let closed = ask(
        &mut ana,
        "close_support",
        json!({ "ticket_chat_id": ticket }),
        "close_support",
    )
    .await;
    assert_eq!(closed["message"], "Support conversation closed");
    assert_eq!(ok(&closed)["closed_support"], true);
    let reviewed = ask(
        &mut ana,
        "review_support",
        json!({ "ticket_chat_id": ticket, "rating": "5", "review": "Great service, very helpful!" }),
        "review_support",
    )
    .await;
    assert_eq!(reviewed["message"], "Review noted");
    assert_eq!(
        *ok(&reviewed),
        json!({ "rating": "5", "review": "Great service, very helpful!", "ticket_chat_id": ticket })
    );
    let (status, metrics) = app
        .get("/api/v1/metrics", Some(&token("acme", "sue", "supervisor")))
        .await
        .unwrap();
    assert_eq!(status, 200, "{metrics}");
    assert!(
        metrics.to_string().contains("\"good\":1"),
        "a 5 is a satisfied customer: {metrics}"
    );
    app.stop().await;
}

async fn a_session_may_have_three_open_conversations_and_the_fourth_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = api_key(&app, "acme").await;
    let mut ana = customer(&app, &key).await;
    let mut tickets = Vec::new();
    for n in 0..3 {
        tickets.push(first_message(&mut ana, "customer_9", &format!("Question {n}")).await);
    }
    let before = app.event_count().await;
    let fourth = refused(
        &mut ana,
        "support",
        json!({ "session_id": "customer_9", "message": "A fourth", "attachment": false, "ticket_chat_id": null }),
    )
    .await;
    assert_eq!(fourth["status_code"], 400, "{fourth}");
    assert!(
        fourth["message"]
            .as_str()
            .unwrap()
            .contains("3 open conversations"),
        "{fourth}"
    );
    // SATE's answers to the three may still be landing: count opened ones.
    let after = app.event_count().await;
    assert!(after - before <= 3, "nothing opened for the fourth");
    // Closing one makes room.
    ok(&ask(
        &mut ana,
        "close_support",
        json!({ "ticket_chat_id": tickets[0] }),
        "close_support",
    )
    .await);
    first_message(&mut ana, "customer_9", "Now a fourth").await;
    app.stop().await;
}

async fn a_call_gets_a_livekit_token_for_its_room_and_one_call_at_a_time(backend: Backend) {
    let db = Arc::new(TestDatabase::new(backend).await);
    let app = TestApp::spawn_with(db, |config| {
        config.livekit_api_key = Some("APIhelpdesk".into());
        config.livekit_api_secret = Some(gateway::config::Secret::new(LIVEKIT_SECRET));
        config.livekit_url = Some("wss://livekit.example".into());
    })
    .await;
    let key = api_key(&app, "acme").await;
    let mut ana = customer(&app, &key).await;
    let ticket = first_message(&mut ana, "customer_7", "Can I call you?").await;
    let call = ask(
        &mut ana,
        "call_support",
        json!({ "session_id": "customer_7", "ticket_chat_id": ticket }),
        "call_support",
    )
    .await;
    let data = ok(&call).clone();
    assert_eq!(data["room"], ticket.as_str());
    assert_eq!(data["url"], "wss://livekit.example");
    let call_id = data["ticket_call_id"].as_str().unwrap().to_owned();
    let mut validation = Validation::default();
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(
        data["token"].as_str().unwrap(),
        &DecodingKey::from_secret(LIVEKIT_SECRET.as_bytes()),
        &validation,
    )
    .expect("the token verifies with the secret")
    .claims;
    assert_eq!(claims["iss"], "APIhelpdesk");
    assert_eq!(claims["sub"], "hd-customer_7");
    assert_eq!(claims["video"]["room"], ticket.as_str());
    assert_eq!(claims["video"]["roomJoin"], true);

    let again = refused(
        &mut ana,
        "call_support",
        json!({ "session_id": "customer_7", "ticket_chat_id": ticket }),
    )
    .await;
    assert_eq!(again["status_code"], 409, "one call at a time: {again}");

    let closed = ask(
        &mut ana,
        "close_call_support",
        json!({ "ticket_chat_id": ticket }),
        "close_call_support",
    )
    .await;
    let data = ok(&closed);
    assert_eq!(data["ticket_call_id"], call_id.as_str());
    assert!(
        data["call_start_time"].is_string() && data["call_end_time"].is_string(),
        "{closed}"
    );

    // A second call; an agent taking over ends SATE's part in it.
    let second = ask(
        &mut ana,
        "call_support",
        json!({ "session_id": "customer_7", "ticket_chat_id": ticket }),
        "call_support",
    )
    .await;
    let second_id = ok(&second)["ticket_call_id"].as_str().unwrap().to_owned();
    assert_ne!(second_id, call_id, "each call has its own id");

    // Once an agent handles the conversation, SATE takes no calls.
    let (status, _) = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/conversations/{ticket}/claim"),
            &token("acme", "bob", "agent"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    ana.expect("support_handler_changed").await;
    let left = ana.expect("sate_left_call").await;
    assert_eq!(
        *ok(&left),
        json!({ "ticket_chat_id": ticket, "ticket_call_id": second_id })
    );
    let later = refused(
        &mut ana,
        "call_support",
        json!({ "session_id": "customer_7", "ticket_chat_id": ticket }),
    )
    .await;
    assert_eq!(later["status_code"], 409, "{later}");

    // The agent ends it: the customer is told it was closed.
    let (status, ended) = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/conversations/{ticket}/end"),
            &token("acme", "bob", "agent"),
            Some(json!({ "reason": "resolved" })),
        )
        .await;
    assert_eq!(status, 200, "{ended}");
    let closed = ana.expect("customer_support_closed").await;
    assert_eq!(
        *ok(&closed),
        json!({ "ticket_id": ticket, "ticket_chat_id": ticket, "status": "ended" })
    );
    app.stop().await;
}

/// What a refused handshake sent: `connect_error`'s payload.
async fn connect_error(client: &mut TestClient) -> Value {
    let refusal = client.expect("error").await;
    // rust_socketio hands a CONNECT_ERROR's payload over as text.
    let text = refusal.as_str().unwrap_or_default();
    let payload = text
        .strip_prefix("Received an ConnectError frame: ")
        .unwrap_or_else(|| panic!("not a connect error: {refusal}"));
    serde_json::from_str(payload).unwrap_or_else(|e| panic!("{e}: {payload}"))
}

async fn bad_keys_and_malformed_connections_are_refused_with_the_envelope_in_connect_error_data(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let key = api_key(&app, "acme").await;
    let (status, widget) = app
        .post(
            "/api/v1/keys",
            &token("acme", "ada", "admin"),
            json!({ "kind": "widget", "chatbotId": "bot" }),
        )
        .await;
    assert_eq!(status, 201);
    let widget_key = widget["key"].as_str().unwrap();
    let base = app.url();
    for (query, status, code) in [
        (format!("?token_source=api&token={key}x"), 401, "AUTH_ERROR"),
        (
            "?token_source=api&token=pk_nope_nope".to_owned(),
            401,
            "AUTH_ERROR",
        ),
        (
            format!("?token_source=api&token={widget_key}"),
            401,
            "AUTH_ERROR",
        ),
        ("?token_source=api".to_owned(), 400, "VALIDATION_ERROR"),
        (
            "?token_source=carrier-pigeon&token=x".to_owned(),
            400,
            "VALIDATION_ERROR",
        ),
        (String::new(), 400, "VALIDATION_ERROR"),
        ("?token=not-a-jwt".to_owned(), 401, "AUTH_ERROR"),
    ] {
        let mut client =
            TestClient::connect_namespace(&format!("{base}{query}"), "/helpdesk", None)
                .await
                .expect("a transport");
        // As socket.io-client v4 reads it: `err.message`, `err.data`.
        let error = connect_error(&mut client).await;
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty() && !message.starts_with('{'),
            "{query}: a readable message: {error}"
        );
        assert!(!message.contains(&key), "never repeats the key: {error}");
        assert_eq!(
            error["data"],
            json!({ "status_code": status, "sid": "", "message": message, "data": { "code": code } }),
            "{query}"
        );
    }
    // A JWT customer connects too.
    let url = format!("{base}?token={}", token("acme", "ana", "customer"));
    let mut jwt = TestClient::connect_namespace(&url, "/helpdesk", None)
        .await
        .unwrap();
    ok(&jwt.expect("connected").await);

    // A revoked key is refused from then on.
    let id = key.split('_').nth(1).unwrap();
    let (status, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/keys/{id}"),
            &token("acme", "ada", "admin"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let mut revoked = TestClient::connect_namespace(
        &format!("{base}?token_source=api&token={key}"),
        "/helpdesk",
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        connect_error(&mut revoked).await["data"]["status_code"],
        401
    );
    app.stop().await;
}

async fn bad_input_gets_an_envelope_with_a_4xx_status_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = api_key(&app, "acme").await;
    let globex = api_key(&app, "globex").await;
    let mut other = customer(&app, &globex).await;
    let foreign = first_message(&mut other, "customer_1", "Hello from globex").await;

    let mut ana = customer(&app, &acme).await;
    let mine = first_message(&mut ana, "customer_1", "Hello from acme").await;
    let before = app.event_count().await;
    for (event, payload, status) in [
        ("support", json!({ "message": "no session" }), 400),
        ("support", json!({ "session_id": "customer_1" }), 400),
        (
            "support",
            json!({ "session_id": "customer_1", "message": 5 }),
            400,
        ),
        (
            "support",
            json!({ "session_id": "bad session!", "message": "x" }),
            400,
        ),
        (
            "support",
            json!({ "session_id": "customer_1", "message": "x", "attachment": true }),
            400,
        ),
        (
            "support",
            json!({ "session_id": "customer_2", "message": "another session" }),
            403,
        ),
        (
            "support",
            json!({ "session_id": "customer_1", "message": "x", "ticket_chat_id": foreign }),
            404,
        ),
        ("enter_support", json!({ "ticket_chat_id": foreign }), 404),
        ("enter_support", json!({}), 400),
        (
            "mark_conversation_read",
            json!({ "ticket_chat_id": mine, "entity": "agent" }),
            400,
        ),
        (
            "review_support",
            json!({ "ticket_chat_id": mine, "rating": "9" }),
            400,
        ),
        (
            "review_support",
            json!({ "ticket_chat_id": mine, "rating": "good" }),
            400,
        ),
        ("close_support", json!({ "ticket_chat_id": foreign }), 404),
        (
            "call_support",
            json!({ "session_id": "customer_1", "ticket_chat_id": mine }),
            503,
        ),
        ("dance", json!({}), 400),
    ] {
        let answer = refused(&mut ana, event, payload.clone()).await;
        assert_eq!(answer["status_code"], status, "{event} {payload}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
    // SATE may still be answering the two first messages.
    let after = app.event_count().await;
    assert!(
        after - before <= 2,
        "bad input wrote {} events",
        after - before
    );
    let still = ask(
        &mut ana,
        "enter_support",
        json!({ "ticket_chat_id": mine }),
        "enter_support",
    )
    .await;
    ok(&still);
    app.stop().await;
}

/// `event` with `payload` is refused exactly as it would be for a
/// conversation that does not exist: 404, the same message.
async fn refused_as_unknown(client: &mut TestClient, event: &str, payload: Value, ticket: &str) {
    let unknown = "hd-nosuchconversation";
    let answer = refused(client, event, payload.clone()).await;
    let text = payload.to_string().replace(ticket, unknown);
    let baseline = refused(client, event, serde_json::from_str(&text).unwrap()).await;
    assert_eq!(answer["status_code"], 404, "{event}: {answer}");
    assert_eq!(answer["data"], baseline["data"], "{event}");
    assert_eq!(
        answer["message"].as_str().unwrap().replace(ticket, unknown),
        baseline["message"].as_str().unwrap(),
        "{event}: the refusal tells nothing about the conversation"
    );
}

async fn a_customer_who_names_another_customers_session_hears_none_of_its_answers_and_cannot_use_its_tickets(
    backend: Backend,
) {
    let db = Arc::new(TestDatabase::new(backend).await);
    let app = TestApp::spawn_on(db.clone()).await;
    password_article(&app).await;
    let mut alice = signed_in(&app, "acme", "alice", "customer").await;
    ok(&ask(
        &mut alice,
        "enter_customer_support",
        json!({ "session_id": "alice-session" }),
        "enter_customer_support",
    )
    .await);
    let ticket = first_message(&mut alice, "alice-session", "Where can I track my order?").await;
    alice
        .expect_where("support", |v| v["data"]["sender"] == "sate")
        .await;

    // Eve names Alice's session: she gets a session of her own by that name.
    let mut eve = signed_in(&app, "acme", "eve", "customer").await;
    ok(&ask(
        &mut eve,
        "enter_customer_support",
        json!({ "session_id": "alice-session" }),
        "enter_customer_support",
    )
    .await);
    // Alice goes on; SATE answers her, and only her.
    let echo = ask(
        &mut alice,
        "support",
        json!({ "session_id": "alice-session", "message": "My order number is #4567", "attachment": false, "ticket_chat_id": ticket }),
        "support_echo",
    )
    .await;
    ok(&echo);
    alice
        .expect_where("support", |v| v["data"]["sender"] == "sate")
        .await;
    eve.expect_none("support").await;

    // Nothing of Alice's conversation is Eve's, and she cannot tell it exists.
    let before = app.event_count().await;
    for (event, payload) in [
        ("enter_support", json!({ "ticket_chat_id": ticket })),
        (
            "support",
            json!({ "session_id": "alice-session", "message": "Eve here", "attachment": false, "ticket_chat_id": ticket }),
        ),
        (
            "mark_conversation_read",
            json!({ "ticket_chat_id": ticket, "entity": "customer" }),
        ),
        ("close_support", json!({ "ticket_chat_id": ticket })),
        (
            "review_support",
            json!({ "ticket_chat_id": ticket, "rating": "1" }),
        ),
        ("close_call_support", json!({ "ticket_chat_id": ticket })),
    ] {
        refused_as_unknown(&mut eve, event, payload, &ticket).await;
    }
    assert_eq!(app.event_count().await, before, "Eve wrote nothing");
    // Nor does an integrator's API key that names the same session.
    let key = api_key(&app, "acme").await;
    let mut integrator = customer(&app, &key).await;
    ok(&ask(
        &mut integrator,
        "enter_customer_support",
        json!({ "session_id": "alice-session" }),
        "enter_customer_support",
    )
    .await);
    refused_as_unknown(
        &mut integrator,
        "enter_support",
        json!({ "ticket_chat_id": ticket }),
        &ticket,
    )
    .await;

    // Eve's own conversation under that name is hers alone, and does not
    // count against Alice's three.
    first_message(&mut eve, "alice-session", "Where can I track my order?").await;
    eve.expect_where("support", |v| v["data"]["sender"] == "sate")
        .await;
    for n in 0..2 {
        first_message(&mut alice, "alice-session", &format!("Question {n}")).await;
    }
    alice.drain("support").await;
    eve.drain("support").await;
    alice.expect_none("support").await;
    integrator.expect_none("support").await;
    app.stop().await;

    // Ownership is durable: after a restart, it holds just the same.
    let app = TestApp::spawn_on(db).await;
    let mut eve = signed_in(&app, "acme", "eve", "customer").await;
    refused_as_unknown(
        &mut eve,
        "enter_support",
        json!({ "ticket_chat_id": ticket }),
        &ticket,
    )
    .await;
    let mut alice = signed_in(&app, "acme", "alice", "customer").await;
    ok(&ask(
        &mut alice,
        "enter_support",
        json!({ "ticket_chat_id": ticket }),
        "enter_support",
    )
    .await);
    ok(&ask(
        &mut eve,
        "enter_customer_support",
        json!({ "session_id": "alice-session" }),
        "enter_customer_support",
    )
    .await);
    ok(&ask(
        &mut alice,
        "support",
        json!({ "session_id": "alice-session", "message": "Is it shipped?", "attachment": false, "ticket_chat_id": ticket }),
        "support_echo",
    )
    .await);
    alice
        .expect_where("support", |v| v["data"]["sender"] == "sate")
        .await;
    eve.expect_none("support").await;
    app.stop().await;
}

async fn staff_of_the_tenant_may_enter_any_ticket_of_their_tenant_and_no_other(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    password_article(&app).await;
    let key = api_key(&app, "acme").await;
    let mut ana = customer(&app, &key).await;
    let ticket = first_message(&mut ana, "customer_5", "Where can I track my order?").await;
    ana.expect_where("support", |v| v["data"]["sender"] == "sate")
        .await;

    let mut bob = signed_in(&app, "acme", "bob", "agent").await;
    let joined = ask(
        &mut bob,
        "enter_support",
        json!({ "ticket_chat_id": ticket }),
        "enter_support",
    )
    .await;
    assert_eq!(joined["message"], "Joined support room");
    ok(&joined);
    ok(&ask(
        &mut ana,
        "support",
        json!({ "session_id": "customer_5", "message": "Order #4567", "attachment": false, "ticket_chat_id": ticket }),
        "support_echo",
    )
    .await);
    let heard = bob
        .expect_where("support", |v| v["data"]["sender"] == "sate")
        .await;
    assert_eq!(ok(&heard)["ticket_chat_id"], ticket.as_str());

    // Another tenant's staff cannot tell it exists; a customer of the
    // tenant cannot enter it either.
    let mut other = signed_in(&app, "globex", "gus", "supervisor").await;
    refused_as_unknown(
        &mut other,
        "enter_support",
        json!({ "ticket_chat_id": ticket }),
        &ticket,
    )
    .await;
    let mut carl = signed_in(&app, "acme", "carl", "customer").await;
    refused_as_unknown(
        &mut carl,
        "enter_support",
        json!({ "ticket_chat_id": ticket }),
        &ticket,
    )
    .await;
    other.expect_none("support").await;
    carl.expect_none("support").await;
    app.stop().await;
}

async fn a_client_may_enter_its_conversation_before_naming_its_session_as_the_seeds_clients_do(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    password_article(&app).await;
    let key = api_key(&app, "acme").await;
    let mut first = customer(&app, &key).await;
    let ticket = first_message(&mut first, "customer_123", "Where can I track my order?").await;
    first
        .expect_where("support", |v| v["data"]["sender"] == "sate")
        .await;

    // Reconnected, the client sends what it buffered (the conversation it
    // follows) before its `connect` handler names the session.
    let mut again = customer(&app, &key).await;
    let joined = ask(
        &mut again,
        "enter_support",
        json!({ "ticket_chat_id": ticket }),
        "enter_support",
    )
    .await;
    assert_eq!(joined["message"], "Joined support room");
    ok(&joined);
    ok(&ask(
        &mut again,
        "mark_conversation_read",
        json!({ "ticket_chat_id": ticket, "entity": "customer" }),
        "mark_conversation_read",
    )
    .await);
    ok(&ask(
        &mut again,
        "enter_customer_support",
        json!({ "session_id": "customer_123" }),
        "enter_customer_support",
    )
    .await);
    // The connection serves the conversation's session from then on.
    let other = refused(
        &mut again,
        "enter_customer_support",
        json!({ "session_id": "customer_456" }),
    )
    .await;
    assert_eq!(other["status_code"], 403, "{other}");
    // SATE's next answer reaches it, once.
    ok(&ask(
        &mut first,
        "support",
        json!({ "session_id": "customer_123", "message": "Order #4567", "attachment": false, "ticket_chat_id": ticket }),
        "support_echo",
    )
    .await);
    first
        .expect_where("support", |v| v["data"]["sender"] == "sate")
        .await;
    let heard = again.drain("support").await;
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert_eq!(ok(&heard[0])["sender"], "sate");

    // A JWT customer's new connection may do the same with its own.
    let mut alice = signed_in(&app, "acme", "alice", "customer").await;
    let mine = first_message(&mut alice, "phone", "Where can I track my order?").await;
    let mut tablet = signed_in(&app, "acme", "alice", "customer").await;
    ok(&ask(
        &mut tablet,
        "enter_support",
        json!({ "ticket_chat_id": mine }),
        "enter_support",
    )
    .await);

    // A conversation that is not the client's binds nothing.
    let mut fresh = customer(&app, &key).await;
    refused_as_unknown(
        &mut fresh,
        "enter_support",
        json!({ "ticket_chat_id": mine }),
        &mine,
    )
    .await;
    ok(&ask(
        &mut fresh,
        "enter_customer_support",
        json!({ "session_id": "customer_789" }),
        "enter_customer_support",
    )
    .await);
    app.stop().await;
}
