//! What a caller can ask of a conversation or a channel.

use super::Kind;
use super::assistant::Provenance;
use super::channel::ChannelChanges;
use super::support::{EndReason, MessageKind, Rating, Remark, SupportDetails};
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
    /// Join as `Join` does; when this opens the conversation, it records
    /// where the customer came from (widget, chatbot, session).
    Start(SupportDetails),
    /// Ask for a human: queued (or, by its agent, escalated to supervisors).
    Escalate {
        reason: Option<Remark>,
    },
    /// Staff take the conversation for themselves.
    Claim,
    /// Give a waiting conversation to an agent (auto-assignment, or a
    /// supervisor or admin).
    Assign {
        agent: UserId,
        name: Option<String>,
        role: Role,
    },
    /// End the conversation. `Timeout` is for the idle policy only, which
    /// names the last activity it saw: any activity since then keeps the
    /// conversation going.
    End {
        reason: EndReason,
        idle_since: Option<Timestamp>,
    },
    /// Wrap an ended conversation up (staff).
    Close,
    /// The customer rates the conversation (again, to change their mind).
    Rate {
        rating: Rating,
        comment: Option<Remark>,
    },
    /// Merge these keys into the conversation's metadata.
    UpdateMetadata(MessageMetadata),
    /// Show a robot's message to the customer (staff).
    ShareMessage {
        id: MessageId,
    },
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
    /// Text by default; system notices and robot suggestions are staff's.
    pub kind: MessageKind,
    /// The assistant's answers say why (services only).
    pub provenance: Option<Provenance>,
    /// What the client attached to the message (attachment details).
    pub metadata: Option<MessageMetadata>,
}

impl NewMessage {
    /// A plain text message: no optimistic id, thread, mentions or
    /// provenance.
    pub fn text(id: MessageId, body: MessageBody) -> Self {
        Self {
            id,
            body,
            optimistic_id: None,
            thread_id: None,
            mentions: Vec::new(),
            kind: MessageKind::Text,
            provenance: None,
            metadata: None,
        }
    }
}
