//! Who may connect, and what each caller may see: tokens are verified
//! (signature, algorithm, expiry, claims), and no tenant or customer ever
//! sees another's conversations.

use e2e::{PATIENCE, TestApp, TestClient, both_backends, join, now, send, sign, token};
use serde_json::{Value, json};
use store::Backend;

both_backends!(
    connecting_without_a_token_is_refused_with_no_auth,
    bad_tokens_are_refused_with_auth_error_and_the_reason,
    a_token_in_an_authorization_header_or_the_query_is_accepted,
    a_customer_id_of_another_tenant_is_forbidden_and_changes_nothing,
    tenants_never_see_each_others_conversations_even_with_the_same_id,
    a_customer_cannot_enter_or_read_another_customers_conversation,
    tokens_not_valid_yet_are_refused_on_sockets_and_over_http,
);

/// Connect with `auth` and expect to be refused with `code`.
async fn refused(app: &TestApp, auth: Value, code: &str) -> Value {
    let mut client = TestClient::connect(&app.url(), Some(auth), &[]).await;
    let error = client.expect("error").await;
    assert_eq!(error["code"], code, "{error}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    client.expect("close").await;
    client.expect_none("connected").await;
    error
}

async fn connecting_without_a_token_is_refused_with_no_auth(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    refused(&app, json!({}), "NO_AUTH").await;
    refused(&app, json!({ "token": "" }), "NO_AUTH").await;
    app.stop().await;
}

async fn bad_tokens_are_refused_with_auth_error_and_the_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let claims =
        |exp: u64| json!({ "sub": "ana", "tenant": "acme", "role": "customer", "exp": exp });
    let expired = sign(claims(now() - 3600));
    let error = refused(&app, json!({ "token": expired }), "AUTH_ERROR").await;
    assert!(
        error["message"].as_str().unwrap().contains("expired"),
        "{error}"
    );

    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(now() + 600),
        &jsonwebtoken::EncodingKey::from_secret(b"not-the-servers-secret-not-the-servers"),
    )
    .unwrap();
    let error = refused(&app, json!({ "token": forged }), "AUTH_ERROR").await;
    assert!(
        error["message"].as_str().unwrap().contains("signature"),
        "{error}"
    );

    // Right secret, other algorithm: only HS256 is accepted.
    let other_alg = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &claims(now() + 600),
        &jsonwebtoken::EncodingKey::from_secret(e2e::SECRET.as_bytes()),
    )
    .unwrap();
    refused(&app, json!({ "token": other_alg }), "AUTH_ERROR").await;

    // alg "none": header and claims, no signature.
    let none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "JWT" })),
        b64(&claims(now() + 600))
    );
    refused(&app, json!({ "token": none }), "AUTH_ERROR").await;

    let no_exp = sign(json!({ "sub": "ana", "tenant": "acme" }));
    let error = refused(&app, json!({ "token": no_exp }), "AUTH_ERROR").await;
    assert!(
        error["message"].as_str().unwrap().contains("exp"),
        "{error}"
    );
    let no_tenant = sign(json!({ "sub": "ana", "exp": now() + 600 }));
    refused(&app, json!({ "token": no_tenant }), "AUTH_ERROR").await;
    let bad_role =
        sign(json!({ "sub": "ana", "tenant": "acme", "role": "root", "exp": now() + 600 }));
    refused(&app, json!({ "token": bad_role }), "AUTH_ERROR").await;
    refused(&app, json!({ "token": "not.a.jwt" }), "AUTH_ERROR").await;
    app.stop().await;
}

async fn tokens_not_valid_yet_are_refused_on_sockets_and_over_http(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let claims = |extra: Value| {
        let mut claims = json!({ "sub": "ana", "tenant": "acme", "exp": now() + 7200 });
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        sign(claims)
    };
    let later = now() + 3600;
    for (token, reason) in [
        (claims(json!({ "nbf": later })), "nbf"),
        (claims(json!({ "iat": later })), "iat"),
    ] {
        let error = refused(&app, json!({ "token": token }), "AUTH_ERROR").await;
        assert!(
            error["message"].as_str().unwrap().contains(reason),
            "{error}"
        );
        let (status, body) = app
            .get("/api/v1/conversations", Some(&token))
            .await
            .unwrap();
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "AUTH_ERROR", "{body}");
    }
    // Within the leeway, a clock a little ahead is fine.
    let skewed = claims(json!({ "nbf": now() + 5, "iat": now() + 5 }));
    let mut ana = TestClient::connect(&app.url(), Some(json!({ "token": skewed })), &[]).await;
    assert_eq!(ana.expect("connected").await["userId"], "ana");
    // A token without `sub` names the claim it lacks.
    let no_sub = sign(json!({ "tenant": "acme", "exp": now() + 600 }));
    let error = refused(&app, json!({ "token": no_sub }), "AUTH_ERROR").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("missing claim sub"),
        "{error}"
    );
    app.stop().await;
}

fn b64(value: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn a_token_in_an_authorization_header_or_the_query_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let header = vec![(
        "Authorization",
        format!("Bearer {}", token("acme", "ana", "customer")),
    )];
    let mut by_header = TestClient::connect(&app.url(), None, &header).await;
    assert_eq!(by_header.expect("connected").await["userId"], "ana");
    let url = format!("{}/?token={}", app.url(), token("acme", "bob", "agent"));
    let mut by_query = TestClient::connect(&url, None, &[]).await;
    let connected = by_query.expect("connected").await;
    assert_eq!(connected["userId"], "bob");
    assert_eq!(connected["tenantId"], "acme");
    assert_eq!(connected["organizationId"], "acme");
    assert!(connected["socketId"].is_string() && connected["timestamp"].is_string());
    app.stop().await;
}

async fn a_customer_id_of_another_tenant_is_forbidden_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut gus = app.client("globex", "gus", "agent").await;
    join(&mut gus, "globex", "conv-1").await;
    let before = app.event_count().await;
    for (event, extra) in [
        ("conversation:join", json!({})),
        ("message:send", json!({ "content": "hi" })),
        ("typing:start", json!({})),
        ("conversation:rejoin", json!({})),
    ] {
        let mut payload = json!({ "conversationId": "conv-1", "customerId": "globex" });
        payload
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        ana.emit(event, payload).await;
        let error = ana.expect("error").await;
        assert_eq!(error["code"], "FORBIDDEN", "{event}: {error}");
    }
    assert_eq!(app.event_count().await, before);
    // Nothing joined: globex's room stays closed to ana.
    send(&mut gus, "globex", "conv-1", "globex only").await;
    ana.expect_none("message:new").await;
    ana.expect_none("conversation:rejoined").await;
    app.stop().await;
}

async fn tenants_never_see_each_others_conversations_even_with_the_same_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut gus = app.client("globex", "gus", "customer").await;
    let mut acme_agent = app.client("acme", "bob", "agent").await;
    join(&mut ana, "acme", "shared").await;
    join(&mut gus, "globex", "shared").await;
    join(&mut acme_agent, "acme", "shared").await;
    send(&mut ana, "acme", "shared", "acme secret").await;
    send(&mut gus, "globex", "shared", "globex secret").await;
    let heard = acme_agent.drain("message:new").await;
    assert!(
        heard.iter().all(|m| m["content"] == "acme secret"),
        "{heard:?}"
    );
    assert_eq!(heard.len(), 1);
    gus.expect_none("member:joined").await;
    for (client, tenant, secret) in [
        (&mut ana, "acme", "acme secret"),
        (&mut gus, "globex", "globex secret"),
    ] {
        client
            .emit(
                "conversation:rejoin",
                json!({ "conversationId": "shared", "customerId": tenant }),
            )
            .await;
        let rejoined = client.expect("conversation:rejoined").await;
        let contents: Vec<&Value> = rejoined["missed_messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["content"])
            .collect();
        assert_eq!(contents, [secret]);
    }
    // Staff are tenant-bound too.
    acme_agent
        .emit(
            "conversation:join",
            json!({ "conversationId": "shared", "customerId": "globex" }),
        )
        .await;
    assert_eq!(acme_agent.expect("error").await["code"], "FORBIDDEN");
    let _ = PATIENCE;
    app.stop().await;
}

async fn a_customer_cannot_enter_or_read_another_customers_conversation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut cid = app.client("acme", "cid", "customer").await;
    join(&mut ana, "acme", "anas").await;
    send(&mut ana, "acme", "anas", "my address is …").await;
    let before = app.event_count().await;
    for (event, payload) in [
        (
            "conversation:join",
            json!({ "conversationId": "anas", "customerId": "acme" }),
        ),
        (
            "conversation:rejoin",
            json!({ "conversationId": "anas", "customerId": "acme" }),
        ),
        (
            "message:send",
            json!({ "conversationId": "anas", "customerId": "acme", "content": "hi" }),
        ),
        (
            "typing:start",
            json!({ "conversationId": "anas", "customerId": "acme" }),
        ),
    ] {
        cid.emit(event, payload).await;
        let error = cid.expect("error").await;
        assert_eq!(error["code"], "FORBIDDEN", "{event}: {error}");
        assert_eq!(error["conversationId"], "anas");
    }
    assert_eq!(app.event_count().await, before);
    cid.expect_none("conversation:rejoined").await;
    send(&mut ana, "acme", "anas", "still private").await;
    cid.expect_none("message:new").await;
    app.stop().await;
}
