//! `message:delete {messageId, channelId | conversationId, customerId?}` →
//! `message:delete {messageId, channelId, conversationId, deletedBy,
//! deletedByName, timestamp}` to the room, through the projection. Only the
//! author and staff may delete; deleting again is acknowledged and changes
//! nothing. History and rejoin keep a tombstone (`deleted: true`, empty
//! content).

use domain::Room;
use domain::conversation::Action;
use domain::ids::MessageId;
use serde::Deserialize;
use serde_json::json;

use super::message_update::message_id;
use super::{DIALECT, Target};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delete {
    #[serde(flatten)]
    target: Target,
    message_id: Option<String>,
}

/// The room and the message to delete (no IO).
pub(super) fn decode(input: &Inbound) -> Result<(Room, MessageId), WireError> {
    let request: Delete = input.parse()?;
    let room = request.target.resolve(input)?;
    let id = message_id(request.message_id)?;
    Ok((room, id))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let (room, id) = decode(&req.inbound())?;
    req.state
        .commands
        .on_conversation(
            &req.origin(DIALECT),
            "message:delete",
            &room,
            Action::DeleteMessage { id: id.clone() },
            None,
        )
        .await?;
    req.answer(&json!({ "success": true, "messageId": id.as_str() }));
    Ok(())
}
