//! The replay tool on a large log: seeds N events of ordinary chat (joins,
//! messages, typing, read markers, edits, reactions, made by the real
//! aggregate) straight through the event log, then times a rebuild of every
//! projection (fresh tables, swapped in), an export of the tenant (JSON
//! lines and CSV, hash-chained) and the verification of each.
//!
//! ```text
//! cargo build --release -p bench
//! target/release/replay_bench --store sqlite --events 1000000
//! ```

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, ensure};
use chrono::{Duration as Span, TimeZone, Utc};
use clap::Parser;
use domain::actor::{Actor, Role};
use domain::conversation::{
    Action, Conversation, ConversationCommand, ConversationEvent, Kind, MessageKind, NewMessage,
};
use domain::ids::{ConversationId, MessageId, TenantId, UserId};
use domain::message::{Emoji, MessageBody};
use store::EventLog;
use store::aggregate::{META_COMMAND_ID, META_TENANT};
use store::testing::TestDatabase;

// Exports and rebuilds allocate per event; glibc's allocator spent a
// quarter of the time there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(about = "Parley replay: rebuild, export and verify on a large log")]
struct Args {
    /// sqlite or postgres (a fresh database).
    #[arg(long, default_value = "sqlite")]
    store: String,
    /// Events to seed in all (about).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Events per conversation (about).
    #[arg(long, default_value_t = 500)]
    events_per_conversation: u64,
    /// Also rebuild each projection alone, to see where the time goes.
    #[arg(long)]
    per_projection: bool,
}

const TENANT: &str = "bench";

/// One conversation's commands, run through the pure aggregate: a customer
/// and an agent talk; typing around most messages, read markers, now and
/// then an edit or a reaction.
fn conversation_events(c: u64, wanted: u64) -> anyhow::Result<Vec<ConversationEvent>> {
    let tenant = TenantId::parse(TENANT)?;
    let id = ConversationId::parse(format!("conv-{c}"))?;
    let person = |user: String, role| Actor {
        user: UserId::parse(user).expect("a valid id"),
        tenant: tenant.clone(),
        role,
        name: None,
    };
    let customer = person(format!("customer-{c}"), Role::Customer);
    let agent = person(format!("agent-{}", c % 20), Role::Agent);
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Span::minutes(c as i64);
    let mut state = Conversation::default();
    let mut events: Vec<ConversationEvent> = Vec::new();
    let mut tick = 0;
    let mut run = |state: &mut Conversation,
                   events: &mut Vec<ConversationEvent>,
                   actor: &Actor,
                   action: Action|
     -> anyhow::Result<()> {
        tick += 1;
        let command = ConversationCommand {
            kind: Kind::Conversation,
            conversation: id.clone(),
            actor: actor.clone(),
            at: start + Span::milliseconds(tick * 250),
            action,
        };
        for event in state.handle(command)? {
            state.apply(event.clone());
            events.push(event);
        }
        Ok(())
    };
    run(&mut state, &mut events, &customer, Action::Join)?;
    run(&mut state, &mut events, &agent, Action::Join)?;
    let mut n = 0u64;
    let mut last: Option<MessageId> = None;
    while (events.len() as u64) < wanted {
        let (author, reader) = if n.is_multiple_of(2) {
            (&customer, &agent)
        } else {
            (&agent, &customer)
        };
        run(&mut state, &mut events, author, Action::StartTyping)?;
        run(&mut state, &mut events, author, Action::StopTyping)?;
        let message = MessageId::parse(format!("msg_{c}_{n}"))?;
        run(
            &mut state,
            &mut events,
            author,
            Action::PostMessage(NewMessage {
                id: message.clone(),
                body: MessageBody::parse(format!(
                    "message {n} of conversation {c}: some ordinary chat text"
                ))?,
                optimistic_id: None,
                thread_id: None,
                mentions: vec![],
                kind: MessageKind::Text,
                provenance: None,
                metadata: None,
            }),
        )?;
        run(
            &mut state,
            &mut events,
            reader,
            Action::MarkRead {
                ids: vec![message.clone()],
            },
        )?;
        if n % 10 == 9 {
            run(
                &mut state,
                &mut events,
                author,
                Action::EditMessage {
                    id: message.clone(),
                    body: MessageBody::parse(format!("message {n}, edited"))?,
                    metadata: None,
                },
            )?;
        }
        if n % 7 == 6
            && let Some(previous) = &last
        {
            run(
                &mut state,
                &mut events,
                author,
                Action::React {
                    id: previous.clone(),
                    emoji: Emoji::parse("👍")?,
                    add: true,
                },
            )?;
        }
        last = Some(message);
        n += 1;
    }
    Ok(events)
}

async fn seed(log: &EventLog, events: u64, per_conversation: u64) -> anyhow::Result<u64> {
    let started = Instant::now();
    let mut seeder = bench::Seeder::default();
    let mut c = 0;
    while log.head() < events as i64 {
        let batch = conversation_events(c, per_conversation)?;
        let metadata = HashMap::from([
            (META_TENANT.to_owned(), TENANT.to_owned()),
            (META_COMMAND_ID.to_owned(), uuid::Uuid::new_v4().to_string()),
            ("actor".to_owned(), format!("customer-{c}")),
        ]);
        let encoded = store::aggregate::encode::<Conversation>(&batch, &metadata)?;
        let stream = Conversation::stream_id(
            Kind::Conversation,
            &TenantId::parse(TENANT)?,
            &ConversationId::parse(format!("conv-{c}"))?,
        );
        seeder.append(log, stream, encoded).await?;
        c += 1;
    }
    seeder.finish().await?;
    let seconds = started.elapsed().as_secs_f64();
    let head = log.head();
    println!(
        "seeded {head} events in {c} conversations in {seconds:.1} s ({:.0} events/s)",
        head as f64 / seconds
    );
    Ok(head as u64)
}

/// Page through the log with `page` (from a position); how many events.
async fn read_everything<F, Fut>(page: F) -> anyhow::Result<u64>
where
    F: Fn(i64) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<store::RecordedEvent>, store::StoreError>>,
{
    let (mut after, mut read) = (0, 0u64);
    loop {
        let events = page(after).await?;
        let Some(last) = events.last() else {
            return Ok(read);
        };
        after = last.position;
        read += events.len() as u64;
    }
}

fn report(what: &str, events: u64, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{what}: {events} events in {seconds:.2} s = {:.0} events/s",
        events as f64 / seconds
    );
}

/// Run a replay command in this process; its output.
async fn replay(url: &str, args: &[&str]) -> anyhow::Result<(bool, String)> {
    let mut argv = vec!["replay", "--database-url", url];
    argv.extend_from_slice(args);
    let cli = <replay::Cli as clap::Parser>::try_parse_from(argv)?;
    let mut out = Vec::new();
    let ok = replay::run(cli, &mut out, replay::Feedback::Quiet).await?;
    Ok((ok, String::from_utf8(out)?))
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = TestDatabase::new(bench::backend(&args.store)?).await;
    println!("{}", bench::machine());
    let log = EventLog::connect(db.url()).await?;
    let events = seed(&log, args.events, args.events_per_conversation).await?;
    if log.db().backend() == store::Backend::Postgres {
        // A store that has lived has statistics (autovacuum); a table
        // filled a second ago has none, and the planner guesses badly.
        sqlx::query("ANALYZE events")
            .execute(log.db().pool())
            .await?;
    }
    log.close().await;
    log.db().close().await;

    let started = Instant::now();
    let (ok, output) = replay(db.url(), &["rebuild", "--fresh"]).await?;
    ensure!(ok, "rebuild failed: {output}");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "rebuild (every projection, fresh tables, swapped in): {events} events in {seconds:.2} s = {:.0} events/s",
        events as f64 / seconds
    );
    print!("{output}");
    if args.per_projection {
        for projection in projections::all() {
            let started = Instant::now();
            let (ok, output) =
                replay(db.url(), &["rebuild", "--projection", projection.name()]).await?;
            ensure!(ok, "rebuild failed: {output}");
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "  {} alone: {seconds:.2} s = {:.0} events/s",
                projection.name(),
                events as f64 / seconds
            );
        }
    }

    {
        // Reading alone, to tell it from hashing and writing.
        let log = EventLog::connect(db.url()).await?;
        let filter = store::EventFilter {
            tenant: TENANT.into(),
            ..Default::default()
        };
        let started = Instant::now();
        let read = read_everything(|after| log.read_stored(&filter, after, 10_000)).await?;
        report("read the tenant's events alone", read, started);
        let started = Instant::now();
        let read = read_everything(|after| log.read_all(after, 10_000)).await?;
        report("read the whole log alone", read, started);
        let page = log.read_stored(&filter, 0, 100_000).await?;
        let started = Instant::now();
        let mut chain = audit::ChainWriter::new(std::io::sink(), audit::Format::Jsonl)?;
        for event in &page {
            chain.write(&audit::ExportEvent {
                position: event.position,
                event_id: event.event_id,
                event_type: event.event_type.clone(),
                schema_version: event.schema_version,
                stream_id: event.stream_id.clone(),
                tenant: event.tenant.clone(),
                recorded_at: event.recorded_at,
                actor: event.meta("actor").map(str::to_owned),
                payload: event.payload.clone(),
            })?;
        }
        chain.finish()?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "hash and write alone: {} in {seconds:.2} s = {:.0} events/s",
            page.len(),
            page.len() as f64 / seconds
        );
        log.close().await;
    }
    let dir = tempfile::tempdir()?;
    for format in ["jsonl", "csv"] {
        let file = dir.path().join(format!("export.{format}"));
        let path = file.to_str().context("a UTF-8 path")?;
        let started = Instant::now();
        let (ok, output) = replay(
            db.url(),
            &[
                "export", "--tenant", TENANT, "--format", format, "--out", path,
            ],
        )
        .await?;
        ensure!(ok, "export failed: {output}");
        let seconds = started.elapsed().as_secs_f64();
        let size = std::fs::metadata(&file)?.len() as f64 / 1e6;
        println!(
            "export {format}: {events} events in {seconds:.2} s = {:.0} events/s ({size:.0} MB)",
            events as f64 / seconds
        );
        let started = Instant::now();
        let (ok, output) = replay(db.url(), &["verify", path]).await?;
        ensure!(ok, "verify failed: {output}");
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "verify {format}: {events} events in {seconds:.2} s = {:.0} events/s",
            events as f64 / seconds
        );
    }
    if let Some(peak) = peak_rss_mib() {
        println!("peak resident memory of this process: {peak:.0} MiB");
    }
    Ok(())
}
