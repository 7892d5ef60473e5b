//! Rendering projection updates into lvng events and rooms.

use chrono::Utc;
use domain::conversation::Kind;
use projections::Update;
use projections::update::Change;
use serde_json::{Value, json};
use socketioxide::socket::Sid;
use std::time::Duration;

use super::call_rooms::{self, call_room};
use super::swarm::{swarm_room, swarm_update};
use super::{activity_room, ids, org_room, presence, render, room_name};
use crate::dialect::{Push, ROOT};
use crate::wire_time;

/// Typing signals older than this are not worth showing (after a restart
/// the projector catches up on old ones).
const TYPING_FRESHNESS: Duration = Duration::from_secs(10);
/// Characters of a message shown in the activity feed.
const PREVIEW_CHARS: usize = 140;

/// Who hears an event: everyone in the room, or all but the socket that
/// caused it (it already knows, from its own reply).
enum Audience {
    Everyone,
    AllButOrigin,
}

/// What lvng sockets hear of one change: the room's event, and the
/// activity feed's.
pub fn render(update: &Update, pushes: &mut Vec<Push>) {
    let origin: Option<Sid> = update.origin_socket.as_deref().and_then(|s| s.parse().ok());
    if let Some((room, event, payload)) = activity(&update.change) {
        pushes.push(Push::to(ROOT, [room], event, payload));
    }
    let Some((room, event, payload, audience)) = render_change(update) else {
        return;
    };
    let except = match audience {
        Audience::AllButOrigin => origin,
        Audience::Everyone => None,
    };
    pushes.push(Push::to(ROOT, [room], event, payload).except(except));
}

/// The room event for a change, if its room hears one.
fn render_change(update: &Update) -> Option<(String, &'static str, Value, Audience)> {
    use Audience::{AllButOrigin, Everyone};
    Some(match &update.change {
        // The sender's other devices in the room see their own messages,
        // edits, deletions, reactions and reads too.
        // lvng rooms hold customers and staff alike: a robot's suggestion
        // reaches them only once shared.
        Change::MessagePosted(m) if m.hidden => return None,
        Change::MessagePosted(posted) => (
            room_name(&posted.room),
            "message:new",
            render::message_new(posted),
            Everyone,
        ),
        Change::MessageShared(m) => (
            room_name(&m.room),
            "message:new",
            render::message_new(m),
            Everyone,
        ),
        // The seed has no support workflow events.
        Change::Support { .. } | Change::QueueMoved { .. } => return None,
        Change::MessageEdited {
            room,
            message_id,
            content,
            metadata,
            edited_by,
            at,
            ..
        } => {
            let (channel_id, conversation_id) = ids(room);
            (
                room_name(room),
                "message:update",
                json!({
                    "messageId": message_id.as_str(),
                    "content": content,
                    "metadata": metadata,
                    "channelId": channel_id,
                    "conversationId": conversation_id,
                    "updatedBy": edited_by.as_str(),
                    "timestamp": wire_time(*at),
                }),
                Everyone,
            )
        }
        Change::MessageDeleted {
            room,
            message_id,
            deleted_by,
            deleted_by_name,
            at,
        } => {
            let (channel_id, conversation_id) = ids(room);
            (
                room_name(room),
                "message:delete",
                json!({
                    "messageId": message_id.as_str(),
                    "channelId": channel_id,
                    "conversationId": conversation_id,
                    "deletedBy": deleted_by.as_str(),
                    "deletedByName": deleted_by_name,
                    "timestamp": wire_time(*at),
                }),
                Everyone,
            )
        }
        Change::Reaction {
            room,
            message_id,
            emoji,
            user_id,
            user_name,
            added,
            at,
        } => {
            let (channel_id, conversation_id) = ids(room);
            (
                room_name(room),
                "message:reaction",
                json!({
                    "messageId": message_id.as_str(),
                    "channelId": channel_id,
                    "conversationId": conversation_id,
                    "emoji": emoji,
                    "userId": user_id.as_str(),
                    "userName": user_name,
                    "action": if *added { "add" } else { "remove" },
                    "timestamp": wire_time(*at),
                }),
                Everyone,
            )
        }
        Change::MessagesRead {
            room,
            user_id,
            user_name,
            message_ids,
            at,
        } => {
            let (channel_id, conversation_id) = ids(room);
            match message_ids.as_slice() {
                [one] => (
                    room_name(room),
                    "message:read",
                    json!({
                        "messageId": one.as_str(),
                        "channelId": channel_id,
                        "conversationId": conversation_id,
                        "userId": user_id.as_str(),
                        "userName": user_name,
                        "timestamp": wire_time(*at),
                    }),
                    Everyone,
                ),
                many => (
                    room_name(room),
                    "message:read:batch",
                    json!({
                        "messageIds": many.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
                        "channelId": channel_id,
                        "conversationId": conversation_id,
                        "userId": user_id.as_str(),
                        "userName": user_name,
                        "timestamp": wire_time(*at),
                    }),
                    Everyone,
                ),
            }
        }
        Change::ParticipantJoined {
            room,
            user_id,
            user_name,
            at,
            ..
        } => (
            room_name(room),
            match room.kind {
                Kind::Conversation => "member:joined",
                Kind::Channel => "channel:join",
            },
            render::member(room, user_id, user_name, *at, true),
            AllButOrigin,
        ),
        Change::ParticipantLeft {
            room,
            user_id,
            user_name,
            at,
            ..
        } => (
            room_name(room),
            match room.kind {
                Kind::Conversation => "member:left",
                Kind::Channel => "channel:leave",
            },
            render::member(room, user_id, user_name, *at, false),
            AllButOrigin,
        ),
        Change::Typing {
            room,
            user_id,
            user_name,
            started,
            at,
            ..
        } => {
            let age = Utc::now().signed_duration_since(update.recorded_at);
            if age.to_std().is_ok_and(|age| age > TYPING_FRESHNESS) {
                return None;
            }
            let (channel_id, conversation_id) = ids(room);
            (
                room_name(room),
                if *started {
                    "typing:start"
                } else {
                    "typing:stop"
                },
                json!({
                    "channelId": channel_id,
                    "conversationId": conversation_id,
                    "userId": user_id.as_str(),
                    "userName": user_name,
                    "timestamp": wire_time(*at),
                }),
                AllButOrigin,
            )
        }
        Change::ChannelUpdated {
            room,
            changes,
            channel,
            updated_by,
            updated_by_name,
            at,
        } => (
            room_name(room),
            "channel:update",
            json!({
                "channelId": room.id.as_str(),
                "updates": changes,
                "channel": {
                    "id": room.id.as_str(),
                    "name": channel.name,
                    "description": channel.description,
                    "topic": channel.topic,
                    "createdBy": channel.created_by.as_str(),
                    "createdAt": wire_time(channel.created_at),
                },
                "updatedBy": updated_by.as_str(),
                "updatedByName": updated_by_name,
                "timestamp": wire_time(*at),
            }),
            Everyone,
        ),
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
            Everyone,
        ),
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
            call_rooms::participant_joined(room_name, user_id, user_name, *at),
            // The joiner has its `call:joined`.
            AllButOrigin,
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
            call_rooms::participant_left(room_name, user_id, user_name, *reason, *at),
            // Not to the leaving socket (the push can beat its leaving the
            // room); the user's other devices in the call do hear it.
            AllButOrigin,
        ),
        Change::TranscriptSegmentRecorded(segment) => (
            call_room(&segment.tenant, &segment.room_name),
            "transcription:segment",
            call_rooms::transcription_segment(segment),
            // Every screen in the call shows the transcript, the sender's too.
            Everyone,
        ),
        Change::SwarmStepRecorded(step) => (
            swarm_room(&step.tenant, &step.session_id),
            "swarm:update",
            swarm_update(step),
            Everyone,
        ),
        Change::Opened { .. } => return None,
    })
}

/// The tenant's activity feed (`activity:{tenant}`, staff only):
/// `activity:new {type, customerId, conversationId, channelId, userId,
/// userName?, messageId?, preview?, timestamp}` for conversations and
/// channels opened, messages posted and members joined.
fn activity(change: &Change) -> Option<(String, &'static str, Value)> {
    let (room, kind, user, name, message, at) = match change {
        Change::Opened {
            room,
            opened_by,
            at,
            ..
        } => (room, "conversation:opened", opened_by, None, None, at),
        Change::MessagePosted(m) => (
            &m.room,
            "message:posted",
            &m.author_id,
            Some(m.author_name.as_str()),
            Some(m),
            &m.created_at,
        ),
        Change::ParticipantJoined {
            room,
            user_id,
            user_name,
            at,
            ..
        } => (
            room,
            "member:joined",
            user_id,
            Some(user_name.as_str()),
            None,
            at,
        ),
        _ => return None,
    };
    let (channel_id, conversation_id) = ids(room);
    Some((
        activity_room(&room.tenant),
        "activity:new",
        json!({
            "type": kind,
            "customerId": room.tenant.as_str(),
            "conversationId": conversation_id,
            "channelId": channel_id,
            "userId": user.as_str(),
            "userName": name,
            "messageId": message.map(|m| m.message_id.as_str()),
            "preview": message.map(|m| m.content.chars().take(PREVIEW_CHARS).collect::<String>()),
            "timestamp": wire_time(*at),
        }),
    ))
}
