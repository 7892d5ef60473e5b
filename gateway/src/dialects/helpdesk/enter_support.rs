//! `enter_support {ticket_chat_id}`: the socket joins a conversation of its
//! customer's, and gets its recent messages.

use projections::support::{self};
use serde_json::json;

use super::tickets::{ticket, ticket_id, unknown};
use super::{Event, conversation_room};
use crate::error::WireError;

pub async fn enter(event: &Event) -> Result<(), WireError> {
    let raw = event.text("ticket_chat_id")?;
    let view = match event.hd.staff() {
        // Staff may follow any conversation of their tenant.
        Some(staff) => {
            let id = ticket_id(&raw)?;
            event.state.read_your_writes(support::NAME).await;
            support::get(event.state.log.db(), &staff.tenant, &id)
                .await?
                .ok_or_else(|| unknown(&raw))?
        }
        None => ticket(event, &raw).await?.view,
    };
    event
        .socket
        .join(conversation_room(&view.room.tenant, &view.room.id));
    event.answer("Joined support room", json!({}));
    Ok(())
}
