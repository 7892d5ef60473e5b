//! `call:join {roomName}` → `call:joined {roomName, timestamp}` to the
//! caller (and its ack); `call:participant_joined` reaches the others in the
//! call through the projection. The first join (of the room, or after its
//! last call ended) starts a call.
//!
//! Who may join follows the room's membership (see [`domain::call`]): a
//! room named after a conversation (its id) is that conversation's call,
//! one named after a channel that channel's; staff join any room of their
//! tenant, customers only the call of a conversation they take part in or
//! of a channel they are a member of (`FORBIDDEN` otherwise, the same for
//! every reason, so that it tells nothing about another customer's
//! conversation).

use domain::call::CallAction;
use serde_json::json;

use super::DIALECT;
use super::call_rooms::{JoinedCalls, call_room, decode_room, leave_disconnected, membership};
use crate::dialect::Request;
use crate::error::WireError;
use crate::wire_time;

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let room = decode_room(&req.inbound())?;
    let membership = membership(&req.state, &req.actor, &room).await?;
    req.state
        .commands
        .on_call(
            &req.origin(DIALECT),
            "call:join",
            &room,
            CallAction::Join(membership),
        )
        .await?;
    // Only after the join is authorized and durable does the socket listen.
    req.socket.join(call_room(&req.actor.tenant, &room));
    if let Some(joined) = req.socket.extensions.get::<JoinedCalls>() {
        joined.add(room.clone());
    }
    if !req.socket.connected() {
        // Gone while joining: its disconnect clean-up may have run before
        // the room was noted, so leave here (a second leave changes nothing).
        leave_disconnected(&req.state, &req.socket, &req.actor, &room).await;
        return Ok(());
    }
    req.reply(
        "call:joined",
        &json!({
            "roomName": room.as_str(),
            "timestamp": wire_time(chrono::Utc::now()),
        }),
    );
    Ok(())
}
