//! `typing_start {conversationId, userId, userName}` → `user_typing
//! {conversationId, userId, userName, isTyping: true}`, and `typing_stop
//! {conversationId, userId}` → Parley's `user_stopped_typing` (same fields,
//! `isTyping: false`), to the others in the room, through the projection.
//! The seed has no stop event and its clients show "X is typing…" on every
//! `user_typing`, so a stop is never sent under that name. The name shown
//! is the token's; the payload's `userName` is not used.

use domain::Room;
use domain::conversation::Action;
use serde::Deserialize;
use serde_json::json;

use super::{DIALECT, conversation, ensure_caller};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

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
pub(super) fn decode(req: &Inbound) -> Result<Room, WireError> {
    let request: Typing = req.parse()?;
    let room = conversation(req, &request.conversation_id)?;
    ensure_caller(req, &room, "userId", &request.user_id)?;
    Ok(room)
}

pub async fn handle(req: &Request, started: bool) -> Result<(), WireError> {
    let room = decode(&req.inbound())?;
    let (name, action) = if started {
        ("typing_start", Action::StartTyping)
    } else {
        ("typing_stop", Action::StopTyping)
    };
    req.state
        .commands
        .on_conversation(&req.origin(DIALECT), name, &room, action, None)
        .await?;
    req.answer(&json!({ "success": true }));
    Ok(())
}
