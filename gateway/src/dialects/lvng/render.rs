//! lvng's outbound payload shapes.

use chrono::{DateTime, Utc};
use domain::Room;
use domain::ids::UserId;
use projections::conversation_messages::MessageView;
use serde_json::{Map, Value, json};

use super::ids;
use crate::wire_time;

/// `message:new`: `{id, channelId, conversationId, userId, userName, content,
/// contentType, threadId, attachments, createdAt, updatedAt, metadata}`,
/// plus the message's current state: `editedAt`, `deleted` (a tombstone:
/// empty content, `deletedAt`, `deletedBy`, `deletedByName`) and
/// `reactions` `[{emoji, count, userIds, users: [{id, name}]}]`.
pub fn message_new(m: &MessageView) -> Value {
    let (channel_id, conversation_id) = ids(&m.room);
    // The client's metadata from edits, then what Parley knows.
    let mut metadata = match &m.metadata {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    metadata.insert("mentions".into(), json!(m.mentions));
    metadata.insert("optimisticId".into(), json!(m.optimistic_id));
    metadata.insert("role".into(), json!(m.author_role.as_str()));
    json!({
        "id": m.message_id.as_str(),
        "channelId": channel_id,
        "conversationId": conversation_id,
        "userId": m.author_id.as_str(),
        "userName": m.author_name,
        "content": m.content,
        "contentType": m.content_type,
        "threadId": m.thread_id.as_ref().map(|t| t.as_str()),
        "attachments": [],
        "createdAt": wire_time(m.created_at),
        "updatedAt": wire_time(m.updated_at),
        "metadata": metadata,
        "editedAt": m.edited_at.map(wire_time),
        "deleted": m.deleted.is_some(),
        "deletedAt": m.deleted.as_ref().map(|d| wire_time(d.at)),
        "deletedBy": m.deleted.as_ref().map(|d| d.by.as_str()),
        "deletedByName": m.deleted.as_ref().map(|d| d.by_name.as_str()),
        "reactions": m.reactions.iter().map(|r| json!({
            "emoji": r.emoji,
            "count": r.users.len(),
            "userIds": r.users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
            "users": r.users.iter().map(|u| json!({"id": u.id.as_str(), "name": u.name})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// `member:joined` and `member:left`: `{conversationId, userId, userName,
/// timestamp}`; for channels `channel:join` `{channelId, userId, userName,
/// user: {id, name}, timestamp}` and `channel:leave` (without `user`).
pub fn member(room: &Room, user: &UserId, name: &str, at: DateTime<Utc>, with_user: bool) -> Value {
    let (channel_id, conversation_id) = ids(room);
    let mut payload = json!({
        "userId": user.as_str(),
        "userName": name,
        "timestamp": wire_time(at),
    });
    match (channel_id, conversation_id) {
        (Some(channel), _) => {
            payload["channelId"] = json!(channel);
            if with_user {
                payload["user"] = json!({ "id": user.as_str(), "name": name });
            }
        }
        (None, conversation) => payload["conversationId"] = json!(conversation),
    }
    payload
}
