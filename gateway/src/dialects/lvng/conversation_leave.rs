//! `conversation:leave {conversationId, customerId}`; `member:left` reaches
//! the others through the projection.

use domain::conversation::Action;
use serde_json::json;

use super::{conversation_room, run_on_conversation};
use crate::error::WireError;
use crate::socket::Call;
use crate::wire_time;

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let conversation = run_on_conversation(call, "conversation:leave", Action::Leave).await?;
    call.socket
        .leave(conversation_room(&call.actor.tenant, &conversation));
    call.answer(&json!({
        "conversationId": conversation.as_str(),
        "customerId": call.actor.tenant.as_str(),
        "timestamp": wire_time(chrono::Utc::now()),
    }));
    Ok(())
}
