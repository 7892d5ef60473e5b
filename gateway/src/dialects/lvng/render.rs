//! lvng's outbound payload shapes.

use chrono::{DateTime, Utc};
use domain::ids::{ConversationId, UserId};
use projections::conversation_messages::MessageView;
use serde_json::{Value, json};

use crate::wire_time;

/// `message:new`: `{id, channelId, conversationId, userId, userName, content,
/// contentType, threadId, attachments, createdAt, updatedAt, metadata}`.
pub fn message_new(m: &MessageView) -> Value {
    json!({
        "id": m.message_id.as_str(),
        "channelId": null,
        "conversationId": m.conversation_id.as_str(),
        "userId": m.author_id.as_str(),
        "userName": m.author_name,
        "content": m.content,
        "contentType": m.content_type,
        "threadId": m.thread_id.as_ref().map(|t| t.as_str()),
        "attachments": [],
        "createdAt": wire_time(m.created_at),
        "updatedAt": wire_time(m.updated_at),
        "metadata": {
            "mentions": m.mentions,
            "optimisticId": m.optimistic_id,
            "role": m.author_role.as_str(),
        },
    })
}

/// `member:joined` and `member:left`: `{conversationId, userId, userName, timestamp}`.
pub fn member(
    conversation: &ConversationId,
    user: &UserId,
    name: &str,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "conversationId": conversation.as_str(),
        "userId": user.as_str(),
        "userName": name,
        "timestamp": wire_time(at),
    })
}
