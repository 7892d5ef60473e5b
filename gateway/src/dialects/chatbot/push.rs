//! Rendering projection updates into chatbot events and rooms (whichever
//! dialect caused them):
//! - a message → `message {message: IMessage, conversationId}` to the
//!   conversation's room (a robot's unshared suggestion to its staff room
//!   only; once shared, to the others);
//! - typing → `typing {sender, senderName, isTyping, conversationId}` to
//!   the room but the typist's socket;
//! - a status change → `status-change {status, conversationId, agentName?,
//!   agentId?}` to the room and the list room; before it, `agent-joined
//!   {agentName, agentId, conversationId}` when an agent takes it and
//!   `conversation-ended {conversationId, reason}` when it ends; a new
//!   conversation → `status-change {status: "new"}` to the list room;
//! - the queue moved → `queue-update {position, estimatedWait,
//!   conversationId}` to each waiting conversation's room;
//! - queued, escalated, rated bad → `notification` to the org room;
//! - any support change → `dashboard-update` to each dashboard followed.

use chrono::Utc;
use domain::conversation::{Kind, Rating, Status};
use domain::ids::TenantId;
use projections::Update;
use projections::support::{QueueEntry, SupportChange, SupportView};
use projections::update::Change;
use serde_json::{Value, json};
use socketioxide::socket::Sid;
use std::time::Duration;

use super::{
    conversation_room, dashboard_room_prefix, dashboards_room, list_room, org_room, render,
    staff_room,
};
use crate::dialect::{Push, ROOT, Stamp};
use crate::wire_time;

/// Typing signals older than this are not worth showing (after a restart
/// the projector catches up on old ones).
const TYPING_FRESHNESS: Duration = Duration::from_secs(10);

/// What chatbot sockets hear of one change.
pub fn render(update: &Update, pushes: &mut Vec<Push>) {
    let to =
        |room: String, event: &'static str, payload: Value| Push::to(ROOT, [room], event, payload);
    match &update.change {
        Change::MessagePosted(m) if m.room.kind == Kind::Conversation => {
            let room = if m.hidden {
                staff_room(&m.room.tenant, &m.room.id)
            } else {
                conversation_room(&m.room.tenant, &m.room.id)
            };
            pushes.push(to(room, "message", message(m)));
        }
        // Staff saw it when it was posted.
        Change::MessageShared(m) => {
            let room = conversation_room(&m.room.tenant, &m.room.id);
            let staff = staff_room(&m.room.tenant, &m.room.id);
            pushes.push(to(room, "message", message(m)).except_room(staff));
        }
        Change::Typing {
            room,
            user_name,
            role,
            started,
            ..
        } if room.kind == Kind::Conversation => {
            let age = Utc::now().signed_duration_since(update.recorded_at);
            if age.to_std().is_ok_and(|age| age > TYPING_FRESHNESS) {
                return;
            }
            let origin: Option<Sid> = update.origin_socket.as_deref().and_then(|s| s.parse().ok());
            // Signals from before roles were recorded are too old to show.
            let sender = role.map_or("user", |r| render::sender(r, "text"));
            let payload = json!({
                "sender": sender,
                "senderName": user_name,
                "isTyping": started,
                "conversationId": room.id.as_str(),
            });
            let room = conversation_room(&room.tenant, &room.id);
            pushes.push(to(room, "typing", payload).except(origin));
        }
        Change::Opened { room, .. } if room.kind == Kind::Conversation => {
            let payload =
                json!({ "status": Status::New.as_str(), "conversationId": room.id.as_str() });
            pushes.push(to(list_room(&room.tenant), "status-change", payload));
        }
        Change::Support {
            view,
            change,
            queue,
            ..
        } => support(view, change, queue, pushes),
        Change::QueueMoved { tenant, queue } => {
            for entry in queue {
                let payload = json!({
                    "position": entry.position,
                    "estimatedWait": entry.estimated_wait_seconds,
                    "conversationId": entry.conversation_id.as_str(),
                });
                let room = conversation_room(tenant, &entry.conversation_id);
                pushes.push(to(room, "queue-update", payload));
            }
        }
        _ => {}
    }
}

fn message(m: &projections::conversation_messages::MessageView) -> Value {
    json!({ "message": render::message(m), "conversationId": m.room.id.as_str() })
}

fn support(
    view: &SupportView,
    change: &SupportChange,
    queue: &[QueueEntry],
    pushes: &mut Vec<Push>,
) {
    let tenant = &view.room.tenant;
    let id = &view.room.id;
    let room = conversation_room(tenant, id);
    match change {
        SupportChange::AgentAssigned { .. } => {
            if let (Some(agent), Some(name)) = (&view.assigned_agent_id, &view.assigned_agent_name)
            {
                let payload = json!({
                    "agentName": name,
                    "agentId": agent.as_str(),
                    "conversationId": id.as_str(),
                });
                pushes.push(Push::to(ROOT, [room.clone()], "agent-joined", payload));
            }
        }
        SupportChange::Ended { reason, .. } => {
            let payload = json!({ "conversationId": id.as_str(), "reason": reason.as_str() });
            pushes.push(Push::to(
                ROOT,
                [room.clone()],
                "conversation-ended",
                payload,
            ));
        }
        _ => {}
    }
    if changes_status(change) {
        let rooms = [room, list_room(tenant)];
        pushes.push(Push::to(ROOT, rooms, "status-change", status_change(view)));
    }
    if let Some(notification) = notification(view, change) {
        pushes.push(Push::to(
            ROOT,
            [org_room(tenant)],
            "notification",
            notification,
        ));
    }
    pushes.push(dashboards(tenant, view, change, queue));
}

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

/// `{status, conversationId, agentName?, agentId?}`: the agent while one
/// handles it.
fn status_change(view: &SupportView) -> Value {
    let mut payload = json!({
        "status": view.status.as_str(),
        "conversationId": view.room.id.as_str(),
    });
    if !view.status.is_over()
        && let Some(agent) = &view.assigned_agent_id
    {
        payload["agentId"] = json!(agent.as_str());
        payload["agentName"] = json!(
            view.assigned_agent_name
                .as_deref()
                .unwrap_or(agent.as_str())
        );
    }
    payload
}

/// What the organisation is told, if anything.
fn notification(view: &SupportView, change: &SupportChange) -> Option<Value> {
    let mut data = json!({
        "conversationId": view.room.id.as_str(),
        "status": view.status.as_str(),
        "userId": view.user_id.as_str(),
    });
    let (kind, title, message) = match change {
        SupportChange::Escalated {
            reason, by_name, ..
        } => {
            data["reason"] = json!(reason);
            if view.status == Status::Escalated {
                (
                    "conversation-escalated",
                    "Conversation escalated",
                    format!("{by_name} handed a conversation up to supervisors"),
                )
            } else {
                (
                    "conversation-queued",
                    "Conversation queued",
                    "A customer is waiting for an agent".to_owned(),
                )
            }
        }
        SupportChange::Rated {
            rating: Rating::Bad,
            comment,
        } => {
            data["comment"] = json!(comment);
            data["agentId"] = json!(view.assigned_agent_id.as_ref().map(|a| a.as_str()));
            (
                "bad-rating",
                "Bad rating",
                "A customer rated a conversation bad".to_owned(),
            )
        }
        _ => return None,
    };
    Some(json!({
        "type": kind,
        "title": title,
        "message": message,
        "data": data,
        "timestamp": wire_time(Utc::now()),
    }))
}

/// `dashboard-update` to every dashboard followed in the tenant, with the
/// queue as it stood after the change, once per dashboard a socket follows
/// (each with its `dashboardId`).
fn dashboards(
    tenant: &TenantId,
    view: &SupportView,
    change: &SupportChange,
    queue: &[QueueEntry],
) -> Push {
    let payload = json!({
        "dashboardId": null,
        "queue": {
            "length": queue.len(),
            "entries": queue.iter().map(wire::support::queue_entry).collect::<Vec<_>>(),
        },
        "change": dashboard_change(view, change),
        "timestamp": wire_time(Utc::now()),
    });
    Push::to(ROOT, [dashboards_room(tenant)], "dashboard-update", payload).stamped(Stamp::PerRoom {
        prefix: dashboard_room_prefix(tenant),
        field: "dashboardId",
    })
}

/// `{type, conversationId, status, userId, agentId, agentName, …}`: what
/// happened, and what it added (reason, rating, comment, changes).
fn dashboard_change(view: &SupportView, change: &SupportChange) -> Value {
    let mut payload = json!({
        "conversationId": view.room.id.as_str(),
        "status": view.status.as_str(),
        "userId": view.user_id.as_str(),
        "agentId": view.assigned_agent_id.as_ref().map(|a| a.as_str()),
        "agentName": view.assigned_agent_name,
    });
    let kind = match change {
        SupportChange::Activated => "activated",
        SupportChange::Escalated { reason, .. } => {
            payload["reason"] = json!(reason);
            "escalated"
        }
        SupportChange::AgentAssigned { .. } => "agent-assigned",
        SupportChange::Ended { reason, .. } => {
            payload["reason"] = json!(reason.as_str());
            "ended"
        }
        SupportChange::Closed => "closed",
        SupportChange::Rated { rating, comment } => {
            payload["rating"] = json!(rating.as_str());
            payload["comment"] = json!(comment);
            "rated"
        }
        SupportChange::MetadataUpdated { changes } => {
            payload["changes"] = changes.clone();
            "metadata-updated"
        }
    };
    payload["type"] = json!(kind);
    payload
}
