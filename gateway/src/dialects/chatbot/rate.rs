//! `rate {conversationId, rating: "good" | "bad", comment?}`: the
//! conversation's customer rates it (again, to change their mind). Rating a
//! conversation without messages is `INVALID_STATE`. The seed has no
//! answer: the ack callback, if any, gets `{success, conversationId,
//! rating}`; a bad rating notifies the organisation room.

use domain::Room;
use domain::conversation::{Action, Rating, Remark};
use serde::Deserialize;
use serde_json::json;

use super::{DIALECT, conversation, invalid_in};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rate {
    conversation_id: Option<String>,
    rating: Option<String>,
    comment: Option<String>,
}

/// The conversation, the rating and the comment (no IO).
pub(super) fn decode(req: &Inbound) -> Result<(Room, Rating, Option<Remark>), WireError> {
    let request: Rate = req.parse()?;
    let room = conversation(req, request.conversation_id.as_deref())?;
    let rating = request.rating.ok_or_else(|| {
        WireError::validation("rating is required (\"good\" or \"bad\")")
            .in_conversation(room.id.as_str())
    })?;
    let rating = Rating::parse(&rating).map_err(invalid_in(&room))?;
    let comment = request
        .comment
        .map(|c| Remark::parse("comment", c))
        .transpose()
        .map_err(invalid_in(&room))?;
    Ok((room, rating, comment))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let (room, rating, comment) = decode(&req.inbound())?;
    req.state
        .commands
        .on_conversation(
            &req.origin_as(DIALECT, &req.actor),
            "rate",
            &room,
            Action::Rate { rating, comment },
            None,
        )
        .await?;
    req.answer(&json!({
        "success": true,
        "conversationId": room.id.as_str(),
        "rating": rating.as_str(),
    }));
    Ok(())
}
