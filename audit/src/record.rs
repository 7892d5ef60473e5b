//! The exported record, its canonical form and its hash.

use std::fmt::Write as _;

use chrono::format::{Fixed, Item, Numeric, Pad};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::AuditError;
use crate::jcs::Canonical;

/// The `prev_hash` of the first record: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The record's keys in written order: the JSONL key order and the CSV header.
pub(crate) const COLUMNS: [&str; 11] = [
    "position",
    "event_id",
    "type",
    "schema_version",
    "stream",
    "tenant",
    "time",
    "actor",
    "payload",
    "prev_hash",
    "hash",
];

/// One event as the exporter reads it from the log.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportEvent {
    pub position: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub stream_id: String,
    pub tenant: String,
    pub recorded_at: DateTime<Utc>,
    pub actor: Option<String>,
    pub payload: Value,
}

/// A borrowed view of one record. Writing and verifying both hash through
/// this one struct, so the two cannot drift apart on what is covered.
///
/// The payload is a [`Value`] when writing; the verifier hashes a borrowed
/// [`Json`](crate::jcs::Json) instead, which canonicalizes to the same bytes.
#[derive(Serialize)]
pub(crate) struct RecordView<'a, P = Value> {
    pub position: i64,
    pub event_id: &'a str,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub schema_version: i32,
    pub stream: &'a str,
    pub tenant: &'a str,
    pub time: &'a str,
    pub actor: Option<&'a str>,
    pub payload: &'a P,
    pub prev_hash: &'a str,
    /// `None` while hashing: the hash covers everything but itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<&'a str>,
}

/// A record hash as lowercase hex, kept on the stack.
pub(crate) type HexHash = [u8; 64];

pub(crate) fn hex_str(hash: &HexHash) -> &str {
    std::str::from_utf8(hash).expect("hex digits are ASCII")
}

pub(crate) fn genesis() -> HexHash {
    [b'0'; 64]
}

/// Hashes records, reusing one buffer for the canonical text so that a
/// million records do not cost a million allocations of it.
#[derive(Default)]
pub(crate) struct RecordHasher {
    canonical: Vec<u8>,
}

impl RecordHasher {
    /// The hash of `record`, which must have `hash: None`.
    pub(crate) fn hash<P: Canonical>(
        &mut self,
        record: &RecordView<'_, P>,
    ) -> Result<HexHash, AuditError> {
        debug_assert!(record.hash.is_none());
        canonical_record(record, &mut self.canonical)?;
        let mut hex = [0u8; 64];
        hex::encode_to_slice(Sha256::digest(&self.canonical), &mut hex)
            .expect("a 32-byte digest is 64 hex digits");
        Ok(hex)
    }
}

/// Writes the RFC 8785 form of `record` (without `hash`) into `out`.
///
/// The record's own object is laid out here: its keys are fixed ASCII
/// names, so their sorted order is known. [`crate::jcs`] writes the values.
/// `canonical_record_matches_the_jcs_crate` checks this gives the crate's bytes.
fn canonical_record<P: Canonical>(
    record: &RecordView<'_, P>,
    out: &mut Vec<u8>,
) -> Result<(), AuditError> {
    out.clear();
    // Sorted by UTF-16 code units, as RFC 8785 section 3.2.3 requires.
    out.extend_from_slice(b"{\"actor\":");
    record.actor.write_canonical(out)?;
    out.extend_from_slice(b",\"event_id\":");
    record.event_id.write_canonical(out)?;
    out.extend_from_slice(b",\"payload\":");
    record.payload.write_canonical(out)?;
    out.extend_from_slice(b",\"position\":");
    record.position.write_canonical(out)?;
    out.extend_from_slice(b",\"prev_hash\":");
    record.prev_hash.write_canonical(out)?;
    out.extend_from_slice(b",\"schema_version\":");
    record.schema_version.write_canonical(out)?;
    out.extend_from_slice(b",\"stream\":");
    record.stream.write_canonical(out)?;
    out.extend_from_slice(b",\"tenant\":");
    record.tenant.write_canonical(out)?;
    out.extend_from_slice(b",\"time\":");
    record.time.write_canonical(out)?;
    out.extend_from_slice(b",\"type\":");
    record.event_type.write_canonical(out)?;
    out.push(b'}');
    Ok(())
}

/// `%Y-%m-%dT%H:%M:%S%.6fZ`, spelled out so it is not parsed again for every event.
const TIME_FORMAT: &[Item<'static>] = &[
    Item::Numeric(Numeric::Year, Pad::Zero),
    Item::Literal("-"),
    Item::Numeric(Numeric::Month, Pad::Zero),
    Item::Literal("-"),
    Item::Numeric(Numeric::Day, Pad::Zero),
    Item::Literal("T"),
    Item::Numeric(Numeric::Hour, Pad::Zero),
    Item::Literal(":"),
    Item::Numeric(Numeric::Minute, Pad::Zero),
    Item::Literal(":"),
    Item::Numeric(Numeric::Second, Pad::Zero),
    Item::Fixed(Fixed::Nanosecond6),
    Item::Literal("Z"),
];

/// Text buffers reused from one event to the next while writing.
pub(crate) struct EventText {
    event_id: [u8; 36],
    time: String,
}

impl Default for EventText {
    fn default() -> Self {
        Self {
            event_id: [0; 36],
            time: String::new(),
        }
    }
}

impl EventText {
    /// The record view of `event`, without its hash.
    pub(crate) fn view<'a>(
        &'a mut self,
        event: &'a ExportEvent,
        prev_hash: &'a str,
    ) -> RecordView<'a> {
        self.time.clear();
        write!(
            self.time,
            "{}",
            event.recorded_at.format_with_items(TIME_FORMAT.iter())
        )
        .expect("writing to a String cannot fail");
        let event_id = event.event_id.hyphenated().encode_lower(&mut self.event_id);
        RecordView {
            position: event.position,
            event_id,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            stream: &event.stream_id,
            tenant: &event.tenant,
            time: &self.time,
            // CSV cannot tell an empty actor from none, so neither format does.
            actor: event.actor.as_deref().filter(|a| !a.is_empty()),
            payload: &event.payload,
            prev_hash,
            hash: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_record_matches_the_jcs_crate() {
        let payloads = [
            json!({}),
            json!(null),
            json!([1, 2.5, -0.0, 1e21, 9007199254740993_u64, "x"]),
            json!({"b": {"z": 1, "a": [true, false]}, "a": "\u{7f}\u{1f}\t\n\"\\/", "é": 1, "\u{1F600}": 2, "\u{FB33}": 3}),
        ];
        let texts = [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "ctl \u{0}\u{8}\u{c}\r\u{1b}",
            "héllo \u{2028} \u{1F600}",
        ];
        for (i, payload) in payloads.iter().enumerate() {
            for (j, text) in texts.iter().enumerate() {
                let record = RecordView {
                    position: [0, 42, i64::MAX, -7][(i + j) % 4],
                    event_id: text,
                    event_type: texts[(j + 1) % texts.len()],
                    schema_version: [1, i32::MIN, i32::MAX][j % 3],
                    stream: text,
                    tenant: texts[(j + 2) % texts.len()],
                    time: "2026-01-02T03:04:05.000000Z",
                    actor: (j % 2 == 0).then_some(*text),
                    payload,
                    prev_hash: GENESIS,
                    hash: None,
                };
                let mut ours = Vec::new();
                canonical_record(&record, &mut ours).unwrap();
                let crate_only = serde_json_canonicalizer::to_vec(&record).unwrap();
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    String::from_utf8(crate_only).unwrap()
                );
            }
        }
    }

    #[test]
    fn times_are_utc_with_six_fraction_digits() {
        let mut text = EventText::default();
        let mut event = ExportEvent {
            position: 1,
            event_id: Uuid::nil(),
            event_type: String::new(),
            schema_version: 1,
            stream_id: String::new(),
            tenant: String::new(),
            recorded_at: "2026-01-02T03:04:05Z".parse().unwrap(),
            actor: None,
            payload: Value::Null,
        };
        assert_eq!(
            text.view(&event, GENESIS).time,
            "2026-01-02T03:04:05.000000Z"
        );
        event.recorded_at = "0999-12-31T23:59:59.9999999+01:00".parse().unwrap();
        assert_eq!(
            text.view(&event, GENESIS).time,
            "0999-12-31T22:59:59.999999Z"
        );
    }
}
