//! Rendering projection updates into buddy events and rooms.
//!
//! Conversation rooms hear `new_message`, `user_joined`, `user_left`,
//! `user_typing` (someone started typing) and Parley's
//! `user_stopped_typing` (the same fields, when they stop: the seed has no
//! stop event, and its clients show "X is typing…" on every `user_typing`);
//! robot messages not yet shared reach the staff room only.
//! The dashboard hears:
//! - `conversation_created {conversation, createdBy, initialParticipants,
//!   timestamp}` when a conversation opens (its opener is its first
//!   participant; `lastMessageAt` is its creation until a message comes);
//! - `conversation_participant_added` / `_removed {conversationId,
//!   participant, action, timestamp}` (a removed participant's `joinedAt`
//!   is null: a leave does not record when they joined);
//! - `conversation_updated {conversationId, changes, timestamp}`: for a
//!   message, `changes {messageCount, lastMessageAt, updatedAt}`, where
//!   `messageCount` is the message's number in the conversation (hidden
//!   robot messages count: the dashboard is staff's); for a support change
//!   (opened to an agent, queued, escalated, assigned, ended, closed),
//!   `changes {status, assignedAgentId, isActive, updatedAt}`.
//!
//! The message's number comes with the change (the event carries it).

use chrono::Utc;
use domain::Room;
use domain::conversation::Kind;
use projections::Update;
use projections::conversation_messages::PostedMessage;
use projections::support::{SupportChange, SupportView};
use projections::update::Change;
use serde_json::{Value, json};
use socketioxide::socket::Sid;
use std::time::Duration;

use super::{UserRole, conversation_room, dashboard_room, render, staff_room};
use crate::dialect::{Push, ROOT};
use crate::wire_time;

/// Typing signals older than this are not worth showing (after a restart
/// the projector catches up on old ones).
const TYPING_FRESHNESS: Duration = Duration::from_secs(10);

/// What buddy sockets hear of one change: their conversation room's
/// events, and the dashboard's.
pub fn render(update: &Update, pushes: &mut Vec<Push>) {
    let origin: Option<Sid> = update.origin_socket.as_deref().and_then(|s| s.parse().ok());
    for (room, event, payload, all_but_origin) in conversation_events(update) {
        let except = all_but_origin.then_some(origin).flatten();
        pushes.push(Push::to(ROOT, [room], event, payload).except(except));
    }
    if let Some((tenant_room, event, payload)) = dashboard_event(&update.change) {
        pushes.push(Push::to(ROOT, [tenant_room], event, payload));
    }
}

/// A support conversation's room (buddy has no channels).
fn conversation_of(room: &Room) -> Option<&Room> {
    (room.kind == Kind::Conversation).then_some(room)
}

/// The conversation room events of a change: (room, event, payload, all
/// but the socket that caused it).
fn conversation_events(update: &Update) -> Vec<(String, &'static str, Value, bool)> {
    let mut events = Vec::new();
    match &update.change {
        Change::MessagePosted(m) => {
            if let Some(room) = conversation_of(&m.room) {
                // The sender's sockets in the room see their own message too.
                let target = if m.hidden {
                    staff_room(room)
                } else {
                    conversation_room(room)
                };
                events.push((target, "new_message", render::message(m), false));
            }
        }
        // Now visible: to everyone, staff included (it changed for them).
        Change::MessageShared(m) => {
            if let Some(room) = conversation_of(&m.room) {
                events.push((
                    conversation_room(room),
                    "new_message",
                    render::message(m),
                    false,
                ));
            }
        }
        Change::ParticipantJoined {
            room,
            user_id,
            role,
            at,
            ..
        } => {
            if let Some(room) = conversation_of(room) {
                // The joiner has its own `user_joined`, as the reply.
                events.push((
                    conversation_room(room),
                    "user_joined",
                    json!({
                        "conversationId": room.id.as_str(),
                        "participant": render::participant(user_id, Some(*role), Some(*at)),
                    }),
                    true,
                ));
            }
        }
        Change::ParticipantLeft { room, user_id, .. } => {
            if let Some(room) = conversation_of(room) {
                events.push((
                    conversation_room(room),
                    "user_left",
                    json!({ "conversationId": room.id.as_str(), "userId": user_id.as_str() }),
                    true,
                ));
            }
        }
        Change::Typing {
            room,
            user_id,
            user_name,
            started,
            ..
        } => {
            let age = Utc::now().signed_duration_since(update.recorded_at);
            let fresh = !age.to_std().is_ok_and(|age| age > TYPING_FRESHNESS);
            if let Some(room) = conversation_of(room).filter(|_| fresh) {
                // A seed client shows "X is typing…" on every `user_typing`:
                // a stop has an event of its own.
                events.push((
                    conversation_room(room),
                    if *started {
                        "user_typing"
                    } else {
                        "user_stopped_typing"
                    },
                    json!({
                        "conversationId": room.id.as_str(),
                        "userId": user_id.as_str(),
                        "userName": user_name,
                        "isTyping": started,
                    }),
                    true,
                ));
            }
        }
        _ => {}
    }
    events
}

/// The dashboard event of a change, if it has one.
fn dashboard_event(change: &Change) -> Option<(String, &'static str, Value)> {
    Some(match change {
        Change::Opened {
            room,
            opened_by,
            opened_by_role,
            at,
        } => {
            let room = conversation_of(room)?;
            let role = UserRole::of(*opened_by_role).map(UserRole::as_str);
            (
                dashboard_room(&room.tenant),
                "conversation_created",
                json!({
                    "conversation": {
                        "id": room.id.as_str(),
                        "participantIds": [opened_by.as_str()],
                        "participantRoles": [role],
                        "messageCount": 0,
                        "lastMessageAt": wire_time(*at),
                        "isActive": true,
                        "createdAt": wire_time(*at),
                        "updatedAt": wire_time(*at),
                    },
                    "createdBy": opened_by.as_str(),
                    "initialParticipants": [
                        render::participant(opened_by, Some(*opened_by_role), Some(*at)),
                    ],
                    "timestamp": wire_time(*at),
                }),
            )
        }
        Change::ParticipantJoined {
            room,
            user_id,
            role,
            at,
            ..
        } => {
            let room = conversation_of(room)?;
            participant_change(
                room,
                render::participant(user_id, Some(*role), Some(*at)),
                true,
                *at,
            )
        }
        Change::ParticipantLeft {
            room,
            user_id,
            role,
            at,
            ..
        } => {
            let room = conversation_of(room)?;
            participant_change(room, render::participant(user_id, *role, None), false, *at)
        }
        Change::MessagePosted(m) => {
            let room = conversation_of(&m.room)?;
            (
                dashboard_room(&room.tenant),
                "conversation_updated",
                message_counted(m)?,
            )
        }
        Change::Support {
            view, change, at, ..
        } => {
            let room = conversation_of(&view.room)?;
            if !changes_status(change) {
                return None;
            }
            (
                dashboard_room(&room.tenant),
                "conversation_updated",
                support_updated(view, *at),
            )
        }
        _ => return None,
    })
}

fn participant_change(
    room: &Room,
    participant: Value,
    added: bool,
    at: chrono::DateTime<Utc>,
) -> (String, &'static str, Value) {
    (
        dashboard_room(&room.tenant),
        if added {
            "conversation_participant_added"
        } else {
            "conversation_participant_removed"
        },
        json!({
            "conversationId": room.id.as_str(),
            "participant": participant,
            "action": if added { "added" } else { "removed" },
            "timestamp": wire_time(at),
        }),
    )
}

/// `conversation_updated` for a message, with its number in the
/// conversation.
fn message_counted(m: &PostedMessage) -> Option<Value> {
    let count = m.number;
    let at = wire_time(m.created_at);
    Some(json!({
        "conversationId": m.room.id.as_str(),
        "changes": {
            "messageCount": count,
            "lastMessageAt": at,
            "updatedAt": at,
        },
        "timestamp": at,
    }))
}

/// Support changes that move the status or the agent; ratings and metadata
/// are not the dashboard's.
fn changes_status(change: &SupportChange) -> bool {
    matches!(
        change,
        SupportChange::Activated
            | SupportChange::Escalated { .. }
            | SupportChange::AgentAssigned { .. }
            | SupportChange::Ended { .. }
            | SupportChange::Closed
    )
}

fn support_updated(view: &SupportView, at: chrono::DateTime<Utc>) -> Value {
    json!({
        "conversationId": view.room.id.as_str(),
        "changes": {
            "status": view.status.as_str(),
            "assignedAgentId": view.assigned_agent_id.as_ref().map(|a| a.as_str()),
            "isActive": !view.status.is_over(),
            "updatedAt": wire_time(at),
        },
        "timestamp": wire_time(at),
    })
}
