//! What a caller can ask of a conversation.

use crate::Timestamp;
use crate::actor::{Actor, Role};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::message::{MessageBody, OptimisticId};

/// One command: who asks, when, of which conversation, to do what.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationCommand {
    pub conversation: ConversationId,
    pub actor: Actor,
    pub at: Timestamp,
    pub action: Action,
}

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
    StartTyping,
    StopTyping,
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
