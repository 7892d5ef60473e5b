//! HTTP beside Socket.IO on the same port: health and the REST reads.

use e2e::{TestApp, both_backends, join, send, token};
use serde_json::json;
use store::Backend;

both_backends!(
    health_is_ok_once_the_store_answers,
    the_conversation_list_needs_a_valid_token,
    staff_list_their_tenants_conversations_and_customers_only_their_own,
    unknown_routes_are_json_not_found,
    a_page_far_past_the_end_is_an_empty_page_on_every_list,
    every_rest_error_is_a_json_error_body,
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

async fn a_page_far_past_the_end_is_an_empty_page_on_every_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "anas-1").await;
    let agent = token("acme", "bob", "agent");
    for path in [
        "/api/v1/conversations?page=9223372036854775807",
        "/api/v1/conversations?page=18446744073709551615&limit=100",
        // The support list (a filter is given).
        "/api/v1/conversations?page=9223372036854775807&status=new",
    ] {
        let (status, body) = app.get(path, Some(&agent)).await.unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(
            body["conversations"],
            json!([]),
            "{path}: not the first page again"
        );
        assert_eq!(body["pagination"]["total"], 1, "{path}: {body}");
    }
    app.stop().await;
}

async fn every_rest_error_is_a_json_error_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let agent = token("acme", "bob", "agent");
    let admin = token("acme", "ada", "admin");
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", app.url());
    let requests = [
        // A query parameter that does not parse.
        (
            client
                .get(url("/api/v1/conversations?page=abc"))
                .bearer_auth(&agent),
            400,
        ),
        (
            client
                .get(url("/api/v1/conversations?limit=-1"))
                .bearer_auth(&agent),
            400,
        ),
        (
            client
                .get(url("/api/v1/metrics?from=yesterday"))
                .bearer_auth(&agent),
            400,
        ),
        // A body that is not JSON, or not the JSON asked for.
        (
            client
                .post(url("/api/v1/keys"))
                .bearer_auth(&admin)
                .header("content-type", "application/json")
                .body("{not json"),
            400,
        ),
        (
            client
                .post(url("/api/v1/keys"))
                .bearer_auth(&admin)
                .body("kind=widget"),
            400,
        ),
        (
            client
                .post(url("/api/v1/keys"))
                .bearer_auth(&admin)
                .json(&json!({ "kind": 5 })),
            400,
        ),
        // A path parameter of the wrong shape.
        (
            client
                .post(url("/api/v1/conversations/a%3Ab/claim"))
                .bearer_auth(&agent),
            400,
        ),
        // A method the route does not take.
        (
            client
                .delete(url("/api/v1/conversations"))
                .bearer_auth(&agent),
            405,
        ),
        (client.get(url("/api/v1/nothing")), 404),
    ];
    for (request, expected) in requests {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        assert_eq!(status, expected, "{text}");
        assert_eq!(
            kind.as_deref(),
            Some("application/json"),
            "{status}: {text}"
        );
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        let error = &body["error"];
        assert!(
            error["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{body}"
        );
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
    app.stop().await;
}
