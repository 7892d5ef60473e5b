//! `share_robot_message {originalMessageId, conversationId, fromUserId}`
//! (staff) → the robot message becomes visible: `new_message` with
//! `isVisible: true` to the whole room, customers included, through the
//! projection. The ack gets `{success, conversationId, originalMessageId}`.
//! Sharing a message that is already visible changes nothing.

use domain::Room;
use domain::conversation::Action;
use domain::ids::MessageId;
use serde::Deserialize;
use serde_json::json;

use super::{DIALECT, conversation, ensure_caller};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Share {
    original_message_id: String,
    conversation_id: String,
    from_user_id: String,
}

/// The conversation and the message to share (no IO).
pub(super) fn decode(req: &Inbound) -> Result<(Room, MessageId), WireError> {
    let request: Share = req.parse()?;
    let room = conversation(req, &request.conversation_id)?;
    let id = MessageId::parse(request.original_message_id)
        .map_err(|e| WireError::from(e).in_conversation(room.id.as_str()))?;
    ensure_caller(req, &room, "fromUserId", &request.from_user_id)?;
    Ok((room, id))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let (room, id) = decode(&req.inbound())?;
    req.state
        .commands
        .on_conversation(
            &req.origin(DIALECT),
            "share_robot_message",
            &room,
            Action::ShareMessage { id: id.clone() },
            None,
        )
        .await?;
    req.answer(&json!({
        "success": true,
        "conversationId": room.id.as_str(),
        "originalMessageId": id.as_str(),
    }));
    Ok(())
}
