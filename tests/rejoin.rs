//! `conversation:rejoin`: a client that drops gets exactly what it missed,
//! however long it was gone, across restarts and crashes.

use e2e::{TestApp, TestClient, both_backends, join, send};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use store::Backend;

both_backends!(
    a_client_that_drops_gets_exactly_the_messages_it_missed_in_order,
    more_than_a_page_missed_comes_in_pages_that_say_there_is_more,
    a_rejoin_without_a_cursor_returns_the_latest_page,
    a_rejoin_by_timestamp_returns_the_messages_after_it,
    a_rejoin_sees_a_message_acknowledged_just_before_it,
    after_rejoining_the_client_hears_new_messages_live,
    a_resend_with_the_same_optimistic_id_is_stored_once_and_acked_with_the_same_id,
    nothing_acknowledged_is_lost_across_a_restart,
    nothing_acknowledged_is_lost_when_the_server_crashes_under_load,
);

fn ids(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn rejoin(client: &mut TestClient, request: Value) -> Value {
    client.emit("conversation:rejoin", request).await;
    client.expect("conversation:rejoined").await
}

async fn a_client_that_drops_gets_exactly_the_messages_it_missed_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join(&mut ana, "acme", "conv-1").await;
    join(&mut bob, "acme", "conv-1").await;
    send(&mut ana, "acme", "conv-1", "seen").await;
    let last_seen = bob.expect("message:new").await;
    bob.disconnect().await;

    let mut missed = Vec::new();
    for n in 0..7 {
        missed.push(send(&mut ana, "acme", "conv-1", &format!("missed {n}")).await["id"].clone());
    }

    let mut bob = app.client("acme", "bob", "agent").await;
    let rejoined = rejoin(
        &mut bob,
        json!({
            "conversationId": "conv-1",
            "customerId": "acme",
            "lastMessageId": last_seen["id"],
            "lastMessageTimestamp": last_seen["createdAt"],
        }),
    )
    .await;
    assert_eq!(rejoined["conversationId"], "conv-1");
    assert_eq!(rejoined["customerId"], "acme");
    assert!(rejoined["timestamp"].is_string());
    let got = rejoined["missed_messages"].as_array().unwrap();
    assert_eq!(
        ids(got),
        missed
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    );
    let contents: Vec<&str> = got.iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(
        contents,
        (0..7).map(|n| format!("missed {n}")).collect::<Vec<_>>()
    );
    // Each in the message:new shape.
    for field in [
        "id",
        "channelId",
        "conversationId",
        "userId",
        "userName",
        "content",
        "createdAt",
        "metadata",
    ] {
        assert!(got[0].get(field).is_some(), "missed message lacks {field}");
    }
    assert_eq!(rejoined["hasMore"], false);
    app.stop().await;
}

async fn more_than_a_page_missed_comes_in_pages_that_say_there_is_more(backend: Backend) {
    let db = Arc::new(store::testing::TestDatabase::new(backend).await);
    let app = TestApp::spawn_with(db, |config| config.rejoin_page_size = 10).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "conv-1").await;
    let first = send(&mut ana, "acme", "conv-1", "m0").await;
    let mut expected = Vec::new();
    for n in 1..=25 {
        expected.push(
            send(&mut ana, "acme", "conv-1", &format!("m{n}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut bob = app.client("acme", "bob", "agent").await;
    let mut cursor = first["id"].clone();
    let mut got = Vec::new();
    let mut pages = 0;
    loop {
        let page = rejoin(
            &mut bob,
            json!({ "conversationId": "conv-1", "customerId": "acme", "lastMessageId": cursor }),
        )
        .await;
        pages += 1;
        let messages = page["missed_messages"].as_array().unwrap();
        assert!(
            messages.len() <= 10,
            "a page of {} messages",
            messages.len()
        );
        got.extend(ids(messages));
        if page["hasMore"] == false {
            assert!(page["nextCursor"].is_null());
            break;
        }
        assert_eq!(page["nextCursor"], messages.last().unwrap()["id"]);
        cursor = page["nextCursor"].clone();
    }
    assert_eq!(got, expected);
    assert_eq!(pages, 3);
    // A client may ask for a smaller page.
    let small = rejoin(
        &mut bob,
        json!({ "conversationId": "conv-1", "customerId": "acme", "lastMessageId": first["id"], "limit": 4 }),
    )
    .await;
    assert_eq!(
        ids(small["missed_messages"].as_array().unwrap()),
        expected[..4]
    );
    assert_eq!(small["hasMore"], true);
    app.stop().await;
}

async fn a_rejoin_without_a_cursor_returns_the_latest_page(backend: Backend) {
    let db = Arc::new(store::testing::TestDatabase::new(backend).await);
    let app = TestApp::spawn_with(db, |config| config.rejoin_page_size = 5).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "conv-1").await;
    let mut all = Vec::new();
    for n in 0..8 {
        all.push(
            send(&mut ana, "acme", "conv-1", &format!("m{n}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let latest = rejoin(
        &mut ana,
        json!({ "conversationId": "conv-1", "customerId": "acme" }),
    )
    .await;
    assert_eq!(ids(latest["missed_messages"].as_array().unwrap()), all[3..]);
    assert_eq!(latest["hasMore"], false);
    assert_eq!(latest["hasOlder"], true);
    app.stop().await;
}

async fn a_rejoin_by_timestamp_returns_the_messages_after_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "conv-1").await;
    send(&mut ana, "acme", "conv-1", "old").await;
    let old = ana.expect("message:new").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let newer = send(&mut ana, "acme", "conv-1", "new").await;
    let rejoined = rejoin(
        &mut ana,
        json!({ "conversationId": "conv-1", "customerId": "acme", "lastMessageTimestamp": old["createdAt"] }),
    )
    .await;
    assert_eq!(
        ids(rejoined["missed_messages"].as_array().unwrap()),
        [newer["id"].as_str().unwrap()]
    );
    app.stop().await;
}

async fn a_rejoin_sees_a_message_acknowledged_just_before_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    join(&mut ana, "acme", "conv-1").await;
    let first = send(&mut ana, "acme", "conv-1", "first").await;
    for n in 0..20 {
        let sent = send(&mut ana, "acme", "conv-1", &format!("then {n}")).await;
        // Straight after the ack: the read must already include it.
        let rejoined = rejoin(
            &mut bob,
            json!({ "conversationId": "conv-1", "customerId": "acme", "lastMessageId": first["id"], "limit": 500 }),
        )
        .await;
        let got = ids(rejoined["missed_messages"].as_array().unwrap());
        assert_eq!(
            got.last().map(String::as_str),
            sent["id"].as_str(),
            "round {n}"
        );
    }
    app.stop().await;
}

async fn after_rejoining_the_client_hears_new_messages_live(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "conv-1").await;
    let seen = send(&mut ana, "acme", "conv-1", "hello").await;
    let mut bob = app.client("acme", "bob", "agent").await;
    // No conversation:join: rejoining puts the socket back in the room.
    rejoin(
        &mut bob,
        json!({ "conversationId": "conv-1", "customerId": "acme", "lastMessageId": seen["id"] }),
    )
    .await;
    let live = send(&mut ana, "acme", "conv-1", "are you there?").await;
    // (An earlier message may arrive too, if its push was still on the way
    // when the socket rejoined: clients de-duplicate by id.)
    let heard = bob
        .expect_where("message:new", |m| m["id"] == live["id"])
        .await;
    assert_eq!(heard["content"], "are you there?");
    app.stop().await;
}

async fn a_resend_with_the_same_optimistic_id_is_stored_once_and_acked_with_the_same_id(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "conv-1").await;
    let message = json!({
        "conversationId": "conv-1", "customerId": "acme",
        "content": "sent twice", "optimisticId": "tmp_resend_1"
    });
    ana.emit("message:send", message.clone()).await;
    let first = ana.expect("message:sent").await;
    let count = app.event_count().await;
    // The client lost the ack, reconnects, and sends again.
    ana.disconnect().await;
    let mut ana = app.client("acme", "ana", "customer").await;
    ana.emit("message:send", message.clone()).await;
    let second = ana.expect("message:sent").await;
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["optimisticId"], "tmp_resend_1");
    assert_eq!(app.event_count().await, count);
    // Even resent concurrently from two sockets.
    let twin = app.client("acme", "ana", "customer").await;
    let (a, b) = tokio::join!(
        ana.emit("message:send", message.clone()),
        twin.emit("message:send", message)
    );
    let _ = (a, b);
    assert_eq!(ana.expect("message:sent").await["id"], first["id"]);
    assert_eq!(app.event_count().await, count);
    let rejoined = rejoin(
        &mut ana,
        json!({ "conversationId": "conv-1", "customerId": "acme" }),
    )
    .await;
    let got = rejoined["missed_messages"].as_array().unwrap();
    assert_eq!(
        got.iter().filter(|m| m["content"] == "sent twice").count(),
        1
    );
    app.stop().await;
}

async fn nothing_acknowledged_is_lost_across_a_restart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = app.db.clone();
    let mut ana = app.client("acme", "ana", "customer").await;
    join(&mut ana, "acme", "conv-1").await;
    let first = send(&mut ana, "acme", "conv-1", "before").await;
    let mut acked = Vec::new();
    for n in 0..10 {
        acked.push(
            send(&mut ana, "acme", "conv-1", &format!("acked {n}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    ana.disconnect().await;
    app.stop().await;

    let app = TestApp::spawn_on(db).await;
    let mut ana = app.client("acme", "ana", "customer").await;
    let rejoined = rejoin(
        &mut ana,
        json!({ "conversationId": "conv-1", "customerId": "acme", "lastMessageId": first["id"] }),
    )
    .await;
    assert_eq!(ids(rejoined["missed_messages"].as_array().unwrap()), acked);
    // And the conversation carries on where it was.
    let after = send(&mut ana, "acme", "conv-1", "after the restart").await;
    assert!(after["id"].is_string());
    app.stop().await;
}

async fn nothing_acknowledged_is_lost_when_the_server_crashes_under_load(backend: Backend) {
    const SENDERS: usize = 4;
    const PER_SENDER: usize = 60;
    let app = TestApp::spawn(backend).await;
    let db = app.db.clone();
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let mut client = app.client("acme", &format!("user-{s}"), "agent").await;
        join(&mut client, "acme", "conv-load").await;
        senders.push(client);
    }
    // Every sender fires all its messages without waiting, then collects
    // acks; the server is killed while acks are still coming in.
    for (s, client) in senders.iter().enumerate() {
        for n in 0..PER_SENDER {
            client
                .emit(
                    "message:send",
                    json!({
                        "conversationId": "conv-load", "customerId": "acme",
                        "content": format!("{s}-{n}"), "optimisticId": format!("opt-{s}-{n}")
                    }),
                )
                .await;
        }
    }
    let mut acked = HashSet::new();
    for client in senders.iter_mut() {
        for _ in 0..PER_SENDER / 3 {
            let ack = client.expect("message:sent").await;
            acked.insert(ack["id"].as_str().unwrap().to_owned());
        }
    }
    app.crash().await;
    // Acks that were already on the wire still count: collect them too.
    for client in senders.iter_mut() {
        for ack in client.drain("message:sent").await {
            acked.insert(ack["id"].as_str().unwrap().to_owned());
        }
    }

    let app = TestApp::spawn_on(db).await;
    let mut reader = app.client("acme", "auditor-ish", "agent").await;
    let mut stored = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let mut request =
            json!({ "conversationId": "conv-load", "customerId": "acme", "limit": 500 });
        if !cursor.is_null() {
            request["lastMessageId"] = cursor.clone();
        } else {
            request["lastMessageTimestamp"] = json!("2000-01-01T00:00:00Z");
        }
        let page = rejoin(&mut reader, request).await;
        stored.extend(ids(page["missed_messages"].as_array().unwrap()));
        if page["hasMore"] == false {
            break;
        }
        cursor = page["nextCursor"].clone();
    }
    let stored_set: HashSet<String> = stored.iter().cloned().collect();
    assert_eq!(stored_set.len(), stored.len(), "a message was stored twice");
    let lost: Vec<_> = acked.difference(&stored_set).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged messages lost: {lost:?}",
        lost.len()
    );
    assert!(acked.len() >= SENDERS * PER_SENDER / 3);

    // Clients resend what they never saw acknowledged: each is stored once.
    let mut resender = app.client("acme", "user-0", "agent").await;
    for n in 0..PER_SENDER {
        resender
            .emit(
                "message:send",
                json!({
                    "conversationId": "conv-load", "customerId": "acme",
                    "content": format!("0-{n}"), "optimisticId": format!("opt-0-{n}")
                }),
            )
            .await;
        resender.expect("message:sent").await;
    }
    let everything = rejoin(
        &mut reader,
        json!({ "conversationId": "conv-load", "customerId": "acme", "limit": 500, "lastMessageTimestamp": "2000-01-01T00:00Z" }),
    )
    .await;
    let from_sender_0 = everything["missed_messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["userId"] == "user-0")
        .count();
    assert_eq!(from_sender_0, PER_SENDER);
    app.stop().await;
}
