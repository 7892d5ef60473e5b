//! Widget and API keys end to end: admins create, list and revoke them over
//! REST; anonymous widget visitors connect with `auth: {widgetKey,
//! chatbotId}`; a key's secret is shown once and stored nowhere in clear.

use e2e::{GatewayProcess, SECRET, TestApp, TestClient, both_backends, token};
use serde_json::{Value, json};
use store::testing::TestDatabase;
use store::{Backend, Db};

both_backends!(
    an_admins_widget_key_lets_a_visitor_connect_to_the_tenant,
    a_widget_key_for_another_chatbot_an_unknown_or_a_garbage_key_is_refused,
    a_revoked_key_is_refused_at_once,
    only_admins_create_list_and_revoke_keys_and_bad_bodies_are_refused,
    another_tenants_admin_can_neither_see_nor_revoke_a_key,
    listing_keys_never_shows_a_secret_and_neither_the_log_nor_the_read_model_holds_one,
    a_key_secret_never_reaches_the_servers_output_even_at_debug_level,
);

async fn post_key(app_url: &str, bearer: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{app_url}/api/v1/keys"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn delete_key(app: &TestApp, bearer: &str, id: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .delete(format!("{}/api/v1/keys/{id}", app.url()))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn admin(tenant: &str) -> String {
    token(tenant, &format!("admin-of-{tenant}"), "admin")
}

/// An admin of `tenant` creates a key; the whole 201 answer.
async fn create(app_url: &str, tenant: &str, body: Value) -> Value {
    let (status, created) = post_key(app_url, Some(&admin(tenant)), &body.to_string()).await;
    assert_eq!(status, 201, "{created}");
    created
}

async fn widget_key(app: &TestApp, tenant: &str, chatbot: &str) -> Value {
    create(
        &app.url(),
        tenant,
        json!({ "kind": "widget", "chatbotId": chatbot, "label": "Website" }),
    )
    .await
}

fn key_of(created: &Value) -> &str {
    created["key"].as_str().expect("the key in clear")
}

fn secret_of(created: &Value) -> &str {
    key_of(created).rsplit('_').next().unwrap()
}

async fn visitor(url: &str, key: &str, chatbot: &str) -> TestClient {
    let auth = json!({ "widgetKey": key, "chatbotId": chatbot });
    TestClient::connect(url, Some(auth), &[]).await
}

/// Connect with `auth` and expect to be refused with `code`, then closed.
async fn refused(app: &TestApp, auth: Value, code: &str) -> Value {
    let mut client = TestClient::connect(&app.url(), Some(auth), &[]).await;
    let error = client.expect("error").await;
    assert_eq!(error["code"], code, "{error}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    client.expect("close").await;
    client.expect_none("connected").await;
    error
}

async fn widget_refused(app: &TestApp, key: &str, chatbot: &str) -> Value {
    refused(
        app,
        json!({ "widgetKey": key, "chatbotId": chatbot }),
        "WIDGET_VALIDATION_ERROR",
    )
    .await
}

async fn an_admins_widget_key_lets_a_visitor_connect_to_the_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = widget_key(&app, "acme", "bot-1").await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["kind"], "widget");
    assert_eq!(created["chatbotId"], "bot-1");
    assert_eq!(created["label"], "Website");
    assert_eq!(created["prefix"], format!("pk_{id}"));
    assert!(created["createdAt"].as_str().is_some(), "{created}");
    let key = key_of(&created);
    assert!(key.starts_with(&format!("pk_{id}_")), "{key}");
    assert_eq!(secret_of(&created).len(), 64);

    let mut visitor = visitor(&app.url(), key, "bot-1").await;
    let hello = visitor.expect("connected").await;
    assert_eq!(hello["tenantId"], "acme", "{hello}");
    assert_eq!(hello["organizationId"], "acme", "{hello}");
    let user = hello["userId"].as_str().unwrap();
    assert!(user.starts_with("visitor-"), "{hello}");

    // Another visitor with the same key is someone else.
    let mut other = self::visitor(&app.url(), key, "bot-1").await;
    let other_hello = other.expect("connected").await;
    assert_ne!(other_hello["userId"], hello["userId"]);

    // Visitors are anonymous: no presence, and none of their own to set.
    visitor
        .emit("presence:update", json!({ "status": "online" }))
        .await;
    assert_eq!(visitor.expect("error").await["code"], "FORBIDDEN");
    let mut agent = app.client("acme", "agent-1", "agent").await;
    // Its own coming online.
    agent.expect("presence:update").await;
    let (status, presence) = app
        .get("/api/v1/presence", Some(&token("acme", "agent-1", "agent")))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let users: Vec<&str> = presence["presence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["userId"].as_str())
        .collect();
    assert_eq!(users, ["agent-1"], "{presence}");
    // A visitor leaving tells nobody anything, and nothing breaks.
    visitor.disconnect().await;
    agent.expect_none("presence:update").await;
    app.stop().await;
}

async fn a_widget_key_for_another_chatbot_an_unknown_or_a_garbage_key_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = widget_key(&app, "acme", "bot-1").await;
    let key = key_of(&created).to_owned();

    let error = widget_refused(&app, &key, "bot-2").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("another chatbot"),
        "{error}"
    );
    widget_refused(&app, "garbage", "bot-1").await;
    // Well formed, but never issued; and a real id with a wrong secret.
    let id = created["id"].as_str().unwrap();
    let unknown = widget_refused(&app, &format!("pk_ffff_{}", "a".repeat(64)), "bot-1").await;
    let wrong = widget_refused(&app, &format!("pk_{id}_{}", "a".repeat(64)), "bot-1").await;
    assert_eq!(unknown["message"], wrong["message"], "same answer for both");
    // A widget key needs its chatbot, and the chatbot must be a string.
    widget_refused(&app, &key, "").await;
    refused(
        &app,
        json!({ "widgetKey": key, "chatbotId": 7 }),
        "WIDGET_VALIDATION_ERROR",
    )
    .await;
    refused(&app, json!({ "widgetKey": key }), "WIDGET_VALIDATION_ERROR").await;
    // An API key does not open a widget.
    let api = create(&app.url(), "acme", json!({ "kind": "api" })).await;
    assert_eq!(api["chatbotId"], Value::Null);
    widget_refused(&app, key_of(&api), "bot-1").await;
    // No credentials at all is still NO_AUTH; a token still wins.
    refused(&app, json!({ "chatbotId": "bot-1" }), "NO_AUTH").await;
    refused(
        &app,
        json!({ "token": "not-a-token", "widgetKey": key, "chatbotId": "bot-1" }),
        "AUTH_ERROR",
    )
    .await;
    // None of this broke the key.
    let mut visitor = visitor(&app.url(), &key, "bot-1").await;
    visitor.expect("connected").await;
    app.stop().await;
}

async fn a_revoked_key_is_refused_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = widget_key(&app, "acme", "bot-1").await;
    let (key, id) = (key_of(&created), created["id"].as_str().unwrap());
    let mut before = visitor(&app.url(), key, "bot-1").await;
    before.expect("connected").await;

    let (status, body) = delete_key(&app, &admin("acme"), id).await;
    assert_eq!(status, 204, "{body}");
    let error = widget_refused(&app, key, "bot-1").await;
    assert!(
        error["message"].as_str().unwrap().contains("revoked"),
        "{error}"
    );
    // Revoking again is fine and changes nothing.
    let events = app.event_count().await;
    assert_eq!(delete_key(&app, &admin("acme"), id).await.0, 204);
    assert_eq!(app.event_count().await, events);
    // The list says so.
    let (_, listed) = app.get("/api/v1/keys", Some(&admin("acme"))).await.unwrap();
    assert_eq!(listed["keys"][0]["revoked"], true, "{listed}");
    assert!(
        listed["keys"][0]["revokedAt"].as_str().is_some(),
        "{listed}"
    );
    app.stop().await;
}

async fn only_admins_create_list_and_revoke_keys_and_bad_bodies_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = widget_key(&app, "acme", "bot-1").await;
    let id = created["id"].as_str().unwrap();
    let body = json!({ "kind": "widget", "chatbotId": "bot-1" }).to_string();
    let events = app.event_count().await;
    for role in [
        "customer",
        "agent",
        "supervisor",
        "analyst",
        "auditor",
        "service",
    ] {
        let bearer = token("acme", "someone", role);
        let (status, answer) = post_key(&app.url(), Some(&bearer), &body).await;
        assert_eq!(
            (status, &answer["error"]["code"]),
            (403, &json!("FORBIDDEN")),
            "{role}: {answer}"
        );
        let (status, answer) = app.get("/api/v1/keys", Some(&bearer)).await.unwrap();
        assert_eq!(status, 403, "{role}: {answer}");
        let (status, answer) = delete_key(&app, &bearer, id).await;
        assert_eq!(status, 403, "{role}: {answer}");
    }
    let (status, answer) = post_key(&app.url(), None, &body).await;
    assert_eq!(status, 401, "{answer}");

    for bad in [
        "not json",
        "{}",
        r#"{"kind": "secret"}"#,
        r#"{"kind": 1}"#,
        r#"{"kind": "widget"}"#,
        r#"{"kind": "widget", "chatbotId": "a:b"}"#,
        r#"{"kind": "api", "chatbotId": "bot-1"}"#,
        &json!({ "kind": "api", "label": "x".repeat(101) }).to_string(),
    ] {
        let (status, answer) = post_key(&app.url(), Some(&admin("acme")), bad).await;
        assert_eq!(
            (status, &answer["error"]["code"]),
            (400, &json!("VALIDATION_ERROR")),
            "{bad}: {answer}"
        );
    }
    let (status, answer) = delete_key(&app, &admin("acme"), "Not_A_Key").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(app.event_count().await, events, "a refusal wrote events");
    app.stop().await;
}

async fn another_tenants_admin_can_neither_see_nor_revoke_a_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = widget_key(&app, "acme", "bot-1").await;
    let (key, id) = (key_of(&created), created["id"].as_str().unwrap());
    widget_key(&app, "globex", "bot-1").await;

    let (status, answer) = delete_key(&app, &admin("globex"), id).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], "NOT_FOUND");
    let (_, listed) = app
        .get("/api/v1/keys", Some(&admin("globex")))
        .await
        .unwrap();
    let ids: Vec<&Value> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["id"])
        .collect();
    assert_eq!(ids.len(), 1, "{listed}");
    assert_ne!(ids[0], id, "{listed}");
    // The key still works, for acme.
    let mut visitor = visitor(&app.url(), key, "bot-1").await;
    assert_eq!(visitor.expect("connected").await["tenantId"], "acme");
    app.stop().await;
}

async fn listing_keys_never_shows_a_secret_and_neither_the_log_nor_the_read_model_holds_one(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let widget = widget_key(&app, "acme", "bot-1").await;
    let api = create(
        &app.url(),
        "acme",
        json!({ "kind": "api", "label": "Helpdesk" }),
    )
    .await;

    let (status, listed) = app.get("/api/v1/keys", Some(&admin("acme"))).await.unwrap();
    assert_eq!(status, 200, "{listed}");
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{listed}");
    for (shown, created) in keys.iter().zip([&widget, &api]) {
        for field in ["id", "kind", "chatbotId", "prefix", "label", "createdAt"] {
            assert_eq!(shown[field], created[field], "{field}: {shown}");
        }
        assert_eq!(shown["createdBy"], "admin-of-acme");
        assert_eq!(shown["revoked"], false);
        assert!(shown.get("key").is_none(), "{shown}");
    }

    let db = Db::connect(app.db.url()).await.unwrap();
    let hashes: Vec<String> = sqlx::query_scalar("SELECT secret_hash FROM access_keys")
        .fetch_all(db.pool())
        .await
        .unwrap();
    let payloads: Vec<String> = sqlx::query_scalar("SELECT payload FROM events")
        .fetch_all(db.pool())
        .await
        .unwrap();
    db.close().await;
    assert_eq!(hashes.len(), 2);
    let listed = listed.to_string();
    for hash in &hashes {
        assert!(!listed.contains(hash.as_str()), "a hash is listed");
    }
    for created in [&widget, &api] {
        let secret = secret_of(created);
        assert!(!listed.contains(secret), "a secret is listed");
        assert!(!hashes.iter().any(|h| h.contains(secret)));
        assert!(
            !payloads.iter().any(|p| p.contains(secret)),
            "a secret is in the event log"
        );
    }
    app.stop().await;
}

async fn a_key_secret_never_reaches_the_servers_output_even_at_debug_level(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let gateway = GatewayProcess::start(&[
        ("DATABASE_URL", db.url()),
        ("PARLEY_JWT_SECRET", SECRET),
        ("RUST_LOG", "debug"),
    ]);
    let created = create(
        &gateway.url(),
        "acme",
        json!({ "kind": "widget", "chatbotId": "bot-1" }),
    )
    .await;
    let key = key_of(&created).to_owned();
    let mut welcome = visitor(&gateway.url(), &key, "bot-1").await;
    welcome.expect("connected").await;
    let mut wrong = visitor(&gateway.url(), &key, "bot-2").await;
    assert_eq!(
        wrong.expect("error").await["code"],
        "WIDGET_VALIDATION_ERROR"
    );
    welcome.disconnect().await;
    let (status, output) = gateway.terminate();
    assert!(status.success(), "exit status {status}: {output}");
    // The output is real: it tells of the key by its prefix.
    assert!(output.contains("key issued"), "{output}");
    assert!(
        !output.contains(secret_of(&created)),
        "a key secret reached the output"
    );
}
