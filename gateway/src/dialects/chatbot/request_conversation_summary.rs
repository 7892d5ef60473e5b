//! `request-conversation-summary` → `conversation-summary {summary,
//! keyPoints, sentiment, conversationId}` for the conversation the caller
//! joined last.

use assistant::Turn;
use domain::Room;
use domain::actor::Role;
use projections::conversation_messages::{self, Cursor, Visibility};
use serde_json::json;

use super::knowledge::SUMMARY_MESSAGES;
use super::socket_state;
use crate::dialect::Request;
use crate::error::{ErrorCode, WireError};

pub async fn summary(req: &Request) -> Result<(), WireError> {
    let current = socket_state(req).with(|s| s.current.clone());
    let id = current.ok_or_else(|| {
        WireError::new(
            ErrorCode::NotInConversation,
            "join a conversation (join-conversation) before asking for its summary",
        )
    })?;
    let room = Room::new(
        req.actor.tenant.clone(),
        domain::conversation::Kind::Conversation,
        id,
    );
    req.state
        .read_your_writes(conversation_messages::NAME)
        .await;
    let page = conversation_messages::page(
        req.state.log.db(),
        &room,
        Visibility::for_role(req.actor.role),
        &Cursor::Latest,
        SUMMARY_MESSAGES,
    )
    .await?;
    let turns: Vec<Turn> = page
        .messages
        .into_iter()
        .filter(|m| m.deleted.is_none())
        .map(|m| Turn {
            from_customer: m.author_role == Role::Customer,
            text: m.content,
        })
        .collect();
    let summary = assistant::summary::summarize(&turns);
    req.reply(
        "conversation-summary",
        &json!({
            "conversationId": room.id.as_str(),
            "summary": summary.summary,
            "keyPoints": summary.key_points,
            "sentiment": summary.sentiment,
        }),
    );
    Ok(())
}
