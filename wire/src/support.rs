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

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use domain::Room;
    use domain::conversation::{EndReason, Kind, Rating, Status};
    use domain::ids::{ChatbotId, ConversationId, TenantId, UserId};
    use projections::support::summarize;

    use super::*;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, second).unwrap()
    }

    fn ended() -> SupportView {
        SupportView {
            room: Room::new(
                TenantId::parse("acme").unwrap(),
                Kind::Conversation,
                ConversationId::parse("c-1").unwrap(),
            ),
            chatbot_id: Some(ChatbotId::parse("bot").unwrap()),
            session_id: None,
            user_id: UserId::parse("carol").unwrap(),
            status: Status::Ended,
            assigned_agent_id: Some(UserId::parse("alice").unwrap()),
            assigned_agent_name: Some("Alice".into()),
            metadata: json!({"plan": "pro", "referrer": "kept"}),
            user_agent: Some("Firefox".into()),
            ip_address: None,
            referrer: None,
            created_at: at(0),
            last_activity_at: at(40),
            queued_at: Some(at(10)),
            agent_assigned_at: Some(at(20)),
            ended_at: Some(at(40)),
            end_reason: Some(EndReason::Resolved),
            message_count: 4,
            ai_message_count: 1,
            agent_message_count: 2,
            queue_time_seconds: Some(10),
            handle_time_seconds: Some(20),
            first_response_seconds: Some(5),
            rating: Some(Rating::Good),
            rating_comment: None,
        }
    }

    #[test]
    fn a_conversation_merges_the_visitor_into_its_metadata() {
        let value = conversation(&ended());
        assert_eq!(value["conversationId"], "c-1");
        assert_eq!(value["tenantId"], "acme");
        assert_eq!(value["chatbotId"], "bot");
        assert_eq!(value["sessionId"], Value::Null);
        assert_eq!(value["status"], "ended");
        assert_eq!(value["assignedAgentName"], "Alice");
        // Known visitor fields win; unknown ones keep a stored value, or null.
        assert_eq!(
            value["metadata"],
            json!({"plan": "pro", "userAgent": "Firefox", "ipAddress": null, "referrer": "kept"})
        );
        assert_eq!(value["timestamps"]["created"], "2026-11-22T10:00:00.000Z");
        assert_eq!(value["timestamps"]["endedAt"], "2026-11-22T10:00:40.000Z");
        assert_eq!(value["metrics"]["firstResponseSeconds"], 5);
        assert_eq!(value["rating"], "good");
        assert_eq!(value["endReason"], "resolved");
    }

    #[test]
    fn a_queue_entry_gives_its_wait_in_seconds() {
        let entry = QueueEntry {
            conversation_id: ConversationId::parse("c-2").unwrap(),
            user_id: UserId::parse("dave").unwrap(),
            status: Status::Queued,
            queued_at: at(3),
            position: 2,
            estimated_wait_seconds: 600,
        };
        assert_eq!(
            queue_entry(&entry),
            json!({
                "conversationId": "c-2",
                "userId": "dave",
                "status": "queued",
                "position": 2,
                "estimatedWait": 600,
                "queuedAt": "2026-11-22T10:00:03.000Z",
            })
        );
    }

    #[test]
    fn metrics_give_every_group_the_same_fields() {
        let value = metrics(&summarize(&[ended()]));
        let overall = &value["overall"];
        assert_eq!(overall["conversations"], 1);
        assert_eq!(overall["aiMessages"], 1);
        assert_eq!(overall["queueTime"], json!({"median": 10.0, "p90": 10.0}));
        assert_eq!(overall["ratings"], json!({"good": 1, "bad": 0}));
        assert_eq!(overall["csat"], 1.0);
        let agent = &value["perAgent"][0];
        assert_eq!(agent["agentId"], "alice");
        assert_eq!(agent["agentName"], "Alice");
        assert_eq!(agent["handleTime"], overall["handleTime"]);
        assert_eq!(value["perDay"][0]["date"], "2026-11-22");
    }
}
