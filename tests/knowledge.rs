//! The knowledge base over REST: admins write, staff read, everyone of the
//! tenant searches; bad input and other tenants are refused and change
//! nothing.

use e2e::{TestApp, both_backends, token};
use reqwest::Method;
use serde_json::{Value, json};
use store::Backend;

both_backends!(
    an_admin_writes_articles_that_search_finds_and_ranks_and_deletes_them,
    only_admins_write_staff_list_and_customers_search,
    bad_articles_are_refused_with_the_field_and_nothing_is_written,
    another_tenants_articles_are_not_found_nor_changed,
);

async fn create(app: &TestApp, admin: &str, body: Value) -> Value {
    let (status, created) = app.post("/api/v1/kb/articles", admin, body).await;
    assert_eq!(status, 201, "{created}");
    created["article"].clone()
}

async fn search(app: &TestApp, bearer: &str, query: &str) -> Value {
    let (status, found) = app
        .get(&format!("/api/v1/kb/search?{query}"), Some(bearer))
        .await
        .unwrap();
    assert_eq!(status, 200, "{found}");
    found
}

fn ids(found: &Value) -> Vec<&str> {
    found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

async fn an_admin_writes_articles_that_search_finds_and_ranks_and_deletes_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = token("acme", "ada", "admin");
    let passwords = create(
        &app,
        &admin,
        json!({ "title": "Resetting your password", "body": "Open Settings, then Security.", "category": "account", "tags": ["Password", "reset"] }),
    )
    .await;
    assert_eq!(passwords["version"], 1);
    assert_eq!(passwords["tags"], json!(["password", "reset"]));
    assert_eq!(passwords["category"], "account");
    let id = passwords["id"].as_str().unwrap().to_owned();
    let shipping = create(
        &app,
        &admin,
        json!({ "title": "Shipping", "body": "We ship fast. If you forgot your password, see the account pages." }),
    )
    .await;

    let found = search(&app, &admin, "q=password").await;
    assert_eq!(found["totalResults"], 2);
    assert_eq!(
        ids(&found),
        vec![id.as_str(), shipping["id"].as_str().unwrap()]
    );
    assert!(
        found["results"][0]["score"].as_f64().unwrap()
            > found["results"][1]["score"].as_f64().unwrap()
    );
    let filtered = search(&app, &admin, "q=password&category=account&tags=reset,other").await;
    assert_eq!(ids(&filtered), vec![id.as_str()]);

    let (status, updated) = app
        .call(
            Method::PUT,
            &format!("/api/v1/kb/articles/{id}"),
            &admin,
            Some(json!({ "title": "Two-factor login", "body": "Use your authenticator app." })),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["article"]["version"], 2);
    assert_eq!(updated["article"]["tags"], json!([]));
    assert_eq!(
        ids(&search(&app, &admin, "q=authenticator").await),
        vec![id.as_str()]
    );
    assert!(!ids(&search(&app, &admin, "q=password").await).contains(&id.as_str()));

    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/kb/articles/{id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        search(&app, &admin, "q=authenticator").await["totalResults"],
        0
    );
    let (status, gone) = app
        .get(&format!("/api/v1/kb/articles/{id}"), Some(&admin))
        .await
        .unwrap();
    assert_eq!(
        (status, gone["error"]["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/kb/articles/{id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, 404, "deleting twice");
    app.stop().await;
}

async fn only_admins_write_staff_list_and_customers_search(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = token("acme", "ada", "admin");
    let agent = token("acme", "bob", "agent");
    let customer = token("acme", "ana", "customer");
    let article = create(
        &app,
        &admin,
        json!({ "title": "Refunds", "body": "Refunds take five days." }),
    )
    .await;
    let id = article["id"].as_str().unwrap();
    let before = app.event_count().await;
    for bearer in [&agent, &customer] {
        let (status, body) = app
            .post(
                "/api/v1/kb/articles",
                bearer,
                json!({ "title": "T", "body": "B" }),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("FORBIDDEN"))
        );
        let (status, _) = app
            .call(
                Method::DELETE,
                &format!("/api/v1/kb/articles/{id}"),
                bearer,
                None,
            )
            .await;
        assert_eq!(status, 403);
    }
    assert_eq!(app.event_count().await, before);
    let (status, listed) = app.get("/api/v1/kb/articles", Some(&agent)).await.unwrap();
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["pagination"]["total"], 1);
    assert_eq!(listed["articles"][0]["id"], id);
    let (status, _) = app
        .get("/api/v1/kb/articles", Some(&customer))
        .await
        .unwrap();
    assert_eq!(status, 403, "customers search, they do not list");
    assert_eq!(ids(&search(&app, &customer, "q=refund").await), vec![id]);
    let (status, _) = app.get("/api/v1/kb/search?q=refund", None).await.unwrap();
    assert_eq!(status, 401);
    app.stop().await;
}

async fn bad_articles_are_refused_with_the_field_and_nothing_is_written(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = token("acme", "ada", "admin");
    let before = app.event_count().await;
    for (body, field) in [
        (json!({ "body": "no title" }), "title"),
        (json!({ "title": "   ", "body": "blank title" }), "title"),
        (
            json!({ "title": "x".repeat(201), "body": "long title" }),
            "title",
        ),
        (json!({ "title": "No body", "body": "" }), "body"),
        (
            json!({ "title": "T", "body": "B", "tags": ["x".repeat(41)] }),
            "tags",
        ),
        (
            json!({ "title": "T", "body": "B", "tags": "not a list" }),
            "sequence",
        ),
        (
            json!({ "title": "T", "body": "B", "surprise": 1 }),
            "surprise",
        ),
    ] {
        let (status, answer) = app.post("/api/v1/kb/articles", &admin, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "VALIDATION_ERROR");
        assert!(answer.to_string().contains(field), "{body}: {answer}");
    }
    for query in ["limit=0", "limit=51", "limit=abc"] {
        let (status, _) = app
            .get(&format!("/api/v1/kb/search?q=x&{query}"), Some(&admin))
            .await
            .unwrap();
        assert_eq!(status, 400, "{query}");
    }
    assert_eq!(app.event_count().await, before);
    app.stop().await;
}

async fn another_tenants_articles_are_not_found_nor_changed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = token("acme", "ada", "admin");
    let globex = token("globex", "gus", "admin");
    let article = create(
        &app,
        &acme,
        json!({ "title": "Secret plans", "body": "Acme's roadmap." }),
    )
    .await;
    let id = article["id"].as_str().unwrap();
    let (status, _) = app
        .get(&format!("/api/v1/kb/articles/{id}"), Some(&globex))
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/kb/articles/{id}"),
            &globex,
            Some(json!({ "title": "Mine now", "body": "Globex's." })),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(search(&app, &globex, "q=roadmap").await["totalResults"], 0);
    assert_eq!(search(&app, &acme, "q=roadmap").await["totalResults"], 1);
    app.stop().await;
}
