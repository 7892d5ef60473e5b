//! Export and verify throughput on chat-like events, in both formats.
//!
//! ```text
//! cargo run --release -p audit --example throughput -- [events] [directory]
//! ```
//!
//! Writes `events` (default 1,000,000) events as JSONL and as CSV into
//! `directory` (default: a temporary one, removed afterwards), verifies both
//! files, and prints events per second of wall time and the CPU time used
//! (user + system, all threads, read from `/proc/self/stat` where there is one).

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use audit::{ChainWriter, ExportEvent, Format, verify};
use chrono::{TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

/// Distinct events cycled through; positions and ids are set on each use.
const POOL: usize = 4096;

fn pool() -> Vec<ExportEvent> {
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    (0..POOL)
        .map(|i| {
            let conversation = i / 16;
            let message = i % 16;
            let author = format!("customer-{conversation}");
            ExportEvent {
                position: 0,
                event_id: Uuid::nil(),
                event_type: "MessagePosted".to_owned(),
                schema_version: 1,
                stream_id: format!("conversation/bench/conv-{conversation}"),
                tenant: "bench".to_owned(),
                recorded_at: at + chrono::Duration::milliseconds(i as i64 * 1250),
                actor: Some(author.clone()),
                payload: json!({
                    "type": "MessagePosted",
                    "tenant": "bench",
                    "kind": "conversation",
                    "conversation_id": format!("conv-{conversation}"),
                    "message_id": format!("msg_{conversation}_{message}"),
                    "author_id": author,
                    "author_name": author,
                    "author_role": "customer",
                    "content": format!("message {message} of conversation {conversation}: some ordinary chat text"),
                    "content_type": "text",
                    "optimistic_id": null,
                    "thread_id": null,
                    "mentions": [],
                    "hidden": false,
                    "at": "2026-01-01T00:00:01.250Z",
                }),
            }
        })
        .collect()
}

/// User + system CPU time of the whole process, when the platform says.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports these in USER_HZ, which is 100 on every mainstream build.
    Some(Duration::from_millis(ticks * 10))
}

fn measure<T>(what: &str, events: u64, run: impl FnOnce() -> T) -> T {
    let cpu = cpu_time();
    let start = Instant::now();
    let out = run();
    let wall = start.elapsed();
    let cpu = cpu.zip(cpu_time()).map(|(a, b)| b - a);
    let rate = events as f64 / wall.as_secs_f64();
    match cpu {
        Some(cpu) => println!(
            "{what:<14} {rate:>10.0} events/s  wall {:>6.2} s  cpu {:>6.2} s",
            wall.as_secs_f64(),
            cpu.as_secs_f64()
        ),
        None => println!(
            "{what:<14} {rate:>10.0} events/s  wall {:>6.2} s",
            wall.as_secs_f64()
        ),
    }
    out
}

fn run(dir: &Path, n: u64) {
    let mut events = pool();
    for format in [Format::Jsonl, Format::Csv] {
        let path = dir.join(format!("throughput.{format}"));
        let summary = measure(&format!("write {format}"), n, || {
            let out = File::create(&path).expect("create the export file");
            let mut writer = ChainWriter::new(out, format).expect("start the export");
            for i in 0..n {
                let event = &mut events[(i % POOL as u64) as usize];
                event.position = i as i64 + 1;
                event.event_id =
                    Uuid::from_u128(0x0192_d5a8_7c3e_7b1a_9f00_0000_0000_0000 + i as u128);
                writer.write(event).expect("write an event");
            }
            writer.finish().expect("finish the export")
        });
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        println!(
            "               {} bytes, {:.0} bytes per record",
            size,
            size as f64 / n.max(1) as f64
        );
        let report = measure(&format!("verify {format}"), n, || {
            verify(&path, None, None).expect("read the export")
        });
        assert!(report.is_ok(), "{:?}", report.problem);
        assert_eq!(report.count, n);
        assert_eq!(report.head_hash, summary.head_hash);
        assert_eq!(report.sha256, summary.sha256);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n = args
        .next()
        .map_or(1_000_000, |a| a.parse().expect("events: a number"));
    match args.next() {
        Some(dir) => run(Path::new(&dir), n),
        None => {
            let dir = tempfile::tempdir().expect("make a temporary directory");
            run(dir.path(), n);
        }
    }
}
