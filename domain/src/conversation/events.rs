//! What happened to a conversation. Past tense, stable names, versioned.
//!
//! Every event names its tenant and conversation and carries the values the
//! projections need (names, roles, times), so that projections only copy
//! fields. Free text is kept as plain strings: an event must load forever,
//! even if a later release tightens the rules for new input.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::actor::Role;
use crate::ids::{ConversationId, MessageId, TenantId, UserId};

/// Schema version of every event type below; bump per type with an upcaster.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConversationEvent {
    ConversationOpened(ConversationOpened),
    ParticipantJoined(ParticipantJoined),
    ParticipantLeft(ParticipantLeft),
    MessagePosted(MessagePosted),
    TypingStarted(Typing),
    TypingStopped(Typing),
}

impl ConversationEvent {
    /// The stable name stored as `event_type`; equal to the serde tag.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ConversationOpened(_) => "ConversationOpened",
            Self::ParticipantJoined(_) => "ParticipantJoined",
            Self::ParticipantLeft(_) => "ParticipantLeft",
            Self::MessagePosted(_) => "MessagePosted",
            Self::TypingStarted(_) => "TypingStarted",
            Self::TypingStopped(_) => "TypingStopped",
        }
    }

    pub fn tenant(&self) -> &TenantId {
        match self {
            Self::ConversationOpened(e) => &e.tenant,
            Self::ParticipantJoined(e) => &e.tenant,
            Self::ParticipantLeft(e) => &e.tenant,
            Self::MessagePosted(e) => &e.tenant,
            Self::TypingStarted(e) | Self::TypingStopped(e) => &e.tenant,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationOpened {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub opened_by: UserId,
    pub opened_by_role: Role,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantJoined {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub user_name: String,
    pub role: Role,
    /// Set when staff added the participant rather than the participant joining.
    pub added_by: Option<UserId>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantLeft {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub user_name: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagePosted {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub author_id: UserId,
    pub author_name: String,
    pub author_role: Role,
    pub content: String,
    pub content_type: String,
    pub optimistic_id: Option<String>,
    pub thread_id: Option<MessageId>,
    pub mentions: Vec<UserId>,
    pub at: Timestamp,
}

/// Typing started or stopped (the variant says which).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Typing {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub user_name: String,
    pub at: Timestamp,
}
