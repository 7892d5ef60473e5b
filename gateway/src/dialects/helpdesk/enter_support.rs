//! `enter_support {ticket_chat_id}`: the socket joins a conversation of its
//! customer's, and gets its recent messages.

use projections::support::{self};
use serde_json::json;

use super::tickets::{ticket, ticket_id, unknown};
use super::{Request, conversation_room};
use crate::error::WireError;

pub async fn enter(req: &Request) -> Result<(), WireError> {
    let raw = req.text("ticket_chat_id")?;
    let view = match req.hd.staff() {
        // Staff may follow any conversation of their tenant.
        Some(staff) => {
            let id = ticket_id(&raw)?;
            req.state.read_your_writes(support::NAME).await;
            support::get(req.state.log.db(), &staff.tenant, &id)
                .await?
                .ok_or_else(|| unknown(&raw))?
        }
        None => ticket(req, &raw).await?.view,
    };
    req.socket
        .join(conversation_room(&view.room.tenant, &view.room.id));
    req.answer("Joined support room", json!({}));
    Ok(())
}
