//! `message:update {messageId, channelId | conversationId, customerId?,
//! content, metadata?}` → `message:update {messageId, content, metadata,
//! channelId, conversationId, updatedBy, timestamp}` to the room (the
//! editor's sockets included), through the projection. Only the author and
//! staff may edit; a missing or deleted message is `NOT_FOUND`.

use domain::Room;
use domain::conversation::Action;
use domain::ids::MessageId;
use domain::message::{MessageBody, MessageMetadata};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{DIALECT, Target};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Edit {
    #[serde(flatten)]
    target: Target,
    message_id: Option<String>,
    content: Option<String>,
    metadata: Option<Value>,
}

/// An edit decoded and checked.
#[derive(Debug)]
pub(super) struct Change {
    room: Room,
    id: MessageId,
    body: MessageBody,
    metadata: Option<MessageMetadata>,
}

/// The edit the payload asks for (no IO).
pub(super) fn decode(input: &Inbound) -> Result<Change, WireError> {
    let request: Edit = input.parse()?;
    let room = request.target.resolve(input)?;
    let id = message_id(request.message_id)?;
    let body = MessageBody::parse(
        request
            .content
            .ok_or_else(|| WireError::validation("content is required"))?,
    )?;
    let metadata = match request.metadata {
        None | Some(Value::Null) => None,
        Some(raw) => Some(MessageMetadata::parse(raw)?),
    };
    Ok(Change {
        room,
        id,
        body,
        metadata,
    })
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let Change {
        room,
        id,
        body,
        metadata,
    } = decode(&req.inbound())?;
    req.state
        .commands
        .on_conversation(
            &req.origin(DIALECT),
            "message:update",
            &room,
            Action::EditMessage {
                id: id.clone(),
                body,
                metadata,
            },
            None,
        )
        .await?;
    req.answer(&json!({ "success": true, "messageId": id.as_str() }));
    Ok(())
}

/// The `messageId` every message event names.
pub(super) fn message_id(raw: Option<String>) -> Result<MessageId, WireError> {
    parse_message_id(raw.ok_or_else(|| WireError::validation("messageId is required"))?)
}

/// A message id from the wire; a bad one is a `VALIDATION_ERROR`.
pub(super) fn parse_message_id(raw: String) -> Result<MessageId, WireError> {
    MessageId::parse(raw).map_err(|e| WireError::validation(format!("invalid messageId: {e}")))
}
