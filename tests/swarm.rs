//! Swarm sessions end to end: steps posted over REST, subscribers over
//! Socket.IO, late subscribers catching up.

use e2e::{TestApp, TestClient, both_backends, token};
use serde_json::{Value, json};
use store::Backend;

both_backends!(
    a_step_posted_over_rest_reaches_a_subscriber,
    a_late_subscriber_gets_the_earlier_steps_first_in_order,
    customers_and_analysts_may_not_post_steps,
    another_tenants_subscriber_never_hears_a_step,
    an_unsubscribed_socket_hears_no_more_steps,
    bad_swarm_payloads_are_validation_errors_and_change_nothing,
);

/// POST a raw body as a step: (status, JSON body).
async fn post_step(app: &TestApp, session: &str, body: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/v1/swarm/{session}/steps", app.url()))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Post `step` as the tenant's agent runtime; the sequence it got.
async fn post(app: &TestApp, tenant: &str, session: &str, step: Value) -> u64 {
    let runtime = token(tenant, "runtime", "service");
    let (status, body) = post_step(app, session, &step.to_string(), Some(&runtime)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["sessionId"], session);
    body["sequence"].as_u64().expect("a sequence")
}

async fn subscribe(client: &mut TestClient, session: &str) {
    let ack = client
        .emit_with_ack("swarm:subscribe", json!({ "sessionId": session }))
        .await;
    assert_eq!(ack["sessionId"], session, "{ack}");
    let subscribed = client.expect("swarm:subscribed").await;
    assert_eq!(subscribed["sessionId"], session);
}

async fn a_step_posted_over_rest_reaches_a_subscriber(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut watcher = app.client("acme", "bob", "agent").await;
    let mut elsewhere = app.client("acme", "eve", "agent").await;
    subscribe(&mut watcher, "swarm_9a8b7c6d").await;
    subscribe(&mut elsewhere, "swarm_other").await;
    let step = json!({ "agent": "researcher", "status": "done", "output": { "sources": 3 } });
    assert_eq!(post(&app, "acme", "swarm_9a8b7c6d", step.clone()).await, 1);
    let update = watcher.expect("swarm:update").await;
    assert_eq!(update["sessionId"], "swarm_9a8b7c6d");
    assert_eq!(update["sequence"], 1);
    assert_eq!(update["step"], step);
    assert!(update["timestamp"].is_string());
    // Staff may post too; the numbers go on.
    let (status, body) = post_step(
        &app,
        "swarm_9a8b7c6d",
        r#"{"agent":"writer"}"#,
        Some(&token("acme", "bob", "agent")),
    )
    .await;
    assert_eq!((status, body["sequence"].as_u64()), (201, Some(2)));
    let second = watcher.expect("swarm:update").await;
    assert_eq!(second["sequence"], 2);
    assert_eq!(second["step"]["agent"], "writer");
    elsewhere.expect_none("swarm:update").await;
    app.stop().await;
}

async fn a_late_subscriber_gets_the_earlier_steps_first_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut early = app.client("acme", "bob", "agent").await;
    subscribe(&mut early, "s1").await;
    for n in 1..=3 {
        assert_eq!(post(&app, "acme", "s1", json!({ "n": n })).await, n);
    }
    // Once the early subscriber heard the last step, its push is over: the
    // late one cannot get it twice, so its catch-up is exactly the steps.
    early
        .expect_where("swarm:update", |u| u["sequence"] == 3)
        .await;
    let mut late = app.client("acme", "cid", "customer").await;
    subscribe(&mut late, "s1").await;
    let mut caught_up = Vec::new();
    for _ in 0..3 {
        let update = late.expect("swarm:update").await;
        caught_up.push((update["sequence"].as_u64(), update["step"]["n"].as_u64()));
    }
    let expected: Vec<_> = (1..=3).map(|n| (Some(n), Some(n))).collect();
    assert_eq!(caught_up, expected);
    // Then live steps, as everyone gets them.
    assert_eq!(post(&app, "acme", "s1", json!({ "n": 4 })).await, 4);
    assert_eq!(late.expect("swarm:update").await["sequence"], 4);
    late.expect_none("swarm:update").await;
    // A reconnecting client may skip what it has.
    let mut back = app.client("acme", "cid", "customer").await;
    back.emit(
        "swarm:subscribe",
        json!({ "sessionId": "s1", "afterSequence": 2 }),
    )
    .await;
    back.expect("swarm:subscribed").await;
    let sequences: Vec<u64> = back
        .drain("swarm:update")
        .await
        .iter()
        .map(|u| u["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, [3, 4]);
    app.stop().await;
}

async fn customers_and_analysts_may_not_post_steps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut watcher = app.client("acme", "bob", "agent").await;
    subscribe(&mut watcher, "s1").await;
    // Connecting records the watcher's presence; refusals record nothing.
    let before = app.event_count().await;
    for role in ["customer", "analyst", "auditor"] {
        let (status, body) = post_step(
            &app,
            "s1",
            r#"{"agent":"x"}"#,
            Some(&token("acme", "u", role)),
        )
        .await;
        assert_eq!(status, 403, "{role}: {body}");
        assert_eq!(body["error"]["code"], "FORBIDDEN");
    }
    let (status, body) = post_step(&app, "s1", r#"{"agent":"x"}"#, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "NO_AUTH");
    let (status, body) = post_step(&app, "s1", r#"{"agent":"x"}"#, Some("not-a-token")).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "AUTH_ERROR");
    assert_eq!(app.event_count().await, before);
    watcher.expect_none("swarm:update").await;
    app.stop().await;
}

async fn another_tenants_subscriber_never_hears_a_step(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut acme = app.client("acme", "bob", "agent").await;
    let mut globex = app.client("globex", "gus", "agent").await;
    subscribe(&mut acme, "shared").await;
    subscribe(&mut globex, "shared").await;
    post(&app, "acme", "shared", json!({ "secret": "acme" })).await;
    assert_eq!(acme.expect("swarm:update").await["step"]["secret"], "acme");
    globex.expect_none("swarm:update").await;
    // Nor does a late subscriber of the other tenant catch up on it.
    let mut late = app.client("globex", "gia", "admin").await;
    subscribe(&mut late, "shared").await;
    late.expect_none("swarm:update").await;
    // Its own session of that name starts at one.
    assert_eq!(
        post(&app, "globex", "shared", json!({ "secret": "globex" })).await,
        1
    );
    assert_eq!(
        globex.expect("swarm:update").await["step"]["secret"],
        "globex"
    );
    acme.expect_none("swarm:update").await;
    app.stop().await;
}

async fn an_unsubscribed_socket_hears_no_more_steps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut bob = app.client("acme", "bob", "agent").await;
    subscribe(&mut bob, "s1").await;
    post(&app, "acme", "s1", json!({ "n": 1 })).await;
    bob.expect("swarm:update").await;
    let ack = bob
        .emit_with_ack("swarm:unsubscribe", json!({ "sessionId": "s1" }))
        .await;
    assert_eq!(ack["sessionId"], "s1");
    assert_eq!(bob.expect("swarm:unsubscribed").await["sessionId"], "s1");
    post(&app, "acme", "s1", json!({ "n": 2 })).await;
    bob.expect_none("swarm:update").await;
    app.stop().await;
}

async fn bad_swarm_payloads_are_validation_errors_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let runtime = token("acme", "runtime", "service");
    let too_big = json!({ "k": "x".repeat(64 * 1024) }).to_string();
    for (session, body) in [
        ("s1", "[1, 2]"),
        ("s1", "\"a step\""),
        ("s1", "null"),
        ("s1", "{not json"),
        ("s1", ""),
        ("s1", too_big.as_str()),
        ("a:b", "{}"),
    ] {
        let (status, answer) = post_step(&app, session, body, Some(&runtime)).await;
        assert_eq!(status, 400, "{session} {body:.40}: {answer}");
        assert_eq!(answer["error"]["code"], "VALIDATION_ERROR");
    }
    assert_eq!(app.event_count().await, 0);
    let mut bob = app.client("acme", "bob", "agent").await;
    for (event, payload) in [
        ("swarm:subscribe", json!({})),
        ("swarm:subscribe", json!({ "sessionId": "a b" })),
        ("swarm:subscribe", json!({ "sessionId": 7 })),
        (
            "swarm:subscribe",
            json!({ "sessionId": "s1", "afterSequence": -1 }),
        ),
        ("swarm:unsubscribe", json!({ "sessionId": "" })),
    ] {
        bob.emit(event, payload.clone()).await;
        let error = bob.expect("error").await;
        assert_eq!(
            error["code"], "VALIDATION_ERROR",
            "{event} {payload}: {error}"
        );
    }
    bob.expect_none("swarm:subscribed").await;
    app.stop().await;
}
