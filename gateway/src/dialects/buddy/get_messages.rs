//! `get_messages {conversationId, limit?, offset?}` → the conversation's
//! messages from the read model, oldest first, skipping `offset` (default
//! 0) and at most `limit` (1 to 100, default 50), each a `Message`. The ack
//! gets the `Message[]`; without an ack callback the caller gets
//! `messages {conversationId, messages, limit, offset}`.
//!
//! Staff may read any conversation of their tenant, and see robot
//! messages not yet shared; customers read the conversations they take
//! part in, without those.

use domain::Room;
use projections::conversation_list;
use projections::conversation_messages::{self, Visibility};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{conversation, render};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetMessages {
    conversation_id: String,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// The conversation and the page asked for (no IO).
pub(super) fn decode(req: &Inbound) -> Result<(Room, i64, i64), WireError> {
    let request: GetMessages = req.parse()?;
    let room = conversation(req, &request.conversation_id)?;
    let invalid =
        |message: String| WireError::validation(message).in_conversation(room.id.as_str());
    let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(invalid(format!(
            "limit must be 1 to {MAX_LIMIT}, not {limit}"
        )));
    }
    let offset = request.offset.unwrap_or(0);
    if offset < 0 {
        return Err(invalid(format!("offset must be 0 or more, not {offset}")));
    }
    Ok((room, limit, offset))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let (room, limit, offset) = decode(&req.inbound())?;
    let state = &req.state;
    let db = state.log.db();
    // The caller may have just opened or joined it.
    state.read_your_writes(conversation_list::NAME).await;
    let Some(summary) = conversation_list::get(db, &room).await? else {
        return Err(
            WireError::not_found(format!("conversation {} not found", room.id))
                .in_conversation(room.id.as_str()),
        );
    };
    let staff = req.actor.role.is_staff();
    if !staff
        && !summary
            .participants
            .iter()
            .any(|p| p.user_id == req.actor.user)
    {
        return Err(WireError::forbidden(
            "customers read only the conversations they take part in",
        )
        .in_conversation(room.id.as_str()));
    }
    state.read_your_writes(conversation_messages::NAME).await;
    let messages = conversation_messages::page_by_offset(
        db,
        &room,
        Visibility::for_role(req.actor.role),
        offset as u64,
        limit as u32,
    )
    .await?;
    let messages: Vec<Value> = messages.iter().map(render::message).collect();
    req.respond(
        "messages",
        &messages,
        &json!({
            "conversationId": room.id.as_str(),
            "messages": messages,
            "limit": limit,
            "offset": offset,
        }),
    );
    Ok(())
}
