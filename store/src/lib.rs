//! Parley's event log: one append-only log of domain events on SQLite (the
//! embedded default) or PostgreSQL, and the cqrs-es event store on top of it.
//!
//! Appends are atomic per stream, checked against an expected version, and
//! idempotent by event id; every event gets a global position, and catch-up
//! readers never skip or repeat one (see `writer.rs` for how PostgreSQL's
//! out-of-order commit visibility is ruled out). Subscribers are woken after
//! each append. The log is never updated or deleted from: triggers refuse it.
//!
//! # Layout
//! - [`db`]: connecting by URL, the two backends, embedded migrations.
//! - [`event`]: the records (`NewEvent`, `RecordedEvent`, positions, versions).
//! - [`log`]: [`EventLog`], appends, ordered reads and wake-ups.
//! - `writer`: the single group-committing writer behind every append.
//! - [`aggregate`]: [`AggregateStore`], cqrs-es's `EventStore` with a cache and snapshots.
//! - [`upcast`]: [`Upcaster`]s that read old schema versions as new ones.
//! - `testing` (feature): a fresh database per test, on either backend.

pub mod aggregate;
pub mod db;
mod error;
pub mod event;
pub mod log;
#[cfg(feature = "testing")]
pub mod testing;
pub mod upcast;
mod writer;

pub use aggregate::AggregateStore;
pub use db::{Backend, Db, WriteTx};
pub use error::StoreError;
pub use event::{AppendOutcome, ExpectedVersion, NewEvent, Position, RecordedEvent, Snapshot};
pub use log::{Append, EventFilter, EventLog, PendingAppend};
pub use upcast::Upcaster;
