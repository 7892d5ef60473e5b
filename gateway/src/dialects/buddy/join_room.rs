//! `join_room {conversationId, userId, userRole}` → `user_joined
//! {conversationId, participant: {userId, userRole, joinedAt}}` to the
//! caller (and its ack) once the join is durable; the others in the room
//! hear the same through the projection.
//!
//! The first join opens the conversation. An agent joining a queued
//! conversation (a supervisor or admin, an escalated one) takes it, in the
//! same command. Staff also join the conversation's staff room.

use domain::conversation::Action;
use projections::Room;
use serde::Deserialize;
use serde_json::json;

use super::{UserRole, conversation, conversation_room, ensure_caller, render, run, staff_room};
use crate::error::WireError;
use crate::socket::{Call, Inbound};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JoinRoom {
    conversation_id: String,
    user_id: String,
    user_role: String,
}

/// The conversation to join, if the payload speaks for the caller (no IO).
pub(super) fn decode(call: &Inbound) -> Result<Room, WireError> {
    let request: JoinRoom = call.parse()?;
    let room = conversation(call, &request.conversation_id)?;
    let claimed = UserRole::parse("userRole", &request.user_role)
        .map_err(|e| e.in_conversation(room.id.as_str()))?;
    ensure_caller(call, &room, "userId", &request.user_id)?;
    // Robots do not join: staff post their suggestions as `robot`.
    if claimed == UserRole::Robot || !claimed.claimable_by(call.actor.role) {
        return Err(WireError::forbidden(format!(
            "userRole {} does not match your role",
            claimed.as_str()
        ))
        .in_conversation(room.id.as_str()));
    }
    Ok(room)
}

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let room = decode(&call.inbound())?;
    let at = run(call, "join_room", &room, Action::Join).await?;
    // Only once the join is authorized and durable does the socket listen.
    call.socket.join(conversation_room(&room));
    if call.actor.role.is_staff() {
        call.socket.join(staff_room(&room));
    }
    call.reply(
        "user_joined",
        &json!({
            "conversationId": room.id.as_str(),
            "participant": render::participant(&call.actor.user, Some(call.actor.role), Some(at)),
        }),
    );
    Ok(())
}
