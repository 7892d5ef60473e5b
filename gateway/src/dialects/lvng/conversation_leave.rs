//! `conversation:leave {conversationId, customerId}`; `member:left` reaches
//! the others through the projection.

use domain::conversation::Action;
use serde::Deserialize;
use serde_json::json;

use super::{DIALECT, conversation_of, conversation_room};
use crate::commands;
use crate::error::WireError;
use crate::socket::Call;
use crate::wire_time;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Leave {
    conversation_id: Option<String>,
    customer_id: Option<String>,
}

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let request: Leave = call.parse()?;
    let conversation = conversation_of(
        call,
        request.conversation_id.as_deref(),
        request.customer_id.as_deref(),
    )?;
    commands::on_conversation(
        &call.state,
        &call.origin(DIALECT),
        "conversation:leave",
        &conversation,
        Action::Leave,
        None,
    )
    .await?;
    call.socket
        .leave(conversation_room(&call.actor.tenant, &conversation));
    call.answer(&json!({
        "conversationId": conversation.as_str(),
        "customerId": call.actor.tenant.as_str(),
        "timestamp": wire_time(chrono::Utc::now()),
    }));
    Ok(())
}
