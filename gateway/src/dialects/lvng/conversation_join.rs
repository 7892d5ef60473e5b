//! `conversation:join {conversationId, customerId}` → `room:joined` to the
//! caller; `member:joined` reaches the others through the projection.

use domain::conversation::Action;
use serde_json::json;

use super::{conversation_room, run_on_conversation};
use crate::error::WireError;
use crate::socket::Call;
use crate::wire_time;

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let conversation = run_on_conversation(call, "conversation:join", Action::Join).await?;
    // Only after the join is authorized and durable does the socket listen.
    let room = conversation_room(&call.actor.tenant, &conversation);
    call.socket.join(room.clone());
    call.reply(
        "room:joined",
        &json!({
            "room": room,
            "conversationId": conversation.as_str(),
            "customerId": call.actor.tenant.as_str(),
            "timestamp": wire_time(chrono::Utc::now()),
        }),
    );
    Ok(())
}
