//! HTTP beside Socket.IO on the same port: health and the REST reads.

use e2e::{TestApp, both_backends, join, send, token};
use store::Backend;

both_backends!(
    health_is_ok_once_the_store_answers,
    the_conversation_list_needs_a_valid_token,
    staff_list_their_tenants_conversations_and_customers_only_their_own,
    unknown_routes_are_json_not_found,
);

async fn health_is_ok_once_the_store_answers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app.get("/healthz", None).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["store"], backend.name());
    app.stop().await;
}

async fn the_conversation_list_needs_a_valid_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app.get("/api/v1/conversations", None).await.unwrap();
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "NO_AUTH");
    let (status, body) = app
        .get("/api/v1/conversations", Some("garbage"))
        .await
        .unwrap();
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "AUTH_ERROR");
    app.stop().await;
}

async fn staff_list_their_tenants_conversations_and_customers_only_their_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut cid = app.client("acme", "cid", "customer").await;
    let mut gus = app.client("globex", "gus", "customer").await;
    join(&mut ana, "acme", "anas-1").await;
    join(&mut ana, "acme", "anas-2").await;
    join(&mut cid, "acme", "cids").await;
    join(&mut gus, "globex", "gus-1").await;
    send(&mut ana, "acme", "anas-2", "newest activity").await;
    ana.expect("message:new").await;

    let agent = token("acme", "bob", "agent");
    let (status, body) = app
        .get("/api/v1/conversations?page=1&limit=2", Some(&agent))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["pagination"]["total"], 3);
    assert_eq!(body["pagination"]["totalPages"], 2);
    assert_eq!(body["pagination"]["limit"], 2);
    let first = &body["conversations"][0];
    assert_eq!(first["conversationId"], "anas-2");
    assert_eq!(first["messageCount"], 1);
    assert_eq!(first["participants"][0]["userId"], "ana");
    let (_, page2) = app
        .get("/api/v1/conversations?page=2&limit=2", Some(&agent))
        .await
        .unwrap();
    assert_eq!(page2["conversations"].as_array().unwrap().len(), 1);
    let (status, beyond) = app
        .get("/api/v1/conversations?page=9&limit=2", Some(&agent))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(beyond["conversations"].as_array().unwrap().is_empty());
    assert_eq!(beyond["pagination"]["total"], 3);

    let (_, mine) = app
        .get(
            "/api/v1/conversations",
            Some(&token("acme", "cid", "customer")),
        )
        .await
        .unwrap();
    let ids: Vec<&str> = mine["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversationId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cids"]);
    let (_, globex) = app
        .get(
            "/api/v1/conversations",
            Some(&token("globex", "boss", "admin")),
        )
        .await
        .unwrap();
    assert_eq!(globex["pagination"]["total"], 1);
    assert_eq!(globex["conversations"][0]["conversationId"], "gus-1");
    app.stop().await;
}

async fn unknown_routes_are_json_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app.get("/api/v1/nothing-here", None).await.unwrap();
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    app.stop().await;
}
