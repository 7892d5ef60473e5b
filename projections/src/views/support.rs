//! What a support conversation and the queue look like to readers and in
//! updates: plain values, no projection code.

use chrono::{DateTime, Utc};
use domain::Room;
use domain::actor::Role;
use domain::conversation::{Assignment, EndReason, Rating, Status};
use domain::ids::{ChatbotId, ConversationId, SessionId, UserId};
use serde_json::Value;

/// A support conversation as consoles list it.
#[derive(Debug, Clone, PartialEq)]
pub struct SupportView {
    pub room: Room,
    pub chatbot_id: Option<ChatbotId>,
    pub session_id: Option<SessionId>,
    /// The customer who opened it.
    pub user_id: UserId,
    pub status: Status,
    pub assigned_agent_id: Option<UserId>,
    pub assigned_agent_name: Option<String>,
    /// Merged metadata updates (a JSON object).
    pub metadata: Value,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub referrer: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub queued_at: Option<DateTime<Utc>>,
    pub agent_assigned_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<EndReason>,
    pub message_count: u64,
    pub ai_message_count: u64,
    pub agent_message_count: u64,
    pub queue_time_seconds: Option<i64>,
    pub handle_time_seconds: Option<i64>,
    pub first_response_seconds: Option<i64>,
    pub rating: Option<Rating>,
    pub rating_comment: Option<String>,
}

/// A conversation waiting for a human, and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEntry {
    pub conversation_id: ConversationId,
    /// The customer waiting.
    pub user_id: UserId,
    /// `queued`, or `escalated` (waiting for a supervisor).
    pub status: Status,
    pub queued_at: DateTime<Utc>,
    /// 1 for the next to be served.
    pub position: u32,
    /// Seconds, from recent handle times and the agents online.
    pub estimated_wait_seconds: u64,
}

/// What happened to a support conversation (the view says where it stands
/// now).
#[derive(Debug, Clone, PartialEq)]
pub enum SupportChange {
    /// The customer spoke first (`active` or `ai`).
    Activated,
    Escalated {
        reason: Option<String>,
        by: UserId,
        by_name: String,
        by_role: Role,
    },
    AgentAssigned {
        how: Assignment,
        previous_agent: Option<UserId>,
        /// The session of the call going on in the conversation's call room
        /// (named by the conversation's id) when the agent took over.
        active_call: Option<u64>,
    },
    Ended {
        reason: EndReason,
        by: UserId,
        by_role: Role,
    },
    Closed,
    Rated {
        rating: Rating,
        comment: Option<String>,
    },
    MetadataUpdated {
        changes: Value,
    },
}
