//! `join_room {conversationId, userId, userRole}` → `user_joined
//! {conversationId, participant: {userId, userRole, joinedAt}}` to the
//! caller (and its ack) once the join is durable; the others in the room
//! hear the same through the projection.
//!
//! The first join opens the conversation. An agent joining a queued
//! conversation (a supervisor or admin, an escalated one) takes it, in the
//! same command. Staff also join the conversation's staff room.

use domain::Room;
use domain::conversation::Action;
use serde::Deserialize;
use serde_json::json;

use super::{
    DIALECT, UserRole, conversation, conversation_room, ensure_caller, render, staff_room,
};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JoinRoom {
    conversation_id: String,
    user_id: String,
    user_role: String,
}

/// The conversation to join, if the payload speaks for the caller (no IO).
pub(super) fn decode(req: &Inbound) -> Result<Room, WireError> {
    let request: JoinRoom = req.parse()?;
    let room = conversation(req, &request.conversation_id)?;
    let claimed = UserRole::parse("userRole", &request.user_role)
        .map_err(|e| e.in_conversation(room.id.as_str()))?;
    ensure_caller(req, &room, "userId", &request.user_id)?;
    // Robots do not join: staff post their suggestions as `robot`.
    if claimed == UserRole::Robot || !claimed.claimable_by(req.actor.role) {
        return Err(WireError::forbidden(format!(
            "userRole {} does not match your role",
            claimed.as_str()
        ))
        .in_conversation(room.id.as_str()));
    }
    Ok(room)
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let room = decode(&req.inbound())?;
    let at = req
        .state
        .commands
        .on_conversation(&req.origin(DIALECT), "join_room", &room, Action::Join, None)
        .await?
        .at;
    // Only once the join is authorized and durable does the socket listen.
    req.socket.join(conversation_room(&room));
    if req.actor.role.is_staff() {
        req.socket.join(staff_room(&room));
    }
    req.reply(
        "user_joined",
        &json!({
            "conversationId": room.id.as_str(),
            "participant": render::participant(&req.actor.user, Some(req.actor.role), Some(at)),
        }),
    );
    Ok(())
}
