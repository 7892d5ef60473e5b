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
use projections::support::{SupportChange, SupportView};
use projections::update::Change;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::Sid;
use std::time::Duration;

use super::{
    ChatbotSocket, conversation_room, dashboards_room, list_room, org_room, reads, render,
    staff_room,
};
use crate::state::AppState;
use crate::wire_time;

/// Typing signals older than this are not worth showing (after a restart
/// the projector catches up on old ones).
const TYPING_FRESHNESS: Duration = Duration::from_secs(10);

pub async fn push(io: &SocketIo, state: &AppState, update: &Update) {
    match &update.change {
        Change::MessagePosted(m) if m.room.kind == Kind::Conversation => {
            let room = if m.hidden {
                staff_room(&m.room.tenant, &m.room.id)
            } else {
                conversation_room(&m.room.tenant, &m.room.id)
            };
            emit(io.to(room), "message", &message(m)).await;
        }
        // Staff saw it when it was posted.
        Change::MessageShared(m) => {
            let to = io
                .to(conversation_room(&m.room.tenant, &m.room.id))
                .except(staff_room(&m.room.tenant, &m.room.id));
            emit(to, "message", &message(m)).await;
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
            let to = io.to(conversation_room(&room.tenant, &room.id));
            let to = match origin {
                Some(sid) => to.except(sid),
                None => to,
            };
            // Signals from before roles were recorded are too old to show.
            let sender = role.map_or("user", |r| render::sender(r, "text"));
            let payload = json!({
                "sender": sender,
                "senderName": user_name,
                "isTyping": started,
                "conversationId": room.id.as_str(),
            });
            emit(to, "typing", &payload).await;
        }
        Change::Opened { room, .. } if room.kind == Kind::Conversation => {
            let payload =
                json!({ "status": Status::New.as_str(), "conversationId": room.id.as_str() });
            emit(io.to(list_room(&room.tenant)), "status-change", &payload).await;
        }
        Change::Support { view, change, .. } => support(io, state, view, change).await,
        Change::QueueMoved { tenant, queue } => {
            for entry in queue {
                let payload = json!({
                    "position": entry.position,
                    "estimatedWait": entry.estimated_wait_seconds,
                    "conversationId": entry.conversation_id.as_str(),
                });
                let room = conversation_room(tenant, &entry.conversation_id);
                emit(io.to(room), "queue-update", &payload).await;
            }
        }
        _ => {}
    }
}

async fn emit(to: BroadcastOperators, event: &str, payload: &Value) {
    if let Err(error) = to.emit(event, payload).await {
        tracing::debug!(%error, event, "push not delivered to every socket");
    }
}

fn message(m: &projections::conversation_messages::MessageView) -> Value {
    json!({ "message": render::message(m), "conversationId": m.room.id.as_str() })
}

async fn support(io: &SocketIo, state: &AppState, view: &SupportView, change: &SupportChange) {
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
                emit(io.to(room.clone()), "agent-joined", &payload).await;
            }
        }
        SupportChange::Ended { reason, .. } => {
            let payload = json!({ "conversationId": id.as_str(), "reason": reason.as_str() });
            emit(io.to(room.clone()), "conversation-ended", &payload).await;
        }
        _ => {}
    }
    if changes_status(change) {
        let to = io.to([room, list_room(tenant)]);
        emit(to, "status-change", &status_change(view)).await;
    }
    if let Some(notification) = notification(view, change) {
        emit(io.to(org_room(tenant)), "notification", &notification).await;
    }
    dashboards(io, state, tenant, view, change).await;
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

/// `dashboard-update` to every dashboard followed on this node in the
/// tenant, with the queue as it stands now (read only when someone
/// follows).
async fn dashboards(
    io: &SocketIo,
    state: &AppState,
    tenant: &TenantId,
    view: &SupportView,
    change: &SupportChange,
) {
    let sockets = io.to(dashboards_room(tenant)).sockets();
    if sockets.is_empty() {
        return;
    }
    let queue = match reads::queue(state, tenant).await {
        Ok(queue) => queue,
        Err(error) => {
            tracing::warn!(code = error.code, "dashboard update without the queue");
            Vec::new()
        }
    };
    let mut payload = json!({
        "dashboardId": null,
        "queue": {
            "length": queue.len(),
            "entries": queue.iter().map(crate::support::render::queue_entry).collect::<Vec<_>>(),
        },
        "change": dashboard_change(view, change),
        "timestamp": wire_time(Utc::now()),
    });
    for socket in sockets {
        let Some(followed) = socket.extensions.get::<ChatbotSocket>() else {
            continue;
        };
        for dashboard in followed.dashboards() {
            payload["dashboardId"] = json!(dashboard);
            if let Err(error) = socket.emit("dashboard-update", &payload) {
                tracing::debug!(socket = %socket.id, %error, "dashboard update not delivered");
            }
        }
    }
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
