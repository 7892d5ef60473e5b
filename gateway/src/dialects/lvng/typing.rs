//! `typing:start` / `typing:stop` `{conversationId, customerId, …}`: the
//! others in the room hear it through the projection. The seed's `userId`
//! and `userName` fields are ignored: the token says who is typing.

use domain::conversation::Action;
use serde::Deserialize;

use super::{DIALECT, conversation_of};
use crate::commands;
use crate::error::WireError;
use crate::socket::Call;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Typing {
    conversation_id: Option<String>,
    customer_id: Option<String>,
}

pub async fn handle(call: &Call, started: bool) -> Result<(), WireError> {
    let request: Typing = call.parse()?;
    let conversation = conversation_of(
        call,
        request.conversation_id.as_deref(),
        request.customer_id.as_deref(),
    )?;
    let (name, action) = if started {
        ("typing:start", Action::StartTyping)
    } else {
        ("typing:stop", Action::StopTyping)
    };
    commands::on_conversation(
        &call.state,
        &call.origin(DIALECT),
        name,
        &conversation,
        action,
        None,
    )
    .await
}
