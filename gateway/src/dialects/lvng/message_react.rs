//! `message:react {messageId, channelId | conversationId, emoji, action:
//! "add" | "remove"}` → `message:reaction {messageId, channelId,
//! conversationId, emoji, userId, userName, action, timestamp}` to the room,
//! through the projection. Idempotent per user and emoji: adding twice or
//! removing what is not there is acknowledged and tells no one.

use domain::conversation::Action;
use domain::message::Emoji;
use serde::Deserialize;
use serde_json::json;

use super::message_update::message_id;
use super::{Target, run};
use crate::error::WireError;
use crate::socket::Call;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct React {
    #[serde(flatten)]
    target: Target,
    message_id: Option<String>,
    emoji: Option<String>,
    action: Option<String>,
}

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let request: React = call.parse()?;
    let room = request.target.resolve(call)?;
    let id = message_id(request.message_id)?;
    let emoji = Emoji::parse(
        request
            .emoji
            .ok_or_else(|| WireError::validation("emoji is required"))?,
    )?;
    let add = match request.action.as_deref() {
        // The seed's clients always say; "add" is the only sensible default.
        None | Some("add") => true,
        Some("remove") => false,
        Some(other) => {
            return Err(WireError::validation(format!(
                "action {other:?} is not \"add\" or \"remove\""
            )));
        }
    };
    run(
        call,
        "message:react",
        &room,
        Action::React {
            id: id.clone(),
            emoji,
            add,
        },
        None,
    )
    .await?;
    call.answer(&json!({ "success": true, "messageId": id.as_str() }));
    Ok(())
}
