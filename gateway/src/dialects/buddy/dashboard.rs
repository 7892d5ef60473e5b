//! `join_dashboard` / `leave_dashboard` (no payload; staff only) → the
//! socket joins or leaves the tenant's dashboard room
//! `buddy:{tenant}:dashboard`, which hears `conversation_created`,
//! `conversation_updated`, `conversation_participant_added` and
//! `conversation_participant_removed` for every conversation of the
//! tenant. The ack gets `{success, room}`.

use serde_json::json;

use super::dashboard_room;
use crate::error::WireError;
use crate::socket::{Call, Inbound};

/// The dashboard room, if the caller may follow it (no IO).
pub(super) fn decode(call: &Inbound) -> Result<String, WireError> {
    if !call.actor.role.is_staff() {
        return Err(WireError::forbidden(
            "only agents, supervisors and admins may follow the dashboard",
        ));
    }
    Ok(dashboard_room(&call.actor.tenant))
}

pub async fn join(call: &Call) -> Result<(), WireError> {
    let room = decode(&call.inbound())?;
    call.socket.join(room.clone());
    call.answer(&json!({ "success": true, "room": room }));
    Ok(())
}

pub async fn leave(call: &Call) -> Result<(), WireError> {
    let room = decode(&call.inbound())?;
    call.socket.leave(room.clone());
    call.answer(&json!({ "success": true, "room": room }));
    Ok(())
}
