//! `close_support {ticket_chat_id}`: the customer ends the conversation.

use domain::conversation::{Action, EndReason};
use serde_json::json;

use super::Request;
use super::tickets::{Ticket, ticket};
use crate::error::WireError;
use crate::wire_time;

/// What a customer is told when their conversation is closed.
pub(super) const CLOSED: &str =
    "Thank you for using our support. Your conversation has been closed.";

pub async fn close(req: &Request) -> Result<(), WireError> {
    let Ticket {
        view,
        customer: actor,
        ..
    } = ticket(req, &req.text("ticket_chat_id")?).await?;
    req.state
        .commands
        .on_conversation(
            &req.origin_as(&actor),
            "close_support",
            &req.room(&view.room.id),
            Action::End {
                reason: EndReason::UserEnded,
                idle_since: None,
            },
            None,
        )
        .await?;
    let now = wire_time(chrono::Utc::now());
    req.answer(
        "Support conversation closed",
        json!({
            "message": CLOSED,
            "ticket_chat_id": view.room.id.as_str(),
            "sender": "sate",
            "attachment": false,
            "attachment_metadata": null,
            "close_support": true,
            "closed_support": true,
            "date_created": now,
            "date_updated": now,
        }),
    );
    Ok(())
}
