//! `message:react {messageId, channelId | conversationId, emoji, action:
//! "add" | "remove"}` → `message:reaction {messageId, channelId,
//! conversationId, emoji, userId, userName, action, timestamp}` to the room,
//! through the projection. Idempotent per user and emoji: adding twice or
//! removing what is not there is acknowledged and tells no one.

use domain::Room;
use domain::conversation::Action;
use domain::ids::MessageId;
use domain::message::Emoji;
use serde::Deserialize;
use serde_json::json;

use super::message_update::message_id;
use super::{DIALECT, Target};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct React {
    #[serde(flatten)]
    target: Target,
    message_id: Option<String>,
    emoji: Option<String>,
    action: Option<String>,
}

/// A reaction decoded and checked.
#[derive(Debug)]
pub(super) struct Reaction {
    room: Room,
    id: MessageId,
    emoji: Emoji,
    add: bool,
}

/// The reaction the payload asks for (no IO).
pub(super) fn decode(input: &Inbound) -> Result<Reaction, WireError> {
    let request: React = input.parse()?;
    let room = request.target.resolve(input)?;
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
    Ok(Reaction {
        room,
        id,
        emoji,
        add,
    })
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let Reaction {
        room,
        id,
        emoji,
        add,
    } = decode(&req.inbound())?;
    req.state
        .commands
        .on_conversation(
            &req.origin(DIALECT),
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
    req.answer(&json!({ "success": true, "messageId": id.as_str() }));
    Ok(())
}
