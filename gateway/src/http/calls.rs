//! `GET /api/v1/calls/{roomName}/transcript`: every session of a call room
//! of the caller's tenant, oldest first, with participants and segments.
//! Customers may read only rooms they took part in; to everyone else such a
//! room, like one that never had a call, is 404.

use axum::Json;
use axum::extract::{Path, State};
use domain::actor::Role;
use domain::call::RoomName;
use projections::calls::{self, CallSessionView};
use serde_json::{Value, json};

use super::Caller;
use crate::error::WireError;
use crate::state::AppState;
use crate::wire_time;

pub(super) async fn transcript(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, WireError> {
    let room = RoomName::parse(raw)?;
    // Read your writes: a segment acknowledged before this request is in it.
    state.read_your_writes(calls::NAME).await;
    let db = state.log.db();
    let not_found = || WireError::not_found(format!("no call room {room}"));
    if actor.role == Role::Customer
        && !calls::took_part(db, &actor.tenant, &room, &actor.user).await?
    {
        return Err(not_found());
    }
    let Some(sessions) = calls::transcript(db, &actor.tenant, &room).await? else {
        return Err(not_found());
    };
    Ok(Json(json!({
        "roomName": room.as_str(),
        "sessions": sessions.iter().map(session).collect::<Vec<_>>(),
    })))
}

fn session(s: &CallSessionView) -> Value {
    json!({
        "session": s.session,
        "status": s.status.as_str(),
        "startedBy": s.started_by.as_str(),
        "startedAt": wire_time(s.started_at),
        "endedAt": s.ended_at.map(wire_time),
        "participants": s.participants.iter().map(|p| json!({
            "userId": p.user_id.as_str(),
            "userName": p.user_name,
            "role": p.role.as_str(),
            "joinedAt": wire_time(p.joined_at),
            "leftAt": p.left_at.map(wire_time),
            "leaveReason": p.leave_reason.map(|r| r.as_str()),
        })).collect::<Vec<_>>(),
        "segments": s.segments.iter().map(|x| json!({
            "speaker": x.speaker,
            "text": x.text,
            "isFinal": x.is_final,
            "confidence": x.confidence,
            "timestamp": wire_time(x.at),
            "userId": x.user_id.as_str(),
        })).collect::<Vec<_>>(),
    })
}
