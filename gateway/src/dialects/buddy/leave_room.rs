//! `leave_room {conversationId, userId?}` → the others in the room hear
//! `user_left {conversationId, userId}` through the projection; the ack
//! gets the same. The socket leaves the conversation's rooms.

use domain::conversation::Action;
use projections::Room;
use serde::Deserialize;
use serde_json::json;

use super::{conversation, conversation_room, ensure_caller, run, staff_room};
use crate::error::WireError;
use crate::socket::{Call, Inbound};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeaveRoom {
    conversation_id: String,
    user_id: Option<String>,
}

/// The conversation to leave, if the payload speaks for the caller (no IO).
pub(super) fn decode(call: &Inbound) -> Result<Room, WireError> {
    let request: LeaveRoom = call.parse()?;
    let room = conversation(call, &request.conversation_id)?;
    if let Some(user) = &request.user_id {
        ensure_caller(call, &room, "userId", user)?;
    }
    Ok(room)
}

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let room = decode(&call.inbound())?;
    run(call, "leave_room", &room, Action::Leave).await?;
    call.socket.leave(conversation_room(&room));
    call.socket.leave(staff_room(&room));
    call.answer(&json!({
        "conversationId": room.id.as_str(),
        "userId": call.actor.user.as_str(),
    }));
    Ok(())
}
