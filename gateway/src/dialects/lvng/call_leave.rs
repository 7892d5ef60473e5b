//! `call:leave {roomName}`: the others in the call hear
//! `call:participant_left` with reason `left` through the projection; the
//! ack callback gets `{roomName, timestamp}`. Leaving a call one is not in
//! changes nothing.

use domain::call::{CallAction, LeaveReason};
use serde_json::json;

use super::DIALECT;
use super::call_rooms::{JoinedCalls, call_room, decode_room};
use crate::dialect::Request;
use crate::error::WireError;
use crate::wire_time;

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let room = decode_room(&req.inbound())?;
    req.state
        .commands
        .on_call(
            &req.origin(DIALECT),
            "call:leave",
            &room,
            CallAction::Leave(LeaveReason::Left),
        )
        .await?;
    req.socket.leave(call_room(&req.actor.tenant, &room));
    if let Some(joined) = req.socket.extensions.get::<JoinedCalls>() {
        joined.remove(&room);
    }
    req.answer(&json!({
        "roomName": room.as_str(),
        "timestamp": wire_time(chrono::Utc::now()),
    }));
    Ok(())
}
