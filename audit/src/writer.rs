//! Writing a hash-chained export, one event at a time.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};

use crate::io::HashingWriter;
use crate::record::{COLUMNS, EventText, ExportEvent, HexHash, RecordHasher, genesis, hex_str};
use crate::{AuditError, Format};

/// What a finished export holds; the [`Manifest`](crate::Manifest) is made from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSummary {
    pub count: u64,
    pub first_position: Option<i64>,
    pub last_position: Option<i64>,
    /// The last record's hash, [`GENESIS`](crate::GENESIS) when there is none.
    pub head_hash: String,
    /// Hex SHA-256 of every byte written.
    pub sha256: String,
}

enum Sink<W: Write> {
    Jsonl(BufWriter<HashingWriter<W>>),
    // Boxed: the CSV writer carries its own state and buffers, and is made once per export.
    Csv(Box<csv::Writer<HashingWriter<W>>>),
}

/// Writes events as chained records in either [`Format`]. The output is
/// buffered here, so `out` can be a plain `File`.
pub struct ChainWriter<W: Write> {
    sink: Sink<W>,
    hasher: RecordHasher,
    text: EventText,
    /// Reused for the CSV cells that are not already text.
    cell: String,
    payload: Vec<u8>,
    prev: HexHash,
    count: u64,
    first_position: Option<i64>,
    last_position: Option<i64>,
}

impl<W: Write> ChainWriter<W> {
    /// Starts an export; for CSV this writes the header row.
    pub fn new(out: W, format: Format) -> Result<Self, AuditError> {
        let out = HashingWriter::new(out);
        let sink = match format {
            Format::Jsonl => Sink::Jsonl(BufWriter::with_capacity(64 * 1024, out)),
            Format::Csv => {
                let mut csv = csv::WriterBuilder::new()
                    .buffer_capacity(64 * 1024)
                    .from_writer(out);
                csv.write_record(COLUMNS)?;
                Sink::Csv(Box::new(csv))
            }
        };
        Ok(Self {
            sink,
            hasher: RecordHasher::default(),
            text: EventText::default(),
            cell: String::new(),
            payload: Vec::new(),
            prev: genesis(),
            count: 0,
            first_position: None,
            last_position: None,
        })
    }

    /// Appends one event. Positions must strictly increase, as the verifier
    /// requires, so an out-of-order event is refused rather than exported.
    pub fn write(&mut self, event: &ExportEvent) -> Result<(), AuditError> {
        if let Some(previous) = self.last_position
            && event.position <= previous
        {
            return Err(AuditError::OutOfOrder {
                previous,
                position: event.position,
            });
        }
        let prev = self.prev;
        let mut record = self.text.view(event, hex_str(&prev));
        let hash = self.hasher.hash(&record)?;
        record.hash = Some(hex_str(&hash));
        match &mut self.sink {
            Sink::Jsonl(out) => {
                serde_json::to_writer(&mut *out, &record)?;
                out.write_all(b"\n")?;
            }
            Sink::Csv(out) => {
                self.cell.clear();
                write!(self.cell, "{}", record.position).expect("writing to a String cannot fail");
                out.write_field(&self.cell)?;
                out.write_field(record.event_id)?;
                out.write_field(record.event_type)?;
                self.cell.clear();
                write!(self.cell, "{}", record.schema_version)
                    .expect("writing to a String cannot fail");
                out.write_field(&self.cell)?;
                out.write_field(record.stream)?;
                out.write_field(record.tenant)?;
                out.write_field(record.time)?;
                out.write_field(record.actor.unwrap_or(""))?;
                self.payload.clear();
                serde_json::to_writer(&mut self.payload, record.payload)?;
                out.write_field(&self.payload)?;
                out.write_field(record.prev_hash)?;
                out.write_field(hex_str(&hash))?;
                // An empty record ends the row started by the fields above.
                out.write_record(None::<&[u8]>)?;
            }
        }
        self.prev = hash;
        self.count += 1;
        self.first_position.get_or_insert(event.position);
        self.last_position = Some(event.position);
        Ok(())
    }

    /// Flushes everything to `out` and returns what was written.
    pub fn finish(self) -> Result<ChainSummary, AuditError> {
        let out = match self.sink {
            Sink::Jsonl(out) => out.into_inner().map_err(|e| e.into_error())?,
            Sink::Csv(out) => out.into_inner().map_err(|e| e.into_error())?,
        };
        Ok(ChainSummary {
            count: self.count,
            first_position: self.first_position,
            last_position: self.last_position,
            head_hash: hex_str(&self.prev).to_owned(),
            sha256: out.finish()?,
        })
    }
}
