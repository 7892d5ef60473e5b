//! `channel:join {channelId}` (with an ack callback) → the caller joins the
//! channel's room and receives `channel:history {channelId, messages (the
//! latest 50), hasMore, total}`; the ack answers `{success, channelId,
//! room}`. The others hear `channel:join` through the projection. The first
//! join creates the channel.

use domain::Room;
use domain::conversation::Action;
use projections::conversation_messages::{self, Cursor, Visibility};
use serde_json::json;

use super::{DIALECT, Target, render, room_name};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

/// The seed's history size.
const HISTORY: u32 = 50;

/// The channel the payload names (no IO).
pub(super) fn decode(input: &Inbound) -> Result<Room, WireError> {
    input.parse::<Target>()?.channel(input)
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let room = decode(&req.inbound())?;
    req.state
        .commands
        .on_conversation(
            &req.origin(DIALECT),
            "channel:join",
            &room,
            Action::Join,
            None,
        )
        .await?;
    let name = room_name(&room);
    req.socket.join(name.clone());

    let state = &req.state;
    state.read_your_writes(conversation_messages::NAME).await;
    let db = state.log.db();
    let seen = Visibility::for_role(req.actor.role);
    let page = conversation_messages::page(db, &room, seen, &Cursor::Latest, HISTORY).await?;
    let total = conversation_messages::count(db, &room, seen).await?;
    let _ = req.socket.emit(
        "channel:history",
        &json!({
            "channelId": room.id.as_str(),
            "messages": page.messages.iter().map(render::message_new).collect::<Vec<_>>(),
            "hasMore": page.has_older,
            "total": total,
        }),
    );
    req.answer(&json!({
        "success": true,
        "channelId": room.id.as_str(),
        "room": name,
    }));
    Ok(())
}
