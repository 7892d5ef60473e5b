//! The chatbot seed's payload shapes: `IMessage`, `IConversation`, queue
//! entries.

use chrono::{DateTime, Utc};
use domain::actor::Role;
use domain::ids::{ConversationId, MessageId, UserId};
use projections::conversation_messages::MessageView;
use projections::support::{QueueEntry, SupportView};
use serde_json::{Map, Value, json};

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

/// A stored message as an `IMessage`.
pub fn message(m: &MessageView) -> Value {
    imessage(&MessageParts {
        id: &m.message_id,
        conversation: &m.room.id,
        author: &m.author_id,
        author_name: &m.author_name,
        role: m.author_role,
        content_type: &m.content_type,
        content: &m.content,
        at: m.created_at,
        metadata: m.metadata.as_ref(),
    })
}

/// `IConversation`, with `messages: []`: lists never carry message bodies
/// (`join-conversation` gives a conversation's messages).
/// `metadata` holds the updates of `update-conversation-metadata` with the
/// seed's `userAgent`, `ipAddress` (empty when unknown) and `referrer` on
/// top; `sessionId` is null for conversations not opened by a session.
pub fn conversation(v: &SupportView) -> Value {
    let mut metadata = match &v.metadata {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    metadata.insert(
        "userAgent".into(),
        json!(v.user_agent.as_deref().unwrap_or_default()),
    );
    metadata.insert(
        "ipAddress".into(),
        json!(v.ip_address.as_deref().unwrap_or_default()),
    );
    if let Some(referrer) = &v.referrer {
        metadata.insert("referrer".into(), json!(referrer));
    }
    let mut conversation = json!({
        "conversationId": v.room.id.as_str(),
        "tenantId": v.room.tenant.as_str(),
        "sessionId": v.session_id.as_ref().map(|s| s.as_str()),
        "userId": v.user_id.as_str(),
        "status": v.status.as_str(),
        "messages": [],
        "metadata": metadata,
        "timestamps": timestamps(v),
        "metrics": metrics(v),
    });
    let optional = [
        (
            "chatbotId",
            v.chatbot_id.as_ref().map(|c| json!(c.as_str())),
        ),
        (
            "assignedAgentId",
            v.assigned_agent_id.as_ref().map(|a| json!(a.as_str())),
        ),
        ("rating", v.rating.map(|r| json!(r.as_str()))),
        ("ratingComment", v.rating_comment.as_ref().map(|c| json!(c))),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            conversation[key] = value;
        }
    }
    conversation
}

fn timestamps(v: &SupportView) -> Value {
    let mut timestamps = json!({
        "created": wire_time(v.created_at),
        "lastActivity": wire_time(v.last_activity_at),
    });
    for (key, at) in [
        ("queuedAt", v.queued_at),
        ("agentAssignedAt", v.agent_assigned_at),
        ("endedAt", v.ended_at),
    ] {
        if let Some(at) = at {
            timestamps[key] = json!(wire_time(at));
        }
    }
    timestamps
}

fn metrics(v: &SupportView) -> Value {
    let mut metrics = json!({
        "messageCount": v.message_count,
        "aiMessageCount": v.ai_message_count,
        "agentMessageCount": v.agent_message_count,
    });
    if let Some(seconds) = v.queue_time_seconds {
        metrics["queueTimeSeconds"] = json!(seconds);
    }
    if let Some(seconds) = v.handle_time_seconds {
        metrics["handleTimeSeconds"] = json!(seconds);
    }
    metrics
}

/// A queue entry as dashboards show it: `{conversationId, userId, status,
/// position, estimatedWait, queuedAt}` (seconds).
pub fn queue_entry(e: &QueueEntry) -> Value {
    json!({
        "conversationId": e.conversation_id.as_str(),
        "userId": e.user_id.as_str(),
        "status": e.status.as_str(),
        "position": e.position,
        "estimatedWait": e.estimated_wait_seconds,
        "queuedAt": wire_time(e.queued_at),
    })
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
