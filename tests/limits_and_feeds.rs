//! The seed's connection limits (rate limit), the rooms every socket joins
//! on connect, and the tenant's activity feed.

use e2e::{TestApp, both_backends, join, send};
use serde_json::json;
use store::Backend;

both_backends!(
    the_hundred_and_first_event_in_a_minute_is_refused_and_not_applied,
    a_refused_client_may_send_again_once_the_window_has_moved_on,
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
