//! `update-conversation-metadata {metadata, conversationId?}`: merge keys
//! into a conversation's metadata (a key set to null is removed). The seed
//! names no conversation: it is `conversationId` when given, else the one
//! this socket joined last with `join-conversation`. The seed has no
//! answer: the ack callback, if any, gets `{success, conversationId,
//! metadata}` (the keys as sent). An update carries at most 16 KiB; merged,
//! a conversation's metadata holds at most
//! [`domain::conversation::MAX_METADATA_KEYS`] keys and
//! [`domain::conversation::MAX_METADATA_BYTES`] of JSON (`VALIDATION_ERROR`
//! past either, and nothing changes).

use domain::Room;
use domain::conversation::Action;
use domain::ids::ConversationId;
use domain::message::MessageMetadata;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{DIALECT, conversation, invalid_in, socket_state};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Update {
    metadata: Option<Value>,
    conversation_id: Option<String>,
}

/// The conversation (the payload's, else `current`: the one the socket
/// joined last) and the keys to merge (no IO).
pub(super) fn decode(
    req: &Inbound,
    current: Option<ConversationId>,
) -> Result<(Room, MessageMetadata), WireError> {
    let request: Update = req.parse()?;
    let raw = request
        .conversation_id
        .or_else(|| current.map(String::from))
        .ok_or_else(|| {
            WireError::validation(
                "conversationId is required when this connection has joined no conversation",
            )
        })?;
    let room = conversation(req, Some(&raw))?;
    let metadata = request.metadata.ok_or_else(|| {
        WireError::validation("metadata is required (an object)").in_conversation(room.id.as_str())
    })?;
    let changes = MessageMetadata::parse(metadata).map_err(invalid_in(&room))?;
    Ok((room, changes))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let current = socket_state(req).with(|s| s.current.clone());
    let (room, changes) = decode(&req.inbound(), current)?;
    let echo = Value::from(changes.clone());
    req.state
        .commands
        .on_conversation(
            &req.origin_as(DIALECT, &req.actor),
            "update-conversation-metadata",
            &room,
            Action::UpdateMetadata(changes),
            None,
        )
        .await?;
    req.answer(&json!({
        "success": true,
        "conversationId": room.id.as_str(),
        "metadata": echo,
    }));
    Ok(())
}
