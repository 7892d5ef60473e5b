//! The chatbot dialect (seed `000`) on namespace `/`: a widget's visitor
//! talks to a chatbot, asks for a human, waits in the queue, is served by
//! an agent, ends and rates the conversation; consoles list conversations,
//! follow the organisation's notifications and dashboards. Kebab-case
//! events (`join-conversation`, `send-message`, …).
//!
//! The seed's AI and knowledge events are queries of the knowledge base and
//! the assistant (see [`knowledge`]). While a conversation is in AI handling
//! the assistant's answers arrive as `new-message` with `sender: "ai"`.
//!
//! Rooms are this dialect's own (lvng's rooms hear lvng events), and always
//! name the tenant:
//! - `chatbot:{tenant}:conversation:{id}`: everyone who joined the
//!   conversation with `join-conversation`;
//! - `chatbot:{tenant}:conversation:{id}:staff`: its staff, who also see a
//!   robot's suggestions before they are shared;
//! - `chatbot:{tenant}:conversations`: consoles that sent
//!   `join-conversation-list`;
//! - `chatbot:{tenant}:org`: staff that sent `join-org` (notifications);
//! - `chatbot:{tenant}:dashboards`: staff that sent `subscribe-dashboard`.
//!
//! A widget visitor's sessionId is its bearer: on `join-conversation` the
//! socket's identity becomes `visitor-{sessionId}` (see
//! [`join_conversation`]), so a visitor who reconnects with the same
//! sessionId is the same customer, in the same conversation.

mod conversation_list;
mod dashboard;
mod end_conversation;
mod escalate;
mod join_conversation;
mod join_knowledge_room;
mod knowledge;
mod org;
mod ping;
mod push;
mod rate;
mod reads;
mod render;
mod request_ai_analysis;
mod request_conversation_summary;
mod request_rag_response;
mod request_rag_response_stream;
mod search_knowledge;
mod send_message;
mod tracking;
mod typing;
mod update_metadata;

use domain::DomainError;
use domain::Room;
use domain::conversation::Kind;
use domain::ids::{ConversationId, SessionId, TenantId};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Decoded, decoded};
use crate::dialect::{Admitted, Dialect, Entry, Inbound, Push, Request};
use crate::error::WireError;
use async_trait::async_trait;
use projections::Update;

pub const DIALECT: &str = "chatbot";

/// The chatbot dialect's contract (see [`crate::dialect`]).
pub struct Chatbot;

#[async_trait]
impl Dialect for Chatbot {
    fn name(&self) -> &'static str {
        DIALECT
    }

    fn entry(&self) -> Entry {
        Entry::Root
    }

    fn connected(&self, admitted: Admitted<'_>) {
        admitted.socket.extensions.insert(ChatbotSocket::default());
    }

    async fn dispatch(&self, req: &Request) -> Option<Result<(), WireError>> {
        dispatch(req).await
    }

    fn render(&self, update: &Update, pushes: &mut Vec<Push>) {
        push::render(update, pushes);
    }
}

/// `None` when the event is not one of this dialect's.
async fn dispatch(req: &Request) -> Option<Result<(), WireError>> {
    Some(match req.event.as_str() {
        "join-conversation" => join_conversation::handle(req).await,
        "send-message" => send_message::handle(req).await,
        "typing" => typing::handle(req).await,
        "escalate" => escalate::handle(req).await,
        "end-conversation" => end_conversation::handle(req).await,
        "rate" => rate::handle(req).await,
        "join-conversation-list" => conversation_list::join(req).await,
        "request-conversation-list" => conversation_list::request(req).await,
        "update-conversation-metadata" => update_metadata::handle(req).await,
        "join-org" => org::join(req).await,
        "leave-org" => org::leave(req).await,
        "track-activity" => tracking::track_activity(req).await,
        "page-view" => tracking::page_view(req).await,
        "subscribe-dashboard" => dashboard::subscribe(req).await,
        "ping" => ping::handle(req).await,
        "join-knowledge-room" => join_knowledge_room::join(req).await,
        "search-knowledge" => search_knowledge::search(req).await,
        "request-rag-response" => request_rag_response::rag(req).await,
        "request-rag-response-stream" => request_rag_response_stream::rag_stream(req).await,
        "request-ai-analysis" => request_ai_analysis::analyse(req).await,
        "request-conversation-summary" => request_conversation_summary::summary(req).await,
        // A client reporting its own failure: noted, never answered (an
        // `error` back would only feed its error handler again).
        "error" => {
            tracing::debug!(socket = %req.socket.id, report = %req.data, "client-side error");
            Ok(())
        }
        _ => return None,
    })
}

/// Decode an inbound event of this dialect as its handler does, without
/// IO: `None` when the event is not one of this dialect's. For tests and
/// fuzzing ([`crate::fuzzing`]); the handlers call the same functions.
/// Events that depend on the socket's state are decoded as for a socket
/// that has joined no conversation yet.
pub fn decode(input: &Inbound) -> Option<Result<Decoded, WireError>> {
    Some(match input.event {
        "join-conversation" => decoded(join_conversation::decode(input)),
        "send-message" => decoded(send_message::decode(input)),
        "typing" => decoded(typing::decode(input)),
        "escalate" => decoded(escalate::decode(input)),
        "end-conversation" => decoded(end_conversation::decode(input)),
        "rate" => decoded(rate::decode(input)),
        "join-conversation-list" => decoded(conversation_list::decode_join(input)),
        "request-conversation-list" => decoded(conversation_list::decode_request(input)),
        "update-conversation-metadata" => decoded(update_metadata::decode(input, None)),
        "join-org" => decoded(org::decode_join(input)),
        "leave-org" => decoded(org::decode_leave(input)),
        "track-activity" => decoded(tracking::decode_activity(input)),
        "page-view" => decoded(tracking::decode_page_view(input)),
        "subscribe-dashboard" => decoded(dashboard::decode(input)),
        "join-knowledge-room" => decoded(join_knowledge_room::decode_join(input)),
        "search-knowledge" => decoded(search_knowledge::decode_search(input)),
        "request-rag-response" | "request-rag-response-stream" => {
            decoded(knowledge::decode_rag(input))
        }
        "request-ai-analysis" => decoded(request_ai_analysis::decode_analysis(input)),
        // No payload: nothing to decode.
        "ping" | "request-conversation-summary" | "error" => decoded(Ok(())),
        _ => return None,
    })
}

/// What this dialect remembers about a socket: the widget session it is
/// bound to, the conversation it joined last, the dashboards it follows.
/// Inserted on connect, so that concurrent events share one copy.
#[derive(Clone, Default)]
pub struct ChatbotSocket(Arc<Mutex<SocketState>>);

#[derive(Default)]
struct SocketState {
    session: Option<SessionId>,
    current: Option<ConversationId>,
    dashboards: BTreeSet<String>,
}

impl ChatbotSocket {
    fn with<T>(&self, f: impl FnOnce(&mut SocketState) -> T) -> T {
        // The state stays consistent whatever panicked while holding it.
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// This dialect's state of the caller's socket.
fn socket_state(req: &Request) -> ChatbotSocket {
    req.socket
        .extensions
        .get::<ChatbotSocket>()
        .unwrap_or_default()
}

/// The room of everyone in a conversation.
pub fn conversation_room(tenant: &TenantId, id: &ConversationId) -> String {
    format!("chatbot:{tenant}:conversation:{id}")
}

/// The conversation's staff: they also see unshared robot messages.
pub fn staff_room(tenant: &TenantId, id: &ConversationId) -> String {
    format!("chatbot:{tenant}:conversation:{id}:staff")
}

/// Consoles following the tenant's conversation list.
pub fn list_room(tenant: &TenantId) -> String {
    format!("chatbot:{tenant}:conversations")
}

/// The organisation's notification room (`join-org`).
pub fn org_room(tenant: &TenantId) -> String {
    format!("chatbot:{tenant}:org")
}

/// Sockets following one or more dashboards of the tenant.
pub fn dashboards_room(tenant: &TenantId) -> String {
    format!("chatbot:{tenant}:dashboards")
}

/// The rooms of the tenant's dashboards, one per dashboard id followed:
/// this, then the id (a socket hears an update once per dashboard).
pub fn dashboard_room_prefix(tenant: &TenantId) -> String {
    format!("chatbot:{tenant}:dashboard:")
}

/// A conversation of the caller's tenant, from the payload's
/// `conversationId`.
fn conversation(req: &Inbound, raw: Option<&str>) -> Result<Room, WireError> {
    let raw = raw.ok_or_else(|| {
        WireError::validation("conversationId is required")
            .with_details(format!("{}: missing field `conversationId`", req.event))
    })?;
    let id = ConversationId::parse(raw)
        .map_err(|e| WireError::validation(format!("invalid conversationId: {e}")))?;
    Ok(Room::new(req.actor.tenant.clone(), Kind::Conversation, id))
}

/// A domain refusal about a value, told with the conversation it concerns.
fn invalid_in(room: &Room) -> impl Fn(DomainError) -> WireError + '_ {
    |e| WireError::from(e).in_conversation(room.id.as_str())
}

/// `{success: true, conversationId}`: the ack of commands whose outcome the
/// room hears.
fn done(req: &Request, room: &Room) {
    req.answer(&serde_json::json!({
        "success": true,
        "conversationId": room.id.as_str(),
    }));
}
