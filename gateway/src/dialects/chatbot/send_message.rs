//! `send-message {content, conversationId}` → `message {message: IMessage,
//! conversationId}` to the conversation's room (the sender included) once
//! the message is durable; the ack callback, if any, gets the same payload.

use domain::conversation::{Action, MessageKind, NewMessage};
use domain::ids::MessageId;
use domain::message::MessageBody;
use projections::Room;
use serde::Deserialize;
use serde_json::json;

use super::render::{self, MessageParts};
use super::{conversation, invalid_in, run};
use crate::error::WireError;
use crate::socket::{Call, Inbound};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Send {
    content: Option<String>,
    conversation_id: Option<String>,
}

/// The conversation and the message (no IO).
pub(super) fn decode(call: &Inbound) -> Result<(Room, MessageBody), WireError> {
    let request: Send = call.parse()?;
    let room = conversation(call, request.conversation_id.as_deref())?;
    let content = request.content.ok_or_else(|| {
        WireError::validation("content is required").in_conversation(room.id.as_str())
    })?;
    let body = MessageBody::parse(content).map_err(invalid_in(&room))?;
    Ok((room, body))
}

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let (room, body) = decode(&call.inbound())?;
    let id = MessageId::generate();
    let message = NewMessage::text(id.clone(), body.clone());
    let actor = call.actor.clone();
    let at = run(
        call,
        &actor,
        "send-message",
        &room,
        Action::PostMessage(message),
    )
    .await?;
    let message = render::imessage(&MessageParts {
        id: &id,
        conversation: &room.id,
        author: &actor.user,
        author_name: actor.display_name(),
        role: actor.role,
        content_type: MessageKind::Text.as_str(),
        content: body.as_str(),
        at,
        metadata: None,
    });
    call.answer(&json!({ "message": message, "conversationId": room.id.as_str() }));
    Ok(())
}
