//! lvng presence end to end: `presence:update` to the org room, heartbeats,
//! the timeout reaper (also for users left present by a crash), and
//! `GET /api/v1/presence`.
//!
//! Every socket joins its tenant's org room, and connecting brings its user
//! online, which the room hears: tests connect one user at a time and wait
//! for that user's own `online` before going on, so that no late push can
//! land in a later assertion (sockets already connected hear it too).

use e2e::{TestApp, TestClient, both_backends, token};
use serde_json::{Value, json};
use std::time::Duration;
use store::Backend;

both_backends!(
    a_presence_update_reaches_every_socket_of_the_tenant_and_no_other_tenant,
    an_unknown_status_is_a_validation_error_and_records_and_pushes_nothing,
    a_heartbeat_is_recorded_as_an_event_and_pushes_nothing,
    a_user_whose_only_socket_disconnects_times_out_and_the_org_room_is_told,
    a_connected_user_does_not_time_out_even_without_heartbeats,
    users_left_present_by_a_crash_time_out_after_the_restart,
    the_presence_list_shows_the_tenants_users_and_never_another_tenants,
);

/// Is `v` a `presence:update` saying `user` is `status`?
fn says(user: &'static str, status: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["userId"] == user && v["status"] == status
}

/// Connect `user` and wait until the org room was told they are online.
async fn online(app: &TestApp, tenant: &str, user: &'static str, role: &str) -> TestClient {
    let mut client = app.client(tenant, user, role).await;
    client
        .expect_where("presence:update", says(user, "online"))
        .await;
    client
}

/// `GET /api/v1/presence` as `user` of `tenant`: the entries by user id.
async fn listed(app: &TestApp, tenant: &str, user: &str) -> Vec<Value> {
    let (status, body) = app
        .get("/api/v1/presence", Some(&token(tenant, user, "analyst")))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    body["presence"]
        .as_array()
        .expect("a presence array")
        .clone()
}

fn entry<'a>(list: &'a [Value], user: &str) -> &'a Value {
    list.iter()
        .find(|p| p["userId"] == user)
        .unwrap_or_else(|| panic!("{user} is not listed: {list:?}"))
}

async fn a_presence_update_reaches_every_socket_of_the_tenant_and_no_other_tenant(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let mut eve = online(&app, "globex", "eve", "agent").await;
    let mut ana = online(&app, "acme", "ana", "customer").await;
    // A second socket of a user already online: nothing new to push.
    let mut ana_phone = app.client("acme", "ana", "customer").await;
    let mut bob = online(&app, "acme", "bob", "agent").await;

    let ack = ana
        .emit_with_ack(
            "presence:update",
            json!({ "status": "away", "customStatus": "Lunch", "statusText": "Back at 1pm" }),
        )
        .await;
    assert_eq!(ack["userId"], "ana");
    assert_eq!(ack["status"], "away");
    assert_eq!(ack["customStatus"], "Lunch");
    let heard = bob
        .expect_where("presence:update", says("ana", "away"))
        .await;
    assert_eq!(heard["userName"], "ana name");
    assert_eq!(heard["customStatus"], "Lunch");
    assert_eq!(heard["statusText"], "Back at 1pm");
    assert_eq!(heard["timestamp"], ack["timestamp"]);
    assert!(heard["timestamp"].as_str().unwrap().ends_with('Z'));
    // The sender's other socket hears it, and so does the sender.
    assert_eq!(
        ana_phone
            .expect_where("presence:update", says("ana", "away"))
            .await,
        heard
    );
    assert_eq!(
        ana.expect_where("presence:update", says("ana", "away"))
            .await,
        heard
    );

    // Without notes, they are cleared (null on the wire).
    ana.emit("presence:update", json!({ "status": "busy" }))
        .await;
    let heard = bob
        .expect_where("presence:update", says("ana", "busy"))
        .await;
    assert_eq!(heard["customStatus"], Value::Null);
    assert_eq!(heard["statusText"], Value::Null);

    // Another tenant's org room hears none of it.
    eve.expect_none("presence:update").await;
    app.stop().await;
}

async fn an_unknown_status_is_a_validation_error_and_records_and_pushes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = online(&app, "acme", "ana", "customer").await;
    let mut bob = online(&app, "acme", "bob", "agent").await;
    ana.expect_where("presence:update", says("bob", "online"))
        .await;
    let before = app.event_count().await;
    for bad in [
        json!({ "status": "dnd" }),
        json!({ "status": "Online" }),
        json!({}),
        json!({ "status": 3 }),
        json!({ "status": "away", "customStatus": "x".repeat(101) }),
        json!({ "status": "away", "statusText": "two\nlines" }),
        json!({ "status": "away", "customStatus": 7 }),
    ] {
        ana.emit("presence:update", bad.clone()).await;
        let error = ana.expect("error").await;
        assert_eq!(error["code"], "VALIDATION_ERROR", "{bad}: {error}");
        assert!(error["message"].is_string());
    }
    let answer = ana
        .emit_with_ack("presence:update", json!({ "status": "invisible" }))
        .await;
    assert_eq!(answer["error"]["code"], "VALIDATION_ERROR");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("status"),
        "{answer}"
    );
    assert_eq!(app.event_count().await, before);
    bob.expect_none("presence:update").await;
    ana.expect_none("presence:update").await;
    // Still online, and the connection still works.
    let list = listed(&app, "acme", "bob").await;
    assert_eq!(entry(&list, "ana")["status"], "online");
    ana.emit("presence:update", json!({ "status": "away" }))
        .await;
    bob.expect_where("presence:update", says("ana", "away"))
        .await;
    app.stop().await;
}

async fn a_heartbeat_is_recorded_as_an_event_and_pushes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = online(&app, "acme", "ana", "customer").await;
    let mut bob = online(&app, "acme", "bob", "agent").await;
    ana.expect_where("presence:update", says("bob", "online"))
        .await;
    let before = app.event_count().await;
    let ack = ana.emit_with_ack("presence:heartbeat", Value::Null).await;
    assert!(ack["timestamp"].is_string(), "{ack}");
    // Acknowledged means recorded.
    assert_eq!(app.event_count().await, before + 1);
    // Without an ack callback, and with a payload the seed does not have.
    ana.emit("presence:heartbeat", json!({ "ignored": true }))
        .await;
    bob.expect_none("presence:update").await;
    ana.expect_none("presence:update").await;
    ana.expect_none("error").await;
    assert_eq!(app.event_count().await, before + 2);
    let list = listed(&app, "acme", "bob").await;
    let ana_listed = entry(&list, "ana");
    assert_eq!(ana_listed["status"], "online");
    assert!(
        ana_listed["lastSeenAt"].as_str().unwrap() >= ack["timestamp"].as_str().unwrap(),
        "{ana_listed} vs {ack}"
    );
    assert!(ana_listed["lastSeenAt"].as_str().unwrap() > ana_listed["updatedAt"].as_str().unwrap());
    app.stop().await;
}

async fn a_user_whose_only_socket_disconnects_times_out_and_the_org_room_is_told(backend: Backend) {
    let db = std::sync::Arc::new(store::testing::TestDatabase::new(backend).await);
    let app = TestApp::spawn_with(db, |c| c.presence_timeout_secs = 1).await;
    let mut bob = online(&app, "acme", "bob", "agent").await;
    let ana = online(&app, "acme", "ana", "customer").await;
    ana.emit(
        "presence:update",
        json!({ "status": "busy", "customStatus": "Focus" }),
    )
    .await;
    bob.expect_where("presence:update", says("ana", "busy"))
        .await;
    ana.disconnect().await;
    let heard = bob
        .expect_where("presence:update", says("ana", "offline"))
        .await;
    assert_eq!(heard["userName"], "ana name");
    // Timing out keeps the user's own words.
    assert_eq!(heard["customStatus"], "Focus");
    let list = listed(&app, "acme", "bob").await;
    assert_eq!(entry(&list, "ana")["status"], "offline");
    assert_eq!(entry(&list, "bob")["status"], "online");
    // Coming back brings the user online again.
    let _ana = app.client("acme", "ana", "customer").await;
    bob.expect_where("presence:update", says("ana", "online"))
        .await;
    app.stop().await;
}

async fn a_connected_user_does_not_time_out_even_without_heartbeats(backend: Backend) {
    let db = std::sync::Arc::new(store::testing::TestDatabase::new(backend).await);
    let app = TestApp::spawn_with(db, |c| c.presence_timeout_secs = 1).await;
    let mut bob = online(&app, "acme", "bob", "agent").await;
    let _ana = online(&app, "acme", "ana", "customer").await;
    // A second socket that goes away: the first one still keeps ana.
    let ana_phone = app.client("acme", "ana", "customer").await;
    ana_phone.disconnect().await;
    // Well past the timeout and many sweeps of the reaper.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let heard = bob.drain("presence:update").await;
    assert!(
        heard.iter().all(|p| p["status"] != "offline"),
        "someone connected went offline: {heard:?}"
    );
    let list = listed(&app, "acme", "bob").await;
    assert_eq!(entry(&list, "ana")["status"], "online");
    assert_eq!(entry(&list, "bob")["status"], "online");
    app.stop().await;
}

async fn users_left_present_by_a_crash_time_out_after_the_restart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = app.db.clone();
    let ana = online(&app, "acme", "ana", "customer").await;
    ana.emit("presence:update", json!({ "status": "away" }))
        .await;
    let list = loop {
        let list = listed(&app, "acme", "ana").await;
        if entry(&list, "ana")["status"] == "away" {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(list.len(), 1);
    app.crash().await;

    let app = TestApp::spawn_with(db, |c| c.presence_timeout_secs = 2).await;
    let mut bob = online(&app, "acme", "bob", "agent").await;
    let heard = bob
        .expect_where("presence:update", says("ana", "offline"))
        .await;
    assert_eq!(heard["userName"], "ana name");
    let list = listed(&app, "acme", "bob").await;
    assert_eq!(entry(&list, "ana")["status"], "offline");
    assert_eq!(entry(&list, "bob")["status"], "online");
    app.stop().await;
}

async fn the_presence_list_shows_the_tenants_users_and_never_another_tenants(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app.get("/api/v1/presence", None).await.unwrap();
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "NO_AUTH");

    let ana = online(&app, "acme", "ana", "customer").await;
    let _bob = online(&app, "acme", "bob", "agent").await;
    let _eve = online(&app, "globex", "eve", "customer").await;
    let ack = ana
        .emit_with_ack(
            "presence:update",
            json!({ "status": "busy", "customStatus": "In a meeting", "statusText": "Back at 3pm" }),
        )
        .await;

    // Any authenticated caller of the tenant may look, a customer too.
    let (status, body) = app
        .get("/api/v1/presence", Some(&token("acme", "cid", "customer")))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let list = body["presence"].as_array().unwrap();
    let users: Vec<&str> = list.iter().map(|p| p["userId"].as_str().unwrap()).collect();
    assert_eq!(users, ["ana", "bob"]);
    let ana_listed = entry(list, "ana");
    assert_eq!(ana_listed["userName"], "ana name");
    assert_eq!(ana_listed["status"], "busy");
    assert_eq!(ana_listed["customStatus"], "In a meeting");
    assert_eq!(ana_listed["statusText"], "Back at 3pm");
    assert_eq!(ana_listed["updatedAt"], ack["timestamp"]);
    assert_eq!(ana_listed["lastSeenAt"], ack["timestamp"]);
    let bob_listed = entry(list, "bob");
    assert_eq!(bob_listed["status"], "online");
    assert_eq!(bob_listed["customStatus"], Value::Null);

    let globex = listed(&app, "globex", "gus").await;
    let users: Vec<&str> = globex
        .iter()
        .map(|p| p["userId"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["eve"]);
    app.stop().await;
}
