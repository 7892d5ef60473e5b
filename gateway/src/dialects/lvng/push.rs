//! Rendering projection updates into lvng events and rooms.

use chrono::Utc;
use projections::Update;
use projections::update::Change;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::socket::Sid;
use std::time::Duration;

use super::{conversation_room, org_room, presence, render};
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
        Change::PresenceChanged {
            tenant,
            user_id,
            user_name,
            status,
            custom_status,
            status_text,
            at,
            ..
        } => (
            org_room(tenant),
            "presence:update",
            presence::payload(
                user_id,
                user_name,
                *status,
                custom_status.as_deref(),
                status_text.as_deref(),
                *at,
            ),
            // The sender's other sockets (and the sender) see it too.
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
