//! Support consoles end to end: the queue, claiming, ending and escalating
//! over REST, auto-assignment to connected agents, the idle timeout,
//! metrics, settings, and the conversation list's support filters, on both
//! stores. Conversations are opened with lvng `conversation:join` and
//! `message:send` and escalated over REST.

use e2e::{PATIENCE, QUIET, TestApp, both_backends, join, send, token};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use store::testing::TestDatabase;
use store::{Backend, Db};

both_backends!(
    two_agents_claiming_one_queued_conversation_at_once_get_one_200_and_one_409,
    auto_assignment_gives_each_connected_agent_one_and_leaves_the_third_queued,
    an_idle_conversation_ends_with_reason_timeout_and_activity_postpones_it,
    metrics_show_queue_and_handle_time_after_escalate_claim_and_end,
    another_tenants_staff_get_404_and_the_wrong_roles_get_403,
    the_conversation_list_carries_the_support_fields_and_filters,
);

async fn post(app: &TestApp, path: &str, bearer: &str, body: Option<Value>) -> (u16, Value) {
    app.call(reqwest::Method::POST, path, bearer, body).await
}

async fn get(app: &TestApp, path: &str, bearer: &str) -> (u16, Value) {
    let (status, body) = app.get(path, Some(bearer)).await.expect("an HTTP answer");
    (status, body)
}

/// `customer` opens `conversation` in acme, says something, and asks for a
/// human over REST; the answer is the queued conversation.
async fn queued(app: &TestApp, customer: &str, conversation: &str) -> Value {
    let mut client = app.client("acme", customer, "customer").await;
    join(&mut client, "acme", conversation).await;
    send(&mut client, "acme", conversation, "I need a human").await;
    let (status, body) = post(
        app,
        &format!("/api/v1/conversations/{conversation}/escalate"),
        &token("acme", customer, "customer"),
        Some(json!({ "reason": "the bot does not get it" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "queued");
    client.disconnect().await;
    body
}

/// Ask until `check` holds for the answer to `GET path`, or fail after a
/// while.
async fn eventually(
    app: &TestApp,
    path: &str,
    bearer: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (status, body) = get(app, path, bearer).await;
        assert_eq!(status, 200, "{body}");
        if check(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "GET {path} never satisfied the check; last answer {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn list(body: &Value, key: &str) -> Vec<Value> {
    body[key].as_array().cloned().unwrap_or_default()
}

async fn count_events(app: &TestApp, event_type: &str, stream: &str) -> i64 {
    let db = Db::connect(app.db.url()).await.unwrap();
    let n =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE event_type = $1 AND stream_id = $2")
            .bind(event_type)
            .bind(stream)
            .fetch_one(db.pool())
            .await
            .unwrap();
    db.close().await;
    n
}

async fn two_agents_claiming_one_queued_conversation_at_once_get_one_200_and_one_409(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    queued(&app, "ana", "c1").await;
    let (bob, cyd) = (token("acme", "bob", "agent"), token("acme", "cyd", "agent"));
    let (status, body) = get(&app, "/api/v1/queue", &bob).await;
    assert_eq!(status, 200, "{body}");
    let queue = list(&body, "queue");
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0]["conversationId"], "c1");
    assert_eq!(queue[0]["userId"], "ana");
    assert_eq!(queue[0]["status"], "queued");
    assert_eq!(queue[0]["position"], 1);
    assert_eq!(queue[0]["estimatedWait"], 300);
    assert!(queue[0]["queuedAt"].is_string());

    let ((bob_status, bob_body), (cyd_status, cyd_body)) = tokio::join!(
        post(&app, "/api/v1/conversations/c1/claim", &bob, None),
        post(&app, "/api/v1/conversations/c1/claim", &cyd, None),
    );
    let mut statuses = [bob_status, cyd_status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{bob_body} {cyd_body}");
    let (winner, won, lost) = if bob_status == 200 {
        ("bob", bob_body, cyd_body)
    } else {
        ("cyd", cyd_body, bob_body)
    };
    assert_eq!(lost["error"]["code"], "INVALID_STATE");
    assert_eq!(won["status"], "agent");
    assert_eq!(won["assignedAgentId"], winner);
    assert_eq!(won["conversationId"], "c1");
    assert!(won["timestamps"]["agentAssignedAt"].is_string());
    assert!(won.get("messages").is_none());
    assert_eq!(
        count_events(&app, "AgentAssigned", "conversation/acme/c1").await,
        1
    );
    let (_, body) = get(&app, "/api/v1/queue", &bob).await;
    assert!(list(&body, "queue").is_empty());
    // Claiming one's own conversation again changes nothing.
    let (status, _) = post(
        &app,
        "/api/v1/conversations/c1/claim",
        &token("acme", winner, "agent"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        count_events(&app, "AgentAssigned", "conversation/acme/c1").await,
        1
    );
    app.stop().await;
}

async fn auto_assignment_gives_each_connected_agent_one_and_leaves_the_third_queued(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let admin = token("acme", "ada", "admin");
    let (status, body) = get(&app, "/api/v1/settings/assignment", &admin).await;
    assert_eq!(
        (status, &body),
        (200, &json!({ "autoAssign": false, "maxConcurrent": 5 }))
    );
    // Only admins change it, within 1 to 50.
    let agent = token("acme", "bob", "agent");
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/settings/assignment",
            &agent,
            Some(json!({ "autoAssign": true })),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("FORBIDDEN"))
    );
    for bad in [
        json!({ "autoAssign": true, "maxConcurrent": 0 }),
        json!({ "maxConcurrent": 2 }),
        json!({ "autoAssign": "yes" }),
    ] {
        let (status, body) = app
            .call(
                reqwest::Method::PUT,
                "/api/v1/settings/assignment",
                &admin,
                Some(bad.clone()),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{bad}"
        );
    }
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/settings/assignment",
            &admin,
            Some(json!({ "autoAssign": true, "maxConcurrent": 1 })),
        )
        .await;
    assert_eq!(
        (status, &body),
        (200, &json!({ "autoAssign": true, "maxConcurrent": 1 }))
    );
    let (_, body) = get(&app, "/api/v1/settings/assignment", &agent).await;
    assert_eq!(body, json!({ "autoAssign": true, "maxConcurrent": 1 }));

    let bob = app.client("acme", "bob", "agent").await;
    let cyd = app.client("acme", "cyd", "agent").await;
    for (customer, conversation) in [("ana", "c1"), ("dan", "c2"), ("eli", "c3")] {
        queued(&app, customer, conversation).await;
    }
    let handled = eventually(&app, "/api/v1/conversations?status=agent", &agent, |b| {
        list(b, "conversations").len() == 2
    })
    .await;
    let mut agents: Vec<String> = list(&handled, "conversations")
        .iter()
        .map(|c| c["assignedAgentId"].as_str().unwrap().to_owned())
        .collect();
    agents.sort();
    assert_eq!(agents, ["bob", "cyd"], "one each: the limit is 1");
    // Nobody has room for the third: it stays in line.
    tokio::time::sleep(QUIET).await;
    let (_, body) = get(&app, "/api/v1/queue", &agent).await;
    let queue = list(&body, "queue");
    assert_eq!(queue.len(), 1, "{body}");
    assert_eq!(queue[0]["conversationId"], "c3");
    assert_eq!(queue[0]["position"], 1);

    // bob finishes his: the third goes to him.
    let bobs = list(&handled, "conversations")
        .into_iter()
        .find(|c| c["assignedAgentId"] == "bob")
        .unwrap();
    let id = bobs["conversationId"].as_str().unwrap();
    let (status, body) = post(
        &app,
        &format!("/api/v1/conversations/{id}/end"),
        &agent,
        Some(json!({ "reason": "resolved" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["endReason"], "resolved");
    let c3 = eventually(&app, "/api/v1/conversations?status=agent", &agent, |b| {
        list(b, "conversations")
            .iter()
            .any(|c| c["conversationId"] == "c3")
    })
    .await;
    let c3 = list(&c3, "conversations")
        .into_iter()
        .find(|c| c["conversationId"] == "c3")
        .unwrap();
    assert_eq!(c3["assignedAgentId"], "bob");
    bob.disconnect().await;
    cyd.disconnect().await;
    app.stop().await;
}

async fn an_idle_conversation_ends_with_reason_timeout_and_activity_postpones_it(backend: Backend) {
    let db = Arc::new(TestDatabase::new(backend).await);
    let app = TestApp::spawn_with(db, |config| config.idle_timeout_secs = 2).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "busy").await;
    join(&mut ana, "acme", "quiet").await;
    let agent = token("acme", "bob", "agent");
    // Speaking every 0.7 s keeps `busy` going well past the timeout…
    for n in 0..6 {
        send(&mut ana, "acme", "busy", &format!("still here {n}")).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let (_, body) = get(&app, "/api/v1/conversations?status=ended", &agent).await;
    let ended: Vec<Value> = list(&body, "conversations");
    assert_eq!(ended.len(), 1, "only the quiet one has ended: {body}");
    assert_eq!(ended[0]["conversationId"], "quiet");
    assert_eq!(ended[0]["endReason"], "timeout");
    // …and once it falls silent, it ends too, no sooner than the timeout.
    let (_, before) = get(&app, "/api/v1/conversations?status=active", &agent).await;
    let last = list(&before, "conversations")[0]["timestamps"]["lastActivity"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = eventually(&app, "/api/v1/conversations?status=ended", &agent, |b| {
        list(b, "conversations").len() == 2
    })
    .await;
    let busy = list(&body, "conversations")
        .into_iter()
        .find(|c| c["conversationId"] == "busy")
        .unwrap();
    assert_eq!(busy["endReason"], "timeout");
    let ended_at =
        chrono::DateTime::parse_from_rfc3339(busy["timestamps"]["endedAt"].as_str().unwrap())
            .unwrap();
    let last = chrono::DateTime::parse_from_rfc3339(&last).unwrap();
    assert!(
        ended_at - last >= chrono::Duration::seconds(2),
        "{last} → {ended_at}"
    );
    ana.disconnect().await;
    app.stop().await;
}

async fn metrics_show_queue_and_handle_time_after_escalate_claim_and_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let bob_token = token("acme", "bob", "agent");
    queued(&app, "ana", "c1").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = post(&app, "/api/v1/conversations/c1/claim", &bob_token, None).await;
    assert_eq!(status, 200);
    let mut bob = app.client("acme", "bob", "agent").await;
    join(&mut bob, "acme", "c1").await;
    send(&mut bob, "acme", "c1", "hello, I am Bob").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = post(&app, "/api/v1/conversations/c1/end", &bob_token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ended");
    assert_eq!(body["endReason"], "agent_ended");
    assert!(body["metrics"]["queueTimeSeconds"].as_i64().unwrap() >= 1);
    assert!(body["metrics"]["handleTimeSeconds"].as_i64().unwrap() >= 1);
    // Ending twice is refused.
    let (status, again) = post(&app, "/api/v1/conversations/c1/end", &bob_token, None).await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("INVALID_STATE"))
    );

    let analyst = token("acme", "ann", "analyst");
    let (status, m) = get(&app, "/api/v1/metrics", &analyst).await;
    assert_eq!(status, 200, "{m}");
    let overall = &m["overall"];
    assert_eq!(overall["conversations"], 1);
    assert_eq!(overall["ended"], 1);
    assert_eq!(overall["queued"], 1);
    assert_eq!(
        (
            overall["messages"].as_u64(),
            overall["agentMessages"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert!(
        overall["queueTime"]["median"].as_f64().unwrap() >= 1.0,
        "{m}"
    );
    assert!(overall["queueTime"]["p90"].as_f64().unwrap() >= 1.0, "{m}");
    assert!(
        overall["handleTime"]["median"].as_f64().unwrap() >= 1.0,
        "{m}"
    );
    assert!(
        overall["firstResponseTime"]["median"].as_f64().unwrap() >= 1.0,
        "{m}"
    );
    assert_eq!(overall["csat"], Value::Null);
    assert_eq!(m["perAgent"][0]["agentId"], "bob");
    assert_eq!(m["perAgent"][0]["conversations"], 1);
    assert_eq!(
        m["perDay"][0]["date"],
        chrono::Utc::now().date_naive().to_string()
    );
    // A period without conversations.
    let (_, empty) = get(
        &app,
        "/api/v1/metrics?from=2000-01-01&to=2000-01-02",
        &analyst,
    )
    .await;
    assert_eq!(empty["overall"]["conversations"], 0);
    assert_eq!(empty["overall"]["queueTime"]["median"], Value::Null);
    let (status, body) = get(&app, "/api/v1/metrics?from=yesterday", &analyst).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    // Customers do not read metrics.
    let (status, body) = get(&app, "/api/v1/metrics", &token("acme", "ana", "customer")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("FORBIDDEN"))
    );
    bob.disconnect().await;
    app.stop().await;
}

async fn another_tenants_staff_get_404_and_the_wrong_roles_get_403(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    queued(&app, "ana", "c1").await;
    let foreign = token("globex", "gus", "admin");
    for action in ["claim", "end", "escalate"] {
        let (status, body) = post(
            &app,
            &format!("/api/v1/conversations/c1/{action}"),
            &foreign,
            None,
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("NOT_FOUND")),
            "{action}: {body}"
        );
    }
    let (_, body) = get(&app, "/api/v1/queue", &foreign).await;
    assert!(list(&body, "queue").is_empty(), "{body}");
    let (_, body) = get(&app, "/api/v1/metrics", &foreign).await;
    assert_eq!(body["overall"]["conversations"], 0);
    let (_, body) = get(&app, "/api/v1/conversations?status=queued", &foreign).await;
    assert_eq!(body["pagination"]["total"], 0);

    // Customers and analysts do not claim, end or read the queue.
    for role in ["customer", "analyst"] {
        let who = token("acme", "someone", role);
        for action in ["claim", "end"] {
            let (status, body) = post(
                &app,
                &format!("/api/v1/conversations/c1/{action}"),
                &who,
                None,
            )
            .await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (403, Some("FORBIDDEN")),
                "{role} {action}"
            );
        }
        let (status, _) = get(&app, "/api/v1/queue", &who).await;
        assert_eq!(status, 403);
    }
    // A customer escalates only conversations they take part in.
    let (status, body) = post(
        &app,
        "/api/v1/conversations/c1/escalate",
        &token("acme", "cid", "customer"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("FORBIDDEN")),
        "{body}"
    );
    // Unknown and malformed ids, and unknown reasons.
    let bob = token("acme", "bob", "agent");
    let (status, _) = post(&app, "/api/v1/conversations/nope/claim", &bob, None).await;
    assert_eq!(status, 404);
    let (status, body) = post(&app, "/api/v1/conversations/a:b/claim", &bob, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    let (status, body) = post(
        &app,
        "/api/v1/conversations/c1/end",
        &bob,
        Some(json!({ "reason": "timeout" })),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    let (status, body) = post(
        &app,
        "/api/v1/conversations/c1/end",
        &bob,
        Some(json!({ "reason": 3 })),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    // Nothing of that changed anything: still queued, nobody assigned.
    assert_eq!(
        count_events(&app, "AgentAssigned", "conversation/acme/c1").await,
        0
    );
    assert_eq!(
        count_events(&app, "ConversationEnded", "conversation/acme/c1").await,
        0
    );
    let (_, body) = get(&app, "/api/v1/queue", &bob).await;
    assert_eq!(list(&body, "queue").len(), 1);
    app.stop().await;
}

async fn the_conversation_list_carries_the_support_fields_and_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    queued(&app, "ana", "c1").await;
    let mut dan = app.client("acme", "dan", "customer").await;
    join(&mut dan, "acme", "c2").await;
    send(&mut dan, "acme", "c2", "hello").await;
    let bob = token("acme", "bob", "agent");

    // Today's list, with the support fields.
    let (status, body) = get(&app, "/api/v1/conversations", &bob).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["pagination"]["total"], 2);
    let c2 = &body["conversations"][0];
    assert_eq!(c2["conversationId"], "c2");
    assert_eq!(c2["participants"][0]["userId"], "dan");
    assert_eq!(c2["unreadCount"], 1);
    assert_eq!(c2["status"], "active");
    assert_eq!(c2["userId"], "dan");
    assert_eq!(c2["metrics"]["messageCount"], 1);
    assert!(c2["timestamps"]["created"].is_string());
    assert_eq!(c2["timestamps"]["queuedAt"], Value::Null);
    let c1 = &body["conversations"][1];
    assert_eq!(c1["status"], "queued");
    assert!(c1["timestamps"]["queuedAt"].is_string());

    // The support filters.
    let (_, body) = get(&app, "/api/v1/conversations?status=queued", &bob).await;
    let ids: Vec<Value> = list(&body, "conversations")
        .iter()
        .map(|c| c["conversationId"].clone())
        .collect();
    assert_eq!(ids, [json!("c1")]);
    assert_eq!(
        body["pagination"],
        json!({ "page": 1, "limit": 20, "total": 1, "totalPages": 1 })
    );
    assert_eq!(body["conversations"][0]["participants"][0]["userId"], "ana");
    assert_eq!(body["conversations"][0]["unreadCount"], 1);
    let today = chrono::Utc::now().date_naive();
    let (_, body) = get(
        &app,
        &format!("/api/v1/conversations?startDate={today}&endDate={today}&limit=1&page=2"),
        &bob,
    )
    .await;
    assert_eq!(body["pagination"]["total"], 2);
    assert_eq!(body["pagination"]["totalPages"], 2);
    assert_eq!(
        body["conversations"][0]["conversationId"], "c1",
        "newest first"
    );
    let (_, body) = get(
        &app,
        "/api/v1/conversations?startDate=2000-01-01&endDate=2000-01-31",
        &bob,
    )
    .await;
    assert_eq!(body["pagination"]["total"], 0);
    let (_, body) = get(&app, "/api/v1/conversations?agentId=bob", &bob).await;
    assert_eq!(body["pagination"]["total"], 0);
    // A customer sees only their own.
    let (_, body) = get(
        &app,
        "/api/v1/conversations?status=active",
        &token("acme", "ana", "customer"),
    )
    .await;
    assert_eq!(body["pagination"]["total"], 0);
    let (_, body) = get(
        &app,
        "/api/v1/conversations?status=active",
        &token("acme", "dan", "customer"),
    )
    .await;
    assert_eq!(body["pagination"]["total"], 1);
    // Bad filters are refused.
    for bad in [
        "status=open",
        "startDate=soon",
        "kind=channel&status=queued",
        "agentId=%20x%20y",
    ] {
        let (status, body) = get(&app, &format!("/api/v1/conversations?{bad}"), &bob).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{bad}"
        );
    }
    dan.disconnect().await;
    app.stop().await;
}
