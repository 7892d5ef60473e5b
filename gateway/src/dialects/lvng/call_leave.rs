//! `call:leave {roomName}`: the others in the call hear
//! `call:participant_left` with reason `left` through the projection; the
//! ack callback gets `{roomName, timestamp}`. Leaving a call one is not in
//! changes nothing.

use domain::call::{CallAction, LeaveReason};
use serde_json::json;

use super::DIALECT;
use super::calls::{JoinedCalls, call_room, decode_room, run_on_call};
use crate::error::WireError;
use crate::socket::Call;
use crate::wire_time;

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let room = decode_room(&call.inbound())?;
    run_on_call(
        &call.state,
        &call.origin(DIALECT),
        "call:leave",
        &room,
        CallAction::Leave(LeaveReason::Left),
    )
    .await?;
    call.socket.leave(call_room(&call.actor.tenant, &room));
    if let Some(joined) = call.socket.extensions.get::<JoinedCalls>() {
        joined.remove(&room);
    }
    call.answer(&json!({
        "roomName": room.as_str(),
        "timestamp": wire_time(chrono::Utc::now()),
    }));
    Ok(())
}
