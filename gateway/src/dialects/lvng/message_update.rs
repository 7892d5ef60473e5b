//! `message:update {messageId, channelId | conversationId, customerId?,
//! content, metadata?}` → `message:update {messageId, content, metadata,
//! channelId, conversationId, updatedBy, timestamp}` to the room (the
//! editor's sockets included), through the projection. Only the author and
//! staff may edit; a missing or deleted message is `NOT_FOUND`.

use domain::conversation::Action;
use domain::ids::MessageId;
use domain::message::{MessageBody, MessageMetadata};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Target, run};
use crate::error::WireError;
use crate::socket::Call;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Edit {
    #[serde(flatten)]
    target: Target,
    message_id: Option<String>,
    content: Option<String>,
    metadata: Option<Value>,
}

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let request: Edit = call.parse()?;
    let room = request.target.resolve(call)?;
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
    run(
        call,
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
    call.answer(&json!({ "success": true, "messageId": id.as_str() }));
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
