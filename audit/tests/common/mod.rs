//! Events, exports and manifests shared by the integration tests.

#![allow(dead_code)]

use audit::{
    ChainSummary, ChainWriter, ExportEvent, Filters, Format, Manifest, Report, verify_reader,
};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

/// `n` events with gaps between positions, with and without actors, and
/// payloads holding text that CSV must quote (commas, quotes, non-ASCII).
/// No text field holds a raw newline, so each record is one line in both
/// formats and the tests can cut the file by lines.
pub fn events(n: usize) -> Vec<ExportEvent> {
    (0..n)
        .map(|i| ExportEvent {
            position: 10 + 3 * i as i64,
            event_id: Uuid::from_u128(0x0192_d5a8_7c3e_7b1a_9f00_0000_0000_0000 + i as u128),
            event_type: if i % 2 == 0 {
                "MessagePosted"
            } else {
                "ReactionAdded"
            }
            .to_owned(),
            schema_version: 1 + (i % 3) as i32,
            stream_id: format!("conversation-{}", i % 4),
            tenant: "acme".to_owned(),
            recorded_at: time(i as i64),
            actor: (i % 5 != 0).then(|| format!("user-{i}")),
            payload: json!({
                "text": format!("message {i}, \"quoted\", héllo"),
                "n": i,
                "ratio": i as f64 / 4.0,
                "tags": ["a", "b"],
                "nested": {"ok": i % 2 == 0, "none": null},
            }),
        })
        .collect()
}

pub fn time(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
        + chrono::Duration::microseconds(seconds * 1_000_123)
}

pub fn export(events: &[ExportEvent], format: Format) -> (Vec<u8>, ChainSummary) {
    let mut out = Vec::new();
    let mut writer = ChainWriter::new(&mut out, format).unwrap();
    for event in events {
        writer.write(event).unwrap();
    }
    let summary = writer.finish().unwrap();
    (out, summary)
}

pub fn filters() -> Filters {
    Filters {
        tenant: "acme".to_owned(),
        from: Some(time(-100)),
        to: None,
        conversation: Some("conversation-1".to_owned()),
        types: vec!["MessagePosted".to_owned()],
    }
}

pub fn manifest(summary: &ChainSummary, format: Format) -> Manifest {
    Manifest::new(summary, format, filters(), "0.1.0", time(1000))
}

/// One change to a manifest, for tables of tampering cases.
pub type Edit = fn(&mut Manifest);

pub fn check(bytes: &[u8], format: Format, manifest: Option<&Manifest>) -> Report {
    verify_reader(bytes, format, manifest, None).unwrap()
}

/// The file cut into lines, each with its `\n`.
pub fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}
