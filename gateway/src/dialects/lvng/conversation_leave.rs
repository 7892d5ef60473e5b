//! `conversation:leave {conversationId, customerId}`; `member:left` reaches
//! the others through the projection.

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
    run(call, "conversation:leave", &room, Action::Leave, None).await?;
    call.socket.leave(room_name(&room));
    call.answer(&json!({
        "conversationId": room.id.as_str(),
        "customerId": room.tenant.as_str(),
        "timestamp": wire_time(chrono::Utc::now()),
    }));
    Ok(())
}
