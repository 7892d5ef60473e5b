//! `typing_start {conversationId, userId, userName}` → `user_typing
//! {conversationId, userId, userName, isTyping: true}`, and `typing_stop
//! {conversationId, userId}` → Parley's `user_stopped_typing` (same fields,
//! `isTyping: false`), to the others in the room, through the projection.
//! The seed has no stop event and its clients show "X is typing…" on every
//! `user_typing`, so a stop is never sent under that name. The name shown
//! is the token's; the payload's `userName` is not used.

use domain::conversation::Action;
use projections::Room;
use serde::Deserialize;
use serde_json::json;

use super::{conversation, ensure_caller, run};
use crate::error::WireError;
use crate::socket::{Call, Inbound};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Typing {
    conversation_id: String,
    user_id: String,
    // Typed so that a malformed one is refused; the token names the user.
    #[serde(rename = "userName")]
    _user_name: Option<String>,
}

/// The conversation, if the payload speaks for the caller (no IO).
pub(super) fn decode(call: &Inbound) -> Result<Room, WireError> {
    let request: Typing = call.parse()?;
    let room = conversation(call, &request.conversation_id)?;
    ensure_caller(call, &room, "userId", &request.user_id)?;
    Ok(room)
}

pub async fn handle(call: &Call, started: bool) -> Result<(), WireError> {
    let room = decode(&call.inbound())?;
    let (name, action) = if started {
        ("typing_start", Action::StartTyping)
    } else {
        ("typing_stop", Action::StopTyping)
    };
    run(call, name, &room, action).await?;
    call.answer(&json!({ "success": true }));
    Ok(())
}
