//! `leave_support {ticket_chat_id}`: the socket leaves the conversation's
//! room.

use serde_json::json;

use super::tickets::ticket_id;
use super::{Request, conversation_room};
use crate::error::WireError;

pub async fn leave(req: &Request) -> Result<(), WireError> {
    let id = ticket_id(&req.text("ticket_chat_id")?)?;
    req.socket.leave(conversation_room(&req.hd.tenant(), &id));
    req.answer("Left support room", json!({}));
    Ok(())
}
