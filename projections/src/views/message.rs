//! What a message looks like to readers and in updates: plain values, no
//! projection code.

use chrono::{DateTime, Utc};
use domain::Room;
use domain::actor::Role;
use domain::conversation::{Provenance, SessionOwner};
use domain::ids::{MessageId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::Position;

/// A message just posted, with what pushes need beyond the message: its
/// number in the conversation and, in a support session's conversation,
/// whose other sockets hear it (copied from the event).
#[derive(Debug, Clone, PartialEq)]
pub struct PostedMessage {
    pub message: MessageView,
    /// 1 for the conversation's first message, hidden ones counted.
    pub number: u64,
    pub owner: Option<SessionOwner>,
}

impl std::ops::Deref for PostedMessage {
    type Target = MessageView;
    fn deref(&self) -> &MessageView {
        &self.message
    }
}

/// A message as every query and update presents it: its current state
/// (edited content, tombstone, reactions).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageView {
    pub room: Room,
    pub position: Position,
    pub message_id: MessageId,
    pub author_id: UserId,
    pub author_name: String,
    pub author_role: Role,
    /// Empty once deleted.
    pub content: String,
    pub content_type: String,
    pub optimistic_id: Option<String>,
    pub thread_id: Option<MessageId>,
    pub mentions: Vec<UserId>,
    /// What the client attached when posting, then the metadata of the
    /// latest edit that carried some.
    pub metadata: Option<Value>,
    pub reactions: Vec<ReactionView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted: Option<Deletion>,
    /// A robot's suggestion not yet shared: staff only.
    pub hidden: bool,
    /// An assistant's answer: its sources, provider and outcome.
    pub provenance: Option<Provenance>,
}

/// One emoji on a message, with who reacted (in the order they did).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactionView {
    pub emoji: String,
    pub users: Vec<Reactor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reactor {
    pub id: UserId,
    pub name: String,
}

/// Who deleted a message, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Deletion {
    pub by: UserId,
    pub by_name: String,
    pub at: DateTime<Utc>,
}
