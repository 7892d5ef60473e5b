//! lvng calls end to end: join, transcription, leave, disconnect, and the
//! transcript over REST. A room named after nothing (like the seed's
//! `call_engineering_standup`) is a staff room; customers take part in the
//! calls of their conversations and channels (room = its id).

use e2e::{TestApp, TestClient, both_backends, join, token};
use serde_json::{Value, json};
use store::Backend;

both_backends!(
    joining_tells_the_caller_and_the_others_in_the_call,
    transcription_reaches_everyone_in_the_call_and_nobody_else,
    someone_not_in_the_call_may_not_send_transcription_and_nothing_is_recorded,
    leaving_and_disconnecting_tell_the_others_the_reason,
    after_the_last_leaves_the_transcript_is_readable_over_rest_in_order,
    customers_read_only_transcripts_of_calls_they_took_part_in,
    a_customer_who_joins_a_room_after_its_call_ended_reads_only_their_own_session,
    a_customer_may_join_only_the_call_of_a_conversation_they_take_part_in,
    a_conversation_opened_under_a_staff_rooms_name_does_not_let_its_customer_in,
    bad_call_payloads_are_validation_errors_and_change_nothing,
    analysts_may_not_join_a_call,
    a_graceful_shutdown_records_that_everyone_in_a_call_left,
);

async fn join_call(client: &mut TestClient, room: &str) -> Value {
    client.emit("call:join", json!({ "roomName": room })).await;
    client.expect("call:joined").await
}

async fn transcribe(client: &TestClient, room: &str, speaker: &str, text: &str) {
    let ack = client
        .emit_with_ack(
            "call:transcription",
            json!({
                "roomName": room,
                "segment": { "speaker": speaker, "text": text, "isFinal": true, "confidence": 0.97 },
            }),
        )
        .await;
    assert_eq!(ack["roomName"], room, "{ack}");
}

async fn joining_tells_the_caller_and_the_others_in_the_call(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "agent").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    let mut eve = app.client("acme", "eve", "agent").await;
    let joined = join_call(&mut ana, "call_engineering_standup").await;
    assert_eq!(joined["roomName"], "call_engineering_standup");
    assert!(joined["timestamp"].is_string());
    // With an ack callback the same answer comes back there too.
    let ack = bob
        .emit_with_ack(
            "call:join",
            json!({ "roomName": "call_engineering_standup" }),
        )
        .await;
    assert_eq!(ack["roomName"], "call_engineering_standup");
    assert!(ack["timestamp"].is_string());
    assert_eq!(
        bob.expect("call:joined").await["roomName"],
        "call_engineering_standup"
    );
    let heard = ana.expect("call:participant_joined").await;
    assert_eq!(heard["roomName"], "call_engineering_standup");
    assert_eq!(heard["userId"], "bob");
    assert_eq!(heard["userName"], "bob name");
    assert!(heard["timestamp"].is_string());
    // Not an echo of one's own join (Bob may hear of Ana's, when its push
    // was still on the way as he joined); nothing for sockets outside.
    let about_bob: Vec<Value> = bob
        .drain("call:participant_joined")
        .await
        .into_iter()
        .filter(|e| e["userId"] == "bob")
        .collect();
    assert!(about_bob.is_empty(), "{about_bob:?}");
    eve.expect_none("call:participant_joined").await;
    app.stop().await;
}

async fn transcription_reaches_everyone_in_the_call_and_nobody_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "agent").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    let mut eve = app.client("acme", "eve", "agent").await;
    // The same room name in another tenant is another call.
    let mut gus = app.client("globex", "gus", "agent").await;
    join_call(&mut ana, "standup").await;
    join_call(&mut bob, "standup").await;
    join_call(&mut eve, "other-room").await;
    join_call(&mut gus, "standup").await;
    ana.emit(
        "call:transcription",
        json!({
            "roomName": "standup",
            "segment": { "speaker": "Matty", "text": "Let us review the sprint backlog.", "isFinal": true, "confidence": 0.97 },
        }),
    )
    .await;
    let segment = bob.expect("transcription:segment").await;
    assert_eq!(segment["speaker"], "Matty");
    assert_eq!(segment["text"], "Let us review the sprint backlog.");
    assert_eq!(segment["isFinal"], true);
    assert_eq!(segment["confidence"], 0.97);
    assert_eq!(segment["roomName"], "standup");
    assert!(segment["timestamp"].is_string());
    // The sender's screen shows the transcript too.
    assert_eq!(
        ana.expect("transcription:segment").await["text"],
        "Let us review the sprint backlog."
    );
    // An interim segment without a confidence.
    bob.emit(
        "call:transcription",
        json!({ "roomName": "standup", "segment": { "speaker": "Bob", "text": "so the", "isFinal": false } }),
    )
    .await;
    let interim = ana
        .expect_where("transcription:segment", |s| s["speaker"] == "Bob")
        .await;
    assert_eq!(interim["isFinal"], false);
    assert_eq!(interim["confidence"], Value::Null);
    eve.expect_none("transcription:segment").await;
    gus.expect_none("transcription:segment").await;
    app.stop().await;
}

async fn someone_not_in_the_call_may_not_send_transcription_and_nothing_is_recorded(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "agent").await;
    let mut eve = app.client("acme", "eve", "agent").await;
    join_call(&mut ana, "standup").await;
    let before = app.event_count().await;
    for room in ["standup", "never-used"] {
        eve.emit(
            "call:transcription",
            json!({ "roomName": room, "segment": { "speaker": "Eve", "text": "psst", "isFinal": true } }),
        )
        .await;
        let error = eve.expect("error").await;
        assert_eq!(error["code"], "FORBIDDEN", "{error}");
    }
    assert_eq!(app.event_count().await, before);
    ana.expect_none("transcription:segment").await;
    // Someone who left is no longer a participant either.
    ana.emit_with_ack("call:leave", json!({ "roomName": "standup" }))
        .await;
    ana.emit(
        "call:transcription",
        json!({ "roomName": "standup", "segment": { "speaker": "Ana", "text": "late", "isFinal": true } }),
    )
    .await;
    assert_eq!(ana.expect("error").await["code"], "FORBIDDEN");
    app.stop().await;
}

async fn leaving_and_disconnecting_tell_the_others_the_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "agent").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    let mut cid = app.client("acme", "cid", "supervisor").await;
    let mut eve = app.client("acme", "eve", "agent").await;
    join_call(&mut ana, "standup").await;
    join_call(&mut bob, "standup").await;
    join_call(&mut cid, "standup").await;
    let ack = bob
        .emit_with_ack("call:leave", json!({ "roomName": "standup" }))
        .await;
    assert_eq!(ack["roomName"], "standup");
    let left = ana
        .expect_where("call:participant_left", |e| e["userId"] == "bob")
        .await;
    assert_eq!(left["reason"], "left");
    assert_eq!(left["roomName"], "standup");
    assert_eq!(left["userName"], "bob name");
    assert!(left["timestamp"].is_string());
    // Bob left the room: he hears the call no more.
    transcribe(&ana, "standup", "Ana", "after bob").await;
    bob.expect_none("transcription:segment").await;

    cid.disconnect().await;
    let gone = ana
        .expect_where("call:participant_left", |e| e["userId"] == "cid")
        .await;
    assert_eq!(gone["reason"], "disconnected");
    assert_eq!(gone["roomName"], "standup");
    eve.expect_none("call:participant_left").await;
    // Leaving a call one is not in changes nothing.
    let before = app.event_count().await;
    let ack = eve
        .emit_with_ack("call:leave", json!({ "roomName": "standup" }))
        .await;
    assert_eq!(ack["roomName"], "standup");
    assert_eq!(app.event_count().await, before);
    app.stop().await;
}

async fn after_the_last_leaves_the_transcript_is_readable_over_rest_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "agent").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join_call(&mut ana, "standup").await;
    join_call(&mut bob, "standup").await;
    transcribe(&ana, "standup", "Ana", "one").await;
    transcribe(&bob, "standup", "Bob", "two").await;
    transcribe(&ana, "standup", "Ana", "three").await;
    bob.emit_with_ack("call:leave", json!({ "roomName": "standup" }))
        .await;
    ana.disconnect().await;
    let agent = token("acme", "bob", "agent");
    let path = "/api/v1/calls/standup/transcript";
    // The disconnect is handled after the socket closes: wait for its end.
    let mut body = Value::Null;
    for _ in 0..100 {
        let (status, answer) = app.get(path, Some(&agent)).await.unwrap();
        assert_eq!(status, 200, "{answer}");
        body = answer;
        if body["sessions"][0]["status"] == "ended" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(body["roomName"], "standup");
    let session = &body["sessions"][0];
    assert_eq!(session["status"], "ended", "{body}");
    assert_eq!(session["session"], 1);
    assert!(session["startedAt"].is_string() && session["endedAt"].is_string());
    let texts: Vec<&str> = session["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
    let first = &session["segments"][0];
    assert_eq!(first["speaker"], "Ana");
    assert_eq!(first["isFinal"], true);
    assert_eq!(first["confidence"], 0.97);
    assert!(first["timestamp"].is_string());
    let reasons: Vec<(&str, &str)> = session["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["userId"].as_str().unwrap(),
                p["leaveReason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(reasons, [("ana", "disconnected"), ("bob", "left")]);

    // A new join starts the next session; the newest comes last.
    join_call(&mut bob, "standup").await;
    transcribe(&bob, "standup", "Bob", "again").await;
    let (_, body) = app.get(path, Some(&agent)).await.unwrap();
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[1]["session"], 2);
    assert_eq!(sessions[1]["status"], "active");
    assert_eq!(sessions[1]["segments"][0]["text"], "again");
    assert_eq!(sessions[0]["segments"].as_array().unwrap().len(), 3);

    // Another tenant does not see it; a room that never had a call is 404.
    let (status, error) = app
        .get(path, Some(&token("globex", "gus", "admin")))
        .await
        .unwrap();
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "NOT_FOUND");
    let (status, _) = app
        .get("/api/v1/calls/nobody-called/transcript", Some(&agent))
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (status, error) = app
        .get("/api/v1/calls/bad:name/transcript", Some(&agent))
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "VALIDATION_ERROR");
    let (status, error) = app.get(path, None).await.unwrap();
    assert_eq!(status, 401);
    assert_eq!(error["error"]["code"], "NO_AUTH");
    app.stop().await;
}

async fn customers_read_only_transcripts_of_calls_they_took_part_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    // Ana's conversation; its call is the room of the same name.
    join(&mut ana, "acme", "conv-ana").await;
    join_call(&mut ana, "conv-ana").await;
    transcribe(&ana, "conv-ana", "Ana", "hello").await;
    let path = "/api/v1/calls/conv-ana/transcript";
    let (status, body) = app
        .get(path, Some(&token("acme", "ana", "customer")))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sessions"][0]["segments"][0]["text"], "hello");
    let (status, body) = app
        .get(path, Some(&token("acme", "zoe", "customer")))
        .await
        .unwrap();
    assert_eq!(status, 404, "{body}");
    // Analysts read everything of their tenant.
    let (status, _) = app
        .get(path, Some(&token("acme", "ann", "analyst")))
        .await
        .unwrap();
    assert_eq!(status, 200);
    app.stop().await;
}

/// GET a transcript until its newest session is `status` (a leave by
/// disconnect is recorded after the socket closes).
async fn transcript_once(app: &TestApp, room: &str, bearer: &str, status: &str) -> Value {
    let path = format!("/api/v1/calls/{room}/transcript");
    let mut body = Value::Null;
    for _ in 0..100 {
        let (code, answer) = app.get(&path, Some(bearer)).await.unwrap();
        assert_eq!(code, 200, "{answer}");
        body = answer;
        let sessions = body["sessions"].as_array().unwrap();
        if sessions.last().is_some_and(|s| s["status"] == status) {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the newest session never became {status}: {body}");
}

async fn a_customer_who_joins_a_room_after_its_call_ended_reads_only_their_own_session(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    let mut zoe = app.client("acme", "zoe", "customer").await;
    // A channel's call: its members may take part, customers too.
    for client in [&mut ana, &mut bob, &mut zoe] {
        client
            .emit_with_ack("channel:join", json!({ "channelId": "general" }))
            .await;
    }
    join_call(&mut ana, "general").await;
    join_call(&mut bob, "general").await;
    transcribe(&ana, "general", "Ana", "my card number is 4242").await;
    ana.emit_with_ack("call:leave", json!({ "roomName": "general" }))
        .await;
    bob.emit_with_ack("call:leave", json!({ "roomName": "general" }))
        .await;
    // Zoe took no part in that call; she joins the room afterwards.
    join_call(&mut zoe, "general").await;
    transcribe(&zoe, "general", "Zoe", "hello?").await;

    let zoes = token("acme", "zoe", "customer");
    let body = transcript_once(&app, "general", &zoes, "active").await;
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{body}");
    assert_eq!(sessions[0]["session"], 2);
    assert_eq!(sessions[0]["segments"][0]["text"], "hello?");
    assert!(!body.to_string().contains("4242"), "{body}");
    // Ana reads her session only; staff read both.
    let anas = token("acme", "ana", "customer");
    let body = transcript_once(&app, "general", &anas, "ended").await;
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{body}");
    assert_eq!(sessions[0]["session"], 1);
    assert!(!body.to_string().contains("hello?"), "{body}");
    let staff = token("acme", "cid", "supervisor");
    let body = transcript_once(&app, "general", &staff, "active").await;
    assert_eq!(body["sessions"].as_array().unwrap().len(), 2, "{body}");
    app.stop().await;
}

async fn a_customer_may_join_only_the_call_of_a_conversation_they_take_part_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    let mut zoe = app.client("acme", "zoe", "customer").await;
    join(&mut ana, "acme", "conv-ana").await;
    join_call(&mut ana, "conv-ana").await;
    // Staff may join any call of their tenant.
    join_call(&mut bob, "conv-ana").await;
    transcribe(&bob, "conv-ana", "Bob", "your order ships today").await;
    let before = app.event_count().await;
    // Zoe is no participant of Ana's conversation, and a room named after
    // nothing is for staff: the same refusal, which tells her nothing.
    let mut refusals = Vec::new();
    for room in ["conv-ana", "call_engineering_standup", "never-used"] {
        zoe.emit("call:join", json!({ "roomName": room })).await;
        let error = zoe.expect("error").await;
        assert_eq!(error["code"], "FORBIDDEN", "{room}: {error}");
        refusals.push(error["message"].clone());
    }
    assert!(refusals.windows(2).all(|w| w[0] == w[1]), "{refusals:?}");
    zoe.expect_none("call:joined").await;
    zoe.expect_none("transcription:segment").await;
    assert_eq!(app.event_count().await, before);
    let (status, _) = app
        .get(
            "/api/v1/calls/conv-ana/transcript",
            Some(&token("acme", "zoe", "customer")),
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    app.stop().await;
}

async fn a_conversation_opened_under_a_staff_rooms_name_does_not_let_its_customer_in(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let mut bob = app.client("acme", "bob", "agent").await;
    let mut zoe = app.client("acme", "zoe", "customer").await;
    join_call(&mut bob, "standup").await;
    // Zoe opens a conversation whose id is the staff room's name.
    join(&mut zoe, "acme", "standup").await;
    zoe.emit("call:join", json!({ "roomName": "standup" }))
        .await;
    assert_eq!(zoe.expect("error").await["code"], "FORBIDDEN");
    transcribe(&bob, "standup", "Bob", "staff only").await;
    zoe.expect_none("transcription:segment").await;
    app.stop().await;
}

async fn bad_call_payloads_are_validation_errors_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "agent").await;
    join_call(&mut ana, "standup").await;
    let before = app.event_count().await;
    let segment = |s: Value| json!({ "roomName": "standup", "segment": s });
    let bad = [
        ("call:join", json!({})),
        ("call:join", json!({ "roomName": "a:b" })),
        ("call:join", json!({ "roomName": 5 })),
        ("call:join", json!({ "roomName": "x".repeat(129) })),
        ("call:leave", json!({ "roomName": "" })),
        ("call:transcription", json!({ "roomName": "standup" })),
        (
            "call:transcription",
            segment(json!({ "speaker": "A", "isFinal": true })),
        ),
        (
            "call:transcription",
            segment(json!({ "speaker": "A", "text": "", "isFinal": true })),
        ),
        (
            "call:transcription",
            segment(json!({ "speaker": "A", "text": "t".repeat(10_001), "isFinal": true })),
        ),
        (
            "call:transcription",
            segment(json!({ "speaker": "A", "text": "nul\u{0}", "isFinal": true })),
        ),
        (
            "call:transcription",
            segment(json!({ "speaker": "A", "text": "ok", "isFinal": "yes" })),
        ),
        (
            "call:transcription",
            segment(json!({ "speaker": "A", "text": "ok", "isFinal": true, "confidence": 1.5 })),
        ),
        (
            "call:transcription",
            segment(json!({ "speaker": "S".repeat(201), "text": "ok", "isFinal": true })),
        ),
    ];
    for (event, payload) in bad {
        ana.emit(event, payload.clone()).await;
        let error = ana.expect("error").await;
        assert_eq!(
            error["code"], "VALIDATION_ERROR",
            "{event} {payload}: {error}"
        );
    }
    assert_eq!(app.event_count().await, before);
    ana.expect_none("transcription:segment").await;
    app.stop().await;
}

async fn analysts_may_not_join_a_call(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ann = app.client("acme", "ann", "analyst").await;
    let mut svc = app.client("acme", "runtime", "service").await;
    // Connecting records presence; the refused joins record nothing.
    let before = app.event_count().await;
    for client in [&mut ann, &mut svc] {
        client
            .emit("call:join", json!({ "roomName": "standup" }))
            .await;
        assert_eq!(client.expect("error").await["code"], "FORBIDDEN");
        client.expect_none("call:joined").await;
    }
    assert_eq!(app.event_count().await, before);
    app.stop().await;
}

async fn a_graceful_shutdown_records_that_everyone_in_a_call_left(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = app.db.clone();
    let mut ana = app.client("acme", "ana", "agent").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join_call(&mut ana, "standup").await;
    join_call(&mut bob, "standup").await;
    app.stop().await;
    // Shutdown waited for the disconnect clean-up: the next run sees the
    // call ended, not two participants stuck in it.
    let app = TestApp::spawn_on(db).await;
    let (status, body) = app
        .get(
            "/api/v1/calls/standup/transcript",
            Some(&token("acme", "bob", "agent")),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let session = &body["sessions"][0];
    assert_eq!(session["status"], "ended", "{body}");
    for participant in session["participants"].as_array().unwrap() {
        assert_eq!(participant["leaveReason"], "disconnected", "{body}");
    }
    app.stop().await;
}
