//! `typing {conversationId, isTyping}` → `typing {sender, senderName,
//! isTyping, conversationId}` to the others in the conversation's room.

use domain::Room;
use domain::conversation::Action;
use serde::Deserialize;

use super::{DIALECT, conversation};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Typing {
    conversation_id: Option<String>,
    is_typing: Option<bool>,
}

/// The conversation, and whether the caller is typing (no IO).
pub(super) fn decode(req: &Inbound) -> Result<(Room, bool), WireError> {
    let request: Typing = req.parse()?;
    let room = conversation(req, request.conversation_id.as_deref())?;
    let typing = request.is_typing.ok_or_else(|| {
        WireError::validation("isTyping is required (true or false)")
            .in_conversation(room.id.as_str())
    })?;
    Ok((room, typing))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let (room, typing) = decode(&req.inbound())?;
    let action = if typing {
        Action::StartTyping
    } else {
        Action::StopTyping
    };
    req.state
        .commands
        .on_conversation(
            &req.origin_as(DIALECT, &req.actor),
            "typing",
            &room,
            action,
            None,
        )
        .await?;
    super::done(req, &room);
    Ok(())
}
