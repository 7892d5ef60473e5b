//! `replay export` and `replay verify`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use audit::{ChainWriter, ExportEvent, Filters, Format, Manifest, SignatureStatus};
use chrono::{DateTime, Utc};
use domain::conversation::{Conversation, Kind};
use domain::ids::{ConversationId, TenantId};
use indicatif::ProgressBar;
use store::{EventFilter, EventLog, Position, RecordedEvent};

use crate::{Feedback, ReplayError};

/// Positions read from the log per query.
const PAGE: u32 = 10_000;
/// Queries in flight at once: PostgreSQL answers several side by side;
/// on SQLite more than one only competed for the two cores.
fn read_ahead(backend: store::Backend) -> usize {
    match backend {
        store::Backend::Postgres => 3,
        store::Backend::Sqlite => 1,
    }
}

/// What to export, and where.
#[derive(Debug, Clone, clap::Args)]
pub struct Request {
    #[arg(long)]
    pub tenant: String,
    /// Recorded at or after this time (RFC 3339).
    #[arg(long)]
    pub from: Option<DateTime<Utc>>,
    /// Recorded before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<DateTime<Utc>>,
    /// Only this conversation's (or channel's) events.
    #[arg(long)]
    pub conversation: Option<String>,
    /// Only these event types (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    pub types: Vec<String>,
    #[arg(long, default_value = "jsonl")]
    pub format: Format,
    /// The file to write; standard output when left out (the manifest
    /// then goes to standard error).
    #[arg(long = "out")]
    pub file: Option<PathBuf>,
    /// Ed25519 key that signs the manifest: PKCS#8 PEM, or the 32-byte
    /// seed in base64 or hex, or a file holding one.
    #[arg(long, env = "PARLEY_EXPORT_SIGNING_KEY", hide_env_values = true)]
    pub signing_key: Option<String>,
}

pub async fn export(
    log: &EventLog,
    request: Request,
    out: &mut (dyn Write + Send),
    feedback: Feedback,
) -> Result<bool, ReplayError> {
    // Parse the key first: a bad key writes nothing.
    let key = request
        .signing_key
        .as_deref()
        .map(|given| Ok::<_, ReplayError>(audit::parse_signing_key(&inline_or_file(given)?)?))
        .transpose()?;
    let tenant = TenantId::parse(&request.tenant)
        .map_err(|e| ReplayError::Usage(format!("--tenant: {e}")))?;
    let stream_id = match &request.conversation {
        None => None,
        Some(id) => Some(conversation_stream(log, &tenant, id).await?),
    };
    let filter = EventFilter {
        tenant: tenant.as_str().to_owned(),
        from: request.from,
        to: request.to,
        stream_id,
        types: request.types.clone(),
        // What the log holds now, even while the server keeps appending.
        up_to: Some(log.stored_head().await?),
    };
    let filters = Filters {
        tenant: filter.tenant.clone(),
        from: request.from,
        to: request.to,
        conversation: request.conversation.clone(),
        types: request.types.clone(),
    };
    let started = Instant::now();
    let bar = (feedback == Feedback::Terminal && request.file.is_some()).then(|| {
        let bar = ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let summary = match &request.file {
        Some(path) => {
            let file =
                BufWriter::with_capacity(1 << 20, File::create(path).map_err(|e| at(path, e))?);
            write_chain(log, &filter, file, request.format, bar.as_ref()).await?
        }
        None => write_chain(log, &filter, &mut *out, request.format, None).await?,
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let mut manifest = Manifest::new(
        &summary,
        request.format,
        filters,
        env!("CARGO_PKG_VERSION"),
        Utc::now(),
    );
    if let Some(key) = &key {
        manifest.sign(key);
    }
    match &request.file {
        Some(path) => {
            let manifest_path = audit::manifest_path_for(path);
            manifest.save(&manifest_path)?;
            let elapsed = started.elapsed().as_secs_f64().max(1e-3);
            writeln!(
                out,
                "exported {} events ({:.0} events/s) to {}, manifest {}{}; head hash {}",
                summary.count,
                summary.count as f64 / elapsed,
                path.display(),
                manifest_path.display(),
                if key.is_some() { " (signed)" } else { "" },
                summary.head_hash,
            )?;
        }
        None => eprintln!("{}", serde_json::to_string_pretty(&manifest)?),
    }
    Ok(true)
}

async fn write_chain<W: Write>(
    log: &EventLog,
    filter: &EventFilter,
    out: W,
    format: Format,
    bar: Option<&ProgressBar>,
) -> Result<audit::ChainSummary, ReplayError> {
    let mut chain = ChainWriter::new(out, format)?;
    // The log is read in position ranges, a few at a time side by side,
    // and handed over in order while this task hashes and writes: reading
    // and decoding cost more than hashing.
    let ahead_at_most = read_ahead(log.db().backend());
    let (pages, mut incoming) = tokio::sync::mpsc::channel(ahead_at_most);
    let reader = {
        let log = log.clone();
        let filter = filter.clone();
        tokio::spawn(async move {
            let head = filter.up_to.unwrap_or(Position::MAX);
            let mut ahead = std::collections::VecDeque::new();
            let mut next = 0;
            loop {
                while ahead.len() < ahead_at_most && next < head {
                    let end = next.saturating_add(i64::from(PAGE)).min(head);
                    let range = EventFilter {
                        up_to: Some(end),
                        ..filter.clone()
                    };
                    let (log, after) = (log.clone(), next);
                    ahead.push_back(tokio::spawn(async move {
                        log.read_stored(&range, after, PAGE).await
                    }));
                    next = end;
                }
                let Some(read) = ahead.pop_front() else {
                    return Ok::<_, ReplayError>(());
                };
                let events = read
                    .await
                    .map_err(|e| ReplayError::Usage(format!("reading the log failed: {e}")))??;
                if !events.is_empty() && pages.send(events).await.is_err() {
                    return Ok(());
                }
            }
        })
    };
    let mut count = 0u64;
    while let Some(events) = incoming.recv().await {
        count += events.len() as u64;
        for event in events {
            chain.write(&export_event(event))?;
        }
        if let Some(bar) = bar {
            bar.set_message(format!("{count} events"));
        }
    }
    reader
        .await
        .map_err(|e| ReplayError::Usage(format!("reading the log failed: {e}")))??;
    Ok(chain.finish()?)
}

fn export_event(event: RecordedEvent) -> ExportEvent {
    let actor = event.meta("actor").map(str::to_owned);
    ExportEvent {
        position: event.position,
        event_id: event.event_id,
        event_type: event.event_type,
        schema_version: event.schema_version,
        stream_id: event.stream_id,
        tenant: event.tenant,
        recorded_at: event.recorded_at,
        actor,
        payload: event.payload,
    }
}

/// The stream of a conversation (or, failing that, a channel) of the tenant.
async fn conversation_stream(
    log: &EventLog,
    tenant: &TenantId,
    id: &str,
) -> Result<String, ReplayError> {
    let id = ConversationId::parse(id)
        .map_err(|e| ReplayError::Usage(format!("--conversation: {e}")))?;
    for kind in [Kind::Conversation, Kind::Channel] {
        let stream = Conversation::stream_id(kind, tenant, &id);
        if !log.read_stream(&stream, 0).await?.is_empty() {
            return Ok(stream);
        }
    }
    Err(ReplayError::Usage(format!(
        "tenant {tenant} has no conversation or channel {id}"
    )))
}

pub fn verify(
    file: &Path,
    manifest: Option<&Path>,
    public_key: Option<&str>,
    out: &mut (dyn Write + Send),
) -> Result<bool, ReplayError> {
    let trusted = public_key.map(read_public_key).transpose()?;
    let manifest_path = match manifest {
        Some(path) => Some(path.to_owned()),
        None => Some(audit::manifest_path_for(file)).filter(|p| p.exists()),
    };
    let manifest = manifest_path.as_deref().map(Manifest::load).transpose()?;
    std::fs::metadata(file).map_err(|e| at(file, e))?;
    let started = Instant::now();
    let report = audit::verify(file, manifest.as_ref(), trusted.as_ref())?;
    let elapsed = started.elapsed().as_secs_f64().max(1e-3);
    if let Some(problem) = &report.problem {
        writeln!(out, "FAILED: {problem}")?;
    }
    match &report.signature {
        SignatureStatus::Unsigned if manifest.is_some() => writeln!(out, "manifest not signed")?,
        SignatureStatus::Unsigned => writeln!(out, "no manifest: the chain alone was checked")?,
        SignatureStatus::Valid { trusted: true } => {
            writeln!(out, "signature valid (the given public key)")?
        }
        SignatureStatus::Valid { trusted: false } => writeln!(
            out,
            "signature valid, but only against the key inside the manifest: \
             pass --public-key to know who signed"
        )?,
        SignatureStatus::Invalid(why) => writeln!(out, "FAILED: signature invalid: {why}")?,
        SignatureStatus::WrongKey => {
            writeln!(out, "FAILED: signed with another key than the one given")?
        }
    }
    if report.is_ok() {
        writeln!(
            out,
            "OK: {} events, positions {}..{}, head hash {} ({:.0} events/s)",
            report.count,
            report.first_position.map_or("-".into(), |p| p.to_string()),
            report.last_position.map_or("-".into(), |p| p.to_string()),
            report.head_hash,
            report.count as f64 / elapsed,
        )?;
    }
    Ok(report.is_ok())
}

/// A public key given inline, or the file that holds it.
fn read_public_key(given: &str) -> Result<audit::VerifyingKey, ReplayError> {
    Ok(audit::parse_public_key(&inline_or_file(given)?)?)
}

/// An IO error that names its file.
fn at(path: &Path, error: std::io::Error) -> ReplayError {
    ReplayError::Usage(format!("{}: {error}", path.display()))
}

/// A key given inline, or read from the file it names.
fn inline_or_file(given: &str) -> Result<String, ReplayError> {
    let path = Path::new(given.trim());
    if !given.contains("-----BEGIN") && path.is_file() {
        Ok(std::fs::read_to_string(path)?)
    } else {
        Ok(given.to_owned())
    }
}
