//! `call:join {roomName}` → `call:joined {roomName, timestamp}` to the
//! caller (and its ack); `call:participant_joined` reaches the others in the
//! call through the projection. The first join (of the room, or after its
//! last call ended) starts a call.

use domain::call::CallAction;
use serde_json::json;

use super::DIALECT;
use super::calls::{JoinedCalls, call_room, decode_room, leave_disconnected, run_on_call};
use crate::error::WireError;
use crate::socket::Call;
use crate::wire_time;

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let room = decode_room(&call.inbound())?;
    run_on_call(
        &call.state,
        &call.origin(DIALECT),
        "call:join",
        &room,
        CallAction::Join,
    )
    .await?;
    // Only after the join is authorized and durable does the socket listen.
    call.socket.join(call_room(&call.actor.tenant, &room));
    if let Some(joined) = call.socket.extensions.get::<JoinedCalls>() {
        joined.add(room.clone());
    }
    if !call.socket.connected() {
        // Gone while joining: its disconnect clean-up may have run before
        // the room was noted, so leave here (a second leave changes nothing).
        leave_disconnected(&call.state, &call.socket, &call.actor, &room).await;
        return Ok(());
    }
    call.reply(
        "call:joined",
        &json!({
            "roomName": room.as_str(),
            "timestamp": wire_time(chrono::Utc::now()),
        }),
    );
    Ok(())
}
