//! Running domain commands: metadata, in-flight tracking, conflict retries.
//!
//! `recorded`: [`run_recorded`], for callers that need the events back.

mod recorded;

pub use recorded::{Recorder, run_recorded};

use chrono::{SubsecRound, Utc};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework};
use domain::actor::Actor;
use domain::conversation::{Action, Conversation, ConversationCommand, Kind};
use domain::ids::ConversationId;
use domain::{DomainError, Timestamp};
use std::collections::HashMap;
use store::AggregateStore;
use store::aggregate::{META_COMMAND_ID, META_TENANT};
use uuid::Uuid;

use crate::error::WireError;
use crate::state::AppState;

/// A conflict means another writer (another node, or a stale cached copy)
/// got there first; the aggregate is reloaded and the command decided again.
const ATTEMPTS: usize = 3;

/// Who sent a command, and through what.
pub struct Origin<'a> {
    pub actor: &'a Actor,
    pub dialect: &'static str,
    pub socket_id: Option<String>,
}

/// Run `action` on a conversation or channel of the caller's tenant.
/// `command_id` makes it idempotent: the same id always yields the same
/// event ids, so a retry writes nothing new.
pub async fn on_conversation(
    state: &AppState,
    origin: &Origin<'_>,
    command: &'static str,
    kind: Kind,
    conversation: &ConversationId,
    action: Action,
    command_id: Option<Uuid>,
) -> Result<(), WireError> {
    on_conversation_timed(
        state,
        origin,
        command,
        kind,
        conversation,
        action,
        command_id,
    )
    .await
    .map(drop)
}

/// As [`on_conversation`], answering with the time the command's events
/// carry, for dialects that tell the caller what was recorded (a message's
/// timestamp) without reading it back. When the command changed nothing,
/// it is the time it was decided at.
pub async fn on_conversation_timed(
    state: &AppState,
    origin: &Origin<'_>,
    command: &'static str,
    kind: Kind,
    conversation: &ConversationId,
    action: Action,
    command_id: Option<Uuid>,
) -> Result<Timestamp, WireError> {
    let stream = Conversation::stream_id(kind, &origin.actor.tenant, conversation);
    run_timed(
        state,
        &state.conversations,
        origin,
        command,
        &stream,
        command_id,
        |at| ConversationCommand {
            kind,
            conversation: conversation.clone(),
            actor: origin.actor.clone(),
            at,
            action: action.clone(),
        },
    )
    .await
    .map_err(|e| e.in_conversation(conversation.as_str()))
}

/// Run a command on any aggregate's `stream`. `make` builds the command for
/// a given time; it is called again on each retry. The command is tracked,
/// so shutdown waits for it.
pub async fn run<A>(
    state: &AppState,
    framework: &CqrsFramework<A, AggregateStore<A>>,
    origin: &Origin<'_>,
    command: &'static str,
    stream: &str,
    command_id: Option<Uuid>,
    make: impl Fn(Timestamp) -> A::Command,
) -> Result<(), WireError>
where
    A: Aggregate<Error = DomainError> + 'static,
{
    run_timed(state, framework, origin, command, stream, command_id, make)
        .await
        .map(drop)
}

/// [`run`], answering with the time the command was decided at (every
/// attempt uses the same).
async fn run_timed<A>(
    state: &AppState,
    framework: &CqrsFramework<A, AggregateStore<A>>,
    origin: &Origin<'_>,
    command: &'static str,
    stream: &str,
    command_id: Option<Uuid>,
    make: impl Fn(Timestamp) -> A::Command,
) -> Result<Timestamp, WireError>
where
    A: Aggregate<Error = DomainError> + 'static,
{
    let command_id = command_id.unwrap_or_else(Uuid::now_v7);
    let metadata = metadata(origin, command, command_id);
    // The wire shows milliseconds; storing exactly that makes a client's
    // `createdAt` a precise cursor.
    let at = Utc::now().trunc_subsecs(3);
    let attempts = async {
        let mut attempt = 1;
        loop {
            match framework
                .execute_with_metadata(stream, make(at), metadata.clone())
                .await
            {
                Err(AggregateError::AggregateConflict) if attempt < ATTEMPTS => attempt += 1,
                result => return result.map_err(WireError::from),
            }
        }
    };
    state.inflight.track_future(attempts).await.map(|()| at)
}

/// What every event records about the command that caused it.
fn metadata(origin: &Origin<'_>, command: &str, command_id: Uuid) -> HashMap<String, String> {
    let mut metadata = HashMap::from([
        (META_TENANT.to_owned(), origin.actor.tenant.to_string()),
        (META_COMMAND_ID.to_owned(), command_id.to_string()),
        ("correlation_id".to_owned(), command_id.to_string()),
        ("actor".to_owned(), origin.actor.user.to_string()),
        ("role".to_owned(), origin.actor.role.to_string()),
        ("dialect".to_owned(), origin.dialect.to_owned()),
        ("command".to_owned(), command.to_owned()),
    ]);
    if let Some(socket) = &origin.socket_id {
        metadata.insert("socket_id".to_owned(), socket.clone());
    }
    metadata
}
