//! `leave_support {ticket_chat_id}`: the socket leaves the conversation's
//! room.

use serde_json::json;

use super::tickets::ticket_id;
use super::{Event, conversation_room};
use crate::error::WireError;

pub async fn leave(event: &Event) -> Result<(), WireError> {
    let id = ticket_id(&event.text("ticket_chat_id")?)?;
    event
        .socket
        .leave(conversation_room(&event.hd.tenant(), &id));
    event.answer("Left support room", json!({}));
    Ok(())
}
