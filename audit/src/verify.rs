//! Verifying an export in one streaming pass: the chain record by record,
//! then the manifest, then its signature.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use serde::Deserialize;
use serde_json::Value;

use crate::io::HashingReader;
use crate::record::{COLUMNS, HexHash, RecordHasher, RecordView, genesis, hex_str};
use crate::{AuditError, Format, Manifest, SignatureStatus};

/// The first thing found wrong with an export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based record number (line in JSONL, row after the header in CSV);
    /// 0 when the problem is with the file as a whole: the CSV header, or a
    /// mismatch with the manifest.
    pub record: u64,
    pub position: Option<i64>,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.record, self.position) {
            (0, _) => f.write_str(&self.reason),
            (record, Some(position)) => {
                write!(f, "record {record} (position {position}): {}", self.reason)
            }
            (record, None) => write!(f, "record {record}: {}", self.reason),
        }
    }
}

/// What verification found. When there is a problem, the counts and the
/// head cover the records before it, while `sha256` still covers the whole file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub count: u64,
    pub first_position: Option<i64>,
    pub last_position: Option<i64>,
    pub head_hash: String,
    pub sha256: String,
    pub signature: SignatureStatus,
    pub problem: Option<Problem>,
}

impl Report {
    /// True when the chain and the manifest hold and the signature, if any,
    /// verifies with the expected key. An unsigned manifest is not a failure:
    /// whether to require a signature is the caller's policy.
    pub fn is_ok(&self) -> bool {
        self.problem.is_none()
            && !matches!(
                self.signature,
                SignatureStatus::Invalid(_) | SignatureStatus::WrongKey
            )
    }
}

/// The format of an export file: JSONL when its first non-blank byte is `{`
/// (or it is empty), CSV otherwise.
pub fn detect_format(export: &Path) -> Result<Format, AuditError> {
    let mut input = BufReader::new(File::open(export)?);
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(Format::Jsonl);
        }
        if let Some(&byte) = buf.iter().find(|b| !b.is_ascii_whitespace()) {
            return Ok(if byte == b'{' {
                Format::Jsonl
            } else {
                Format::Csv
            });
        }
        let n = buf.len();
        input.consume(n);
    }
}

/// Verifies an export file, in the manifest's format when given, else the
/// detected one. Errors only when the file cannot be read.
pub fn verify(
    export: &Path,
    manifest: Option<&Manifest>,
    trusted: Option<&VerifyingKey>,
) -> Result<Report, AuditError> {
    let format = match manifest {
        Some(manifest) => manifest.format,
        None => detect_format(export)?,
    };
    verify_reader(File::open(export)?, format, manifest, trusted)
}

/// Verifies an export read from `input`, streaming: memory use does not
/// grow with the number of records.
pub fn verify_reader<R: Read>(
    input: R,
    format: Format,
    manifest: Option<&Manifest>,
    trusted: Option<&VerifyingKey>,
) -> Result<Report, AuditError> {
    let mut input = HashingReader::new(input);
    let mut chain = Chain::default();
    let mut problem = match format {
        Format::Jsonl => verify_jsonl(&mut input, &mut chain)?,
        Format::Csv => verify_csv(&mut input, &mut chain)?,
    };
    let sha256 = input.finish()?;
    let head_hash = hex_str(&chain.prev).to_owned();
    if let (None, Some(manifest)) = (&problem, manifest) {
        problem = compare_manifest(manifest, &chain, &head_hash, &sha256);
    }
    Ok(Report {
        count: chain.count,
        first_position: chain.first_position,
        last_position: chain.last_position,
        head_hash,
        sha256,
        signature: manifest.map_or(SignatureStatus::Unsigned, |m| m.check_signature(trusted)),
        problem,
    })
}

/// The chain so far: what the next record must link to and follow.
struct Chain {
    hasher: RecordHasher,
    prev: HexHash,
    count: u64,
    first_position: Option<i64>,
    last_position: Option<i64>,
}

impl Default for Chain {
    fn default() -> Self {
        Self {
            hasher: RecordHasher::default(),
            prev: genesis(),
            count: 0,
            first_position: None,
            last_position: None,
        }
    }
}

impl Chain {
    fn next_record(&self) -> u64 {
        self.count + 1
    }

    fn problem(&self, position: Option<i64>, reason: String) -> Problem {
        Problem {
            record: self.next_record(),
            position,
            reason,
        }
    }

    /// Checks one record against the chain and adds it; `record.hash` holds the stored hash.
    fn push(&mut self, mut record: RecordView<'_>) -> Result<(), Problem> {
        let stored = record.hash.take().unwrap_or_default();
        let position = Some(record.position);
        if record.prev_hash != hex_str(&self.prev) {
            let expected = if self.count == 0 {
                "GENESIS".to_owned()
            } else {
                hex_str(&self.prev).to_owned()
            };
            return Err(self.problem(
                position,
                format!(
                    "chain broken: prev_hash is {}, expected {expected} (a record before it was removed, added or moved)",
                    record.prev_hash
                ),
            ));
        }
        let computed = self
            .hasher
            .hash(&record)
            .map_err(|e| self.problem(position, format!("unhashable record: {e}")))?;
        if stored != hex_str(&computed) {
            return Err(self.problem(
                position,
                format!(
                    "hash mismatch: stored {stored}, computed {} (the record was altered)",
                    hex_str(&computed)
                ),
            ));
        }
        if let Some(last) = self.last_position
            && record.position <= last
        {
            return Err(self.problem(
                position,
                format!(
                    "position {} does not follow position {last}",
                    record.position
                ),
            ));
        }
        self.prev = computed;
        self.count += 1;
        self.first_position.get_or_insert(record.position);
        self.last_position = Some(record.position);
        Ok(())
    }
}

/// A JSONL line. Strings borrow from the line unless they hold escapes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRecord<'a> {
    position: i64,
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    event_type: Cow<'a, str>,
    schema_version: i32,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    #[serde(borrow)]
    tenant: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow)]
    actor: Option<Cow<'a, str>>,
    payload: Value,
    #[serde(borrow)]
    prev_hash: Cow<'a, str>,
    #[serde(borrow)]
    hash: Cow<'a, str>,
}

fn verify_jsonl<R: Read>(
    input: &mut HashingReader<R>,
    chain: &mut Chain,
) -> Result<Option<Problem>, AuditError> {
    let mut input = BufReader::with_capacity(64 * 1024, input);
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let record: JsonRecord<'_> = match serde_json::from_slice(&line) {
            Ok(record) => record,
            Err(e) => return Ok(Some(chain.problem(None, format!("unparseable line: {e}")))),
        };
        let view = RecordView {
            position: record.position,
            event_id: &record.event_id,
            event_type: &record.event_type,
            schema_version: record.schema_version,
            stream: &record.stream,
            tenant: &record.tenant,
            time: &record.time,
            actor: record.actor.as_deref(),
            payload: &record.payload,
            prev_hash: &record.prev_hash,
            hash: Some(&record.hash),
        };
        if let Err(problem) =
            check_fields(&view, chain.next_record()).and_then(|()| chain.push(view))
        {
            return Ok(Some(problem));
        }
    }
}

fn verify_csv<R: Read>(
    input: &mut HashingReader<R>,
    chain: &mut Chain,
) -> Result<Option<Problem>, AuditError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .buffer_capacity(64 * 1024)
        .from_reader(input);
    let mut row = csv::ByteRecord::new();
    let file_problem = |reason: String| {
        Some(Problem {
            record: 0,
            position: None,
            reason,
        })
    };
    match reader.read_byte_record(&mut row) {
        Ok(true) if row.iter().eq(COLUMNS.iter().map(|c| c.as_bytes())) => {}
        Ok(true) => {
            return Ok(file_problem(format!(
                "the CSV header is not {}",
                COLUMNS.join(",")
            )));
        }
        Ok(false) => return Ok(file_problem("the CSV file has no header".into())),
        Err(e) if e.is_io_error() => return Err(e.into()),
        Err(e) => return Ok(file_problem(format!("unparseable CSV header: {e}"))),
    }
    loop {
        match reader.read_byte_record(&mut row) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) if e.is_io_error() => return Err(e.into()),
            Err(e) => return Ok(Some(chain.problem(None, format!("unparseable row: {e}")))),
        }
        if let Err(problem) = verify_row(&row, chain) {
            return Ok(Some(problem));
        }
    }
}

/// Rebuilds the JSON record from a CSV row, exactly as JSONL would hold it, and checks it.
fn verify_row(row: &csv::ByteRecord, chain: &mut Chain) -> Result<(), Problem> {
    let unparseable = |what: &str| chain.problem(None, format!("unparseable row: {what}"));
    let field = |i: usize| -> Result<&str, Problem> {
        let bytes = row.get(i).ok_or_else(|| unparseable("too few fields"))?;
        std::str::from_utf8(bytes).map_err(|_| unparseable(&format!("{} is not UTF-8", COLUMNS[i])))
    };
    let position = field(0)?
        .parse()
        .map_err(|_| unparseable("position is not an integer"))?;
    let schema_version = field(3)?
        .parse()
        .map_err(|_| unparseable("schema_version is not an integer"))?;
    let payload: Value = serde_json::from_str(field(8)?)
        .map_err(|e| unparseable(&format!("payload is not JSON: {e}")))?;
    let actor = field(7)?;
    let view = RecordView {
        position,
        event_id: field(1)?,
        event_type: field(2)?,
        schema_version,
        stream: field(4)?,
        tenant: field(5)?,
        time: field(6)?,
        actor: (!actor.is_empty()).then_some(actor),
        payload: &payload,
        prev_hash: field(9)?,
        hash: Some(field(10)?),
    };
    check_fields(&view, chain.next_record())?;
    chain.push(view)
}

/// Field checks that the hash cannot make: the hash proves a record was not
/// changed, these that it was well-formed to begin with.
fn check_fields(record: &RecordView<'_>, number: u64) -> Result<(), Problem> {
    let bad = |reason: String| Problem {
        record: number,
        position: Some(record.position),
        reason,
    };
    if uuid::Uuid::try_parse(record.event_id).is_err() {
        return Err(bad(format!(
            "unparseable record: event_id {:?} is not a UUID",
            record.event_id
        )));
    }
    if chrono::DateTime::parse_from_rfc3339(record.time).is_err() {
        return Err(bad(format!(
            "unparseable record: time {:?} is not an RFC 3339 time",
            record.time
        )));
    }
    Ok(())
}

fn compare_manifest(
    manifest: &Manifest,
    chain: &Chain,
    head_hash: &str,
    sha256: &str,
) -> Option<Problem> {
    let opt = |p: Option<i64>| p.map_or_else(|| "none".to_owned(), |p| p.to_string());
    let reason = if manifest.count != chain.count {
        format!(
            "the file has {} records, the manifest says {}",
            chain.count, manifest.count
        )
    } else if manifest.first_position != chain.first_position {
        format!(
            "the file's first position is {}, the manifest says {}",
            opt(chain.first_position),
            opt(manifest.first_position)
        )
    } else if manifest.last_position != chain.last_position {
        format!(
            "the file's last position is {}, the manifest says {}",
            opt(chain.last_position),
            opt(manifest.last_position)
        )
    } else if manifest.head_hash != head_hash {
        format!(
            "the file's head hash is {head_hash}, the manifest says {}",
            manifest.head_hash
        )
    } else if manifest.file_sha256 != sha256 {
        format!(
            "the file's SHA-256 is {sha256}, the manifest says {}",
            manifest.file_sha256
        )
    } else {
        return None;
    };
    Some(Problem {
        record: 0,
        position: None,
        reason: format!("manifest mismatch: {reason}"),
    })
}
