//! `close_call_support` → `close_call_support {room, ticket_chat_id,
//! ticket_call_id, call_start_time, call_end_time}` to the conversation's
//! and the customer's rooms.

use domain::call::{CallAction, LeaveReason};
use projections::calls;
use serde_json::json;

use super::call_support::{broadcast, call_room};
use super::tickets::{Ticket, ticket};
use super::{Request, envelope};
use crate::error::WireError;
use crate::wire_time;

pub async fn close(req: &Request) -> Result<(), WireError> {
    let Ticket {
        view,
        session,
        customer: actor,
    } = ticket(req, &req.text("ticket_chat_id")?).await?;
    let room = call_room(&view.room.id)?;
    req.state.read_your_writes(calls::NAME).await;
    let db = req.state.log.db();
    let before = calls::latest_session(db, &actor.tenant, &room).await?;
    let active = before.filter(|(_, active, _, _)| *active);
    if active.is_some() {
        req.state
            .commands
            .on_call(
                &req.origin_as(&actor),
                "close_call_support",
                &room,
                CallAction::Leave(LeaveReason::Left),
            )
            .await?;
        req.state.read_your_writes(calls::NAME).await;
    }
    let after = calls::latest_session(db, &actor.tenant, &room).await?;
    let now = chrono::Utc::now();
    let data = json!({
        "room": room.as_str(),
        "ticket_chat_id": view.room.id.as_str(),
        "ticket_call_id": active.map(|(n, _, _, _)| format!("{}-{n}", view.room.id)),
        "call_start_time": after.map(|(_, _, started, _)| wire_time(started)),
        "call_end_time": after.and_then(|(_, _, _, ended)| ended).map(wire_time).unwrap_or_else(|| wire_time(now)),
    });
    let body = envelope(200, &req.socket.id.to_string(), "Call ended", data);
    broadcast(
        req,
        &session,
        &actor,
        &view.room.id,
        "close_call_support",
        &body,
    )
    .await;
    Ok(())
}
