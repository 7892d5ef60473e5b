//! `message:read {messageId | messageIds, channelId | conversationId,
//! customerId?}` → the room hears `message:read {messageId, channelId,
//! conversationId, userId, userName, timestamp}` for one message, or
//! `message:read:batch {messageIds, channelId, conversationId, userId,
//! timestamp}` when a client marks many at once (also accepted inbound as
//! `message:read:batch`). The reader's marker only moves forward: marking
//! older messages read is acknowledged and tells no one.

use domain::Room;
use domain::conversation::{Action, MAX_READ_BATCH};
use domain::ids::MessageId;
use serde::Deserialize;
use serde_json::json;

use super::message_update::parse_message_id;
use super::{DIALECT, Target};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Read {
    #[serde(flatten)]
    target: Target,
    message_id: Option<String>,
    message_ids: Option<Vec<String>>,
}

/// The room and the messages read (no IO).
pub(super) fn decode(input: &Inbound) -> Result<(Room, Vec<MessageId>), WireError> {
    let request: Read = input.parse()?;
    let room = request.target.resolve(input)?;
    let mut raw = request.message_ids.unwrap_or_default();
    raw.extend(request.message_id);
    if raw.is_empty() {
        return Err(WireError::validation("messageId or messageIds is required"));
    }
    if raw.len() > MAX_READ_BATCH {
        return Err(WireError::validation(format!(
            "at most {MAX_READ_BATCH} messages per read receipt"
        )));
    }
    let ids = raw
        .into_iter()
        .map(parse_message_id)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((room, ids))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let (room, ids) = decode(&req.inbound())?;
    let count = ids.len();
    req.state
        .commands
        .on_conversation(
            &req.origin(DIALECT),
            "message:read",
            &room,
            Action::MarkRead { ids },
            None,
        )
        .await?;
    req.answer(&json!({ "success": true, "count": count }));
    Ok(())
}
