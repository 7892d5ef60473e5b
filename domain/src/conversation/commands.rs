//! What a caller can ask of a conversation or a channel.

use super::Kind;
use super::channel::ChannelChanges;
use crate::Timestamp;
use crate::actor::{Actor, Role};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::message::{Emoji, MessageBody, MessageMetadata, OptimisticId};

/// One command: who asks, when, of which conversation, to do what.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationCommand {
    pub kind: Kind,
    pub conversation: ConversationId,
    pub actor: Actor,
    pub at: Timestamp,
    pub action: Action,
}

/// The most messages one read receipt may name.
pub const MAX_READ_BATCH: usize = 500;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Join as a participant; the first join opens the conversation.
    Join,
    /// Come back to a conversation after a disconnect: as `Join`, but an
    /// unknown conversation is not found rather than opened.
    Rejoin,
    /// Stop being a participant.
    Leave,
    /// Staff add someone (who may then join even as a customer).
    AddParticipant {
        user: UserId,
        name: Option<String>,
        role: Role,
    },
    PostMessage(NewMessage),
    /// Replace a message's content (its author or staff).
    EditMessage {
        id: MessageId,
        body: MessageBody,
        metadata: Option<MessageMetadata>,
    },
    /// Delete a message (its author or staff); deleting twice changes nothing.
    DeleteMessage {
        id: MessageId,
    },
    /// Add or remove the caller's reaction; idempotent per user and emoji.
    React {
        id: MessageId,
        emoji: Emoji,
        add: bool,
    },
    /// The caller has read these messages (1 to [`MAX_READ_BATCH`]).
    MarkRead {
        ids: Vec<MessageId>,
    },
    StartTyping,
    StopTyping,
    /// Change a channel's name, description or topic (creator or staff).
    UpdateChannel(ChannelChanges),
}

/// A message as the caller wants it posted; the id is minted by the caller
/// (deterministically from an optimistic id when there is one).
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub id: MessageId,
    pub body: MessageBody,
    pub optimistic_id: Option<OptimisticId>,
    pub thread_id: Option<MessageId>,
    pub mentions: Vec<UserId>,
}
