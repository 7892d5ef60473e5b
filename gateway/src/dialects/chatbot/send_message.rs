//! `send-message {content, conversationId}` → `message {message: IMessage,
//! conversationId}` to the conversation's room (the sender included) once
//! the message is durable; the ack callback, if any, gets the same payload.

use domain::Room;
use domain::conversation::{Action, MessageKind, NewMessage};
use domain::ids::MessageId;
use domain::message::MessageBody;
use serde::Deserialize;
use serde_json::json;

use super::render::{self, MessageParts};
use super::{DIALECT, conversation, invalid_in};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Send {
    content: Option<String>,
    conversation_id: Option<String>,
}

/// The conversation and the message (no IO).
pub(super) fn decode(req: &Inbound) -> Result<(Room, MessageBody), WireError> {
    let request: Send = req.parse()?;
    let room = conversation(req, request.conversation_id.as_deref())?;
    let content = request.content.ok_or_else(|| {
        WireError::validation("content is required").in_conversation(room.id.as_str())
    })?;
    let body = MessageBody::parse(content).map_err(invalid_in(&room))?;
    Ok((room, body))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let (room, body) = decode(&req.inbound())?;
    let id = MessageId::generate();
    let message = NewMessage::text(id.clone(), body.clone());
    let actor = req.actor.clone();
    let at = req
        .state
        .commands
        .on_conversation(
            &req.origin_as(DIALECT, &actor),
            "send-message",
            &room,
            Action::PostMessage(message),
            None,
        )
        .await?
        .at;
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
    req.answer(&json!({ "message": message, "conversationId": room.id.as_str() }));
    Ok(())
}
