//! The `Conversation` aggregate: membership, messages and typing.
//!
//! Rules:
//! - the first `Join` opens the conversation (any customer or staff member of
//!   the tenant; analysts and auditors only read);
//! - a customer may join only a conversation they opened or were added to;
//!   staff (agent, supervisor, admin) may join any conversation of their tenant;
//! - participants and staff may post and signal typing; others may not;
//! - joining twice, or leaving when not a participant, changes nothing;
//! - rejoining is joining, except that it never opens a conversation.

mod commands;
mod cqrs;
mod events;
#[cfg(test)]
mod tests;

pub use commands::{Action, ConversationCommand, NewMessage};
pub use events::{
    ConversationEvent, ConversationOpened, MessagePosted, ParticipantJoined, ParticipantLeft,
    SCHEMA_VERSION, Typing,
};

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use crate::DomainError;
use crate::actor::{Actor, Role};
use crate::ids::{ConversationId, TenantId, UserId};

const STREAM_PREFIX: &str = "conversation/";

/// The decision state of one conversation. Deliberately small (no message
/// bodies), so that caching and snapshotting it stays cheap however long the
/// conversation grows; the messages themselves live in the read models.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    opened: Option<Opened>,
    members: BTreeSet<UserId>,
    /// Everyone who ever opened, joined or was added: a customer among them
    /// may come back after leaving.
    admitted: BTreeSet<UserId>,
    message_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Opened {
    tenant: TenantId,
    id: ConversationId,
    opened_by: UserId,
}

impl Conversation {
    /// The event-log stream of a conversation. `/` cannot occur in either id,
    /// so different (tenant, id) pairs never share a stream.
    pub fn stream_id(tenant: &TenantId, id: &ConversationId) -> String {
        format!("{STREAM_PREFIX}{tenant}/{id}")
    }

    /// Does this stream hold a conversation's events?
    pub fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }

    pub fn is_open(&self) -> bool {
        self.opened.is_some()
    }

    pub fn is_member(&self, user: &UserId) -> bool {
        self.members.contains(user)
    }

    pub fn message_count(&self) -> u64 {
        self.message_count
    }

    /// Decide what happens. Pure: no clock, no IO; refusals produce no events.
    pub fn handle(&self, cmd: ConversationCommand) -> Result<Vec<ConversationEvent>, DomainError> {
        let ConversationCommand {
            conversation,
            actor,
            at,
            action,
        } = cmd;
        let tenant = actor.tenant.clone();

        let Some(opened) = &self.opened else {
            return match action {
                Action::Join => {
                    if !actor.role.may_participate() {
                        return Err(DomainError::Forbidden(format!(
                            "the {} role cannot open conversations",
                            actor.role
                        )));
                    }
                    Ok(vec![
                        ConversationEvent::ConversationOpened(ConversationOpened {
                            tenant: tenant.clone(),
                            conversation_id: conversation.clone(),
                            opened_by: actor.user.clone(),
                            opened_by_role: actor.role,
                            at,
                        }),
                        joined(&tenant, &conversation, &actor, None, at),
                    ])
                }
                _ => Err(not_found(&conversation)),
            };
        };
        // Streams are per tenant, so this only guards against a caller bug;
        // answer as if the conversation did not exist rather than leak it.
        if opened.tenant != tenant || opened.id != conversation {
            return Err(not_found(&conversation));
        }

        match action {
            Action::Join | Action::Rejoin => {
                if self.is_member(&actor.user) {
                    return Ok(vec![]);
                }
                let allowed = actor.role.is_staff()
                    || (actor.role == Role::Customer && self.admitted.contains(&actor.user));
                if !allowed {
                    return Err(DomainError::Forbidden(
                        "customers may join only conversations they opened or were added to".into(),
                    ));
                }
                Ok(vec![joined(&tenant, &conversation, &actor, None, at)])
            }
            Action::Leave => {
                if !self.is_member(&actor.user) {
                    return Ok(vec![]);
                }
                Ok(vec![ConversationEvent::ParticipantLeft(ParticipantLeft {
                    tenant,
                    conversation_id: conversation,
                    user_id: actor.user.clone(),
                    user_name: actor.display_name().to_owned(),
                    at,
                })])
            }
            Action::AddParticipant { user, name, role } => {
                if !actor.role.is_staff() {
                    return Err(DomainError::Forbidden(
                        "only staff may add participants".into(),
                    ));
                }
                if !role.may_participate() {
                    return Err(DomainError::invalid(
                        "role",
                        format!("the {role} role cannot be a participant"),
                    ));
                }
                if self.is_member(&user) {
                    return Ok(vec![]);
                }
                let added = Actor {
                    user,
                    tenant: tenant.clone(),
                    role,
                    name,
                };
                Ok(vec![joined(
                    &tenant,
                    &conversation,
                    &added,
                    Some(actor.user.clone()),
                    at,
                )])
            }
            Action::PostMessage(message) => {
                self.ensure_may_write(&actor)?;
                Ok(vec![ConversationEvent::MessagePosted(MessagePosted {
                    tenant,
                    conversation_id: conversation,
                    message_id: message.id,
                    author_id: actor.user.clone(),
                    author_name: actor.display_name().to_owned(),
                    author_role: actor.role,
                    content: message.body.into(),
                    content_type: "text".into(),
                    optimistic_id: message.optimistic_id.map(Into::into),
                    thread_id: message.thread_id,
                    mentions: message.mentions,
                    at,
                })])
            }
            Action::StartTyping | Action::StopTyping => {
                self.ensure_may_write(&actor)?;
                let typing = Typing {
                    tenant,
                    conversation_id: conversation,
                    user_id: actor.user.clone(),
                    user_name: actor.display_name().to_owned(),
                    at,
                };
                Ok(vec![if matches!(action, Action::StartTyping) {
                    ConversationEvent::TypingStarted(typing)
                } else {
                    ConversationEvent::TypingStopped(typing)
                }])
            }
        }
    }

    /// Evolve the state. Never fails: an event that was recorded happened.
    pub fn apply(&mut self, event: ConversationEvent) {
        match event {
            ConversationEvent::ConversationOpened(e) => {
                self.opened = Some(Opened {
                    tenant: e.tenant,
                    id: e.conversation_id,
                    opened_by: e.opened_by.clone(),
                });
                self.admitted.insert(e.opened_by);
            }
            ConversationEvent::ParticipantJoined(e) => {
                self.admitted.insert(e.user_id.clone());
                self.members.insert(e.user_id);
            }
            ConversationEvent::ParticipantLeft(e) => {
                self.members.remove(&e.user_id);
            }
            ConversationEvent::MessagePosted(_) => self.message_count += 1,
            ConversationEvent::TypingStarted(_) | ConversationEvent::TypingStopped(_) => {}
        }
    }

    fn ensure_may_write(&self, actor: &Actor) -> Result<(), DomainError> {
        if self.is_member(&actor.user) || actor.role.is_staff() {
            Ok(())
        } else {
            Err(DomainError::Forbidden(
                "only participants and staff may write to this conversation".into(),
            ))
        }
    }
}

fn not_found(conversation: &ConversationId) -> DomainError {
    DomainError::NotFound(format!("conversation {conversation}"))
}

fn joined(
    tenant: &TenantId,
    conversation: &ConversationId,
    who: &Actor,
    added_by: Option<UserId>,
    at: crate::Timestamp,
) -> ConversationEvent {
    ConversationEvent::ParticipantJoined(ParticipantJoined {
        tenant: tenant.clone(),
        conversation_id: conversation.clone(),
        user_id: who.user.clone(),
        user_name: who.display_name().to_owned(),
        role: who.role,
        added_by,
        at,
    })
}
