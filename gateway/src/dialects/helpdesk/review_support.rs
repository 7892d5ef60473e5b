//! `review_support {ticket_chat_id, stars, review?}`: the customer rates
//! an ended conversation.

use domain::conversation::{Action, Rating, Remark};
use serde_json::{Value, json};

use super::tickets::{Ticket, ticket};
use super::{Request, optional_text};
use crate::error::WireError;

pub async fn review(req: &Request) -> Result<(), WireError> {
    let Ticket {
        view,
        customer: actor,
        ..
    } = ticket(req, &req.text("ticket_chat_id")?).await?;
    let (rating, review, comment) = review_request(&req.data)?;
    req.state
        .commands
        .on_conversation(
            &req.origin_as(&actor),
            "review_support",
            &req.room(&view.room.id),
            Action::Rate { rating, comment },
            None,
        )
        .await?;
    req.answer(
        "Review noted",
        json!({
            "rating": rating.as_str(),
            "review": review,
            "ticket_chat_id": view.room.id.as_str(),
        }),
    );
    Ok(())
}

/// A review: its stars, its text as sent, and that text as a remark (no
/// IO).
pub(super) fn review_request(
    data: &Value,
) -> Result<(Rating, Option<String>, Option<Remark>), WireError> {
    let raw = match data.get("rating") {
        Some(Value::String(s)) => s.clone(),
        // A number is what many clients send for "5".
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(WireError::validation("rating (\"1\" to \"5\") is required")),
    };
    let rating = Rating::parse_stars(&raw)?;
    let review = optional_text(data, "review")?;
    let comment = review
        .as_deref()
        .map(|r| Remark::parse("review", r))
        .transpose()?;
    Ok((rating, review, comment))
}
