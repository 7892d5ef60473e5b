//! `GET /api/v1/calls/{roomName}/transcript`: the sessions of a call room
//! of the caller's tenant, oldest first, with participants and segments.
//! Access is per session: a customer reads only the sessions they took part
//! in (joining a room later opens none of its earlier calls); staff,
//! analysts and auditors read them all. A room with no session the caller
//! may read, like one that never had a call, is 404.

use axum::Json;
use axum::extract::{Path, State};
use domain::actor::Role;
use domain::call::RoomName;
use projections::calls::{self, CallSessionView, Sessions};
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
    let which = if actor.role == Role::Customer {
        Sessions::TakenPartIn(&actor.user)
    } else {
        Sessions::All
    };
    let Some(sessions) = calls::transcript(state.log.db(), &actor.tenant, &room, which).await?
    else {
        return Err(WireError::not_found(format!("no call room {room}")));
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
