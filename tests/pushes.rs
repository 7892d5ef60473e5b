//! Every event the server sends in a scripted session of each wire dialect
//! (lvng, buddy, chatbot, helpdesk, stream), compared with the recording in
//! `golden/pushes.json`: the proof that a refactor changed no payload.
//!
//! Each dialect has a gateway of its own and several clients, each of which
//! records everything it hears (events and pushes, not acks). Steps are
//! sequential, and each waits for what it causes (its reply, and its push
//! at every client that should hear it) before the next changes who is in
//! which room: what each client hears is then the same on every run. The
//! order across projections is not, so each client's events are compared
//! as a sorted list (a stream connection's in their order: it writes them
//! in turn). Both stores must match the same recording.
//!
//! `PARLEY_BLESS=1 cargo test -p e2e --test pushes` records it anew.

use e2e::{PATIENCE, QUIET, TestApp, TestClient, both_backends, token};
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use store::Backend;
use store::testing::TestDatabase;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

both_backends!(every_push_of_a_scripted_session_matches_the_recorded_wire);

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/golden/pushes.json");
const TENANT: &str = "acme";

async fn every_push_of_a_scripted_session_matches_the_recorded_wire(backend: Backend) {
    let mut heard = Recording::new();
    heard.extend(lvng(backend).await);
    heard.extend(buddy(backend).await);
    heard.extend(chatbot(backend).await);
    heard.extend(helpdesk(backend).await);
    heard.extend(stream(backend).await);
    let heard = Value::Object(heard.into_iter().collect());
    if std::env::var("PARLEY_BLESS").is_ok_and(|v| v == "1") {
        bless(backend, heard);
        return;
    }
    let Ok(text) = std::fs::read_to_string(GOLDEN) else {
        panic!(
            "no recording at tests/golden/pushes.json: make one with \
             PARLEY_BLESS=1 cargo test -p e2e --test pushes"
        );
    };
    let golden: Value = serde_json::from_str(&text).expect("the recording is JSON");
    if let Some(differences) = differences(&golden, &heard) {
        panic!(
            "{backend:?}: the pushes differ from tests/golden/pushes.json \
             (if the change is meant, record it with PARLEY_BLESS=1):\n{differences}"
        );
    }
}

// ---------------------------------------------------------------------------
// Recording, normalizing, comparing.

/// Per client label (`dialect/role`): its events, normalized and sorted.
type Recording = BTreeMap<String, Value>;

/// A client that records what it hears: (event name, payload).
trait Listener {
    fn heard(&self) -> Vec<(String, Value)>;

    /// Whether its events come in an order of their own making, to be
    /// compared in that order (rather than sorted).
    fn ordered(&self) -> bool {
        false
    }
}

impl Listener for TestClient {
    fn heard(&self) -> Vec<(String, Value)> {
        TestClient::heard(self)
    }
}

/// Ids the server minted that the script learned, and the names they are
/// shown by: (id, name).
type Aliases<'a> = &'a [(&'a str, &'a str)];

/// Wait until every client has been quiet for a while (at most PATIENCE),
/// then take what each heard, normalized and sorted.
async fn settle(
    dialect: &str,
    clients: &[(&str, &dyn Listener)],
    aliases: Aliases<'_>,
) -> Recording {
    let count = || clients.iter().map(|(_, c)| c.heard().len()).sum::<usize>();
    let started = tokio::time::Instant::now();
    let (mut last, mut since) = (count(), tokio::time::Instant::now());
    while since.elapsed() < QUIET * 2 && started.elapsed() < PATIENCE {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let now = count();
        if now != last {
            (last, since) = (now, tokio::time::Instant::now());
        }
    }
    clients
        .iter()
        .map(|(label, client)| {
            let mut events: Vec<Value> = client
                .heard()
                .into_iter()
                .map(|(event, payload)| {
                    json!({ "event": event, "payload": normalize(aliases, None, payload) })
                })
                .collect();
            // Value maps are BTreeMaps (no `preserve_order`): the text of
            // an entry has its keys sorted, a canonical order.
            if !client.ordered() {
                events.sort_by_cached_key(Value::to_string);
            }
            (format!("{dialect}/{label}"), Value::Array(events))
        })
        .collect()
}

/// Replaces what legitimately differs from run to run, and nothing else:
/// - RFC 3339 times (every `timestamp`, `createdAt`, `date_created`…) →
///   `<time>`, as are numbers under time-named keys;
/// - ids the server minted, wherever they occur in a string: those the
///   script learned (a ticket, a message it sent) by their alias, so that
///   a payload naming the wrong one shows; any other UUID, hyphenated or
///   not (`msg_…`, `ai-…`, `hd-…`, `ws-…`), → `<uuid>` (name-based ones
///   too: they may derive from minted ids);
/// - JWTs (helpdesk call tokens) → `<jwt>`;
/// - socket ids (`sid`, `socketId`) → `<sid>`;
/// - measured durations (`…Seconds`, and `estimatedWait`, which the queue
///   derives from handle times) → `<duration>`.
fn normalize(aliases: Aliases<'_>, key: Option<&str>, value: Value) -> Value {
    let key = key.unwrap_or_default();
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = normalize(aliases, Some(&k), v);
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => items
            .into_iter()
            .map(|v| normalize(aliases, None, v))
            .collect(),
        Value::String(s) if !s.is_empty() && (key == "sid" || key == "socketId") => json!("<sid>"),
        Value::String(s) if chrono::DateTime::parse_from_rfc3339(&s).is_ok() => json!("<time>"),
        Value::String(s) if is_jwt(&s) => json!("<jwt>"),
        Value::String(mut s) => {
            for (id, alias) in aliases {
                s = s.replace(id, alias);
            }
            Value::String(without_uuids(&s))
        }
        Value::Number(_) if key.ends_with("Seconds") || key == "estimatedWait" => {
            json!("<duration>")
        }
        Value::Number(_) if key.ends_with("At") || key.ends_with("Time") || key == "timestamp" => {
            json!("<time>")
        }
        other => other,
    }
}

fn is_jwt(s: &str) -> bool {
    s.starts_with("eyJ")
        && s.split('.').count() == 3
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// `s` with every UUID replaced by `<uuid>`.
fn without_uuids(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut after_word = false;
    while let Some(c) = rest.chars().next() {
        if !after_word && let Some(len) = uuid_at(rest.as_bytes()) {
            out.push_str("<uuid>");
            rest = &rest[len..];
            after_word = true;
            continue;
        }
        out.push(c);
        after_word = c.is_ascii_alphanumeric();
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The length of a UUID at the start of `b`, hyphenated or as 32 hex
/// digits, not followed by more of a word.
fn uuid_at(b: &[u8]) -> Option<usize> {
    let ends_at = |len: usize| b.get(len).is_none_or(|c| !c.is_ascii_alphanumeric());
    let hex = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_hexdigit);
    if b.len() >= 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && [0..8, 9..13, 14..18, 19..23, 24..36].into_iter().all(hex)
        && ends_at(36)
    {
        return Some(36);
    }
    if b.len() >= 32 && hex(0..32) && ends_at(32) {
        return Some(32);
    }
    None
}

/// Where `heard` differs from `expected`: per client, the counts and the
/// first entry that differs.
fn differences(expected: &Value, heard: &Value) -> Option<String> {
    let empty = serde_json::Map::new();
    let (expected, heard) = (
        expected.as_object().unwrap_or(&empty),
        heard.as_object().unwrap_or(&empty),
    );
    let labels: BTreeSet<&String> = expected.keys().chain(heard.keys()).collect();
    let mut report = String::new();
    for label in labels {
        let list = |side: &serde_json::Map<String, Value>| {
            side.get(label)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let (want, got) = (list(expected), list(heard));
        if want == got {
            continue;
        }
        let at = want
            .iter()
            .zip(&got)
            .position(|(w, g)| w != g)
            .unwrap_or(want.len().min(got.len()));
        let show = |entry: Option<&Value>| entry.map_or("(none)".to_owned(), Value::to_string);
        report.push_str(&format!(
            "{label}: {} events expected, {} heard; first difference at #{at}:\n  \
             expected: {}\n  heard:    {}\n",
            want.len(),
            got.len(),
            show(want.get(at)),
            show(got.get(at)),
        ));
    }
    (!report.is_empty()).then_some(report)
}

/// Write the recording; the other store, blessing in the same run, must
/// have heard exactly the same.
fn bless(backend: Backend, heard: Value) {
    static BLESSED: Mutex<Option<(Backend, Value)>> = Mutex::new(None);
    let mut blessed = BLESSED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((first, recorded)) = blessed.as_ref() {
        if let Some(differences) = differences(recorded, &heard) {
            panic!("{backend:?} heard other pushes than {first:?}:\n{differences}");
        }
        return;
    }
    let path = std::path::Path::new(GOLDEN);
    std::fs::create_dir_all(path.parent().expect("a directory")).expect("the directory");
    let text = serde_json::to_string_pretty(&heard).expect("JSON") + "\n";
    std::fs::write(path, text).expect("the recording is written");
    *blessed = Some((backend, heard));
}

// ---------------------------------------------------------------------------
// Helpers shared by the sessions.

/// A gateway on a fresh database. The assistant answers conversations in
/// AI handling: on for the dialects that show its answers, off for the
/// others (its answers would race their workflow steps). LiveKit is set up
/// so that helpdesk calls (and SATE leaving one) happen.
async fn spawn(backend: Backend, assistant: bool) -> TestApp {
    let db = Arc::new(TestDatabase::new(backend).await);
    TestApp::spawn_with(db, |config| {
        config.assistant = if assistant { "on" } else { "off" }.into();
        config.livekit_api_key = Some("APIgolden".into());
        config.livekit_api_secret = Some(gateway::config::Secret::new(
            "livekit-secret-livekit-secret-32",
        ));
        config.livekit_url = Some("wss://livekit.example".into());
    })
    .await
}

/// Connect `user` on `/` and wait for its own presence: every socket of the
/// tenant hears each connect, so the next step starts once it went out.
async fn online(app: &TestApp, user: &str, role: &str) -> TestClient {
    let mut client = app.client(TENANT, user, role).await;
    client
        .expect_where("presence:update", |p| {
            p["userId"] == user && p["status"] == "online"
        })
        .await;
    client
}

/// Wait until each of `clients` heard `event` satisfying `pred`.
async fn all_hear(clients: &mut [&mut TestClient], event: &str, pred: impl Fn(&Value) -> bool) {
    for client in clients.iter_mut() {
        client.expect_where(event, &pred).await;
    }
}

async fn rest(app: &TestApp, path: &str, user: &str, role: &str, body: Value) -> Value {
    let (status, answer) = app.post(path, &token(TENANT, user, role), body).await;
    assert!(
        (200..300).contains(&status),
        "POST {path}: {status} {answer}"
    );
    answer
}

async fn article(app: &TestApp, title: &str, body: &str) {
    rest(
        app,
        "/api/v1/kb/articles",
        "ada",
        "admin",
        json!({ "title": title, "body": body }),
    )
    .await;
}

fn has(field: &'static str, value: impl Into<Value>) -> impl Fn(&Value) -> bool {
    let value = value.into();
    move |v| v[field] == value
}

// ---------------------------------------------------------------------------
// lvng: conversations, messages and their changes, channels, presence,
// calls, swarm sessions, the activity feed.

fn conv(extra: Value) -> Value {
    let mut payload = json!({ "conversationId": "conv-1", "customerId": TENANT });
    payload
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    payload
}

/// `message:send` with an optimistic id (a name-based message id); waits
/// for the reply and the sender's own `message:new`. The message id.
async fn post(client: &mut TestClient, target: Value, content: &str, optimistic: &str) -> String {
    let mut payload = target;
    payload["content"] = json!(content);
    payload["optimisticId"] = json!(optimistic);
    client.emit("message:send", payload).await;
    let sent = client
        .expect_where("message:sent", has("optimisticId", optimistic))
        .await;
    let id = sent["id"].as_str().expect("a message id").to_owned();
    client
        .expect_where("message:new", has("id", id.as_str()))
        .await;
    id
}

async fn lvng(backend: Backend) -> Recording {
    let app = spawn(backend, false).await;
    // Sue follows the activity feed.
    let mut sue = online(&app, "sue", "supervisor").await;
    sue.emit("activity:subscribe", json!({ "customerId": TENANT }))
        .await;
    sue.expect("activity:subscribed").await;

    // Ana opens conv-1 and writes; her message tells that her join (whose
    // push reaches nobody yet) went out before Bob joins.
    let mut ana = online(&app, "ana", "customer").await;
    ana.emit("conversation:join", conv(json!({}))).await;
    ana.expect("room:joined").await;
    let hello = post(&mut ana, conv(json!({})), "Hello, I need help!", "tmp-1").await;
    sue.expect_where("activity:new", has("messageId", hello.as_str()))
        .await;

    let mut bob = online(&app, "bob", "agent").await;
    bob.emit("conversation:join", conv(json!({}))).await;
    bob.expect("room:joined").await;
    ana.expect_where("member:joined", has("userId", "bob"))
        .await;
    let answer = post(&mut bob, conv(json!({})), "How can I help?", "tmp-2").await;
    ana.expect_where("message:new", has("id", answer.as_str()))
        .await;
    sue.expect_where("activity:new", has("messageId", answer.as_str()))
        .await;

    ana.emit("typing:start", conv(json!({}))).await;
    bob.expect("typing:start").await;
    ana.emit("typing:stop", conv(json!({}))).await;
    bob.expect("typing:stop").await;

    ana.emit_with_ack(
        "message:update",
        conv(json!({ "messageId": hello, "content": "Hello, I need help with my order!", "metadata": { "reason": "typo" } })),
    )
    .await;
    all_hear(&mut [&mut ana, &mut bob], "message:update", |_| true).await;
    for action in ["add", "remove"] {
        bob.emit_with_ack(
            "message:react",
            conv(json!({ "messageId": hello, "emoji": "👍", "action": action })),
        )
        .await;
        all_hear(
            &mut [&mut ana, &mut bob],
            "message:reaction",
            has("action", action),
        )
        .await;
    }
    ana.emit_with_ack("message:read", conv(json!({ "messageId": answer })))
        .await;
    all_hear(&mut [&mut ana, &mut bob], "message:read", |_| true).await;
    let first = post(&mut bob, conv(json!({})), "Which order?", "tmp-3").await;
    let second = post(&mut bob, conv(json!({})), "The number, please.", "tmp-4").await;
    ana.expect_where("message:new", has("id", second.as_str()))
        .await;
    ana.emit_with_ack(
        "message:read",
        conv(json!({ "messageIds": [first, second] })),
    )
    .await;
    all_hear(&mut [&mut ana, &mut bob], "message:read:batch", |_| true).await;
    bob.emit_with_ack("message:delete", conv(json!({ "messageId": first })))
        .await;
    all_hear(&mut [&mut ana, &mut bob], "message:delete", |_| true).await;

    // A channel: Ana's post tells that her join went out before Bob's.
    let general = json!({ "channelId": "general" });
    ana.emit_with_ack("channel:join", general.clone()).await;
    ana.expect("channel:history").await;
    let hi_all = post(&mut ana, general.clone(), "Hi all", "tmp-5").await;
    bob.emit_with_ack("channel:join", general.clone()).await;
    bob.expect("channel:history").await;
    ana.expect("channel:join").await;
    ana.emit_with_ack(
        "channel:update",
        json!({ "channelId": "general", "updates": { "name": "General", "topic": "Launch" } }),
    )
    .await;
    all_hear(&mut [&mut ana, &mut bob], "channel:update", |_| true).await;
    ana.emit("typing:start", general.clone()).await;
    bob.expect_where("typing:start", has("channelId", "general"))
        .await;
    bob.emit_with_ack("channel:leave", general.clone()).await;
    ana.expect("channel:leave").await;

    ana.emit_with_ack(
        "presence:update",
        json!({ "status": "away", "customStatus": "Lunch", "statusText": "Back at 1pm" }),
    )
    .await;
    all_hear(
        &mut [&mut ana, &mut bob, &mut sue],
        "presence:update",
        has("status", "away"),
    )
    .await;

    // A call in conv-1: Ana's segment tells that her join went out.
    let call = json!({ "roomName": "conv-1" });
    ana.emit("call:join", call.clone()).await;
    ana.expect("call:joined").await;
    let segment = |speaker: &str, text: &str| json!({ "roomName": "conv-1", "segment": { "speaker": speaker, "text": text, "isFinal": true, "confidence": 0.97 } });
    ana.emit_with_ack("call:transcription", segment("Ana", "Can you hear me?"))
        .await;
    ana.expect("transcription:segment").await;
    bob.emit("call:join", call.clone()).await;
    bob.expect("call:joined").await;
    ana.expect("call:participant_joined").await;
    bob.emit_with_ack("call:transcription", segment("Bob", "Loud and clear."))
        .await;
    all_hear(
        &mut [&mut ana, &mut bob],
        "transcription:segment",
        has("speaker", "Bob"),
    )
    .await;
    bob.emit_with_ack("call:leave", call).await;
    ana.expect("call:participant_left").await;

    // Swarm sessions: a step pushed live, and one caught up on subscribing.
    // A step recorded around a subscription can come both ways, so: the
    // live one is subscribed to past its number (the catch-up skips it),
    // and the caught-up one was recorded before the live one, whose push
    // tells that its own (to nobody) went out before the subscription.
    let step = |n: u64| json!({ "agent": "planner", "action": "think", "n": n });
    rest(
        &app,
        "/api/v1/swarm/swarm-2/steps",
        "sue",
        "supervisor",
        step(1),
    )
    .await;
    sue.emit(
        "swarm:subscribe",
        json!({ "sessionId": "swarm-1", "afterSequence": 1 }),
    )
    .await;
    sue.expect("swarm:subscribed").await;
    rest(
        &app,
        "/api/v1/swarm/swarm-1/steps",
        "sue",
        "supervisor",
        step(2),
    )
    .await;
    sue.expect_where("swarm:update", has("sessionId", "swarm-1"))
        .await;
    sue.emit("swarm:subscribe", json!({ "sessionId": "swarm-2" }))
        .await;
    sue.expect_where("swarm:update", has("sessionId", "swarm-2"))
        .await;

    bob.emit_with_ack("conversation:leave", conv(json!({})))
        .await;
    ana.expect("member:left").await;
    ana.emit(
        "conversation:rejoin",
        conv(json!({ "lastMessageId": hello })),
    )
    .await;
    ana.expect("conversation:rejoined").await;
    ana.emit(
        "message:update",
        conv(json!({ "messageId": "msg_nope", "content": "x" })),
    )
    .await;
    ana.expect("error").await;

    let heard = settle(
        "lvng",
        &[("activity", &sue), ("customer", &ana), ("agent", &bob)],
        &[
            (&hello, "<msg:hello>"),
            (&answer, "<msg:answer>"),
            (&first, "<msg:which>"),
            (&second, "<msg:number>"),
            (&hi_all, "<msg:hi-all>"),
        ],
    )
    .await;
    app.stop().await;
    heard
}

// ---------------------------------------------------------------------------
// buddy: a support conversation with robot messages and a dashboard.

fn message(user: &str, role: &str, content: &str) -> Value {
    json!({ "conversationId": "c1", "fromUserId": user, "fromRole": role, "content": content })
}

async fn join_room(client: &mut TestClient, user: &str, role: &str) {
    client
        .emit_with_ack(
            "join_room",
            json!({ "conversationId": "c1", "userId": user, "userRole": role }),
        )
        .await;
    client
        .expect_where("user_joined", |v| v["participant"]["userId"] == user)
        .await;
}

async fn buddy(backend: Backend) -> Recording {
    let app = spawn(backend, false).await;
    let added = |user: &'static str| move |v: &Value| v["participant"]["userId"] == user;
    let count = |n: u64| move |v: &Value| v["changes"]["messageCount"] == n;
    let status = |s: &'static str| move |v: &Value| v["changes"]["status"] == s;

    let mut sue = online(&app, "sue", "supervisor").await;
    sue.emit_with_ack("join_dashboard", Value::Null).await;
    // The dashboard hears of a join after the room did.
    let mut ana = online(&app, "ana", "customer").await;
    join_room(&mut ana, "ana", "cx-customer").await;
    sue.expect_where("conversation_participant_added", added("ana"))
        .await;
    let mut bob = online(&app, "bob", "agent").await;
    join_room(&mut bob, "bob", "cx-agent").await;
    ana.expect_where("user_joined", added("bob")).await;
    sue.expect_where("conversation_participant_added", added("bob"))
        .await;

    let hello = ana
        .emit_with_ack(
            "send_message",
            message("ana", "cx-customer", "Hello, I need help!"),
        )
        .await;
    all_hear(&mut [&mut ana, &mut bob], "new_message", |_| true).await;
    sue.expect_where("conversation_updated", count(1)).await;
    sue.expect_where("conversation_updated", status("active"))
        .await;

    // A robot's suggestion reaches staff only until shared.
    let robot = bob
        .emit_with_ack(
            "send_message",
            message("bob", "robot", "Try turning it off and on"),
        )
        .await;
    bob.expect_where("new_message", has("fromRole", "robot"))
        .await;
    sue.expect_where("conversation_updated", count(2)).await;
    bob.emit_with_ack(
        "share_robot_message",
        json!({ "originalMessageId": robot["id"], "conversationId": "c1", "fromUserId": "bob" }),
    )
    .await;
    all_hear(
        &mut [&mut ana, &mut bob],
        "new_message",
        has("isVisible", true),
    )
    .await;

    ana.emit(
        "typing_start",
        json!({ "conversationId": "c1", "userId": "ana", "userName": "Ana" }),
    )
    .await;
    bob.expect("user_typing").await;
    ana.emit(
        "typing_stop",
        json!({ "conversationId": "c1", "userId": "ana" }),
    )
    .await;
    bob.expect("user_stopped_typing").await;
    ana.emit(
        "get_messages",
        json!({ "conversationId": "c1", "limit": 10 }),
    )
    .await;
    ana.expect("messages").await;

    // Queued, then taken by an agent who joins.
    rest(
        &app,
        "/api/v1/conversations/c1/escalate",
        "ana",
        "customer",
        json!({ "reason": "a human, please" }),
    )
    .await;
    sue.expect_where("conversation_updated", status("queued"))
        .await;
    let mut cyd = online(&app, "cyd", "agent").await;
    join_room(&mut cyd, "cyd", "cx-agent").await;
    all_hear(&mut [&mut ana, &mut bob], "user_joined", added("cyd")).await;
    sue.expect_where("conversation_participant_added", added("cyd"))
        .await;
    sue.expect_where("conversation_updated", status("agent"))
        .await;
    let taken = cyd
        .emit_with_ack(
            "send_message",
            message("cyd", "cx-agent", "I can take it from here."),
        )
        .await;
    all_hear(
        &mut [&mut ana, &mut bob, &mut cyd],
        "new_message",
        has("fromUserId", "cyd"),
    )
    .await;
    sue.expect_where("conversation_updated", count(3)).await;
    rest(
        &app,
        "/api/v1/conversations/c1/end",
        "cyd",
        "agent",
        json!({ "reason": "resolved" }),
    )
    .await;
    sue.expect_where("conversation_updated", status("ended"))
        .await;
    ana.emit_with_ack(
        "leave_room",
        json!({ "conversationId": "c1", "userId": "ana" }),
    )
    .await;
    all_hear(&mut [&mut bob, &mut cyd], "user_left", |_| true).await;
    sue.expect("conversation_participant_removed").await;
    // Naming someone else is refused (the ack and an `error`).
    bob.emit_with_ack("send_message", message("ana", "cx-agent", "I am Ana"))
        .await;
    bob.expect("error").await;
    sue.emit_with_ack("leave_dashboard", Value::Null).await;

    let heard = settle(
        "buddy",
        &[
            ("dashboard", &sue),
            ("customer", &ana),
            ("agent", &bob),
            ("second-agent", &cyd),
        ],
        &[
            (hello["id"].as_str().unwrap(), "<msg:hello>"),
            (robot["id"].as_str().unwrap(), "<msg:robot>"),
            (taken["id"].as_str().unwrap(), "<msg:taken>"),
        ],
    )
    .await;
    app.stop().await;
    heard
}

// ---------------------------------------------------------------------------
// chatbot: two session conversations through AI handling, the queue, an
// agent, an escalation to a supervisor, the end and a rating; a console
// following the organisation, the conversation list and a dashboard.

async fn start(client: &mut TestClient, session: &str) -> String {
    client
        .emit("join-conversation", json!({ "sessionId": session }))
        .await;
    let started = client.expect("conversation-started").await;
    started["conversationId"].as_str().unwrap().to_owned()
}

/// `send-message`, and its echo to the sender: the message id.
async fn say(client: &mut TestClient, conversation: &str, content: &str) -> String {
    let ack = client
        .emit_with_ack(
            "send-message",
            json!({ "conversationId": conversation, "content": content }),
        )
        .await;
    client
        .expect_where("message", |m| m["message"]["content"] == content)
        .await;
    ack["message"]["messageId"].as_str().unwrap().to_owned()
}

async fn chatbot(backend: Backend) -> Recording {
    let app = spawn(backend, false).await;
    let dashboard = |kind: &'static str| move |v: &Value| v["change"]["type"] == kind;
    let notified = |kind: &'static str| has("type", kind);

    let mut sue = online(&app, "sue", "supervisor").await;
    sue.emit("join-org", json!({ "orgId": TENANT, "userId": "sue" }))
        .await;
    sue.expect("org-joined").await;
    sue.emit("join-conversation-list", json!({ "tenantId": TENANT }))
        .await;
    sue.expect("joined-conversation-list").await;
    sue.emit("subscribe-dashboard", json!({ "dashboardId": "ops" }))
        .await;
    sue.expect("dashboard-subscribed").await;

    let mut ana = online(&app, "ana", "customer").await;
    let a = start(&mut ana, "sess-ana").await;
    sue.expect_where("status-change", has("status", "new"))
        .await;
    let hello = say(&mut ana, &a, "Hello, I need help!").await;
    all_hear(
        &mut [&mut ana, &mut sue],
        "status-change",
        has("status", "ai"),
    )
    .await;
    sue.expect_where("dashboard-update", dashboard("activated"))
        .await;
    ana.emit_with_ack(
        "update-conversation-metadata",
        json!({ "conversationId": a, "metadata": { "plan": "pro" } }),
    )
    .await;
    sue.expect_where("dashboard-update", dashboard("metadata-updated"))
        .await;
    ana.emit_with_ack(
        "escalate",
        json!({ "conversationId": a, "reason": "a human, please" }),
    )
    .await;
    all_hear(
        &mut [&mut ana, &mut sue],
        "status-change",
        has("status", "queued"),
    )
    .await;
    ana.expect("queue-update").await;
    sue.expect_where("notification", notified("conversation-queued"))
        .await;
    sue.expect_where("dashboard-update", dashboard("escalated"))
        .await;

    // A second customer waits behind the first.
    let mut bea = online(&app, "bea", "customer").await;
    let b = start(&mut bea, "sess-bea").await;
    sue.expect_where("status-change", |v| {
        v["status"] == "new" && v["conversationId"] == b.as_str()
    })
    .await;
    let me_too = say(&mut bea, &b, "Me too").await;
    bea.expect_where("status-change", has("status", "ai")).await;
    sue.expect_where("dashboard-update", |v| {
        v["change"]["type"] == "activated" && v["change"]["conversationId"] == b.as_str()
    })
    .await;
    bea.emit_with_ack("escalate", json!({ "conversationId": b }))
        .await;
    bea.expect_where("status-change", has("status", "queued"))
        .await;
    bea.expect_where("queue-update", has("position", 2)).await;
    sue.expect_where("dashboard-update", |v| {
        v["change"]["type"] == "escalated" && v["change"]["conversationId"] == b.as_str()
    })
    .await;

    // Bob claims Ana's over REST and enters it once the claim's pushes
    // went out (entering a queued one would take it, its pushes racing
    // his joining the room).
    let mut bob = online(&app, "bob", "agent").await;
    rest(
        &app,
        &format!("/api/v1/conversations/{a}/claim"),
        "bob",
        "agent",
        json!({}),
    )
    .await;
    ana.expect("agent-joined").await;
    all_hear(
        &mut [&mut ana, &mut sue],
        "status-change",
        has("status", "agent"),
    )
    .await;
    sue.expect_where("dashboard-update", dashboard("agent-assigned"))
        .await;
    bea.expect_where("queue-update", has("position", 1)).await;
    bob.emit(
        "join-conversation",
        json!({ "sessionId": "console", "conversationId": a }),
    )
    .await;
    bob.expect("conversation-started").await;
    let bob_here = say(&mut bob, &a, "Hi Ana, Bob here.").await;
    ana.expect_where("message", |m| m["message"]["userId"] == "bob")
        .await;
    ana.emit("typing", json!({ "conversationId": a, "isTyping": true }))
        .await;
    bob.expect("typing").await;
    bob.emit("typing", json!({ "conversationId": a, "isTyping": false }))
        .await;
    ana.expect("typing").await;

    // Bob hands it up; Sue takes it.
    bob.emit_with_ack(
        "escalate",
        json!({ "conversationId": a, "reason": "needs a refund" }),
    )
    .await;
    all_hear(
        &mut [&mut ana, &mut bob, &mut sue],
        "status-change",
        has("status", "escalated"),
    )
    .await;
    sue.expect_where("notification", notified("conversation-escalated"))
        .await;
    sue.expect_where("dashboard-update", |v| {
        v["change"]["type"] == "escalated" && v["change"]["status"] == "escalated"
    })
    .await;
    rest(
        &app,
        &format!("/api/v1/conversations/{a}/claim"),
        "sue",
        "supervisor",
        json!({}),
    )
    .await;
    all_hear(
        &mut [&mut ana, &mut bob],
        "agent-joined",
        has("agentId", "sue"),
    )
    .await;
    all_hear(
        &mut [&mut ana, &mut bob, &mut sue],
        "status-change",
        has("agentId", "sue"),
    )
    .await;
    sue.expect_where("dashboard-update", |v| {
        v["change"]["type"] == "agent-assigned" && v["change"]["agentId"] == "sue"
    })
    .await;

    ana.emit_with_ack("end-conversation", json!({ "conversationId": a }))
        .await;
    all_hear(&mut [&mut ana, &mut bob], "conversation-ended", |_| true).await;
    all_hear(
        &mut [&mut ana, &mut bob, &mut sue],
        "status-change",
        has("status", "ended"),
    )
    .await;
    sue.expect_where("dashboard-update", dashboard("ended"))
        .await;
    ana.emit_with_ack(
        "rate",
        json!({ "conversationId": a, "rating": "bad", "comment": "slow" }),
    )
    .await;
    sue.expect_where("notification", notified("bad-rating"))
        .await;
    sue.expect_where("dashboard-update", dashboard("rated"))
        .await;

    ana.emit("ping", Value::Null).await;
    ana.expect("pong").await;
    sue.emit("request-conversation-list", json!({})).await;
    sue.expect("conversation-list").await;
    ana.emit_with_ack("rate", json!({ "conversationId": a, "rating": "meh" }))
        .await;
    ana.expect("error").await;
    sue.emit("leave-org", json!({ "orgId": TENANT })).await;
    sue.expect("org-left").await;

    let heard = settle(
        "chatbot",
        &[
            ("console", &sue),
            ("customer", &ana),
            ("second-customer", &bea),
            ("agent", &bob),
        ],
        &[
            (&a, "<conversation:ana>"),
            (&b, "<conversation:bea>"),
            (&hello, "<msg:hello>"),
            (&me_too, "<msg:me-too>"),
            (&bob_here, "<msg:bob-here>"),
        ],
    )
    .await;
    app.stop().await;
    heard
}

// ---------------------------------------------------------------------------
// helpdesk: a customer with an API key answered by SATE, a call with SATE,
// an agent taking over (SATE leaves the call), the agent's answer, the end
// by the agent, a review.

async fn ask(client: &mut TestClient, event: &str, payload: Value, answer: &str) -> Value {
    client.emit(event, payload).await;
    client.expect(answer).await
}

fn sate(v: &Value) -> bool {
    v["data"]["sender"] == "sate"
}

async fn helpdesk(backend: Backend) -> Recording {
    let app = spawn(backend, true).await;
    article(
        &app,
        "Order tracking",
        "Track your order from the Orders page. Each order number links to its parcel.",
    )
    .await;
    let key = rest(
        &app,
        "/api/v1/keys",
        "ada",
        "admin",
        json!({ "kind": "api" }),
    )
    .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{}?token_source=api&token={key}", app.url());
    let mut customer = TestClient::connect_namespace(&url, "/helpdesk", None)
        .await
        .expect("a helpdesk connection");
    customer.expect("connected").await;
    let session = json!({ "session_id": "customer_123" });
    ask(
        &mut customer,
        "enter_customer_support",
        session.clone(),
        "enter_customer_support",
    )
    .await;
    let echo = ask(
        &mut customer,
        "support",
        json!({ "session_id": "customer_123", "message": "Where can I track my order?", "attachment": false, "ticket_chat_id": null }),
        "support_echo",
    )
    .await;
    let ticket = echo["data"]["ticket_chat_id"].as_str().unwrap().to_owned();
    customer.expect_where("support", sate).await;
    let on_ticket = json!({ "ticket_chat_id": ticket });
    ask(
        &mut customer,
        "enter_support",
        on_ticket.clone(),
        "enter_support",
    )
    .await;
    ask(
        &mut customer,
        "mark_conversation_read",
        json!({ "ticket_chat_id": ticket, "entity": "customer" }),
        "mark_conversation_read",
    )
    .await;

    // Staff follow the ticket on /helpdesk.
    let auth = json!({ "token": token(TENANT, "bob", "agent") });
    let mut staff = TestClient::connect_namespace(&app.url(), "/helpdesk", Some(auth))
        .await
        .expect("a helpdesk connection");
    staff.expect("connected").await;
    ask(
        &mut staff,
        "enter_support",
        on_ticket.clone(),
        "enter_support",
    )
    .await;
    ask(
        &mut customer,
        "support",
        json!({ "session_id": "customer_123", "message": "Order #4567: where is it?", "attachment": false, "ticket_chat_id": ticket }),
        "support_echo",
    )
    .await;
    all_hear(&mut [&mut customer, &mut staff], "support", sate).await;

    // A call with SATE, ended; a second one, which SATE leaves when an
    // agent takes over.
    let calling = json!({ "session_id": "customer_123", "ticket_chat_id": ticket });
    ask(
        &mut customer,
        "call_support",
        calling.clone(),
        "call_support",
    )
    .await;
    staff.expect("call_support").await;
    ask(
        &mut customer,
        "close_call_support",
        on_ticket.clone(),
        "close_call_support",
    )
    .await;
    staff.expect("close_call_support").await;
    ask(&mut customer, "call_support", calling, "call_support").await;
    staff.expect("call_support").await;
    rest(
        &app,
        &format!("/api/v1/conversations/{ticket}/claim"),
        "bob",
        "agent",
        json!({}),
    )
    .await;
    all_hear(
        &mut [&mut customer, &mut staff],
        "support_handler_changed",
        |_| true,
    )
    .await;
    all_hear(&mut [&mut customer, &mut staff], "sate_left_call", |_| true).await;

    // The agent answers on lvng. SATE's answers reached lvng's room before
    // /helpdesk (the customer heard them): his joining it now is after.
    let mut agent = online(&app, "bob", "agent").await;
    agent
        .emit(
            "conversation:join",
            json!({ "conversationId": ticket, "customerId": TENANT }),
        )
        .await;
    agent.expect("room:joined").await;
    agent
        .emit(
            "message:send",
            json!({ "conversationId": ticket, "customerId": TENANT, "content": "Hi, Bob here. Your parcel ships today." }),
        )
        .await;
    agent.expect("message:sent").await;
    agent.expect("message:new").await;
    all_hear(&mut [&mut customer, &mut staff], "customer_support", |_| {
        true
    })
    .await;

    rest(
        &app,
        &format!("/api/v1/conversations/{ticket}/end"),
        "bob",
        "agent",
        json!({ "reason": "resolved" }),
    )
    .await;
    all_hear(
        &mut [&mut customer, &mut staff],
        "customer_support_closed",
        |_| true,
    )
    .await;
    ask(
        &mut customer,
        "review_support",
        json!({ "ticket_chat_id": ticket, "rating": "5", "review": "Great service, very helpful!" }),
        "review_support",
    )
    .await;
    customer
        .emit(
            "review_support",
            json!({ "ticket_chat_id": ticket, "rating": "9" }),
        )
        .await;
    customer
        .expect_where("review_support", |v| v["status_code"] == 400)
        .await;
    ask(&mut staff, "leave_support", on_ticket, "leave_support").await;

    let heard = settle(
        "helpdesk",
        &[
            ("customer", &customer),
            ("staff", &staff),
            ("agent-lvng", &agent),
        ],
        &[(&ticket, "<ticket>")],
    )
    .await;
    app.stop().await;
    heard
}

// ---------------------------------------------------------------------------
// stream: a chat answered in streamed tokens, a bad message, an escalation,
// an agent's reply (on lvng) through the stream.

/// A stream client that records every message it gets: its `type` as the
/// event, the rest as the payload.
struct Ws {
    sink: SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>,
    inbox: mpsc::UnboundedReceiver<(String, Value)>,
    heard: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Listener for Ws {
    fn heard(&self) -> Vec<(String, Value)> {
        self.heard.lock().unwrap().clone()
    }

    /// One connection writes every message in turn, and each step waits
    /// for its answer: the order is the script's (and the tokens' order
    /// makes the answer).
    fn ordered(&self) -> bool {
        true
    }
}

impl Ws {
    async fn connect(app: &TestApp, user: &str) -> Self {
        let url = format!(
            "ws://{}/ws?token={}",
            app.addr,
            token(TENANT, user, "customer")
        );
        let (stream, _) = connect_async(url).await.expect("a WebSocket");
        let (sink, mut frames) = stream.split();
        let (tx, inbox) = mpsc::unbounded_channel();
        let heard: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let record = heard.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = frames.next().await {
                let Message::Text(text) = frame else { continue };
                let mut message: Value = serde_json::from_str(&text).expect("JSON");
                let kind = match message.as_object_mut().and_then(|m| m.remove("type")) {
                    Some(Value::String(kind)) => kind,
                    other => format!("{other:?}"),
                };
                record.lock().unwrap().push((kind.clone(), message.clone()));
                let _ = tx.send((kind, message));
            }
        });
        let mut ws = Self { sink, inbox, heard };
        ws.next_of("connection").await;
        ws
    }

    async fn send(&mut self, message: Value) {
        self.sink
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("sent");
    }

    /// The next message of `kind` (others pass).
    async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let (got, message) = tokio::time::timeout(PATIENCE, self.inbox.recv())
                .await
                .unwrap_or_else(|_| panic!("no {kind} within {PATIENCE:?}"))
                .expect("the connection open");
            if got == kind {
                return message;
            }
        }
    }
}

async fn stream(backend: Backend) -> Recording {
    let app = spawn(backend, true).await;
    article(
        &app,
        "Resetting your password",
        "To reset your password, open Settings and choose Security. \
         Click Reset password and follow the link we email you.",
    )
    .await;
    // Bob follows the activity feed from the start: the answer's entry in
    // it tells him that its push to the conversation's room went out
    // before he joins (the stream's own messages do not: its connection
    // follows the projections itself).
    let mut bob = online(&app, "bob", "agent").await;
    bob.emit("activity:subscribe", json!({})).await;
    bob.expect("activity:subscribed").await;
    let mut ws = Ws::connect(&app, "ana").await;
    ws.send(json!({ "type": "ping" })).await;
    ws.next_of("pong").await;
    ws.send(json!({ "type": "chat", "content": "How do I reset my password?" }))
        .await;
    ws.next_of("stream-end").await;
    ws.send(json!({ "type": "dance" })).await;
    ws.next_of("error").await;
    ws.send(json!({ "type": "human-escalation", "reason": "Need human assistance" }))
        .await;
    ws.next_of("human-escalation-response").await;

    let (status, queue) = app
        .get("/api/v1/queue", Some(&token(TENANT, "bob", "agent")))
        .await
        .unwrap();
    assert_eq!(status, 200, "{queue}");
    let conversation = queue["queue"][0]["conversationId"]
        .as_str()
        .expect("the escalated conversation")
        .to_owned();
    let target = json!({ "conversationId": conversation, "customerId": TENANT });
    bob.expect_where("activity:new", |v| {
        v["type"] == "message:posted" && v["userId"] != "ana"
    })
    .await;
    bob.emit("conversation:join", target.clone()).await;
    bob.expect("room:joined").await;
    let mut reply = target.clone();
    reply["content"] = json!("Hi Ana, Bob here.");
    bob.emit("message:send", reply).await;
    bob.expect("message:sent").await;
    bob.expect("message:new").await;
    ws.next_of("stream-end").await;
    // With an agent on it, the assistant stays quiet; the agent hears it.
    ws.send(json!({ "type": "chat", "content": "Thanks Bob" }))
        .await;
    bob.expect_where("message:new", has("content", "Thanks Bob"))
        .await;

    let heard = settle(
        "stream",
        &[("customer", &ws), ("agent", &bob)],
        &[(&conversation, "<conversation>")],
    )
    .await;
    let _ = ws.sink.close().await;
    app.stop().await;
    heard
}
