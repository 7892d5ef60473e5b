//! What happened to a conversation or a channel. Past tense, stable names,
//! versioned.
//!
//! Every event names its tenant, kind and conversation and carries the
//! values the projections need (names, roles, times), so that projections
//! only copy fields. `kind` is left out for conversations: events recorded
//! before channels existed read unchanged. For a channel, `conversation_id`
//! holds the channel's id. Free text is kept as plain strings: an event must
//! load forever, even if a later release tightens the rules for new input.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Kind;
use super::assistant::Provenance;
use super::channel::ChannelInfo;
use super::support::{Assignment, EndReason, Rating, Status, SupportDetails};
use crate::Timestamp;
use crate::actor::Role;
use crate::ids::{ConversationId, MessageId, SessionId, TenantId, UserId};

/// Schema version of every event type below; bump per type with an upcaster.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConversationEvent {
    ConversationOpened(ConversationOpened),
    ParticipantJoined(ParticipantJoined),
    ParticipantLeft(ParticipantLeft),
    MessagePosted(MessagePosted),
    MessageEdited(MessageEdited),
    MessageDeleted(MessageDeleted),
    ReactionAdded(Reaction),
    ReactionRemoved(Reaction),
    MessagesRead(MessagesRead),
    TypingStarted(Typing),
    TypingStopped(Typing),
    ChannelUpdated(ChannelUpdated),
    ConversationActivated(ConversationActivated),
    ConversationEscalated(ConversationEscalated),
    AgentAssigned(AgentAssigned),
    ConversationEnded(ConversationEnded),
    ConversationClosed(ConversationClosed),
    ConversationRated(ConversationRated),
    ConversationMetadataUpdated(ConversationMetadataUpdated),
    MessageShared(MessageShared),
}

impl ConversationEvent {
    /// The stable name stored as `event_type`; equal to the serde tag.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ConversationOpened(_) => "ConversationOpened",
            Self::ParticipantJoined(_) => "ParticipantJoined",
            Self::ParticipantLeft(_) => "ParticipantLeft",
            Self::MessagePosted(_) => "MessagePosted",
            Self::MessageEdited(_) => "MessageEdited",
            Self::MessageDeleted(_) => "MessageDeleted",
            Self::ReactionAdded(_) => "ReactionAdded",
            Self::ReactionRemoved(_) => "ReactionRemoved",
            Self::MessagesRead(_) => "MessagesRead",
            Self::TypingStarted(_) => "TypingStarted",
            Self::TypingStopped(_) => "TypingStopped",
            Self::ChannelUpdated(_) => "ChannelUpdated",
            Self::ConversationActivated(_) => "ConversationActivated",
            Self::ConversationEscalated(_) => "ConversationEscalated",
            Self::AgentAssigned(_) => "AgentAssigned",
            Self::ConversationEnded(_) => "ConversationEnded",
            Self::ConversationClosed(_) => "ConversationClosed",
            Self::ConversationRated(_) => "ConversationRated",
            Self::ConversationMetadataUpdated(_) => "ConversationMetadataUpdated",
            Self::MessageShared(_) => "MessageShared",
        }
    }

    /// The tenant, kind and id of the conversation the event belongs to.
    pub fn place(&self) -> (&TenantId, Kind, &ConversationId) {
        match self {
            Self::ConversationOpened(e) => (&e.tenant, e.kind, &e.conversation_id),
            Self::ParticipantJoined(e) => (&e.tenant, e.kind, &e.conversation_id),
            Self::ParticipantLeft(e) => (&e.tenant, e.kind, &e.conversation_id),
            Self::MessagePosted(e) => (&e.tenant, e.kind, &e.conversation_id),
            Self::MessageEdited(e) => (&e.tenant, e.kind, &e.conversation_id),
            Self::MessageDeleted(e) => (&e.tenant, e.kind, &e.conversation_id),
            Self::ReactionAdded(e) | Self::ReactionRemoved(e) => {
                (&e.tenant, e.kind, &e.conversation_id)
            }
            Self::MessagesRead(e) => (&e.tenant, e.kind, &e.conversation_id),
            Self::TypingStarted(e) | Self::TypingStopped(e) => {
                (&e.tenant, e.kind, &e.conversation_id)
            }
            Self::ChannelUpdated(e) => (&e.tenant, Kind::Channel, &e.conversation_id),
            // The support workflow is for conversations only.
            Self::ConversationActivated(e) => (&e.tenant, Kind::Conversation, &e.conversation_id),
            Self::ConversationEscalated(e) => (&e.tenant, Kind::Conversation, &e.conversation_id),
            Self::AgentAssigned(e) => (&e.tenant, Kind::Conversation, &e.conversation_id),
            Self::ConversationEnded(e) => (&e.tenant, Kind::Conversation, &e.conversation_id),
            Self::ConversationClosed(e) => (&e.tenant, Kind::Conversation, &e.conversation_id),
            Self::ConversationRated(e) => (&e.tenant, Kind::Conversation, &e.conversation_id),
            Self::ConversationMetadataUpdated(e) => {
                (&e.tenant, Kind::Conversation, &e.conversation_id)
            }
            Self::MessageShared(e) => (&e.tenant, Kind::Conversation, &e.conversation_id),
        }
    }

    pub fn tenant(&self) -> &TenantId {
        self.place().0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationOpened {
    pub tenant: TenantId,
    #[serde(default, skip_serializing_if = "Kind::is_conversation")]
    pub kind: Kind,
    pub conversation_id: ConversationId,
    pub opened_by: UserId,
    pub opened_by_role: Role,
    /// Only for channels: the channel as created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<ChannelInfo>,
    /// Only for support conversations opened by a widget or an app that
    /// said where the customer came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<SupportDetails>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantJoined {
    pub tenant: TenantId,
    #[serde(default, skip_serializing_if = "Kind::is_conversation")]
    pub kind: Kind,
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
    #[serde(default, skip_serializing_if = "Kind::is_conversation")]
    pub kind: Kind,
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub user_name: String,
    /// The leaver's role, for listeners that show it (absent from events
    /// recorded before it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagePosted {
    pub tenant: TenantId,
    #[serde(default, skip_serializing_if = "Kind::is_conversation")]
    pub kind: Kind,
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
    /// A robot's suggestion seen by staff only, until shared.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
    /// On the first message by staff: seconds since the conversation was
    /// queued (or opened, if it never was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_seconds: Option<i64>,
    /// An assistant's answer: its sources, provider and outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// What the client attached (a JSON object), if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// The message's number in its conversation: 1 for the first, hidden
    /// ones counted. `None` in events recorded before it was carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    /// In a conversation opened in a support session: that session and its
    /// opener, whose other sockets hear the message too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<SessionOwner>,
    pub at: Timestamp,
}

/// A support session and the customer who opened a conversation in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionOwner {
    pub session_id: SessionId,
    pub user_id: UserId,
}

/// A message's content (and optionally metadata) replaced by its author or
/// staff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageEdited {
    pub tenant: TenantId,
    #[serde(default, skip_serializing_if = "Kind::is_conversation")]
    pub kind: Kind,
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub content: String,
    /// The client's metadata, when the edit carried some (a JSON object).
    pub metadata: Option<Value>,
    pub edited_by: UserId,
    pub edited_by_name: String,
    pub at: Timestamp,
}

/// A message deleted by its author or staff. Views keep a tombstone; the
/// log keeps what was said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDeleted {
    pub tenant: TenantId,
    #[serde(default, skip_serializing_if = "Kind::is_conversation")]
    pub kind: Kind,
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub deleted_by: UserId,
    pub deleted_by_name: String,
    pub at: Timestamp,
}

/// A reaction added or removed (the variant says which).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    pub tenant: TenantId,
    #[serde(default, skip_serializing_if = "Kind::is_conversation")]
    pub kind: Kind,
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub emoji: String,
    pub user_id: UserId,
    pub user_name: String,
    pub at: Timestamp,
}

/// A participant has read these messages; `last_read` is the newest of
/// them, where the participant's read marker now stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesRead {
    pub tenant: TenantId,
    #[serde(default, skip_serializing_if = "Kind::is_conversation")]
    pub kind: Kind,
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub user_name: String,
    pub message_ids: Vec<MessageId>,
    pub last_read: MessageId,
    pub at: Timestamp,
}

/// Typing started or stopped (the variant says which).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Typing {
    pub tenant: TenantId,
    #[serde(default, skip_serializing_if = "Kind::is_conversation")]
    pub kind: Kind,
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub user_name: String,
    /// The typist's role (absent from events recorded before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    pub at: Timestamp,
}

/// A channel's name, description or topic changed; `changes` holds what
/// the caller asked for, `channel` the result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelUpdated {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub changes: ChannelChangeSet,
    pub channel: ChannelInfo,
    pub updated_by: UserId,
    pub updated_by_name: String,
    pub at: Timestamp,
}

/// The fields a channel update set (absent: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelChangeSet {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

/// The customer spoke first: the conversation is `active`, or `ai` when a
/// chatbot answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationActivated {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub status: Status,
    pub at: Timestamp,
}

/// Someone asked for a human: `queued` for any agent, or `escalated` to
/// supervisors by the conversation's agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationEscalated {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub status: Status,
    pub previous_status: Status,
    pub reason: Option<String>,
    pub escalated_by: UserId,
    pub escalated_by_name: String,
    pub escalated_by_role: Role,
    pub at: Timestamp,
}

/// An agent now handles the conversation (status `agent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentAssigned {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub agent_id: UserId,
    pub agent_name: String,
    pub agent_role: Role,
    pub how: Assignment,
    /// Who assigned it, when not the agent itself.
    pub assigned_by: Option<UserId>,
    pub previous_status: Status,
    pub previous_agent: Option<UserId>,
    pub queued_at: Option<Timestamp>,
    /// Seconds it waited in the queue, when it was queued.
    pub queue_time_seconds: Option<i64>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationEnded {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub reason: EndReason,
    pub previous_status: Status,
    pub ended_by: UserId,
    pub ended_by_name: String,
    pub ended_by_role: Role,
    /// The agent who handled it, if any.
    pub agent_id: Option<UserId>,
    /// Seconds from the agent's assignment to the end, if an agent handled it.
    pub handle_time_seconds: Option<i64>,
    /// Seconds from opening to the end.
    pub duration_seconds: i64,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationClosed {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub closed_by: UserId,
    pub closed_by_name: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRated {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub rating: Rating,
    pub comment: Option<String>,
    pub rated_by: UserId,
    /// The agent who handled it, if any (CSAT per agent).
    pub agent_id: Option<UserId>,
    pub at: Timestamp,
}

/// Keys merged into the conversation's metadata (a JSON object); a key set
/// to null is removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationMetadataUpdated {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub changes: Value,
    pub updated_by: UserId,
    pub at: Timestamp,
}

/// A robot's message is now visible to the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageShared {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub shared_by: UserId,
    pub shared_by_name: String,
    pub at: Timestamp,
}
