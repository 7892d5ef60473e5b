//! `conversation:join {conversationId, customerId}` → `room:joined` to the
//! caller; `member:joined` reaches the others through the projection.

use domain::Room;
use domain::conversation::Action;
use serde_json::json;

use super::{DIALECT, Target, room_name};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;
use crate::wire_time;

/// The conversation the payload names (no IO).
pub(super) fn decode(input: &Inbound) -> Result<Room, WireError> {
    input.parse::<Target>()?.conversation(input)
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let room = decode(&req.inbound())?;
    req.state
        .commands
        .on_conversation(
            &req.origin(DIALECT),
            "conversation:join",
            &room,
            Action::Join,
            None,
        )
        .await?;
    // Only after the join is authorized and durable does the socket listen.
    let name = room_name(&room);
    req.socket.join(name.clone());
    req.reply(
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
