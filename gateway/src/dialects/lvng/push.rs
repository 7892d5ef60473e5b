//! Rendering projection updates into lvng events and rooms.

use chrono::Utc;
use projections::Update;
use projections::update::Change;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::socket::Sid;
use std::time::Duration;

use super::calls::{self, call_room};
use super::swarm::{swarm_room, swarm_update};
use super::{conversation_room, render};
use crate::wire_time;

/// Typing signals older than this are not worth showing (after a restart
/// the projector catches up on old ones).
const TYPING_FRESHNESS: Duration = Duration::from_secs(10);

pub async fn push(io: &SocketIo, update: &Update) {
    let origin: Option<Sid> = update.origin_socket.as_deref().and_then(|s| s.parse().ok());
    let (room, event, payload, echo): (String, &str, Value, bool) = match &update.change {
        Change::MessagePosted(m) => (
            conversation_room(&m.tenant, &m.conversation_id),
            "message:new",
            render::message_new(m),
            // The sender's other devices in the room see it too.
            true,
        ),
        Change::ParticipantJoined {
            tenant,
            conversation_id,
            user_id,
            user_name,
            at,
            ..
        } => (
            conversation_room(tenant, conversation_id),
            "member:joined",
            render::member(conversation_id, user_id, user_name, *at),
            false,
        ),
        Change::ParticipantLeft {
            tenant,
            conversation_id,
            user_id,
            user_name,
            at,
        } => (
            conversation_room(tenant, conversation_id),
            "member:left",
            render::member(conversation_id, user_id, user_name, *at),
            false,
        ),
        Change::Typing {
            tenant,
            conversation_id,
            user_id,
            user_name,
            started,
            at,
        } => {
            let age = Utc::now().signed_duration_since(update.recorded_at);
            if age.to_std().is_ok_and(|age| age > TYPING_FRESHNESS) {
                return;
            }
            (
                conversation_room(tenant, conversation_id),
                if *started {
                    "typing:start"
                } else {
                    "typing:stop"
                },
                json!({
                    "channelId": null,
                    "conversationId": conversation_id.as_str(),
                    "userId": user_id.as_str(),
                    "userName": user_name,
                    "timestamp": wire_time(*at),
                }),
                false,
            )
        }
        Change::CallParticipantJoined {
            tenant,
            room_name,
            user_id,
            user_name,
            at,
            ..
        } => (
            call_room(tenant, room_name),
            "call:participant_joined",
            calls::participant_joined(room_name, user_id, user_name, *at),
            // The joiner has its `call:joined`.
            false,
        ),
        Change::CallParticipantLeft {
            tenant,
            room_name,
            user_id,
            user_name,
            reason,
            at,
            ..
        } => (
            call_room(tenant, room_name),
            "call:participant_left",
            calls::participant_left(room_name, user_id, user_name, *reason, *at),
            // Not to the leaving socket (the push can beat its leaving the
            // room); the user's other devices in the call do hear it.
            false,
        ),
        Change::TranscriptSegmentRecorded(segment) => (
            call_room(&segment.tenant, &segment.room_name),
            "transcription:segment",
            calls::transcription_segment(segment),
            // Every screen in the call shows the transcript, the sender's too.
            true,
        ),
        Change::SwarmStepRecorded(step) => (
            swarm_room(&step.tenant, &step.session_id),
            "swarm:update",
            swarm_update(step),
            true,
        ),
    };
    let target = match origin {
        Some(sid) if !echo => io.to(room).except(sid),
        _ => io.to(room),
    };
    if let Err(error) = target.emit(event, &payload).await {
        tracing::debug!(%error, event, "push not delivered to every socket");
    }
}
