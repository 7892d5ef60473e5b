//! The chatbot seed's `IMessage` (`IConversation` and queue entries are
//! the support side's: `wire::support`).

use chrono::{DateTime, Utc};
use domain::actor::Role;
use domain::ids::{ConversationId, MessageId, UserId};
use projections::conversation_messages::MessageView;
use serde_json::{Value, json};

use crate::wire_time;

/// Who a message is from, in the seed's words: robot suggestions are the
/// AI's, system notices the system's; otherwise customers are `user`, staff
/// `agent` and machines (services) `ai`.
pub fn sender(role: Role, content_type: &str) -> &'static str {
    match content_type {
        "system" => "system",
        "robot" => "ai",
        _ => match role {
            Role::Customer => "user",
            Role::Agent | Role::Supervisor | Role::Admin => "agent",
            Role::Service => "ai",
            // Analysts and auditors never post; were one to, it is not a person in the chat.
            Role::Analyst | Role::Auditor => "system",
        },
    }
}

/// The parts of an `IMessage`.
pub struct MessageParts<'a> {
    pub id: &'a MessageId,
    pub conversation: &'a ConversationId,
    pub author: &'a UserId,
    pub author_name: &'a str,
    pub role: Role,
    pub content_type: &'a str,
    pub content: &'a str,
    pub at: DateTime<Utc>,
    /// A JSON object (the metadata of an edit), if any.
    pub metadata: Option<&'a Value>,
}

/// `IMessage {messageId, conversationId, userId, sender, senderName,
/// content, timestamp, metadata?, status: {sent, delivered}}`. A stored
/// message was sent and delivered to the room; `read` is left out (read
/// receipts are lvng's).
pub fn imessage(m: &MessageParts<'_>) -> Value {
    let mut message = json!({
        "messageId": m.id.as_str(),
        "conversationId": m.conversation.as_str(),
        "userId": m.author.as_str(),
        "sender": sender(m.role, m.content_type),
        "senderName": m.author_name,
        "content": m.content,
        "timestamp": wire_time(m.at),
        "status": { "sent": true, "delivered": true },
    });
    if let Some(metadata @ Value::Object(_)) = m.metadata {
        message["metadata"] = metadata.clone();
    }
    message
}

/// A stored message as an `IMessage`. An assistant's answer carries its
/// provenance in `metadata.assistant` (`{outcome, sources: [{id, version,
/// title}], provider, model?, handoffOffered, closeSuggested}`).
pub fn message(m: &MessageView) -> Value {
    let mut message = imessage(&MessageParts {
        id: &m.message_id,
        conversation: &m.room.id,
        author: &m.author_id,
        author_name: &m.author_name,
        role: m.author_role,
        content_type: &m.content_type,
        content: &m.content,
        at: m.created_at,
        metadata: m.metadata.as_ref(),
    });
    if let Some(p) = &m.provenance {
        let sources: Vec<Value> = p
            .sources
            .iter()
            .map(|s| json!({ "id": s.article_id, "version": s.version, "title": s.title }))
            .collect();
        let assistant = json!({
            "outcome": p.outcome.as_str(),
            "sources": sources,
            "provider": p.provider,
            "model": p.model,
            "handoffOffered": p.handoff_offered,
            "closeSuggested": p.close_suggested,
        });
        match message.get_mut("metadata") {
            Some(Value::Object(metadata)) => {
                metadata.insert("assistant".into(), assistant);
            }
            _ => message["metadata"] = json!({ "assistant": assistant }),
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_follow_the_role_unless_the_message_kind_says_otherwise() {
        assert_eq!(sender(Role::Customer, "text"), "user");
        for staff in [Role::Agent, Role::Supervisor, Role::Admin] {
            assert_eq!(sender(staff, "text"), "agent");
        }
        assert_eq!(sender(Role::Service, "text"), "ai");
        assert_eq!(sender(Role::Agent, "system"), "system");
        assert_eq!(sender(Role::Agent, "robot"), "ai");
    }
}
