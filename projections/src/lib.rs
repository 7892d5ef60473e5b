//! Parley's read models: the projector that builds them from the event log,
//! and the queries that read them.
//!
//! Every projection keeps its own checkpoint, written in the same transaction
//! as its read-model changes, so a crash never applies an event twice or
//! skips one. Projections are woken right after each append and catch up
//! from their checkpoint on start and on every wake. After each committed
//! batch they publish [`Update`]s, which the gateway renders to rooms.
//!
//! # Layout
//! - [`runner`]: the [`Projection`] trait and the [`Projector`] that runs them.
//! - [`update`]: [`Update`], what projections tell the gateway.
//! - [`views`]: the values queries and updates present (messages, support
//!   conversations and the queue, transcript segments, swarm steps); they
//!   depend on no projection, so `update` names them without a cycle.
//! - [`rebuild`]: [`Rebuild`](rebuild::Rebuild), fresh read models from position 0 swapped in
//!   while the server runs, and views of one tenant's past.
//! - [`conversation_messages`]: messages per conversation or channel (history,
//!   rejoin, paging, changes since a cursor) and read markers.
//! - [`conversation_list`]: the conversation and channel list per tenant, with
//!   unread counts.
//! - [`presence`]: the current presence of each user per tenant.
//! - [`calls`]: call rooms, their sessions, participants and transcripts.
//! - [`swarm_steps`]: the numbered steps of agent swarm sessions.
//! - [`support`]: support conversations (status, agent, timestamps, metrics), the
//!   queue, and metrics per tenant, agent and day.
//! - [`access_keys`]: widget and API keys (hashed), by key id and per tenant.
//! - [`knowledge`]: each tenant's knowledge-base articles and their full-text index.
//! - `error`: [`ProjectionError`], the one error type of this layer.

pub mod access_keys;
pub mod calls;
pub mod conversation_list;
pub mod conversation_messages;
mod error;
pub mod knowledge;
pub mod presence;
pub mod rebuild;
pub mod runner;
pub mod support;
pub mod swarm_steps;
pub mod update;
pub mod views;

pub use error::ProjectionError;
pub use runner::{Projection, Projector};
pub use update::Update;

use domain::conversation::{Conversation, ConversationEvent};
use store::RecordedEvent;

/// The projections Parley runs, in a fixed order.
pub fn all() -> Vec<std::sync::Arc<dyn Projection>> {
    vec![
        std::sync::Arc::new(conversation_messages::ConversationMessages),
        std::sync::Arc::new(conversation_list::ConversationList),
        std::sync::Arc::new(presence::PresenceProjection),
        std::sync::Arc::new(calls::Calls),
        std::sync::Arc::new(swarm_steps::SwarmSteps),
        std::sync::Arc::new(access_keys::AccessKeys),
        std::sync::Arc::new(support::SupportConversations),
        std::sync::Arc::new(knowledge::Knowledge),
    ]
}

/// The event as a conversation event, if it belongs to a conversation stream.
pub(crate) fn conversation_event(
    event: &RecordedEvent,
) -> Option<Result<ConversationEvent, ProjectionError>> {
    if !Conversation::owns_stream(&event.stream_id) {
        return None;
    }
    Some(store::aggregate::decode_payload::<Conversation>(event).map_err(ProjectionError::from))
}
