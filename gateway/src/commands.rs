//! Running domain commands: metadata, in-flight tracking, conflict retries.

use chrono::{SubsecRound, Utc};
use cqrs_es::AggregateError;
use domain::actor::Actor;
use domain::conversation::{Action, Conversation, ConversationCommand};
use domain::ids::ConversationId;
use std::collections::HashMap;
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

/// Run `action` on a conversation. `command_id` makes it idempotent: the
/// same id always yields the same event ids, so a retry writes nothing new.
pub async fn on_conversation(
    state: &AppState,
    origin: &Origin<'_>,
    command: &'static str,
    conversation: &ConversationId,
    action: Action,
    command_id: Option<Uuid>,
) -> Result<(), WireError> {
    let command_id = command_id.unwrap_or_else(Uuid::now_v7);
    let stream = Conversation::stream_id(&origin.actor.tenant, conversation);
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
    // The wire shows milliseconds; storing exactly that makes a client's
    // `createdAt` a precise cursor.
    let at = Utc::now().trunc_subsecs(3);
    let run = async {
        let mut attempt = 1;
        loop {
            let cmd = ConversationCommand {
                conversation: conversation.clone(),
                actor: origin.actor.clone(),
                at,
                action: action.clone(),
            };
            match state
                .conversations
                .execute_with_metadata(&stream, cmd, metadata.clone())
                .await
            {
                Err(AggregateError::AggregateConflict) if attempt < ATTEMPTS => attempt += 1,
                result => {
                    return result
                        .map_err(|e| WireError::from(e).in_conversation(conversation.as_str()));
                }
            }
        }
    };
    state.inflight.track_future(run).await
}
