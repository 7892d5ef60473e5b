//! `channel:leave {channelId}` (with an ack callback) → the caller leaves
//! the channel's room; the others hear `channel:leave` through the
//! projection. The ack answers `{success, channelId}`.

use domain::conversation::Action;
use projections::Room;
use serde_json::json;

use super::{Target, room_name, run};
use crate::error::WireError;
use crate::socket::{Call, Inbound};

/// The channel the payload names (no IO).
pub(super) fn decode(input: &Inbound) -> Result<Room, WireError> {
    input.parse::<Target>()?.channel(input)
}

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let room = decode(&call.inbound())?;
    run(call, "channel:leave", &room, Action::Leave, None).await?;
    call.socket.leave(room_name(&room));
    call.answer(&json!({ "success": true, "channelId": room.id.as_str() }));
    Ok(())
}
