//! `join-conversation {sessionId, conversationId?}` → `conversation-started
//! {conversationId, messages, status, sessionId}` to the caller.
//!
//! Without `conversationId` the caller gets its session's conversation,
//! opened on first use: its id is derived from the tenant, the chatbot, the
//! user and the sessionId (`s-{uuid v5}`), so the same session always finds
//! the same conversation. Opening records where the visitor came from: the
//! widget's chatbot, the session, the `User-Agent` and `Referer` headers
//! and the address (the first `X-Forwarded-For` entry, else the peer).
//! With `conversationId` the conversation must exist (another tenant's id
//! is unknown here: `NOT_FOUND`), and the caller must be one of its
//! customers or staff.
//!
//! A widget visitor (widget-key authentication) is anonymous: its sessionId
//! is its bearer. On its first `join-conversation` the socket's user
//! becomes `visitor-{sessionId}` for good; a reconnect with the same
//! sessionId is the same customer and sees its conversation again, and a
//! socket bound to one session may not join with another (`FORBIDDEN`:
//! connect again). Token users keep their identity; their sessionId only
//! names the conversation.
//!
//! The socket joins the conversation's room (staff also its staff room)
//! before the read, and the read waits for the projections: a message is in
//! `messages` (the latest 50, oldest first, robot suggestions only for
//! staff) or pushed afterwards, never neither.

use domain::Room;
use domain::actor::Actor;
use domain::conversation::{Action, SupportDetails};
use domain::ids::{ChatbotId, ConversationId, SessionId, UserId};
use projections::conversation_messages::Visibility;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

use super::{DIALECT, conversation, conversation_room, render, socket_state, staff_room};
use crate::dialect::{Inbound, Request, Session};
use crate::error::WireError;

/// Namespace of session conversation ids (a fixed random UUID; never change it).
const SESSION_CONVERSATIONS: Uuid = Uuid::from_u128(0x5d1c_2b7a_93e4_4f06_b8a1_7c2e_64d9_0f3b);
/// Messages sent with `conversation-started`.
pub const HISTORY: u32 = 50;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Join {
    session_id: Option<String>,
    conversation_id: Option<String>,
}

/// The session, and the conversation the payload names if it names one
/// (its error, if any, is reported after the session's checks) (no IO).
pub(super) fn decode(
    req: &Inbound,
) -> Result<(SessionId, Option<Result<Room, WireError>>), WireError> {
    let request: Join = req.parse()?;
    let raw_session = request.session_id.ok_or_else(|| {
        WireError::validation("sessionId is required")
            .with_details("join-conversation: missing field `sessionId`")
    })?;
    let session = SessionId::parse(raw_session).map_err(WireError::from)?;
    let named = request
        .conversation_id
        .as_deref()
        .map(|raw| conversation(req, Some(raw)));
    Ok((session, named))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let (session, named) = decode(&req.inbound())?;
    let chatbot = widget_chatbot(req);
    let actor = identity(req, chatbot.is_some(), &session)?;
    let (room, action) = match named {
        Some(room) => (room?, Action::Rejoin),
        None => {
            let id = session_conversation(&actor, chatbot.as_ref(), &session);
            let room = Room::new(
                actor.tenant.clone(),
                domain::conversation::Kind::Conversation,
                id,
            );
            (room, Action::Start(details(req, chatbot, &session)))
        }
    };
    req.state
        .commands
        .on_conversation(
            &req.origin_as(DIALECT, &actor),
            "join-conversation",
            &room,
            action,
            None,
        )
        .await?;

    // Only after the join is authorized and durable does the socket listen.
    req.socket.join(conversation_room(&room.tenant, &room.id));
    if actor.role.is_staff() {
        req.socket.join(staff_room(&room.tenant, &room.id));
    }
    socket_state(req).with(|s| s.current = Some(room.id.clone()));

    let visibility = Visibility::for_role(actor.role);
    let (messages, view) = super::reads::started(&req.state, &room, visibility).await?;
    let status = view.as_ref().map_or("new", |v| v.status.as_str());
    req.reply(
        "conversation-started",
        &json!({
            "conversationId": room.id.as_str(),
            "messages": messages.iter().map(render::message).collect::<Vec<_>>(),
            "status": status,
            "sessionId": session.as_str(),
        }),
    );
    Ok(())
}

/// Who the caller is in this conversation: a widget visitor is bound to its
/// session (`visitor-{sessionId}`) on its first join; anyone else is who
/// their token says.
fn identity(req: &Request, widget: bool, session: &SessionId) -> Result<Arc<Actor>, WireError> {
    if !widget {
        return Ok(req.actor.clone());
    }
    let state = socket_state(req);
    let bound = state.with(|s| match &s.session {
        Some(bound) => bound == session,
        None => {
            s.session = Some(session.clone());
            true
        }
    });
    if !bound {
        return Err(WireError::forbidden(
            "this connection belongs to another session; connect again to use this one",
        ));
    }
    let user = UserId::parse(format!("visitor-{session}")).map_err(WireError::from)?;
    if req.actor.user == user {
        return Ok(req.actor.clone());
    }
    let actor = Arc::new(Actor {
        user,
        ..Actor::clone(&req.actor)
    });
    // Every later event of this socket acts as the session's visitor.
    req.socket.extensions.insert(Session(actor.clone()));
    tracing::debug!(socket = %req.socket.id, user = %actor.user, dialect = DIALECT, "widget visitor bound to its session");
    Ok(actor)
}

/// The session's conversation: the same tenant, chatbot, user and session
/// always give the same id.
fn session_conversation(
    actor: &Actor,
    chatbot: Option<&ChatbotId>,
    session: &SessionId,
) -> ConversationId {
    let name = format!(
        "{}\n{}\n{}\n{}",
        actor.tenant,
        chatbot.map_or("", ChatbotId::as_str),
        actor.user,
        session
    );
    let id = Uuid::new_v5(&SESSION_CONVERSATIONS, name.as_bytes());
    ConversationId::parse(format!("s-{id}")).expect("s- and a UUID are a valid conversation id")
}

/// Where the visitor came from, from the handshake's headers.
fn details(req: &Request, chatbot: Option<ChatbotId>, session: &SessionId) -> SupportDetails {
    let parts = req.socket.req_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(SupportDetails::clip)
    };
    let forwarded = header("x-forwarded-for")
        .and_then(|list| list.split(',').next().map(|ip| ip.trim().to_owned()))
        .filter(|ip| !ip.is_empty());
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip().to_string());
    SupportDetails {
        chatbot_id: chatbot,
        session_id: Some(session.clone()),
        user_agent: header("user-agent"),
        ip_address: forwarded.or(peer),
        referrer: header("referer"),
    }
}

/// The chatbot of a widget visitor's key; `None` for token users.
fn widget_chatbot(req: &Request) -> Option<ChatbotId> {
    crate::socket::widget(&req.socket).map(|w| w.chatbot_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::actor::Role;
    use domain::ids::TenantId;

    fn visitor(tenant: &str, user: &str) -> Actor {
        Actor {
            user: UserId::parse(user).unwrap(),
            tenant: TenantId::parse(tenant).unwrap(),
            role: Role::Customer,
            name: None,
        }
    }

    #[test]
    fn a_session_always_names_the_same_conversation_and_only_its_own() {
        let session = SessionId::parse("session-123").unwrap();
        let bot = ChatbotId::parse("bot-1").unwrap();
        let one = session_conversation(&visitor("acme", "v"), Some(&bot), &session);
        assert_eq!(
            one,
            session_conversation(&visitor("acme", "v"), Some(&bot), &session)
        );
        assert!(one.as_str().starts_with("s-"));
        let others = [
            session_conversation(&visitor("globex", "v"), Some(&bot), &session),
            session_conversation(&visitor("acme", "w"), Some(&bot), &session),
            session_conversation(&visitor("acme", "v"), None, &session),
            session_conversation(
                &visitor("acme", "v"),
                Some(&bot),
                &SessionId::parse("session-124").unwrap(),
            ),
        ];
        assert!(others.iter().all(|other| *other != one), "{others:?}");
    }
}
