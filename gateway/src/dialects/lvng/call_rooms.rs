//! What the lvng call events share: the call room, the calls a socket is
//! in, running call commands, their outbound payloads, and leaving every
//! call when a socket goes away.

use chrono::{DateTime, Utc};
use domain::actor::Actor;
use domain::call::{CallAction, LeaveReason, Membership, RoomName};
use domain::ids::{ConversationId, TenantId, UserId};
use projections::calls::SegmentView;
use projections::conversation_list;
use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::extract::SocketRef;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use super::DIALECT;
use crate::commands::Origin;
use crate::dialect::Inbound;
use crate::error::WireError;
use crate::state::AppState;
use crate::wire_time;

/// The room of a call (the seed's `call:{roomName}`, with the tenant so
/// that no two tenants share one). Neither part can contain `:`.
pub fn call_room(tenant: &TenantId, room: &RoomName) -> String {
    format!("call:{tenant}:{room}")
}

/// The calls a socket joined: a socket extension, set on connect, so that a
/// disconnect can leave them.
#[derive(Clone, Default)]
pub struct JoinedCalls(Arc<Mutex<BTreeSet<RoomName>>>);

impl JoinedCalls {
    fn with<T>(&self, f: impl FnOnce(&mut BTreeSet<RoomName>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(super) fn add(&self, room: RoomName) {
        self.with(|rooms| rooms.insert(room));
    }

    pub(super) fn remove(&self, room: &RoomName) {
        self.with(|rooms| rooms.remove(room));
    }

    fn take_all(&self) -> BTreeSet<RoomName> {
        self.with(std::mem::take)
    }
}

/// `{roomName}`, as every call event names its room.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RoomRef {
    room_name: String,
}

impl RoomRef {
    pub(super) fn resolve(&self) -> Result<RoomName, WireError> {
        RoomName::parse(self.room_name.as_str()).map_err(WireError::from)
    }
}

/// The caller's membership of the conversation and the channel whose id is
/// `room`'s name, as the read model has them once it reflects every write
/// acknowledged so far (a `conversation:join` just answered counts).
pub(super) async fn membership(
    state: &AppState,
    actor: &Actor,
    room: &RoomName,
) -> Result<Membership, WireError> {
    // Room names and conversation ids share one alphabet and length, so
    // this parse fails only if that changes: then nothing is named so.
    let Ok(id) = ConversationId::parse(room.as_str()) else {
        return Ok(Membership::default());
    };
    state.read_your_writes(conversation_list::NAME).await;
    Ok(conversation_list::membership(state.log.db(), &actor.tenant, &id, &actor.user).await?)
}

/// The call room a `call:join` or `call:leave` names (no IO).
pub(super) fn decode_room(input: &Inbound) -> Result<RoomName, WireError> {
    input.parse::<RoomRef>()?.resolve()
}

/// A socket went away: it leaves every call it joined, with reason
/// `disconnected`.
pub async fn on_disconnect(state: &AppState, socket: &SocketRef, actor: &Actor) {
    let Some(joined) = socket.extensions.get::<JoinedCalls>() else {
        return;
    };
    for room in joined.take_all() {
        leave_disconnected(state, socket, actor, &room).await;
    }
}

/// Leave `room` for a socket that is gone (or going).
pub(super) async fn leave_disconnected(
    state: &AppState,
    socket: &SocketRef,
    actor: &Actor,
    room: &RoomName,
) {
    let origin = Origin {
        actor,
        dialect: DIALECT,
        socket_id: Some(socket.id.to_string()),
    };
    let leave = CallAction::Leave(LeaveReason::Disconnected);
    if let Err(error) = state
        .commands
        .on_call(&origin, "disconnect", room, leave)
        .await
    {
        tracing::warn!(
            socket = %socket.id,
            room = %room,
            code = %error.code,
            message = error.message,
            "leaving a call on disconnect failed"
        );
    }
}

/// `call:participant_joined {roomName, userId, userName, timestamp}`.
pub(super) fn participant_joined(
    room: &RoomName,
    user: &UserId,
    name: &str,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "roomName": room.as_str(),
        "userId": user.as_str(),
        "userName": name,
        "timestamp": wire_time(at),
    })
}

/// `call:participant_left {roomName, userId, userName, reason, timestamp}`.
pub(super) fn participant_left(
    room: &RoomName,
    user: &UserId,
    name: &str,
    reason: LeaveReason,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "roomName": room.as_str(),
        "userId": user.as_str(),
        "userName": name,
        "reason": reason.as_str(),
        "timestamp": wire_time(at),
    })
}

/// `transcription:segment {speaker, text, isFinal, timestamp, confidence}`,
/// plus `roomName` (a socket may be in several calls) and `userId` (who
/// sent it).
pub(super) fn transcription_segment(s: &SegmentView) -> Value {
    json!({
        "roomName": s.room_name.as_str(),
        "speaker": s.speaker,
        "text": s.text,
        "isFinal": s.is_final,
        "timestamp": wire_time(s.at),
        "confidence": s.confidence,
        "userId": s.user_id.as_str(),
    })
}
