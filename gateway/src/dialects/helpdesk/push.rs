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
use domain::conversation::{Kind, SessionOwner};
use domain::ids::{ConversationId, TenantId};
use projections::Update;
use projections::conversation_messages::MessageView;
use projections::support::SupportChange;
use projections::update::Change;
use serde_json::{Value, json};

use super::{NAMESPACE, conversation_room, customer_room, envelope};
use crate::dialect::{Push, Stamp};
use crate::wire_time;

fn is_helpdesk(id: &ConversationId) -> bool {
    id.as_str().starts_with("hd-")
}

/// What `/helpdesk` sockets hear of one change.
pub fn render(update: &Update, pushes: &mut Vec<Push>) {
    match &update.change {
        Change::MessagePosted(m)
            if m.room.kind == Kind::Conversation && is_helpdesk(&m.room.id) && !m.hidden =>
        {
            let event = match m.author_role {
                Role::Service => "support",
                r if r.is_staff() => "customer_support",
                _ => return,
            };
            let Some(owner) = &m.owner else {
                return;
            };
            let data = message(m, event == "support");
            pushes.push(push(
                &m.room.tenant,
                &m.room.id,
                owner,
                event,
                "Message sent successfully",
                data,
            ));
        }
        Change::Support { view, change, .. } if is_helpdesk(&view.room.id) => {
            let Some(session) = view.session_id.clone() else {
                return;
            };
            let owner = SessionOwner {
                session_id: session,
                user_id: view.user_id.clone(),
            };
            let (tenant, id) = (&view.room.tenant, &view.room.id);
            match change {
                SupportChange::AgentAssigned { active_call, .. } => {
                    let agent = json!({
                        "id": view.assigned_agent_id.as_ref().map(|a| a.as_str()),
                        "username": view.assigned_agent_name,
                    });
                    let data = json!({ "ticket_chat_id": id.as_str(), "handler": "agent", "agent": agent });
                    pushes.push(push(
                        tenant,
                        id,
                        &owner,
                        "support_handler_changed",
                        "Handler changed",
                        data,
                    ));
                    if let Some(session) = active_call {
                        let data = json!({ "ticket_chat_id": id.as_str(), "ticket_call_id": format!("{id}-{session}") });
                        pushes.push(push(
                            tenant,
                            id,
                            &owner,
                            "sate_left_call",
                            "SATE left the call",
                            data,
                        ));
                    }
                }
                SupportChange::Ended { by_role, .. } if *by_role != Role::Customer => {
                    let data = json!({
                        "ticket_id": id.as_str(),
                        "ticket_chat_id": id.as_str(),
                        "status": view.status.as_str(),
                    });
                    pushes.push(push(
                        tenant,
                        id,
                        &owner,
                        "customer_support_closed",
                        "Conversation closed",
                        data,
                    ));
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

/// To every socket in the conversation's or the customer's room, once
/// each, each envelope with that socket's own sid.
fn push(
    tenant: &TenantId,
    id: &ConversationId,
    owner: &SessionOwner,
    event: &'static str,
    message: &str,
    data: Value,
) -> Push {
    let rooms = [
        conversation_room(tenant, id),
        customer_room(tenant, &owner.session_id, &owner.user_id),
    ];
    Push::to(NAMESPACE, rooms, event, envelope(200, "", message, data))
        .stamped(Stamp::SocketId { field: "sid" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use domain::Room;
    use domain::conversation::{Assignment, Status};
    use domain::ids::{SessionId, UserId};
    use projections::support::SupportView;

    fn view(id: &str) -> SupportView {
        let now = Utc::now();
        SupportView {
            room: Room::new(
                TenantId::parse("acme").unwrap(),
                Kind::Conversation,
                ConversationId::parse(id).unwrap(),
            ),
            chatbot_id: None,
            session_id: Some(SessionId::parse("s1").unwrap()),
            user_id: UserId::parse("hd-s1").unwrap(),
            status: Status::Agent,
            assigned_agent_id: Some(UserId::parse("ag-1").unwrap()),
            assigned_agent_name: Some("Ana".into()),
            metadata: json!({}),
            user_agent: None,
            ip_address: None,
            referrer: None,
            created_at: now,
            last_activity_at: now,
            queued_at: None,
            agent_assigned_at: Some(now),
            ended_at: None,
            end_reason: None,
            message_count: 0,
            ai_message_count: 0,
            agent_message_count: 0,
            queue_time_seconds: None,
            handle_time_seconds: None,
            first_response_seconds: None,
            rating: None,
            rating_comment: None,
        }
    }

    fn takeover(id: &str, active_call: Option<u64>) -> Update {
        Update {
            position: 7,
            origin_socket: None,
            recorded_at: Utc::now(),
            change: Change::Support {
                view: Box::new(view(id)),
                change: SupportChange::AgentAssigned {
                    how: Assignment::Claimed,
                    previous_agent: None,
                    active_call,
                },
                at: Utc::now(),
                queue: Vec::new(),
            },
        }
    }

    fn rendered(update: &Update) -> Vec<Push> {
        let mut pushes = Vec::new();
        render(update, &mut pushes);
        pushes
    }

    #[test]
    fn a_takeover_during_a_call_tells_the_customers_rooms_that_sate_left_it() {
        let pushes = rendered(&takeover("hd-1", Some(2)));
        let events: Vec<&str> = pushes.iter().map(|p| p.event).collect();
        assert_eq!(events, ["support_handler_changed", "sate_left_call"]);
        let tenant = TenantId::parse("acme").unwrap();
        let rooms = [
            conversation_room(&tenant, &ConversationId::parse("hd-1").unwrap()),
            customer_room(
                &tenant,
                &SessionId::parse("s1").unwrap(),
                &UserId::parse("hd-s1").unwrap(),
            ),
        ];
        for push in &pushes {
            assert_eq!(push.namespace, NAMESPACE);
            assert_eq!(push.rooms, rooms);
            assert_eq!(push.stamp, Stamp::SocketId { field: "sid" });
        }
        assert_eq!(pushes[1].payload["data"]["ticket_call_id"], "hd-1-2");
        assert_eq!(pushes[0].payload["data"]["agent"]["username"], "Ana");
    }

    #[test]
    fn a_takeover_without_a_call_or_outside_the_helpdesk_says_only_what_happened() {
        let events: Vec<&str> = rendered(&takeover("hd-1", None))
            .iter()
            .map(|p| p.event)
            .collect();
        assert_eq!(events, ["support_handler_changed"]);
        assert!(rendered(&takeover("widget-1", Some(2))).is_empty());
    }
}
