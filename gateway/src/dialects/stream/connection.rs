//! One stream connection: reads the client's messages, forwards the
//! assistant's tokens and agents' replies for the user's conversation.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use axum::http::HeaderMap;
use domain::Room;
use domain::actor::Actor;
use domain::conversation::{Kind, SupportDetails};
use domain::ids::{ChatbotId, ConversationId};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use tokio::sync::broadcast::error::RecvError;

use super::{CHATBOT, chat, escalate, push};
use crate::assistant::{ReplyEvent, ReplyKey};
use crate::commands::Origin;
use crate::error::WireError;
use crate::limits::{Allowance, Slot};
use crate::state::AppState;
use crate::wire_time;

/// Where the client connected from (its address and user agent),
/// recorded when a conversation opens.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    user_agent: Option<String>,
    ip_address: Option<String>,
}

impl Peer {
    pub fn from_request(headers: &HeaderMap, peer: SocketAddr) -> Self {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(SupportDetails::clip)
        };
        let forwarded = header("x-forwarded-for")
            .and_then(|list| list.split(',').next().map(|ip| ip.trim().to_owned()))
            .filter(|ip| !ip.is_empty());
        Self {
            user_agent: header("user-agent"),
            ip_address: forwarded.or_else(|| Some(peer.ip().to_string())),
        }
    }

    pub fn details(&self) -> SupportDetails {
        SupportDetails {
            chatbot_id: Some(ChatbotId::parse(CHATBOT).expect("a valid chatbot id")),
            session_id: None,
            user_agent: self.user_agent.clone(),
            ip_address: self.ip_address.clone(),
            referrer: None,
        }
    }
}

/// What a connection knows while it lives.
pub struct Conn {
    pub state: AppState,
    pub actor: Actor,
    pub peer: Peer,
    /// The user's conversation, once there is one.
    pub conversation: Option<ConversationId>,
    allowance: Allowance,
}

impl Conn {
    /// Who runs the commands of this connection: its user.
    pub fn origin(&self) -> Origin<'_> {
        Origin {
            actor: &self.actor,
            dialect: super::DIALECT,
            socket_id: None,
        }
    }

    /// One of this user's conversations.
    pub fn room(&self, id: &ConversationId) -> Room {
        Room::new(self.actor.tenant.clone(), Kind::Conversation, id.clone())
    }

    fn key(&self) -> Option<ReplyKey> {
        self.conversation.as_ref().map(|c| ReplyKey {
            tenant: self.actor.tenant.clone(),
            conversation: c.clone(),
        })
    }
}

/// A message of this dialect: `{type, …fields, timestamp}`.
pub fn message(kind: &str, fields: Value) -> Value {
    let mut message = serde_json::Map::new();
    message.insert("type".into(), json!(kind));
    if let Value::Object(fields) = fields {
        message.extend(fields);
    }
    message.insert("timestamp".into(), json!(wire_time(chrono::Utc::now())));
    Value::Object(message)
}

/// `error {message, code}`: what went wrong, never internals.
pub fn error(error: &WireError) -> Value {
    let mut fields = json!({ "message": error.message, "code": error.code });
    if let Some(retry_after_ms) = error.retry_after_ms {
        fields["retryAfterMs"] = json!(retry_after_ms);
    }
    message("error", fields)
}

pub async fn run(
    state: AppState,
    actor: Actor,
    peer: Peer,
    (allowance, _slot): (Allowance, Slot),
    socket: WebSocket,
) {
    let (mut sink, mut frames) = socket.split();
    let mut conn = Conn {
        conversation: None,
        state: state.clone(),
        actor,
        peer,
        allowance,
    };
    tracing::debug!(user = %conn.actor.user, tenant = %conn.actor.tenant, "stream connected");
    let mut out: Vec<Value> = vec![message(
        "connection",
        json!({ "message": "Connected to chatbot server" }),
    )];
    match chat::current(&conn).await {
        Ok(current) => conn.conversation = current,
        Err(e) => {
            tracing::warn!(code = %e.code, message = %e.message, "stream: cannot find the user's conversation")
        }
    }
    // The answer being written, if any, and everything after it.
    let mut replies = match conn.key() {
        Some(key) => {
            let (so_far, receiver) = state.assistant.replies.catch_up(&key);
            if let Some(reply) = so_far {
                out.push(message(
                    "stream-start",
                    json!({ "messageId": reply.reply_id.as_str() }),
                ));
                if !reply.text.is_empty() {
                    out.push(message(
                        "stream-token",
                        json!({ "messageId": reply.reply_id.as_str(), "token": reply.text }),
                    ));
                }
            }
            receiver
        }
        None => state.assistant.replies.subscribe(),
    };
    let mut updates = state.projector.subscribe();
    let closing = state.closing.clone();
    loop {
        for m in out.drain(..) {
            if sink
                .send(Message::Text(m.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
        }
        tokio::select! {
            frame = frames.next() => match frame {
                Some(Ok(Message::Text(text))) => out.extend(receive(&mut conn, &text).await),
                Some(Ok(Message::Binary(_))) => {
                    out.push(error(&WireError::validation("binary frames are not supported: send JSON text")));
                }
                // Pings are answered by the WebSocket layer.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => break,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "stream connection failed");
                    break;
                }
            },
            event = replies.recv() => match event {
                Ok(event) if Some(event.key()) == conn.key().as_ref() => out.push(reply(&event)),
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "stream fell behind the assistant's tokens");
                }
                Err(RecvError::Closed) => break,
            },
            update = updates.recv() => match update {
                Ok(update) => {
                    if let Some(conversation) = &conn.conversation {
                        let room = push::conversation_room(&conn.actor.tenant, conversation);
                        let mut pushes = Vec::new();
                        push::render(&update, &mut pushes);
                        for push in pushes.into_iter().filter(|p| p.rooms.contains(&room)) {
                            out.push(message(push.event, push.payload));
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "stream fell behind the projections");
                }
                Err(RecvError::Closed) => break,
            },
            _ = closing.cancelled() => {
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code: close_code::AWAY,
                        reason: Utf8Bytes::from_static("server shutting down"),
                    })))
                    .await;
                return;
            }
        }
    }
    tracing::debug!(user = %conn.actor.user, "stream closed");
}

/// The assistant's progress as this dialect shows it.
fn reply(event: &ReplyEvent) -> Value {
    let id = event.reply_id().as_str();
    match event {
        ReplyEvent::Started { .. } => message("stream-start", json!({ "messageId": id })),
        ReplyEvent::Token { token, .. } => {
            message("stream-token", json!({ "messageId": id, "token": token }))
        }
        ReplyEvent::Finished { .. } => message("stream-end", json!({ "messageId": id })),
        ReplyEvent::Failed { .. } => message(
            "error",
            json!({
                "messageId": id,
                "code": "ASSISTANT_FAILED",
                "message": "the assistant could not answer just now; a notice follows",
            }),
        ),
    }
}

/// A client message's `type`, and the message (no IO).
pub fn read(text: &str) -> Result<(String, Value), WireError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| WireError::validation(format!("invalid JSON: {e}")))?;
    let kind = value
        .get("type")
        .ok_or_else(|| WireError::validation("a message needs a \"type\""))?
        .as_str()
        .ok_or_else(|| WireError::validation("\"type\" must be a string"))?
        .to_owned();
    Ok((kind, value))
}

pub fn unsupported(kind: &str) -> WireError {
    WireError::validation(format!(
        "unsupported message type {kind:?}: chat, human-escalation or ping"
    ))
}

/// One client message: what to send back.
async fn receive(conn: &mut Conn, text: &str) -> Vec<Value> {
    let outcome = async {
        let (kind, value) = read(text)?;
        if kind == "ping" {
            return Ok(vec![message("pong", json!({}))]);
        }
        conn.allowance.admit(&conn.state.limits)?;
        match kind.as_str() {
            "chat" => chat::handle(conn, &value).await,
            "human-escalation" => escalate::handle(conn, &value).await,
            other => Err(unsupported(other)),
        }
    }
    .await;
    match outcome {
        Ok(out) => out,
        Err(e) => vec![error(&e)],
    }
}
