//! `chat {content}`: the customer's message, in their conversation (opened
//! by the first one). The assistant answers it (see `crate::assistant`).

use domain::conversation::{Action, NewMessage};
use domain::ids::{ChatbotId, ConversationId, MessageId};
use domain::message::MessageBody;
use serde_json::Value;
use uuid::Uuid;

use super::CHATBOT;
use super::connection::Conn;
use crate::error::{ErrorCode, WireError};

/// The message a `chat` carries (no IO).
pub fn decode(message: &Value) -> Result<MessageBody, WireError> {
    let content = message
        .get("content")
        .ok_or_else(|| WireError::validation("chat needs a \"content\""))?
        .as_str()
        .ok_or_else(|| WireError::validation("\"content\" must be a string"))?;
    MessageBody::parse(content).map_err(|e| WireError::validation(format!("content: {e}")))
}

pub async fn handle(conn: &mut Conn, message: &Value) -> Result<Vec<Value>, WireError> {
    let body = decode(message)?;
    let conversation = ensure_conversation(conn).await?;
    let posted = post(conn, &conversation, &body).await;
    match posted {
        // Ended since (an agent, the idle timeout): a new conversation.
        Err(e) if e.code == ErrorCode::InvalidState => {
            conn.conversation = None;
            let conversation = ensure_conversation(conn).await?;
            post(conn, &conversation, &body).await?;
        }
        other => other?,
    }
    // The answer streams back as the assistant writes it.
    Ok(Vec::new())
}

async fn post(
    conn: &Conn,
    conversation: &ConversationId,
    body: &MessageBody,
) -> Result<(), WireError> {
    let message = NewMessage::text(MessageId::generate(), body.clone());
    conn.state
        .commands
        .on_conversation(
            &conn.origin(),
            "chat",
            &conn.room(conversation),
            Action::PostMessage(message),
            None,
        )
        .await
        .map(drop)
}

/// The user's conversation, opened if there is none.
pub async fn ensure_conversation(conn: &mut Conn) -> Result<ConversationId, WireError> {
    if let Some(id) = &conn.conversation {
        return Ok(id.clone());
    }
    let id = ConversationId::parse(format!("ws-{}", Uuid::now_v7().simple()))?;
    conn.state
        .commands
        .on_conversation(
            &conn.origin(),
            "open",
            &conn.room(&id),
            Action::Start(conn.peer.details()),
            None,
        )
        .await?;
    conn.conversation = Some(id.clone());
    Ok(id)
}

/// The user's latest open conversation of this dialect, if any.
pub async fn current(conn: &Conn) -> Result<Option<ConversationId>, WireError> {
    let state = &conn.state;
    state.read_your_writes(projections::support::NAME).await;
    let chatbot = ChatbotId::parse(CHATBOT)?;
    Ok(projections::support::latest_open_for_user(
        state.log.db(),
        &conn.actor.tenant,
        &conn.actor.user,
        &chatbot,
    )
    .await?)
}
