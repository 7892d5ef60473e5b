//! Parley's domain: who may do what to a conversation or to their own
//! presence, and what happened.
//!
//! Everything here is pure. Aggregates decide with
//! `handle(&self, command) -> Result<Vec<Event>, DomainError>` and evolve with
//! `apply(&mut self, event)`; clocks, ids and IO are supplied by the caller, so
//! the same command on the same history always yields the same events.
//!
//! # Layout
//! - [`ids`]: tenant, user, conversation and message identifiers (parsed newtypes).
//! - [`actor`]: the authenticated caller and its [`Role`](actor::Role).
//! - [`message`]: [`MessageBody`](message::MessageBody) and the other message values.
//! - [`conversation`]: the `Conversation` aggregate (conversations and channels), its
//!   commands and its versioned events, and the support workflow (statuses, queue,
//!   assignment, ending, rating).
//! - [`room`]: [`Room`], the address of a conversation or channel (tenant, kind, id),
//!   shared by the write path and the read models.
//! - [`policy`]: event → command decisions (auto-assignment, idle timeout).
//! - [`presence`]: the `Presence` aggregate (online, away, busy, offline per user), its
//!   commands and its versioned events.
//! - [`call`]: the `Call` aggregate (call rooms, their sessions and live transcripts).
//! - [`swarm`]: the `SwarmSession` aggregate (numbered steps of an agent swarm).
//! - [`access_key`]: the `AccessKey` aggregate (widget and API keys), and
//!   the format, hashing and checking of presented keys.
//! - [`tracking`]: the `Visitor` aggregate (activities and page views a widget reports).
//! - [`knowledge`]: the `Article` aggregate (a tenant's knowledge base).
//! - [`settings`]: the `SupportSettings` aggregate (a tenant's auto-assignment).
//! - `cqrs`: `pure_aggregate!`, the cqrs-es glue every aggregate shares.
//! - `testing` (tests only): the clock, tenant and actors the tests share.
//! - [`error`]: [`DomainError`], the one error type of this layer.

pub mod access_key;
pub mod actor;
pub mod call;
pub mod conversation;
mod cqrs;
pub mod error;
pub mod ids;
pub mod knowledge;
pub mod message;
pub mod policy;
pub mod presence;
pub mod room;
pub mod settings;
pub mod swarm;
#[cfg(test)]
mod testing;
pub mod tracking;

pub use error::DomainError;
pub use room::Room;

/// Wall-clock instants are always UTC and always supplied by the caller.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
