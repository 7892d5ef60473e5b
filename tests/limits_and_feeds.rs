//! The seed's connection limits (rate limit), the budgets and connection
//! caps that hold across reconnects, the rooms every socket joins on
//! connect, and the tenant's activity feed.

use e2e::{TestApp, TestClient, both_backends, join, send, token};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use store::Backend;
use store::testing::TestDatabase;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::{self, Message};

both_backends!(
    the_hundred_and_first_event_in_a_minute_is_refused_and_not_applied,
    a_refused_client_may_send_again_once_the_window_has_moved_on,
    a_user_who_reconnects_keeps_their_budget_on_every_dialect,
    widget_visitors_of_one_key_share_its_budget_and_other_keys_are_not_affected,
    anonymous_visitors_from_one_address_share_its_budget_whatever_their_key,
    a_users_connection_past_the_cap_is_refused_until_one_of_theirs_closes,
    a_connection_past_the_cap_of_its_address_is_refused_whoever_it_is,
    staff_who_subscribe_hear_the_tenants_activity_and_nobody_else_does,
);

async fn the_hundred_and_first_event_in_a_minute_is_refused_and_not_applied(backend: Backend) {
    // The seed's limit, unchanged: 100 events per 60 s per socket.
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "agent").await;
    join(&mut ana, "acme", "conv-1").await;
    for n in 1..100 {
        ana.emit(
            "message:send",
            json!({ "conversationId": "conv-1", "content": format!("message {n}") }),
        )
        .await;
    }
    for _ in 1..100 {
        ana.expect("message:sent").await;
    }
    let before = app.event_count().await;
    ana.emit(
        "message:send",
        json!({ "conversationId": "conv-1", "content": "one too many" }),
    )
    .await;
    let error = ana.expect("error").await;
    assert_eq!(error["code"], "RATE_LIMITED");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("100 events per 60 s")
    );
    let retry = error["retryAfterMs"].as_u64().unwrap();
    assert!(retry > 0 && retry <= 60_000, "retryAfterMs {retry}");
    ana.expect_none("message:sent").await;
    assert_eq!(app.event_count().await, before);

    // The limit is per socket: the same user's other socket is not limited.
    let mut other = app.client("acme", "ana", "agent").await;
    join(&mut other, "acme", "conv-1").await;
    send(&mut other, "acme", "conv-1", "from my phone").await;
    app.stop().await;
}

async fn a_refused_client_may_send_again_once_the_window_has_moved_on(backend: Backend) {
    let db = std::sync::Arc::new(store::testing::TestDatabase::new(backend).await);
    let app = TestApp::spawn_with(db, |c| {
        c.rate_limit_events = 3;
        c.rate_limit_window_secs = 1;
    })
    .await;
    let mut ana = app.client("acme", "ana", "agent").await;
    join(&mut ana, "acme", "conv-1").await;
    send(&mut ana, "acme", "conv-1", "two").await;
    send(&mut ana, "acme", "conv-1", "three").await;
    ana.emit(
        "message:send",
        json!({ "conversationId": "conv-1", "content": "four" }),
    )
    .await;
    let error = ana.expect("error").await;
    assert_eq!(error["code"], "RATE_LIMITED");
    let retry = error["retryAfterMs"].as_u64().unwrap();
    assert!(retry <= 1_000, "retryAfterMs {retry}");
    tokio::time::sleep(std::time::Duration::from_millis(retry + 50)).await;
    let sent = send(&mut ana, "acme", "conv-1", "four, again").await;
    assert!(sent["id"].is_string());
    app.stop().await;
}

/// A gateway with small limits; the window is long, so that nothing
/// comes back while a test runs.
async fn limited(backend: Backend, tweak: impl FnOnce(&mut gateway::Config)) -> TestApp {
    let db = Arc::new(TestDatabase::new(backend).await);
    TestApp::spawn_with(db, |c| {
        c.rate_limit_window_secs = 600;
        tweak(c);
    })
    .await
}

fn jwt(tenant: &str, user: &str, role: &str) -> Value {
    json!({ "token": token(tenant, user, role) })
}

/// A widget key of `chatbot` in `tenant`, in clear.
async fn widget_key(app: &TestApp, tenant: &str, chatbot: &str) -> String {
    let (status, created) = app
        .post(
            "/api/v1/keys",
            &token(tenant, "ada", "admin"),
            json!({ "kind": "widget", "chatbotId": chatbot }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created["key"].as_str().unwrap().to_owned()
}

fn widget(key: &str, chatbot: &str) -> Value {
    json!({ "widgetKey": key, "chatbotId": chatbot })
}

/// Connected and greeted with `auth`.
async fn connected(app: &TestApp, auth: Value) -> TestClient {
    let mut client = TestClient::connect(&app.url(), Some(auth), &[]).await;
    client.expect("connected").await;
    client
}

/// `ping` answered by `pong`.
async fn ping(client: &mut TestClient) {
    client.emit("ping", json!({})).await;
    client.expect("pong").await;
}

/// `ping` refused with `RATE_LIMITED`, naming what was spent.
async fn ping_refused(client: &mut TestClient, per: &str) -> u64 {
    client.emit("ping", json!({})).await;
    let error = client.expect("error").await;
    assert_eq!(error["code"], "RATE_LIMITED", "{error}");
    assert!(error["message"].as_str().unwrap().contains(per), "{error}");
    client.expect_none("pong").await;
    error["retryAfterMs"].as_u64().expect("retryAfterMs")
}

/// A handshake refused with `TOO_MANY_CONNECTIONS`, then closed.
async fn too_many(app: &TestApp, auth: Value) {
    let mut client = TestClient::connect(&app.url(), Some(auth), &[]).await;
    let error = client.expect("error").await;
    assert_eq!(error["code"], "TOO_MANY_CONNECTIONS", "{error}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    client.expect("close").await;
    client.expect_none("connected").await;
}

/// Connected once a slot is free: a disconnect is handled after the
/// client has gone, so the first tries may still be refused.
async fn connected_once_free(app: &TestApp, auth: Value) -> TestClient {
    for _ in 0..20 {
        let mut client = TestClient::connect(&app.url(), Some(auth.clone()), &[]).await;
        if !client.drain("connected").await.is_empty() {
            return client;
        }
        client.disconnect().await;
    }
    panic!("no slot came free");
}

/// A `/helpdesk` connection's outcome: greeted, or the refusal's text.
async fn helpdesk(app: &TestApp, query: &str) -> Result<TestClient, String> {
    let url = format!("{}?{query}", app.url());
    let mut client = TestClient::connect_namespace(&url, "/helpdesk", None)
        .await
        .expect("a transport");
    match client.drain("connected").await.pop() {
        Some(hello) => {
            assert_eq!(hello["status_code"], 200, "{hello}");
            Ok(client)
        }
        None => Err(client.expect("error").await.to_string()),
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A stream-dialect connection of a customer: greeted, or the HTTP
/// refusal of the upgrade (status and JSON body).
async fn stream(app: &TestApp, user: &str) -> Result<Ws, (u16, Value)> {
    let url = format!(
        "ws://{}/ws?token={}",
        app.addr,
        token("acme", user, "customer")
    );
    match connect_async(url).await {
        Ok((mut ws, _)) => {
            assert_eq!(next_json(&mut ws).await["type"], "connection");
            Ok(ws)
        }
        Err(tungstenite::Error::Http(response)) => {
            let body = serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                .expect("a JSON body");
            Err((response.status().as_u16(), body))
        }
        Err(other) => panic!("no WebSocket: {other}"),
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(e2e::PATIENCE, ws.next())
            .await
            .expect("a message in time")
            .expect("the connection open")
            .expect("a frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(&text).expect("JSON");
        }
    }
}

async fn a_user_who_reconnects_keeps_their_budget_on_every_dialect(backend: Backend) {
    let app = limited(backend, |c| c.user_rate_limit_events = 4).await;
    // Four events over three connections, each well within the seed's
    // per-socket limit.
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "conv-1").await;
    send(&mut ana, "acme", "conv-1", "one").await;
    ana.disconnect().await;
    let mut ana = app.client("acme", "ana", "customer").await;
    send(&mut ana, "acme", "conv-1", "two").await;
    ana.disconnect().await;
    let mut ana = app.client("acme", "ana", "customer").await;
    send(&mut ana, "acme", "conv-1", "three").await;
    let before = app.event_count().await;
    ana.emit(
        "message:send",
        json!({ "conversationId": "conv-1", "customerId": "acme", "content": "four" }),
    )
    .await;
    let error = ana.expect("error").await;
    assert_eq!(error["code"], "RATE_LIMITED", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("4 events per 600 s per user"),
        "{error}"
    );
    // One event comes back every 600 s / 4.
    let retry = error["retryAfterMs"].as_u64().unwrap();
    assert!(retry > 0 && retry <= 150_000, "retryAfterMs {retry}");
    ana.expect_none("message:sent").await;

    // The helpdesk namespace and the stream draw on the same budget.
    let mut desk = helpdesk(&app, &format!("token={}", token("acme", "ana", "customer")))
        .await
        .expect("a helpdesk connection");
    desk.emit("enter_customer_support", json!({ "session_id": "ana-1" }))
        .await;
    let refused = desk.expect("enter_customer_support").await;
    assert_eq!(refused["status_code"], 429, "{refused}");
    assert_eq!(refused["data"]["code"], "RATE_LIMITED", "{refused}");
    assert!(
        refused["data"]["retryAfterMs"]
            .as_u64()
            .is_some_and(|ms| ms > 0)
    );
    let mut ws = stream(&app, "ana").await.expect("a stream connection");
    ws.send(Message::Text(
        json!({ "type": "chat", "content": "hello?" })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let refused = next_json(&mut ws).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "RATE_LIMITED", "{refused}");
    assert!(refused["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0));
    assert_eq!(
        app.event_count().await,
        before,
        "nothing refused was applied"
    );

    // Somebody else's budget is their own.
    let mut bob = app.client("acme", "bob", "customer").await;
    join(&mut bob, "acme", "conv-2").await;
    app.stop().await;
}

async fn widget_visitors_of_one_key_share_its_budget_and_other_keys_are_not_affected(
    backend: Backend,
) {
    let app = limited(backend, |c| c.key_rate_limit_events = 3).await;
    let key = widget_key(&app, "acme", "bot-1").await;
    let other = widget_key(&app, "acme", "bot-2").await;
    // Every visitor is somebody new, but they spend one budget.
    let mut first = connected(&app, widget(&key, "bot-1")).await;
    ping(&mut first).await;
    ping(&mut first).await;
    first.disconnect().await;
    let mut second = connected(&app, widget(&key, "bot-1")).await;
    ping(&mut second).await;
    let retry = ping_refused(&mut second, "3 events per 600 s per key").await;
    assert!(retry > 0 && retry <= 200_000, "retryAfterMs {retry}");
    let mut third = connected(&app, widget(&key, "bot-1")).await;
    ping_refused(&mut third, "per key").await;
    // Another key's visitors, and signed-in users, have budgets of their own.
    let mut elsewhere = connected(&app, widget(&other, "bot-2")).await;
    ping(&mut elsewhere).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    ping(&mut ana).await;
    app.stop().await;
}

async fn anonymous_visitors_from_one_address_share_its_budget_whatever_their_key(backend: Backend) {
    let app = limited(backend, |c| c.ip_rate_limit_events = 2).await;
    let key = widget_key(&app, "acme", "bot-1").await;
    let other = widget_key(&app, "globex", "bot-2").await;
    let mut first = connected(&app, widget(&key, "bot-1")).await;
    ping(&mut first).await;
    let mut second = connected(&app, widget(&other, "bot-2")).await;
    ping(&mut second).await;
    ping_refused(&mut second, "2 events per 600 s per client address").await;
    ping_refused(&mut first, "per client address").await;
    // A signed-in user is counted as a user, not by address.
    let mut ana = app.client("acme", "ana", "customer").await;
    ping(&mut ana).await;
    app.stop().await;
}

async fn a_users_connection_past_the_cap_is_refused_until_one_of_theirs_closes(backend: Backend) {
    let app = limited(backend, |c| c.max_connections_per_user = 2).await;
    let first = app.client("acme", "ana", "customer").await;
    let _second = app.client("acme", "ana", "agent").await;
    too_many(&app, jwt("acme", "ana", "customer")).await;
    // Every dialect counts, and refuses with the code.
    let refusal = helpdesk(&app, &format!("token={}", token("acme", "ana", "customer")))
        .await
        .err()
        .expect("a refusal");
    assert!(refusal.contains("TOO_MANY_CONNECTIONS"), "{refusal}");
    assert!(refusal.contains("429"), "{refusal}");
    let (status, body) = stream(&app, "ana").await.expect_err("a refusal");
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "TOO_MANY_CONNECTIONS", "{body}");
    // The same name in another tenant is somebody else.
    let _namesake = app.client("globex", "ana", "customer").await;
    let _bob = app.client("acme", "bob", "customer").await;
    // One closes: one (and only one) may come; the refused ones held nothing.
    first.disconnect().await;
    let _third = connected_once_free(&app, jwt("acme", "ana", "customer")).await;
    too_many(&app, jwt("acme", "ana", "customer")).await;
    app.stop().await;
}

async fn a_connection_past_the_cap_of_its_address_is_refused_whoever_it_is(backend: Backend) {
    let app = limited(backend, |c| c.max_connections_per_ip = 3).await;
    let key = widget_key(&app, "acme", "bot-1").await;
    let _ana = app.client("acme", "ana", "customer").await;
    let bob = app.client("acme", "bob", "customer").await;
    let _visitor = connected(&app, widget(&key, "bot-1")).await;
    too_many(&app, jwt("acme", "cid", "customer")).await;
    too_many(&app, widget(&key, "bot-1")).await;
    let refusal = helpdesk(&app, &format!("token={}", token("acme", "dan", "customer")))
        .await
        .err()
        .expect("a refusal");
    assert!(refusal.contains("TOO_MANY_CONNECTIONS"), "{refusal}");
    let (status, _) = stream(&app, "eve").await.expect_err("a refusal");
    assert_eq!(status, 429);
    bob.disconnect().await;
    let _cid = connected_once_free(&app, jwt("acme", "cid", "customer")).await;
    too_many(&app, widget(&key, "bot-1")).await;
    app.stop().await;
}

async fn staff_who_subscribe_hear_the_tenants_activity_and_nobody_else_does(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut agent = app.client("acme", "bob", "agent").await;
    let mut unsubscribed = app.client("acme", "sue", "agent").await;
    let mut customer = app.client("acme", "cid", "customer").await;
    let mut outsider = app.client("globex", "gus", "supervisor").await;
    let subscribed = agent
        .emit_with_ack("activity:subscribe", json!({ "customerId": "acme" }))
        .await;
    assert_eq!(subscribed["room"], "activity:acme");
    outsider
        .emit_with_ack("activity:subscribe", json!({}))
        .await;
    // Customers may not follow the feed, nor anyone another tenant's.
    customer.emit("activity:subscribe", json!({})).await;
    assert_eq!(customer.expect("error").await["code"], "FORBIDDEN");
    unsubscribed
        .emit("activity:subscribe", json!({ "customerId": "globex" }))
        .await;
    assert_eq!(unsubscribed.expect("error").await["code"], "FORBIDDEN");
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "conv-9").await;
    let sent = send(&mut ana, "acme", "conv-9", "I need a refund").await;

    let opened = agent
        .expect_where("activity:new", |a| a["type"] == "conversation:opened")
        .await;
    assert_eq!(opened["conversationId"], "conv-9");
    assert_eq!(opened["customerId"], "acme");
    assert_eq!(opened["userId"], "ana");
    let joined = agent
        .expect_where("activity:new", |a| a["type"] == "member:joined")
        .await;
    assert_eq!(joined["userName"], "ana name");
    let posted = agent
        .expect_where("activity:new", |a| a["type"] == "message:posted")
        .await;
    assert_eq!(posted["messageId"], sent["id"]);
    assert_eq!(posted["preview"], "I need a refund");
    // The agent is in no conversation room: only the feed reached it.
    agent.expect_none("message:new").await;
    customer.expect_none("activity:new").await;
    unsubscribed.expect_none("activity:new").await;
    outsider.expect_none("activity:new").await;
    app.stop().await;
}
