//! Support read models as JSON, in the chatbot seed's camelCase shapes.

use projections::support::{Metrics, MetricsGroup, QueueEntry, Spread, SupportView};
use serde_json::{Map, Value, json};

use crate::wire_time;

/// The seed's `IConversation` without `messages` (plus `assignedAgentName`,
/// `endReason` and `metrics.firstResponseSeconds`). `metadata` holds the
/// merged metadata updates and the visitor's `userAgent`, `ipAddress` and
/// `referrer`.
pub fn conversation(view: &SupportView) -> Value {
    let mut metadata = match &view.metadata {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    for (key, value) in [
        ("userAgent", &view.user_agent),
        ("ipAddress", &view.ip_address),
        ("referrer", &view.referrer),
    ] {
        match value {
            Some(value) => {
                metadata.insert(key.to_owned(), json!(value));
            }
            None => {
                metadata.entry(key).or_insert(Value::Null);
            }
        }
    }
    json!({
        "conversationId": view.room.id.as_str(),
        "tenantId": view.room.tenant.as_str(),
        "chatbotId": view.chatbot_id.as_ref().map(|c| c.as_str()),
        "sessionId": view.session_id.as_ref().map(|s| s.as_str()),
        "userId": view.user_id.as_str(),
        "status": view.status.as_str(),
        "assignedAgentId": view.assigned_agent_id.as_ref().map(|a| a.as_str()),
        "assignedAgentName": view.assigned_agent_name,
        "metadata": metadata,
        "timestamps": {
            "created": wire_time(view.created_at),
            "lastActivity": wire_time(view.last_activity_at),
            "queuedAt": view.queued_at.map(wire_time),
            "agentAssignedAt": view.agent_assigned_at.map(wire_time),
            "endedAt": view.ended_at.map(wire_time),
        },
        "metrics": {
            "messageCount": view.message_count,
            "aiMessageCount": view.ai_message_count,
            "agentMessageCount": view.agent_message_count,
            "queueTimeSeconds": view.queue_time_seconds,
            "handleTimeSeconds": view.handle_time_seconds,
            "firstResponseSeconds": view.first_response_seconds,
        },
        "rating": view.rating.map(|r| r.as_str()),
        "ratingComment": view.rating_comment,
        "endReason": view.end_reason.map(|r| r.as_str()),
    })
}

/// `{conversationId, userId, status, position, estimatedWait, queuedAt}`;
/// `estimatedWait` in seconds.
pub fn queue_entry(entry: &QueueEntry) -> Value {
    json!({
        "conversationId": entry.conversation_id.as_str(),
        "userId": entry.user_id.as_str(),
        "status": entry.status.as_str(),
        "position": entry.position,
        "estimatedWait": entry.estimated_wait_seconds,
        "queuedAt": wire_time(entry.queued_at),
    })
}

/// `{overall, perAgent: [{agentId, agentName, …}], perDay: [{date, …}]}`,
/// every group with the same fields (times in seconds).
pub fn metrics(m: &Metrics) -> Value {
    json!({
        "overall": group(&m.overall),
        "perAgent": m.per_agent.iter().map(|a| {
            let mut value = group(&a.metrics);
            value["agentId"] = json!(a.agent_id.as_str());
            value["agentName"] = json!(a.agent_name);
            value
        }).collect::<Vec<_>>(),
        "perDay": m.per_day.iter().map(|d| {
            let mut value = group(&d.metrics);
            value["date"] = json!(d.day.to_string());
            value
        }).collect::<Vec<_>>(),
    })
}

fn group(g: &MetricsGroup) -> Value {
    json!({
        "conversations": g.conversations,
        "ended": g.ended,
        "messages": g.messages,
        "aiMessages": g.ai_messages,
        "agentMessages": g.agent_messages,
        "queued": g.queued,
        "queueTime": spread(&g.queue_time),
        "firstResponseTime": spread(&g.first_response),
        "handleTime": spread(&g.handle_time),
        "ratings": { "good": g.ratings_good, "bad": g.ratings_bad },
        "csat": g.csat,
    })
}

fn spread(s: &Spread) -> Value {
    json!({ "median": s.median, "p90": s.p90 })
}
