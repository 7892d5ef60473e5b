//! Rendering projection updates for `/helpdesk` (conversations it opened,
//! ids `hd-…`), to the conversation's room and the customer's, each socket
//! once, each envelope with that socket's `sid`:
//! - SATE's (the assistant's) message → `support {message, ticket_chat_id,
//!   sender: "sate", …, close_support}`;
//! - an agent's message → `customer_support` (`sender: "agent"`);
//! - an agent takes over → `support_handler_changed {ticket_chat_id,
//!   handler: "agent", agent: {id, username}}`, and `sate_left_call
//!   {ticket_chat_id, ticket_call_id}` when a call with SATE was going on;
//! - the conversation ended other than by the customer (an agent, the
//!   idle timeout) → `customer_support_closed {ticket_id, ticket_chat_id,
//!   status}`.

use domain::actor::Role;
use domain::call::RoomName;
use domain::conversation::Kind;
use domain::ids::{ConversationId, SessionId, TenantId, UserId};
use projections::Update;
use projections::conversation_messages::MessageView;
use projections::support::SupportChange;
use projections::update::Change;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use std::sync::LazyLock;

use super::{NAMESPACE, conversation_room, customer_room, envelope};
use crate::state::AppState;
use crate::wire_time;

/// Helpdesk conversations' sessions and their owners, remembered (they
/// never change).
static SESSIONS: LazyLock<moka::sync::Cache<(TenantId, ConversationId), Owner>> =
    LazyLock::new(|| moka::sync::Cache::new(100_000));

fn is_helpdesk(id: &ConversationId) -> bool {
    id.as_str().starts_with("hd-")
}

pub async fn push(io: &SocketIo, state: &AppState, update: &Update) {
    match &update.change {
        Change::MessagePosted(m)
            if m.room.kind == Kind::Conversation && is_helpdesk(&m.room.id) && !m.hidden =>
        {
            let event = match m.author_role {
                Role::Service => "support",
                r if r.is_staff() => "customer_support",
                _ => return,
            };
            let Some(owner) = owner(state, &m.room.tenant, &m.room.id).await else {
                return;
            };
            let data = message(m, event == "support");
            emit(
                io,
                &m.room.tenant,
                &m.room.id,
                &owner,
                event,
                "Message sent successfully",
                data,
            )
            .await;
        }
        Change::Support { view, change, .. } if is_helpdesk(&view.room.id) => {
            let Some(session) = view.session_id.clone() else {
                return;
            };
            let owner = (session, view.user_id.clone());
            let (tenant, id) = (&view.room.tenant, &view.room.id);
            match change {
                SupportChange::AgentAssigned { .. } => {
                    let agent = json!({
                        "id": view.assigned_agent_id.as_ref().map(|a| a.as_str()),
                        "username": view.assigned_agent_name,
                    });
                    let data = json!({ "ticket_chat_id": id.as_str(), "handler": "agent", "agent": agent });
                    emit(
                        io,
                        tenant,
                        id,
                        &owner,
                        "support_handler_changed",
                        "Handler changed",
                        data,
                    )
                    .await;
                    if let Some(call) = active_call(state, tenant, id).await {
                        let data = json!({ "ticket_chat_id": id.as_str(), "ticket_call_id": call });
                        emit(
                            io,
                            tenant,
                            id,
                            &owner,
                            "sate_left_call",
                            "SATE left the call",
                            data,
                        )
                        .await;
                    }
                }
                SupportChange::Ended { by_role, .. } if *by_role != Role::Customer => {
                    let data = json!({
                        "ticket_id": id.as_str(),
                        "ticket_chat_id": id.as_str(),
                        "status": view.status.as_str(),
                    });
                    emit(
                        io,
                        tenant,
                        id,
                        &owner,
                        "customer_support_closed",
                        "Conversation closed",
                        data,
                    )
                    .await;
                }
                _ => {}
            }
        }
        _ => {}
    }
}

/// The seed's message data.
fn message(m: &MessageView, by_sate: bool) -> Value {
    let close = m.provenance.as_ref().is_some_and(|p| p.close_suggested);
    let attached = m
        .metadata
        .as_ref()
        .and_then(|meta| meta.get("attachment_metadata"))
        .cloned();
    json!({
        "message": m.content,
        "ticket_chat_id": m.room.id.as_str(),
        "sender": if by_sate { "sate" } else { "agent" },
        "attachment": attached.is_some(),
        "attachment_metadata": attached,
        "close_support": close,
        "closed_support": false,
        "date_created": wire_time(m.created_at),
        "date_updated": wire_time(m.updated_at),
    })
}

/// A conversation's session and the user who opened it: whose room hears it.
type Owner = (SessionId, UserId);

async fn owner(state: &AppState, tenant: &TenantId, id: &ConversationId) -> Option<Owner> {
    let key = (tenant.clone(), id.clone());
    if let Some(owner) = SESSIONS.get(&key) {
        return Some(owner);
    }
    let view = projections::support::get(state.log.db(), tenant, id).await;
    let owner = match view {
        Ok(view) => {
            let view = view?;
            (view.session_id?, view.user_id)
        }
        Err(error) => {
            tracing::warn!(%error, conversation = %id, "helpdesk push: cannot read the conversation");
            return None;
        }
    };
    SESSIONS.insert(key, owner.clone());
    Some(owner)
}

/// The call going on in the conversation, if any: its `ticket_call_id`.
async fn active_call(state: &AppState, tenant: &TenantId, id: &ConversationId) -> Option<String> {
    let room = RoomName::parse(id.as_str()).ok()?;
    match projections::calls::latest_session(state.log.db(), tenant, &room).await {
        Ok(Some((session, true, _, _))) => Some(format!("{id}-{session}")),
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(%error, "helpdesk push: cannot read calls");
            None
        }
    }
}

/// Send to every socket in the conversation's or the customer's room, once
/// each, with its own sid.
async fn emit(
    io: &SocketIo,
    tenant: &TenantId,
    id: &ConversationId,
    (session, user): &Owner,
    event: &str,
    message: &str,
    data: Value,
) {
    let Some(ns) = io.of(NAMESPACE) else {
        return;
    };
    let sockets = ns
        .within(conversation_room(tenant, id))
        .within(customer_room(tenant, session, user))
        .sockets();
    for socket in sockets {
        let body = envelope(200, &socket.id.to_string(), message, data.clone());
        if let Err(error) = socket.emit(event, &body) {
            tracing::debug!(%error, event, "helpdesk push not delivered");
        }
    }
}
