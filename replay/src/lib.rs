//! `replay`: Parley's tool for analysts and auditors, on the same store as
//! the server (`DATABASE_URL`). It only reads the event log; the one thing
//! it writes is read models, by rebuilding them.
//!
//! - `rebuild`: fresh read models from position 0, swapped in atomically
//!   while the server runs; resumable.
//! - `as-of`: a conversation, or a tenant's metrics, as they were at a time
//!   or position, built by the real projections from that tenant's events.
//! - `export` / `verify`: one tenant's events as a SHA-256 hash chain (JSON
//!   lines or CSV) with a manifest, signed with Ed25519 when a key is set;
//!   and the check of such a file (see the `audit` crate for the format).
//! - `stats`: events by type and day, streams, sizes.
//!
//! # Layout
//! - [`Cli`] and [`run`]: the commands and their dispatch.
//! - `rebuild`, `as_of`, `export`, `stats`: one module per command.
//! - `error`: [`ReplayError`].

mod as_of;
mod error;
pub mod export;
mod rebuild;
mod stats;

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use store::{EventLog, Position};

pub use error::ReplayError;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "replay",
    version,
    about = "Rebuild, time-travel, export and verify Parley's event log"
)]
pub struct Cli {
    /// The store: `sqlite://PATH` or `postgres://…` (as the server's).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/parley.db",
        global = true
    )]
    pub database_url: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Rebuild read models from position 0 into fresh tables and swap them
    /// in atomically; resumes an interrupted rebuild.
    Rebuild {
        /// Only these projections (repeat the flag); all when left out.
        #[arg(long = "projection", value_name = "NAME")]
        projections: Vec<String>,
        /// Throw away what an interrupted rebuild left, and start from 0.
        #[arg(long)]
        fresh: bool,
        /// List the projections and their tables, and stop.
        #[arg(long)]
        list: bool,
    },
    /// A conversation, or a tenant's metrics, as they were.
    AsOf {
        /// The conversation (or channel) to show.
        #[arg(long, required_unless_present = "metrics")]
        conversation: Option<String>,
        /// The tenant; found from the conversation when left out.
        #[arg(long, required_if_eq("metrics", "true"))]
        tenant: Option<String>,
        /// As it was at this time (RFC 3339, e.g. 2026-12-04T10:00:00Z).
        #[arg(
            long,
            conflicts_with = "position",
            required_unless_present = "position"
        )]
        at: Option<DateTime<Utc>>,
        /// As it was right after the event at this log position.
        #[arg(long)]
        position: Option<Position>,
        /// The tenant's support metrics instead of a conversation.
        #[arg(long, conflicts_with = "conversation")]
        metrics: bool,
    },
    /// One tenant's events, hash-chained, with a manifest beside them.
    Export(export::Request),
    /// Events by type and by day, streams, sizes.
    Stats {
        #[arg(long)]
        tenant: Option<String>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Commands that read the store.
    #[command(flatten)]
    Store(StoreCommand),
    /// Check an export: the hash chain, the manifest and its signature.
    /// Exit 0 when all hold, 1 otherwise.
    Verify {
        file: PathBuf,
        /// The manifest; `<FILE>.manifest.json` when left out (if present).
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// The signer's Ed25519 public key (SPKI PEM, or 32 bytes in base64
        /// or hex), or a file holding it.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Make an Ed25519 key pair for signing exports (PEM, private first).
    Keygen,
}

/// How a command reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// Progress bars on standard error.
    Terminal,
    /// Nothing but the result.
    Quiet,
}

/// Run one command, writing its result to `out`. `Ok(false)` when the
/// command ran and found a failure (a broken export).
pub async fn run(
    cli: Cli,
    out: &mut (dyn Write + Send),
    feedback: Feedback,
) -> Result<bool, ReplayError> {
    match cli.command {
        Command::Verify {
            file,
            manifest,
            public_key,
        } => export::verify(&file, manifest.as_deref(), public_key.as_deref(), out),
        Command::Keygen => {
            let (private, public) = audit::generate_key_pair();
            write!(out, "{private}{public}")?;
            Ok(true)
        }
        Command::Store(command) => {
            let log = EventLog::connect(&cli.database_url).await?;
            let result = run_on(&log, command, out, feedback).await;
            log.close().await;
            log.db().close().await;
            result
        }
    }
}

async fn run_on(
    log: &EventLog,
    command: StoreCommand,
    out: &mut (dyn Write + Send),
    feedback: Feedback,
) -> Result<bool, ReplayError> {
    match command {
        StoreCommand::Rebuild {
            projections,
            fresh,
            list,
        } => {
            if list {
                rebuild::list(log, out)?;
                return Ok(true);
            }
            rebuild::run(log, &projections, fresh, out, feedback).await
        }
        StoreCommand::AsOf {
            conversation,
            tenant,
            at,
            position,
            metrics,
        } => {
            let when = match (at, position) {
                (_, Some(position)) => as_of::When::Position(position),
                (Some(at), None) => as_of::When::Time(at),
                (None, None) => return Err(ReplayError::Usage("give --at or --position".into())),
            };
            let view = match (conversation, metrics) {
                (Some(conversation), false) => {
                    as_of::conversation(log, tenant.as_deref(), &conversation, when).await?
                }
                (None, true) => {
                    let tenant = tenant
                        .ok_or_else(|| ReplayError::Usage("--metrics needs --tenant".into()))?;
                    as_of::metrics(log, &tenant, when).await?
                }
                _ => {
                    return Err(ReplayError::Usage(
                        "give --conversation ID, or --tenant T --metrics".into(),
                    ));
                }
            };
            serde_json::to_writer_pretty(&mut *out, &view)?;
            writeln!(out)?;
            Ok(true)
        }
        StoreCommand::Export(request) => export::export(log, request, out, feedback).await,
        StoreCommand::Stats { tenant, json } => {
            stats::run(log, tenant.as_deref(), json, out).await?;
            Ok(true)
        }
    }
}
