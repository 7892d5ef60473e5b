//! `mark_conversation_read {ticket_chat_id, entity}`: the customer read
//! the conversation up to its latest message.

use domain::Room;
use domain::conversation::{Action, Kind};
use projections::conversation_messages::{self, Cursor, Visibility};
use serde_json::{Value, json};

use super::tickets::{Ticket, ticket};
use super::{Request, text};
use crate::error::WireError;

pub async fn mark_read(req: &Request) -> Result<(), WireError> {
    let Ticket {
        view,
        customer: actor,
        ..
    } = ticket(req, &req.text("ticket_chat_id")?).await?;
    entity(&req.data)?;
    let room = Room::new(
        view.room.tenant.clone(),
        Kind::Conversation,
        view.room.id.clone(),
    );
    req.state
        .read_your_writes(conversation_messages::NAME)
        .await;
    let latest = conversation_messages::page(
        req.state.log.db(),
        &room,
        Visibility::Everyone,
        &Cursor::Latest,
        1,
    )
    .await?;
    if let Some(last) = latest.messages.last() {
        req.state
            .commands
            .on_conversation(
                &req.origin_as(&actor),
                "mark_conversation_read",
                &req.room(&room.id),
                Action::MarkRead {
                    ids: vec![last.message_id.clone()],
                },
                None,
            )
            .await?;
    }
    req.answer("Marked as read", json!({}));
    Ok(())
}

/// A read mark's `entity`: this side marks as the customer (no IO).
pub(super) fn entity(data: &Value) -> Result<(), WireError> {
    if text(data, "entity")? != "customer" {
        return Err(WireError::validation(
            "entity must be \"customer\" on a customer-side connection",
        ));
    }
    Ok(())
}
