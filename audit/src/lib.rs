//! Parley's verifiable event-log export: a file an auditor can check offline,
//! with no database and no other Parley crate.
//!
//! An export is a sequence of records, one per event, in log order, written
//! either as JSON Lines or as CSV ([`Format`]). Each record is this object
//! (JSONL writes the keys in this order, one object per `\n`-terminated line):
//!
//! ```text
//! {"position": 42, "event_id": "uuid", "type": "…", "schema_version": 1,
//!  "stream": "…", "tenant": "…", "time": "2026-01-02T03:04:05.000000Z",
//!  "actor": "…" | null, "payload": {…}, "prev_hash": "hex64", "hash": "hex64"}
//! ```
//!
//! `time` is UTC with exactly six fraction digits and a `Z`. An empty actor is
//! written as `null`, because CSV cannot tell the two apart.
//!
//! # The hash chain
//! `hash` is the lowercase hex SHA-256 of the RFC 8785 (JCS) canonical JSON of
//! the record *without* its `hash` key, so it covers `prev_hash` too.
//! `prev_hash` is [`GENESIS`] (64 zeros) for the first record and the previous
//! record's `hash` after that. Editing, inserting, deleting or reordering any
//! record therefore breaks the chain at that point. Cutting records off the
//! end keeps a valid chain, which is why the export comes with a [`Manifest`]
//! (`<file>.manifest.json`) stating the count, the first and last positions,
//! the last hash (the *head*) and the SHA-256 of the whole file, optionally
//! signed with Ed25519 over the manifest's own canonical JSON.
//!
//! JCS writes numbers as IEEE doubles, so integers are covered exactly up to
//! 2^53, which every position and schema version stays well below.
//!
//! CSV has the header `position,event_id,type,schema_version,stream,tenant,
//! time,actor,payload,prev_hash,hash`, the payload as compact JSON in its
//! cell and an empty cell for a null actor. The verifier rebuilds the same
//! JSON object from each row (numbers as integers, the payload parsed), so
//! both formats of the same events have the same hashes.
//!
//! # Layout
//! - [`record`]: [`ExportEvent`], the record and its hash.
//! - [`writer`]: [`ChainWriter`], which writes a chained export, and [`ChainSummary`].
//! - [`manifest`]: [`Manifest`], its [`Filters`], [`Signature`] and signing.
//! - [`keys`]: parsing and generating Ed25519 keys (PEM, base64, hex).
//! - [`verify`](mod@verify): [`verify()`], [`verify_reader`] and their [`Report`].
//! - `io`: readers and writers that hash the bytes going through them.
//! - `jcs`: the RFC 8785 canonical JSON that record hashes cover.

mod io;
mod jcs;
pub mod keys;
pub mod manifest;
pub mod record;
pub mod verify;
pub mod writer;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use ed25519_dalek::{SigningKey, VerifyingKey};
pub use keys::{generate_key_pair, parse_public_key, parse_signing_key};
pub use manifest::{
    Filters, MANIFEST_VERSION, Manifest, Signature, SignatureStatus, TOOL, manifest_path_for,
};
pub use record::{ExportEvent, GENESIS};
pub use verify::{Problem, Report, detect_format, verify, verify_reader};
pub use writer::{ChainSummary, ChainWriter};

/// The one error type of this crate. A broken chain is not an error: it is a
/// [`Problem`] in a [`Report`].
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("CSV error: {0}")]
    Csv(#[from] csv::Error),
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unknown export format {0:?} (expected \"jsonl\" or \"csv\")")]
    UnknownFormat(String),
    #[error(
        "events must be written in strictly increasing position order: {position} after {previous}"
    )]
    OutOfOrder { previous: i64, position: i64 },
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("unreadable manifest {}: {reason}", path.display())]
    Manifest { path: PathBuf, reason: String },
}

/// The file format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    /// The name used in manifests and on command lines, also a fitting file extension.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = AuditError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "jsonl" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            _ => Err(AuditError::UnknownFormat(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_from_and_print_as_their_lowercase_names() {
        for format in [Format::Jsonl, Format::Csv] {
            assert_eq!(format.to_string().parse::<Format>().unwrap(), format);
            assert_eq!(
                serde_json::to_string(&format).unwrap(),
                format!("\"{format}\"")
            );
        }
        assert_eq!("CSV".parse::<Format>().unwrap(), Format::Csv);
        assert!(matches!(
            "xml".parse::<Format>(),
            Err(AuditError::UnknownFormat(_))
        ));
    }
}
