//! The records of the log.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Global position of an event in the log: strictly increasing in commit
/// order, possibly with gaps (a rolled-back transaction burns numbers).
pub type Position = i64;

/// An event as the caller hands it to [`crate::EventLog::append`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique in the whole log. Appending an id stored before writes nothing.
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub tenant: String,
    pub payload: Value,
    pub metadata: Value,
}

/// What the caller believes the stream's version is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the version (no concurrency check).
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this version.
    Exact(u64),
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no stream"),
            Self::Exact(v) => write!(f, "{v}"),
        }
    }
}

/// An aggregate's state as of a stream version, stored beside the log so that
/// loading a long stream does not replay it all.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub aggregate_type: String,
    pub stream_version: u64,
    pub state: Value,
}

/// How an append ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    Appended {
        first_position: Position,
        last_position: Position,
        stream_version: u64,
    },
    /// The first event id was stored before: nothing was written, and these
    /// are the positions of the original events.
    Duplicate {
        first_position: Position,
        last_position: Position,
    },
}

impl AppendOutcome {
    pub fn last_position(&self) -> Position {
        match self {
            Self::Appended { last_position, .. } | Self::Duplicate { last_position, .. } => {
                *last_position
            }
        }
    }
}

/// An event read back from the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedEvent {
    pub position: Position,
    pub stream_id: String,
    pub stream_version: u64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub tenant: String,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    /// A metadata field as a string (actor, role, dialect, socket id…).
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(Value::as_str)
    }
}

/// Timestamps are stored as fixed-width RFC 3339 text in UTC, so that they
/// sort as text on both backends and read the same in any SQL console.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub fn parse_time(raw: &str) -> Result<DateTime<Utc>, crate::StoreError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| crate::StoreError::Decode(format!("timestamp {raw:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stored_times_sort_as_text_and_round_trip() {
        let a = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let b = a + chrono::Duration::microseconds(1);
        assert!(format_time(a) < format_time(b));
        assert_eq!(format_time(a), "2026-01-02T03:04:05.000000Z");
        assert_eq!(parse_time(&format_time(b)).unwrap(), b);
    }
}
