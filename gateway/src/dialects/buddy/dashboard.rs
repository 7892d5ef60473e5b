//! `join_dashboard` / `leave_dashboard` (no payload; staff only) → the
//! socket joins or leaves the tenant's dashboard room
//! `buddy:{tenant}:dashboard`, which hears `conversation_created`,
//! `conversation_updated`, `conversation_participant_added` and
//! `conversation_participant_removed` for every conversation of the
//! tenant. The ack gets `{success, room}`.

use serde_json::json;

use super::dashboard_room;
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

/// The dashboard room, if the caller may follow it (no IO).
pub(super) fn decode(req: &Inbound) -> Result<String, WireError> {
    if !req.actor.role.is_staff() {
        return Err(WireError::forbidden(
            "only agents, supervisors and admins may follow the dashboard",
        ));
    }
    Ok(dashboard_room(&req.actor.tenant))
}

pub async fn join(req: &Request) -> Result<(), WireError> {
    let room = decode(&req.inbound())?;
    req.socket.join(room.clone());
    req.answer(&json!({ "success": true, "room": room }));
    Ok(())
}

pub async fn leave(req: &Request) -> Result<(), WireError> {
    let room = decode(&req.inbound())?;
    req.socket.leave(room.clone());
    req.answer(&json!({ "success": true, "room": room }));
    Ok(())
}
