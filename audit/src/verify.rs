//! Verifying an export in one streaming pass: the chain record by record,
//! then the manifest, then its signature.
//!
//! A record's hash depends on no other record (the `prev_hash` it covers is
//! stored in it), so records are parsed and hashed a batch at a time on
//! rayon's thread pool while the next batch is read; only the comparisons
//! that link a record to the one before run in order.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use rayon::prelude::*;
use serde::Deserialize;

use crate::io::HashingReader;
use crate::jcs::{Canonical, Json};
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
///
/// `input` is read on the calling thread, a batch of records at a time,
/// while the batch before is parsed and hashed on rayon's global thread
/// pool; the chain is then checked in record order, so the report is the
/// one a record-by-record pass would give.
pub fn verify_reader<R: Read>(
    input: R,
    format: Format,
    manifest: Option<&Manifest>,
    trusted: Option<&VerifyingKey>,
) -> Result<Report, AuditError> {
    verify_batched(input, format, manifest, trusted, BATCH_RECORDS)
}

/// [`verify_reader`] with a given number of records per batch.
fn verify_batched<R: Read>(
    input: R,
    format: Format,
    manifest: Option<&Manifest>,
    trusted: Option<&VerifyingKey>,
    batch_records: usize,
) -> Result<Report, AuditError> {
    let mut input = HashingReader::new(input);
    let mut chain = Chain::default();
    let mut problem = match format {
        Format::Jsonl => verify_jsonl(&mut input, &mut chain, batch_records)?,
        Format::Csv => verify_csv(&mut input, &mut chain, batch_records)?,
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

/// Records read, then checked in parallel, per batch. Two batches are in
/// memory at a time: one being checked while the next is read.
const BATCH_RECORDS: usize = 4096;
/// A batch also ends once it holds this many bytes, whatever its count.
const BATCH_BYTES: usize = 8 << 20;

/// The chain so far: what the next record must link to and follow.
struct Chain {
    prev: HexHash,
    count: u64,
    first_position: Option<i64>,
    last_position: Option<i64>,
}

impl Default for Chain {
    fn default() -> Self {
        Self {
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

    /// Checks one record, already parsed and hashed on its own, against the
    /// chain and adds it. The checks run in the order a record is read: its
    /// own form, then its link, its hash and its position.
    fn push(&mut self, record: &Checked) -> Result<(), Problem> {
        let (position, prev_hash, hash) = match record {
            Checked::Bad { position, reason } => {
                return Err(self.problem(*position, reason.clone()));
            }
            Checked::Record {
                position,
                prev_hash,
                hash,
            } => (*position, prev_hash.as_str(), hash),
        };
        if prev_hash != hex_str(&self.prev) {
            let expected = if self.count == 0 {
                "GENESIS".to_owned()
            } else {
                hex_str(&self.prev).to_owned()
            };
            return Err(self.problem(
                Some(position),
                format!(
                    "chain broken: prev_hash is {prev_hash}, expected {expected} (a record before it was removed, added or moved)"
                ),
            ));
        }
        let computed = match hash {
            HashCheck::Matches(computed) => *computed,
            HashCheck::Unhashable(reason) => {
                return Err(self.problem(Some(position), reason.clone()));
            }
            HashCheck::Mismatch { stored, computed } => {
                return Err(self.problem(
                    Some(position),
                    format!(
                        "hash mismatch: stored {stored}, computed {} (the record was altered)",
                        hex_str(computed)
                    ),
                ));
            }
        };
        if let Some(last) = self.last_position
            && position <= last
        {
            return Err(self.problem(
                Some(position),
                format!("position {position} does not follow position {last}"),
            ));
        }
        self.prev = computed;
        self.count += 1;
        self.first_position.get_or_insert(position);
        self.last_position = Some(position);
        Ok(())
    }
}

/// What can be found out about a record without the records before it.
enum Checked {
    /// The record could not be read, or a field is malformed.
    Bad {
        position: Option<i64>,
        reason: String,
    },
    Record {
        position: i64,
        prev_hash: StoredText,
        hash: HashCheck,
    },
}

enum HashCheck {
    /// The stored hash is the computed one.
    Matches(HexHash),
    Unhashable(String),
    Mismatch {
        stored: String,
        computed: HexHash,
    },
}

/// A stored `prev_hash`, on the stack when it has a hash's length.
enum StoredText {
    Hash([u8; 64]),
    Other(String),
}

impl StoredText {
    fn new(text: &str) -> Self {
        match text.as_bytes().try_into() {
            Ok(bytes) => StoredText::Hash(bytes),
            Err(_) => StoredText::Other(text.to_owned()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            StoredText::Hash(bytes) => std::str::from_utf8(bytes).expect("copied whole from a str"),
            StoredText::Other(text) => text,
        }
    }
}

/// Checks what `record` can show on its own; `record.hash` holds the stored hash.
fn check_record<P: Canonical>(mut record: RecordView<'_, P>, hasher: &mut RecordHasher) -> Checked {
    if let Err(reason) = check_fields(&record) {
        return Checked::Bad {
            position: Some(record.position),
            reason,
        };
    }
    let stored = record.hash.take().unwrap_or_default();
    let hash = match hasher.hash(&record) {
        Err(e) => HashCheck::Unhashable(format!("unhashable record: {e}")),
        Ok(computed) if hex_str(&computed) == stored => HashCheck::Matches(computed),
        Ok(computed) => HashCheck::Mismatch {
            stored: stored.to_owned(),
            computed,
        },
    };
    Checked::Record {
        position: record.position,
        prev_hash: StoredText::new(record.prev_hash),
        hash,
    }
}

/// Records read together and checked in parallel.
trait Batch: Default + Send + Sync {
    fn len(&self) -> usize;

    /// Checks every record on its own, in parallel, into `out` in order.
    fn check(&self, out: &mut Vec<Checked>);

    /// Why reading stopped after these records, when it was not the end of the input.
    fn stop(&self) -> Option<&str>;
}

/// Reads batches with `fill` on this thread while the batch before is
/// checked on the others, then takes the records into the chain in order,
/// so the first problem found is the one a record-by-record pass finds.
fn check_batches<B: Batch>(
    chain: &mut Chain,
    batch_records: usize,
    mut fill: impl FnMut(&mut B, usize) -> Result<(), AuditError>,
) -> Result<Option<Problem>, AuditError> {
    let mut current = B::default();
    let mut next = B::default();
    let mut checked = Vec::new();
    fill(&mut current, batch_records)?;
    while current.len() > 0 {
        let mut read = Ok(());
        rayon::in_place_scope(|scope| {
            scope.spawn(|_| current.check(&mut checked));
            if current.stop().is_none() {
                read = fill(&mut next, batch_records);
            }
        });
        let problem = checked.iter().find_map(|record| chain.push(record).err());
        // A read error wins over a problem: the rest of the input, which the
        // file hash needs, would have been read and met it anyway.
        read?;
        if problem.is_some() {
            return Ok(problem);
        }
        if current.stop().is_some() {
            break;
        }
        std::mem::swap(&mut current, &mut next);
    }
    Ok(current
        .stop()
        .map(|reason| chain.problem(None, reason.to_owned())))
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
    #[serde(borrow)]
    payload: Json<'a>,
    #[serde(borrow)]
    prev_hash: Cow<'a, str>,
    #[serde(borrow)]
    hash: Cow<'a, str>,
}

/// Lines, each with its `\n` when it has one, in one buffer.
#[derive(Default)]
struct Lines {
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl Batch for Lines {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn check(&self, out: &mut Vec<Checked>) {
        (0..self.ends.len())
            .into_par_iter()
            .with_min_len(64)
            .map_init(RecordHasher::default, |hasher, i| {
                let start = if i == 0 { 0 } else { self.ends[i - 1] };
                check_line(&self.text[start..self.ends[i]], hasher)
            })
            .collect_into_vec(out);
    }

    fn stop(&self) -> Option<&str> {
        None
    }
}

fn check_line(line: &[u8], hasher: &mut RecordHasher) -> Checked {
    let record: JsonRecord<'_> = match serde_json::from_slice(line) {
        Ok(record) => record,
        Err(e) => {
            return Checked::Bad {
                position: None,
                reason: format!("unparseable line: {e}"),
            };
        }
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
    check_record(view, hasher)
}

fn verify_jsonl<R: Read>(
    input: &mut HashingReader<R>,
    chain: &mut Chain,
    batch_records: usize,
) -> Result<Option<Problem>, AuditError> {
    let mut input = BufReader::with_capacity(64 * 1024, input);
    check_batches(chain, batch_records, |lines: &mut Lines, max| {
        lines.text.clear();
        lines.ends.clear();
        while lines.ends.len() < max && lines.text.len() < BATCH_BYTES {
            if input.read_until(b'\n', &mut lines.text)? == 0 {
                break;
            }
            lines.ends.push(lines.text.len());
        }
        Ok(())
    })
}

/// CSV rows, and the reason reading stopped early if it did.
#[derive(Default)]
struct Rows {
    rows: Vec<csv::ByteRecord>,
    len: usize,
    stop: Option<String>,
}

impl Batch for Rows {
    fn len(&self) -> usize {
        self.len
    }

    fn check(&self, out: &mut Vec<Checked>) {
        self.rows[..self.len]
            .par_iter()
            .with_min_len(64)
            .map_init(RecordHasher::default, |hasher, row| check_row(row, hasher))
            .collect_into_vec(out);
    }

    fn stop(&self) -> Option<&str> {
        self.stop.as_deref()
    }
}

fn verify_csv<R: Read>(
    input: &mut HashingReader<R>,
    chain: &mut Chain,
    batch_records: usize,
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
    check_batches(chain, batch_records, |rows: &mut Rows, max| {
        rows.len = 0;
        rows.stop = None;
        let mut bytes = 0;
        while rows.len < max && bytes < BATCH_BYTES {
            if rows.rows.len() == rows.len {
                rows.rows.push(csv::ByteRecord::new());
            }
            let row = &mut rows.rows[rows.len];
            match reader.read_byte_record(row) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) if e.is_io_error() => return Err(e.into()),
                Err(e) => {
                    rows.stop = Some(format!("unparseable row: {e}"));
                    break;
                }
            }
            bytes += row.as_slice().len();
            rows.len += 1;
        }
        Ok(())
    })
}

/// Rebuilds the JSON record from a CSV row, exactly as JSONL would hold it, and checks it.
fn check_row(row: &csv::ByteRecord, hasher: &mut RecordHasher) -> Checked {
    match row_record(row, hasher) {
        Ok(checked) => checked,
        Err(reason) => Checked::Bad {
            position: None,
            reason,
        },
    }
}

/// [`check_row`], with the reason a row is unparseable as the error.
fn row_record(row: &csv::ByteRecord, hasher: &mut RecordHasher) -> Result<Checked, String> {
    let unparseable = |what: &str| format!("unparseable row: {what}");
    let field = |i: usize| -> Result<&str, String> {
        let bytes = row.get(i).ok_or_else(|| unparseable("too few fields"))?;
        std::str::from_utf8(bytes).map_err(|_| unparseable(&format!("{} is not UTF-8", COLUMNS[i])))
    };
    let position = field(0)?
        .parse()
        .map_err(|_| unparseable("position is not an integer"))?;
    let schema_version = field(3)?
        .parse()
        .map_err(|_| unparseable("schema_version is not an integer"))?;
    let payload: Json<'_> = serde_json::from_str(field(8)?)
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
    Ok(check_record(view, hasher))
}

/// Field checks that the hash cannot make: the hash proves a record was not
/// changed, these that it was well-formed to begin with.
fn check_fields<P>(record: &RecordView<'_, P>) -> Result<(), String> {
    if uuid::Uuid::try_parse(record.event_id).is_err() {
        return Err(format!(
            "unparseable record: event_id {:?} is not a UUID",
            record.event_id
        ));
    }
    if chrono::DateTime::parse_from_rfc3339(record.time).is_err() {
        return Err(format!(
            "unparseable record: time {:?} is not an RFC 3339 time",
            record.time
        ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChainWriter, ExportEvent};
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn export(format: Format) -> Vec<u8> {
        let mut out = Vec::new();
        let mut writer = ChainWriter::new(&mut out, format).unwrap();
        for i in 0..23_i64 {
            writer
                .write(&ExportEvent {
                    position: 5 + 2 * i,
                    event_id: uuid::Uuid::from_u128(0xabc0 + i as u128),
                    event_type: "MessagePosted".to_owned(),
                    schema_version: 1,
                    stream_id: format!("conversation/{}", i % 3),
                    tenant: "t".to_owned(),
                    recorded_at: Utc.timestamp_opt(1_700_000_000 + i, 0).unwrap(),
                    actor: (i % 4 != 0).then(|| format!("user-{i}")),
                    payload: json!({"text": format!("m{i}, \"q\" é"), "n": i, "x": [i, null, 0.5]}),
                })
                .unwrap();
        }
        writer.finish().unwrap();
        out
    }

    /// Every way of spoiling one record, line by line (no record holds a newline).
    fn spoiled(bytes: &[u8]) -> Vec<Vec<u8>> {
        let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
        let join = |lines: &[&[u8]]| lines.concat();
        let mut out = vec![
            bytes.to_vec(),
            Vec::new(),
            bytes[..bytes.len() - 1].to_vec(),
        ];
        for i in 0..lines.len() {
            let mut edited = lines.clone();
            let mut line = lines[i].to_vec();
            let mid = line.len() / 2;
            line[mid] = if line[mid] == b'1' { b'2' } else { b'1' };
            edited[i] = &line;
            out.push(join(&edited));
            let mut removed = lines.clone();
            removed.remove(i);
            out.push(join(&removed));
            if i + 1 < lines.len() {
                let mut swapped = lines.clone();
                swapped.swap(i, i + 1);
                out.push(join(&swapped));
            }
            let mut garbage = lines.clone();
            garbage[i] = b"not a record\n";
            out.push(join(&garbage));
            let mut doubled = lines.clone();
            doubled.insert(i, lines[i]);
            out.push(join(&doubled));
            out.push(
                join(&lines[..i])
                    .into_iter()
                    .chain(lines[i][..mid].iter().copied())
                    .collect(),
            );
        }
        out
    }

    #[test]
    fn batch_size_does_not_change_the_report() {
        for format in [Format::Jsonl, Format::Csv] {
            for input in spoiled(&export(format)) {
                let one = verify_batched(&input[..], format, None, None, 1).unwrap();
                for batch in [2, 3, 5, 8, BATCH_RECORDS] {
                    let report = verify_batched(&input[..], format, None, None, batch).unwrap();
                    assert_eq!(report, one, "{format}, {batch} per batch");
                }
            }
        }
    }
}
