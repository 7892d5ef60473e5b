//! `leave_room {conversationId, userId?}` → the others in the room hear
//! `user_left {conversationId, userId}` through the projection; the ack
//! gets the same. The socket leaves the conversation's rooms.

use domain::Room;
use domain::conversation::Action;
use serde::Deserialize;
use serde_json::json;

use super::{DIALECT, conversation, conversation_room, ensure_caller, staff_room};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeaveRoom {
    conversation_id: String,
    user_id: Option<String>,
}

/// The conversation to leave, if the payload speaks for the caller (no IO).
pub(super) fn decode(req: &Inbound) -> Result<Room, WireError> {
    let request: LeaveRoom = req.parse()?;
    let room = conversation(req, &request.conversation_id)?;
    if let Some(user) = &request.user_id {
        ensure_caller(req, &room, "userId", user)?;
    }
    Ok(room)
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let room = decode(&req.inbound())?;
    req.state
        .commands
        .on_conversation(
            &req.origin(DIALECT),
            "leave_room",
            &room,
            Action::Leave,
            None,
        )
        .await?;
    req.socket.leave(conversation_room(&room));
    req.socket.leave(staff_room(&room));
    req.answer(&json!({
        "conversationId": room.id.as_str(),
        "userId": req.actor.user.as_str(),
    }));
    Ok(())
}
