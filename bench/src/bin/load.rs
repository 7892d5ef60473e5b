//! Message-path load: C connections over R rooms send `message:send` at a
//! target rate; the tool reports acknowledged throughput, ack latency
//! (`message:send` → `message:sent`, i.e. durable) and delivery latency
//! (`message:send` → `message:new` at another member of the room).
//!
//! ```text
//! cargo build --release -p gateway -p bench
//! target/release/load --store sqlite --connections 200 --rooms 50 --rate 5000 --seconds 20
//! ```

use anyhow::Context;
use bench::{Gateway, Latency, backend, machine, token};
use clap::Parser;
use futures::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use store::testing::TestDatabase;

#[derive(Parser, Debug)]
#[command(about = "Parley message-path load: throughput, ack and delivery latency")]
struct Args {
    /// Store of the gateway under test: sqlite or postgres (fresh database).
    #[arg(long, default_value = "sqlite")]
    store: String,
    /// Socket.IO connections.
    #[arg(long, default_value_t = 200)]
    connections: usize,
    /// Conversations the connections are spread over (round robin).
    #[arg(long, default_value_t = 50)]
    rooms: usize,
    /// Messages per second, all connections together.
    #[arg(long, default_value_t = 5000)]
    rate: u64,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Typing signals per second on top of the messages (0: none).
    #[arg(long, default_value_t = 0)]
    typing_rate: u64,
}

/// All send times are offsets from this instant.
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

#[derive(Default)]
struct Meter {
    pending: Mutex<HashMap<String, Instant>>,
    acks: Mutex<Latency>,
    deliveries: Mutex<Latency>,
    errors: AtomicU64,
    /// Start of the measured window (offset from `base`, µs); 0 = warm-up.
    window_start: AtomicU64,
}

impl Meter {
    fn measuring(&self, sent_at: Instant) -> bool {
        let start = self.window_start.load(Ordering::Relaxed);
        start > 0 && sent_at.duration_since(base()).as_micros() as u64 >= start
    }
}

fn first(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut values) if !values.is_empty() => values.remove(0),
        _ => Value::Null,
    }
}

/// Connect and wait for the gateway's `connected` greeting (events emitted
/// before the namespace handshake completes are not delivered).
async fn connect(url: &str, user: &str, meter: Arc<Meter>) -> anyhow::Result<Client> {
    let (greeted_tx, greeted) = tokio::sync::oneshot::channel::<()>();
    let greeted_tx = Arc::new(Mutex::new(Some(greeted_tx)));
    let acks = meter.clone();
    let deliveries = meter.clone();
    let errors = meter;
    let me = user.to_owned();
    let client = ClientBuilder::new(url)
        .namespace("/")
        .transport_type(TransportType::Websocket)
        .reconnect(false)
        .auth(json!({ "token": token("bench", user, "agent") }))
        .on("connected", move |_, _| {
            let greeted_tx = greeted_tx.clone();
            async move {
                if let Some(tx) = greeted_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            }
            .boxed()
        })
        .on("message:sent", move |payload, _| {
            let meter = acks.clone();
            async move {
                let ack = first(payload);
                let Some(optimistic) = ack["optimisticId"].as_str() else {
                    return;
                };
                let sent = meter.pending.lock().unwrap().remove(optimistic);
                if let Some(sent) = sent
                    && meter.measuring(sent)
                {
                    meter.acks.lock().unwrap().record(sent.elapsed());
                }
            }
            .boxed()
        })
        .on("message:new", move |payload, _| {
            let meter = deliveries.clone();
            let me = me.clone();
            async move {
                let message = first(payload);
                if message["userId"] == me.as_str() {
                    return;
                }
                let sent_micros: Option<u64> = message["content"]
                    .as_str()
                    .and_then(|c| c.split(' ').next())
                    .and_then(|t| t.parse().ok());
                if let Some(micros) = sent_micros {
                    let sent = base() + Duration::from_micros(micros);
                    if meter.measuring(sent) {
                        meter.deliveries.lock().unwrap().record(sent.elapsed());
                    }
                }
            }
            .boxed()
        })
        .on(Event::Error, move |payload, _| {
            let meter = errors.clone();
            async move {
                meter.errors.fetch_add(1, Ordering::Relaxed);
                if meter.errors.load(Ordering::Relaxed) <= 3 {
                    eprintln!("error event: {}", first(payload));
                }
            }
            .boxed()
        })
        .connect()
        .await
        .context("connecting a client")?;
    tokio::time::timeout(Duration::from_secs(10), greeted)
        .await
        .context("no `connected` within 10 s")??;
    Ok(client)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = base();
    let db = TestDatabase::new(backend(&args.store)?).await;
    let gateway = Gateway::start(db, &[])?;
    let url = gateway.url();
    println!("machine: {}", machine());
    println!("{args:?}");

    let mut clients = Vec::with_capacity(args.connections);
    let mut meters = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let meter = Arc::new(Meter::default());
        let client = connect(&url, &format!("u{i}"), meter.clone()).await?;
        let room = format!("room-{}", i % args.rooms);
        client
            .emit(
                "conversation:join",
                json!({ "conversationId": room, "customerId": "bench" }),
            )
            .await?;
        clients.push(Arc::new(client));
        meters.push(meter);
    }
    // Let every join land before the load starts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = gateway.rss_kib();

    let sent = Arc::new(AtomicU64::new(0));
    let per_client = Duration::from_secs_f64(args.connections as f64 / args.rate as f64);
    let typing_every = (args.typing_rate > 0)
        .then(|| Duration::from_secs_f64(args.connections as f64 / args.typing_rate as f64));
    let mut senders = Vec::new();
    for (i, (client, meter)) in clients.iter().zip(&meters).enumerate() {
        let (client, meter, sent) = (client.clone(), meter.clone(), sent.clone());
        let room = format!("room-{}", i % args.rooms);
        senders.push(tokio::spawn(async move {
            // Spread the first sends over one period so clients do not fire in step.
            tokio::time::sleep(per_client.mul_f64(i as f64 / 997.0 % 1.0)).await;
            let mut tick = tokio::time::interval(per_client);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut seq = 0u64;
            // Runs until aborted at the end of the measurement.
            loop {
                tick.tick().await;
                seq += 1;
                let optimistic = format!("{i}-{seq}");
                let now = Instant::now();
                let content = format!("{} u{i} {seq}", now.duration_since(base()).as_micros());
                meter
                    .pending
                    .lock()
                    .unwrap()
                    .insert(optimistic.clone(), now);
                let message = json!({ "conversationId": room, "customerId": "bench",
                                      "content": content, "optimisticId": optimistic });
                if client.emit("message:send", message).await.is_ok() {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
        if let Some(every) = typing_every {
            let client = clients[i].clone();
            let room = format!("room-{}", i % args.rooms);
            senders.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                let mut started = false;
                loop {
                    tick.tick().await;
                    started = !started;
                    let event = if started {
                        "typing:start"
                    } else {
                        "typing:stop"
                    };
                    let _ = client
                        .emit(
                            event,
                            json!({ "conversationId": room, "customerId": "bench" }),
                        )
                        .await;
                }
            }));
        }
    }

    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    let window_start = Instant::now();
    let micros = window_start.duration_since(base()).as_micros() as u64;
    for meter in &meters {
        meter.window_start.store(micros.max(1), Ordering::Relaxed);
    }
    let sent_before = sent.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let sent_in_window = sent.load(Ordering::Relaxed) - sent_before;
    let busy_rss = gateway.rss_kib();
    for sender in senders {
        sender.abort();
    }
    // Acks and deliveries still on their way.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut acks = Latency::default();
    let mut deliveries = Latency::default();
    let mut errors = 0;
    let mut unacked = 0;
    for meter in &meters {
        acks.merge(&meter.acks.lock().unwrap());
        deliveries.merge(&meter.deliveries.lock().unwrap());
        errors += meter.errors.load(Ordering::Relaxed);
        unacked += meter
            .pending
            .lock()
            .unwrap()
            .values()
            .filter(|t| meter.measuring(**t))
            .count();
    }
    let seconds = args.seconds as f64;
    println!(
        "offered {:>8.0} msg/s   sent {:>8.0} msg/s   acknowledged {:>8.0} msg/s   unacknowledged {unacked}   errors {errors}",
        args.rate as f64,
        sent_in_window as f64 / seconds,
        acks.count() as f64 / seconds
    );
    println!("ack       {}", acks.summary());
    println!("delivery  {}", deliveries.summary());
    if let (Some(idle), Some(busy)) = (idle_rss, busy_rss) {
        println!(
            "gateway RSS: {} MiB with {} idle connections, {} MiB under load",
            idle / 1024,
            args.connections,
            busy / 1024
        );
    }
    for client in clients {
        let _ = client.disconnect().await;
    }
    gateway.stop();
    Ok(())
}
