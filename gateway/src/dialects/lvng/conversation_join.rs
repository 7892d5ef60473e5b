//! `conversation:join {conversationId, customerId}` → `room:joined` to the
//! caller; `member:joined` reaches the others through the projection.

use domain::conversation::Action;
use projections::Room;
use serde_json::json;

use super::{Target, room_name, run};
use crate::error::WireError;
use crate::socket::{Call, Inbound};
use crate::wire_time;

/// The conversation the payload names (no IO).
pub(super) fn decode(input: &Inbound) -> Result<Room, WireError> {
    input.parse::<Target>()?.conversation(input)
}

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let room = decode(&call.inbound())?;
    run(call, "conversation:join", &room, Action::Join, None).await?;
    // Only after the join is authorized and durable does the socket listen.
    let name = room_name(&room);
    call.socket.join(name.clone());
    call.reply(
        "room:joined",
        &json!({
            "room": name,
            "conversationId": room.id.as_str(),
            "customerId": room.tenant.as_str(),
            "timestamp": wire_time(chrono::Utc::now()),
        }),
    );
    Ok(())
}
