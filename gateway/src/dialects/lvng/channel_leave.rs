//! `channel:leave {channelId}` (with an ack callback) → the caller leaves
//! the channel's room; the others hear `channel:leave` through the
//! projection. The ack answers `{success, channelId}`.

use domain::Room;
use domain::conversation::Action;
use serde_json::json;

use super::{DIALECT, Target, room_name};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

/// The channel the payload names (no IO).
pub(super) fn decode(input: &Inbound) -> Result<Room, WireError> {
    input.parse::<Target>()?.channel(input)
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let room = decode(&req.inbound())?;
    req.state
        .commands
        .on_conversation(
            &req.origin(DIALECT),
            "channel:leave",
            &room,
            Action::Leave,
            None,
        )
        .await?;
    req.socket.leave(room_name(&room));
    req.answer(&json!({ "success": true, "channelId": room.id.as_str() }));
    Ok(())
}
