//! `typing {conversationId, isTyping}` → `typing {sender, senderName,
//! isTyping, conversationId}` to the others in the conversation's room.

use domain::conversation::Action;
use projections::Room;
use serde::Deserialize;

use super::{conversation, run};
use crate::error::WireError;
use crate::socket::{Call, Inbound};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Typing {
    conversation_id: Option<String>,
    is_typing: Option<bool>,
}

/// The conversation, and whether the caller is typing (no IO).
pub(super) fn decode(call: &Inbound) -> Result<(Room, bool), WireError> {
    let request: Typing = call.parse()?;
    let room = conversation(call, request.conversation_id.as_deref())?;
    let typing = request.is_typing.ok_or_else(|| {
        WireError::validation("isTyping is required (true or false)")
            .in_conversation(room.id.as_str())
    })?;
    Ok((room, typing))
}

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let (room, typing) = decode(&call.inbound())?;
    let action = if typing {
        Action::StartTyping
    } else {
        Action::StopTyping
    };
    run(call, &call.actor, "typing", &room, action).await?;
    super::done(call, &room);
    Ok(())
}
