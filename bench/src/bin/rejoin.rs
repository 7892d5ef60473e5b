//! `conversation:rejoin` on a large store: seeds N events (conversations of
//! M messages each) straight through the event log, lets the projections
//! catch up (and reports how fast they did), starts the gateway on that
//! database, and times rejoins that each miss exactly K messages, checking
//! every answer.
//!
//! ```text
//! cargo build --release -p gateway -p bench
//! target/release/rejoin --store sqlite --events 1000000 --missed 100 --samples 1000
//! ```

use anyhow::{Context, bail, ensure};
use bench::{Gateway, Latency, backend, machine, token};
use chrono::{Duration as Span, TimeZone, Utc};
use clap::Parser;
use domain::actor::Role;
use domain::conversation::{
    Conversation, ConversationEvent, ConversationOpened, Kind, MessagePosted, ParticipantJoined,
};
use domain::ids::{ConversationId, MessageId, TenantId, UserId};
use futures::FutureExt;
use projections::Projector;
use rust_socketio::TransportType;
use rust_socketio::asynchronous::ClientBuilder;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::EventLog;
use store::aggregate::{META_COMMAND_ID, META_TENANT};
use store::testing::TestDatabase;
use tokio::sync::mpsc;

#[derive(Parser, Debug)]
#[command(about = "Parley rejoin latency on a large store")]
struct Args {
    /// sqlite or postgres (a fresh database).
    #[arg(long, default_value = "sqlite")]
    store: String,
    /// Events to seed in all.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Messages per conversation.
    #[arg(long, default_value_t = 1_000)]
    messages_per_conversation: u64,
    /// Messages each rejoin has missed.
    #[arg(long, default_value_t = 100)]
    missed: u64,
    /// Rejoins to time.
    #[arg(long, default_value_t = 1_000)]
    samples: u64,
}

const TENANT: &str = "bench";
const READER: &str = "reader";

fn message_id(conversation: u64, n: u64) -> MessageId {
    MessageId::parse(format!("msg_{conversation}_{n}")).expect("a valid id")
}

/// One conversation's events: opened by a customer, the reader added, then
/// the messages.
fn conversation_events(c: u64, messages: u64) -> Vec<ConversationEvent> {
    let tenant = TenantId::parse(TENANT).unwrap();
    let id = ConversationId::parse(format!("conv-{c}")).unwrap();
    let customer = UserId::parse(format!("customer-{c}")).unwrap();
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Span::minutes(c as i64);
    let joined = |user: &UserId, role| {
        ConversationEvent::ParticipantJoined(ParticipantJoined {
            tenant: tenant.clone(),
            kind: Kind::Conversation,
            conversation_id: id.clone(),
            user_id: user.clone(),
            user_name: user.to_string(),
            role,
            added_by: None,
            at: start,
        })
    };
    let mut events = vec![
        ConversationEvent::ConversationOpened(ConversationOpened {
            tenant: tenant.clone(),
            kind: Kind::Conversation,
            conversation_id: id.clone(),
            opened_by: customer.clone(),
            opened_by_role: Role::Customer,
            channel: None,
            support: None,
            at: start,
        }),
        joined(&customer, Role::Customer),
        joined(&UserId::parse(READER).unwrap(), Role::Customer),
    ];
    for n in 0..messages {
        events.push(ConversationEvent::MessagePosted(MessagePosted {
            tenant: tenant.clone(),
            kind: Kind::Conversation,
            conversation_id: id.clone(),
            message_id: message_id(c, n),
            author_id: customer.clone(),
            author_name: customer.to_string(),
            author_role: Role::Customer,
            content: format!("message {n} of conversation {c}: some ordinary chat text"),
            content_type: "text".into(),
            optimistic_id: None,
            thread_id: None,
            mentions: vec![],
            hidden: false,
            first_response_seconds: None,
            provenance: None,
            metadata: None,
            number: Some(n + 1),
            owner: None,
            at: start + Span::milliseconds(n as i64 * 10),
        }));
    }
    events
}

async fn seed(log: &EventLog, conversations: u64, messages: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut seeder = bench::Seeder::default();
    for c in 0..conversations {
        let events = conversation_events(c, messages);
        let metadata = HashMap::from([
            (META_TENANT.to_owned(), TENANT.to_owned()),
            (META_COMMAND_ID.to_owned(), uuid::Uuid::new_v4().to_string()),
            ("actor".to_owned(), "seed".to_owned()),
        ]);
        let encoded = store::aggregate::encode::<Conversation>(&events, &metadata)?;
        let stream = Conversation::stream_id(
            Kind::Conversation,
            &TenantId::parse(TENANT).unwrap(),
            &ConversationId::parse(format!("conv-{c}")).unwrap(),
        );
        seeder.append(log, stream, encoded).await?;
    }
    seeder.finish().await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "seeded {} events in {seconds:.1} s ({:.0} events/s through the log writer)",
        log.head(),
        log.head() as f64 / seconds
    );
    Ok(())
}

/// The next `wanted` event (30 s at most); an `error` event fails.
async fn next(answers: &mut mpsc::UnboundedReceiver<Value>, wanted: &str) -> anyhow::Result<Value> {
    let wait = async {
        loop {
            let answer = answers.recv().await.context("connection closed")?;
            if answer["event"] == wanted {
                return Ok(answer["data"].clone());
            }
            if answer["event"] == "error" {
                bail!("error: {}", answer["data"]);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .context("no answer within 30 s")?
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.missed < args.messages_per_conversation,
        "--missed must be below --messages-per-conversation"
    );
    let conversations = (args.events / (args.messages_per_conversation + 3)).max(1);
    println!("machine: {}", machine());
    println!("{args:?}");

    let db = TestDatabase::new(backend(&args.store)?).await;
    let log = EventLog::connect(db.url()).await?;
    seed(&log, conversations, args.messages_per_conversation).await?;

    // Projections catch up from position 0: a first rebuild figure.
    let started = Instant::now();
    let projector = Projector::start(log.clone(), projections::all()).await?;
    for name in [
        projections::conversation_messages::NAME,
        projections::conversation_list::NAME,
    ] {
        ensure!(
            projector
                .wait_for(name, log.head(), Duration::from_secs(3600))
                .await,
            "{name} did not catch up"
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "projections caught up on {} events in {seconds:.1} s ({:.0} events/s through both projections)",
        log.head(),
        log.head() as f64 / seconds
    );
    projector.stop().await;
    log.close().await;

    let gateway = Gateway::start(db, &[])?;
    let (tx, mut answers) = mpsc::unbounded_channel::<Value>();
    let client = ClientBuilder::new(gateway.url())
        .namespace("/")
        .transport_type(TransportType::Websocket)
        .reconnect(false)
        .auth(json!({ "token": token(TENANT, READER, "customer") }))
        .on_any(move |event, payload, _| {
            let tx = tx.clone();
            async move {
                if let rust_socketio::Payload::Text(mut values) = payload
                    && !values.is_empty()
                {
                    let _ =
                        tx.send(json!({ "event": String::from(event), "data": values.remove(0) }));
                }
            }
            .boxed()
        })
        .connect()
        .await
        .context("connecting")?;
    let client = Arc::new(client);
    next(&mut answers, "connected").await?;

    // The first rejoin of a conversation since the gateway started loads its
    // aggregate from the log (snapshot + tail); later ones find it cached.
    let mut cold = Latency::default();
    let mut warm = Latency::default();
    let mut seen = std::collections::HashSet::new();
    let per_conversation = args.messages_per_conversation;
    for sample in 0..args.samples {
        let c = (sample * 7919) % conversations;
        let cursor = message_id(c, per_conversation - args.missed - 1);
        let started = Instant::now();
        client
            .emit(
                "conversation:rejoin",
                json!({ "conversationId": format!("conv-{c}"), "customerId": TENANT,
                        "lastMessageId": cursor.as_str(), "limit": args.missed }),
            )
            .await?;
        let answer = next(&mut answers, "conversation:rejoined").await?;
        if seen.insert(c) {
            cold.record(started.elapsed());
        } else {
            warm.record(started.elapsed());
        }
        let missed = answer["missed_messages"]
            .as_array()
            .context("missed_messages")?;
        ensure!(
            missed.len() as u64 == args.missed,
            "got {} messages, expected {}",
            missed.len(),
            args.missed
        );
        let first = format!("msg_{c}_{}", per_conversation - args.missed);
        ensure!(
            missed[0]["id"] == first.as_str(),
            "first missed is {}, expected {first}",
            missed[0]["id"]
        );
        ensure!(answer["hasMore"] == false, "a complete page says hasMore");
    }
    println!(
        "rejoin, {} missed of {} per conversation, {} events stored",
        args.missed,
        per_conversation,
        conversations * (per_conversation + 3),
    );
    println!("  first of a conversation (cold)  {}", cold.summary());
    println!("  later (warm)                    {}", warm.summary());
    if let Some(rss) = gateway.rss_kib() {
        println!("gateway RSS: {} MiB", rss / 1024);
    }
    let _ = client.disconnect().await;
    gateway.stop();
    Ok(())
}
