//! The `Conversation` aggregate: membership, messages, edits, reactions,
//! read state and typing, for support conversations and team channels
//! alike (see [`Kind`]).
//!
//! Rules:
//! - the first `Join` opens the conversation (any customer or staff member of
//!   the tenant; analysts, auditors and services never take part);
//! - a customer may join only a conversation they opened or were added to;
//!   staff (agent, supervisor, admin) may join any conversation of their
//!   tenant; anyone who takes part may join any channel of their tenant;
//! - participants and staff may post, react, mark read and signal typing;
//!   others may not;
//! - a message may be edited or deleted by its author or by staff; a deleted
//!   message cannot be edited or reacted to, and deleting it again changes
//!   nothing; a reaction is one per user and emoji (adding it twice, or
//!   removing one that is not there, changes nothing);
//! - a read receipt moves the reader's marker forward only;
//! - a channel's name, description and topic may be changed by its creator
//!   or by staff;
//! - joining twice, or leaving when not a participant, changes nothing;
//! - rejoining is joining, except that it never opens a conversation.

mod assistant;
mod channel;
mod commands;
mod cqrs;
mod events;
mod kind;
mod metadata;
mod support;
#[cfg(test)]
mod tests;
mod workflow;

pub use assistant::{ASSISTANT_USER, Provenance, ReplyOutcome, SourceRef};
pub use channel::{ChannelChanges, ChannelInfo, ChannelName, ChannelText};
pub use commands::{Action, ConversationCommand, MAX_READ_BATCH, NewMessage};
pub use events::{
    AgentAssigned, ChannelChangeSet, ChannelUpdated, ConversationActivated, ConversationClosed,
    ConversationEnded, ConversationEscalated, ConversationEvent, ConversationMetadataUpdated,
    ConversationOpened, ConversationRated, MessageDeleted, MessageEdited, MessagePosted,
    MessageShared, MessagesRead, ParticipantJoined, ParticipantLeft, Reaction, SCHEMA_VERSION,
    SessionOwner, Typing,
};
pub use kind::Kind;
pub use metadata::{MAX_METADATA_BYTES, MAX_METADATA_KEYS};
pub use support::{Assignment, EndReason, MessageKind, Rating, Remark, Status, SupportDetails};
use support::{SupportState, seconds};

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::DomainError;
use crate::actor::{Actor, Role};
use crate::ids::{ConversationId, MessageId, SessionId, TenantId, UserId};
use crate::message::Emoji;

/// The decision state of one conversation: who is in it, and of each
/// message only what later decisions need (its author, whether it was
/// deleted, who reacted with what). No bodies: those live in the read
/// models.
///
/// `messages` and `read_marks` have no serde default on purpose: a snapshot
/// taken before they existed does not load, and the stream is replayed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    opened: Option<Opened>,
    members: BTreeSet<UserId>,
    /// Everyone who ever opened, joined or was added: a customer among them
    /// may come back after leaving.
    admitted: BTreeSet<UserId>,
    message_count: u64,
    messages: HashMap<MessageId, MessageState>,
    /// Per reader, the sequence number of the newest message read.
    read_marks: BTreeMap<UserId, u64>,
    /// No serde default either: state from before the support workflow is
    /// rebuilt from the events.
    support: SupportState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Opened {
    tenant: TenantId,
    id: ConversationId,
    opened_by: UserId,
    #[serde(default)]
    kind: Kind,
    #[serde(default)]
    channel: Option<ChannelInfo>,
    /// The support session it was opened in (helpdesk, widget, stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session: Option<SessionId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct MessageState {
    /// 1 for the first message of the conversation, 2 for the next, …
    seq: u64,
    author: UserId,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    reactions: BTreeSet<(Emoji, UserId)>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    hidden: bool,
}

impl Conversation {
    /// The event-log stream of a conversation or channel. `/` cannot occur
    /// in either id, so different (kind, tenant, id) never share a stream.
    pub fn stream_id(kind: Kind, tenant: &TenantId, id: &ConversationId) -> String {
        format!("{}{tenant}/{id}", kind.stream_prefix())
    }

    /// Does this stream hold a conversation's or a channel's events?
    pub fn owns_stream(stream_id: &str) -> bool {
        [Kind::Conversation, Kind::Channel]
            .iter()
            .any(|k| stream_id.starts_with(k.stream_prefix()))
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

    /// The support session it was opened in, with its opener.
    fn session_owner(&self) -> Option<SessionOwner> {
        let opened = self.opened.as_ref()?;
        Some(SessionOwner {
            session_id: opened.session.clone()?,
            user_id: opened.opened_by.clone(),
        })
    }

    /// The support status (channels stay `new`: they have no workflow).
    pub fn status(&self) -> Status {
        self.support.status
    }

    /// The agent handling the conversation, if any.
    pub fn agent(&self) -> Option<&UserId> {
        self.support.agent.as_ref()
    }

    /// Decide what happens. Pure: no clock, no IO; refusals produce no events.
    pub fn handle(&self, cmd: ConversationCommand) -> Result<Vec<ConversationEvent>, DomainError> {
        let ConversationCommand {
            kind,
            conversation,
            actor,
            at,
            action,
        } = cmd;
        let tenant = actor.tenant.clone();
        let place = Place {
            tenant: &tenant,
            kind,
            id: &conversation,
            at,
        };

        let Some(opened) = &self.opened else {
            return match action {
                Action::Join | Action::Start(_) => {
                    if !actor.role.may_participate() {
                        return Err(DomainError::Forbidden(format!(
                            "the {} role cannot open a {kind}",
                            actor.role
                        )));
                    }
                    let channel = (kind == Kind::Channel).then(|| ChannelInfo {
                        name: conversation.to_string(),
                        description: String::new(),
                        topic: String::new(),
                        created_by: actor.user.clone(),
                        created_at: at,
                    });
                    let support = match action {
                        Action::Start(details) if kind == Kind::Conversation => Some(details),
                        _ => None,
                    };
                    Ok(vec![
                        ConversationEvent::ConversationOpened(ConversationOpened {
                            tenant: tenant.clone(),
                            kind,
                            conversation_id: conversation.clone(),
                            opened_by: actor.user.clone(),
                            opened_by_role: actor.role,
                            channel,
                            support,
                            at,
                        }),
                        place.joined(&actor, None),
                    ])
                }
                _ => Err(not_found(kind, &conversation)),
            };
        };
        // Streams are per kind and tenant, so this only guards against a
        // caller bug; answer as if it did not exist rather than leak it.
        if opened.tenant != tenant || opened.id != conversation || opened.kind != kind {
            return Err(not_found(kind, &conversation));
        }
        // Access before state: a customer who never took part in this
        // conversation is refused before any rule that looks at its state,
        // so no answer tells them whether it is ended, assigned or empty.
        // (Joining has rules of its own; leaving what one is not in is a
        // no-op.)
        let newcomer_rules = matches!(
            action,
            Action::Join | Action::Rejoin | Action::Start(_) | Action::Leave
        );
        if kind == Kind::Conversation
            && actor.role == Role::Customer
            && !newcomer_rules
            && !self.admitted.contains(&actor.user)
            && !self.is_member(&actor.user)
        {
            return Err(DomainError::Forbidden(
                "only participants and staff may write to this conversation".into(),
            ));
        }

        match action {
            Action::Join | Action::Rejoin | Action::Start(_) => {
                // An agent joining a waiting conversation takes it.
                let mut taken = self.take_on_join(&place, &actor);
                if self.is_member(&actor.user) {
                    return Ok(taken);
                }
                let allowed = match kind {
                    Kind::Channel => actor.role.may_participate(),
                    Kind::Conversation => {
                        actor.role.is_staff()
                            || (actor.role == Role::Customer && self.admitted.contains(&actor.user))
                    }
                };
                if !allowed {
                    return Err(DomainError::Forbidden(match kind {
                        Kind::Conversation => {
                            "customers may join only conversations they opened or were added to"
                                .into()
                        }
                        Kind::Channel => format!("the {} role cannot join channels", actor.role),
                    }));
                }
                taken.insert(0, place.joined(&actor, None));
                Ok(taken)
            }
            Action::Leave => {
                if !self.is_member(&actor.user) {
                    return Ok(vec![]);
                }
                Ok(vec![ConversationEvent::ParticipantLeft(ParticipantLeft {
                    tenant,
                    kind,
                    conversation_id: conversation,
                    user_id: actor.user.clone(),
                    user_name: actor.display_name().to_owned(),
                    role: Some(actor.role),
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
                Ok(vec![place.joined(&added, Some(actor.user.clone()))])
            }
            Action::PostMessage(message) => {
                self.ensure_may_post(&actor)?;
                // A resend of a message already posted: done already.
                if self.messages.contains_key(&message.id) {
                    return Ok(vec![]);
                }
                if message.provenance.is_some() && actor.role != Role::Service {
                    return Err(DomainError::Forbidden(
                        "only the assistant may post an answer with provenance".into(),
                    ));
                }
                if message.kind != MessageKind::Text && !actor.role.is_staff() {
                    return Err(DomainError::Forbidden(format!(
                        "only staff may post {} messages",
                        message.kind.as_str()
                    )));
                }
                if self.support.status.is_over() {
                    return Err(DomainError::InvalidState(format!(
                        "the conversation has {}",
                        self.support.status
                    )));
                }
                let staff = actor.role.is_staff();
                let first_response_seconds = (staff
                    && kind == Kind::Conversation
                    && message.kind == MessageKind::Text
                    && !self.support.answered)
                    .then(|| {
                        self.support
                            .queued_at
                            .or(self.support.opened_at)
                            .map(|since| seconds(since, at))
                    })
                    .flatten();
                let activated = (kind == Kind::Conversation
                    && self.support.status == Status::New
                    && actor.role == Role::Customer)
                    .then(|| {
                        ConversationEvent::ConversationActivated(ConversationActivated {
                            tenant: tenant.clone(),
                            conversation_id: conversation.clone(),
                            status: if self.support.chatbot {
                                Status::Ai
                            } else {
                                Status::Active
                            },
                            at,
                        })
                    });
                let posted = ConversationEvent::MessagePosted(MessagePosted {
                    tenant,
                    kind,
                    conversation_id: conversation,
                    message_id: message.id,
                    author_id: actor.user.clone(),
                    author_name: actor.display_name().to_owned(),
                    author_role: actor.role,
                    content: message.body.into(),
                    content_type: message.kind.as_str().into(),
                    optimistic_id: message.optimistic_id.map(Into::into),
                    thread_id: message.thread_id,
                    mentions: message.mentions,
                    hidden: message.kind == MessageKind::Robot,
                    first_response_seconds,
                    provenance: message.provenance,
                    metadata: message.metadata.map(Into::into),
                    number: Some(self.message_count + 1),
                    owner: self.session_owner(),
                    at,
                });
                Ok(std::iter::once(posted).chain(activated).collect())
            }
            Action::EditMessage { id, body, metadata } => {
                self.ensure_may_write(&actor)?;
                self.ensure_author_or_staff(&actor, self.live_message(&id)?, "edit")?;
                Ok(vec![ConversationEvent::MessageEdited(MessageEdited {
                    tenant,
                    kind,
                    conversation_id: conversation,
                    message_id: id,
                    content: body.into(),
                    metadata: metadata.map(Into::into),
                    edited_by: actor.user.clone(),
                    edited_by_name: actor.display_name().to_owned(),
                    at,
                })])
            }
            Action::DeleteMessage { id } => {
                self.ensure_may_write(&actor)?;
                let message = self
                    .messages
                    .get(&id)
                    .ok_or_else(|| message_not_found(&id))?;
                if message.deleted {
                    return Ok(vec![]);
                }
                self.ensure_author_or_staff(&actor, message, "delete")?;
                Ok(vec![ConversationEvent::MessageDeleted(MessageDeleted {
                    tenant,
                    kind,
                    conversation_id: conversation,
                    message_id: id,
                    deleted_by: actor.user.clone(),
                    deleted_by_name: actor.display_name().to_owned(),
                    at,
                })])
            }
            Action::React { id, emoji, add } => {
                self.ensure_may_write(&actor)?;
                let message = self.live_message(&id)?;
                let present = message
                    .reactions
                    .contains(&(emoji.clone(), actor.user.clone()));
                if present == add {
                    return Ok(vec![]);
                }
                let reaction = Reaction {
                    tenant,
                    kind,
                    conversation_id: conversation,
                    message_id: id,
                    emoji: emoji.into(),
                    user_id: actor.user.clone(),
                    user_name: actor.display_name().to_owned(),
                    at,
                };
                Ok(vec![if add {
                    ConversationEvent::ReactionAdded(reaction)
                } else {
                    ConversationEvent::ReactionRemoved(reaction)
                }])
            }
            Action::MarkRead { ids } => {
                self.ensure_may_write(&actor)?;
                if ids.is_empty() || ids.len() > MAX_READ_BATCH {
                    return Err(DomainError::invalid(
                        "messageIds",
                        format!("must name 1 to {MAX_READ_BATCH} messages"),
                    ));
                }
                let mut ids = ids;
                let mut seen = BTreeSet::new();
                ids.retain(|id| seen.insert(id.clone()));
                let mut newest: Option<(u64, &MessageId)> = None;
                for id in &ids {
                    let seq = self
                        .messages
                        .get(id)
                        .ok_or_else(|| message_not_found(id))?
                        .seq;
                    if newest.is_none_or(|(best, _)| seq > best) {
                        newest = Some((seq, id));
                    }
                }
                let Some((seq, last_read)) = newest else {
                    return Ok(vec![]);
                };
                // Reading something older than the marker tells no one anything.
                if self.read_marks.get(&actor.user).is_some_and(|&m| m >= seq) {
                    return Ok(vec![]);
                }
                let last_read = last_read.clone();
                Ok(vec![ConversationEvent::MessagesRead(MessagesRead {
                    tenant,
                    kind,
                    conversation_id: conversation,
                    user_id: actor.user.clone(),
                    user_name: actor.display_name().to_owned(),
                    message_ids: ids,
                    last_read,
                    at,
                })])
            }
            Action::StartTyping | Action::StopTyping => {
                self.ensure_may_write(&actor)?;
                let typing = Typing {
                    tenant,
                    kind,
                    conversation_id: conversation,
                    user_id: actor.user.clone(),
                    user_name: actor.display_name().to_owned(),
                    role: Some(actor.role),
                    at,
                };
                Ok(vec![if matches!(action, Action::StartTyping) {
                    ConversationEvent::TypingStarted(typing)
                } else {
                    ConversationEvent::TypingStopped(typing)
                }])
            }
            Action::UpdateChannel(changes) => {
                let Some(channel) = &opened.channel else {
                    return Err(DomainError::InvalidState(
                        "only channels have a name, description and topic".into(),
                    ));
                };
                if !actor.role.is_staff() && channel.created_by != actor.user {
                    return Err(DomainError::Forbidden(
                        "only the channel's creator and staff may update it".into(),
                    ));
                }
                if changes.is_empty() {
                    return Err(DomainError::invalid(
                        "updates",
                        "must change name, description or topic",
                    ));
                }
                let set = ChannelChangeSet {
                    name: changes.name.map(|n| n.as_str().to_owned()),
                    description: changes.description.map(|d| d.as_str().to_owned()),
                    topic: changes.topic.map(|t| t.as_str().to_owned()),
                };
                let mut after = channel.clone();
                if let Some(name) = &set.name {
                    after.name.clone_from(name);
                }
                if let Some(description) = &set.description {
                    after.description.clone_from(description);
                }
                if let Some(topic) = &set.topic {
                    after.topic.clone_from(topic);
                }
                Ok(vec![ConversationEvent::ChannelUpdated(ChannelUpdated {
                    tenant,
                    conversation_id: conversation,
                    changes: set,
                    channel: after,
                    updated_by: actor.user.clone(),
                    updated_by_name: actor.display_name().to_owned(),
                    at,
                })])
            }
            action @ (Action::Escalate { .. }
            | Action::Claim
            | Action::Assign { .. }
            | Action::End { .. }
            | Action::Close
            | Action::Rate { .. }
            | Action::UpdateMetadata(_)
            | Action::ShareMessage { .. }) => {
                if kind == Kind::Channel {
                    return Err(DomainError::InvalidState(
                        "channels have no support workflow".into(),
                    ));
                }
                self.handle_support(&place, &actor, action)
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
                    kind: e.kind,
                    channel: e.channel,
                    session: e.support.as_ref().and_then(|s| s.session_id.clone()),
                });
                self.admitted.insert(e.opened_by);
                // Opened as a support conversation (a widget, the chatbot seed's
                // join, the helpdesk or the stream): the assistant handles it
                // first, however its customer signed in.
                self.support.chatbot = e.support.is_some();
                self.support.opened_at = Some(e.at);
                self.support.last_activity = Some(e.at);
            }
            ConversationEvent::ParticipantJoined(e) => {
                self.admitted.insert(e.user_id.clone());
                self.members.insert(e.user_id);
            }
            ConversationEvent::ParticipantLeft(e) => {
                self.members.remove(&e.user_id);
            }
            ConversationEvent::MessagePosted(e) => {
                self.message_count += 1;
                self.support.last_activity = Some(e.at);
                if e.author_role.is_staff() && e.content_type == "text" {
                    self.support.answered = true;
                }
                self.messages.insert(
                    e.message_id,
                    MessageState {
                        seq: self.message_count,
                        author: e.author_id,
                        deleted: false,
                        reactions: BTreeSet::new(),
                        hidden: e.hidden,
                    },
                );
            }
            ConversationEvent::MessageDeleted(e) => {
                if let Some(message) = self.messages.get_mut(&e.message_id) {
                    message.deleted = true;
                    message.reactions.clear();
                }
            }
            ConversationEvent::ReactionAdded(e) => {
                if let (Some(message), Ok(emoji)) =
                    (self.messages.get_mut(&e.message_id), Emoji::parse(e.emoji))
                {
                    message.reactions.insert((emoji, e.user_id));
                }
            }
            ConversationEvent::ReactionRemoved(e) => {
                if let (Some(message), Ok(emoji)) =
                    (self.messages.get_mut(&e.message_id), Emoji::parse(e.emoji))
                {
                    message.reactions.remove(&(emoji, e.user_id));
                }
            }
            ConversationEvent::MessagesRead(e) => {
                if let Some(seq) = self.messages.get(&e.last_read).map(|m| m.seq) {
                    let mark = self.read_marks.entry(e.user_id).or_default();
                    *mark = (*mark).max(seq);
                }
            }
            ConversationEvent::ChannelUpdated(e) => {
                if let Some(opened) = &mut self.opened {
                    opened.channel = Some(e.channel);
                }
            }
            ConversationEvent::ConversationActivated(_)
            | ConversationEvent::ConversationEscalated(_)
            | ConversationEvent::AgentAssigned(_)
            | ConversationEvent::ConversationEnded(_)
            | ConversationEvent::ConversationClosed(_)
            | ConversationEvent::ConversationRated(_)
            | ConversationEvent::ConversationMetadataUpdated(_)
            | ConversationEvent::MessageShared(_) => self.apply_support(event),
            ConversationEvent::MessageEdited(_)
            | ConversationEvent::TypingStarted(_)
            | ConversationEvent::TypingStopped(_) => {}
        }
    }

    /// Writing, and for the assistant (a service) posting its answers.
    fn ensure_may_post(&self, actor: &Actor) -> Result<(), DomainError> {
        if actor.role == Role::Service {
            return Ok(());
        }
        self.ensure_may_write(actor)
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

    /// A message that exists and was not deleted.
    fn live_message(&self, id: &MessageId) -> Result<&MessageState, DomainError> {
        self.messages
            .get(id)
            .filter(|m| !m.deleted)
            .ok_or_else(|| message_not_found(id))
    }

    fn ensure_author_or_staff(
        &self,
        actor: &Actor,
        message: &MessageState,
        verb: &str,
    ) -> Result<(), DomainError> {
        if message.author == actor.user || actor.role.is_staff() {
            Ok(())
        } else {
            Err(DomainError::Forbidden(format!(
                "only its author and staff may {verb} a message"
            )))
        }
    }
}

/// Where a command happens, for building events.
struct Place<'a> {
    tenant: &'a TenantId,
    kind: Kind,
    id: &'a ConversationId,
    at: crate::Timestamp,
}

impl Place<'_> {
    fn joined(&self, who: &Actor, added_by: Option<UserId>) -> ConversationEvent {
        ConversationEvent::ParticipantJoined(ParticipantJoined {
            tenant: self.tenant.clone(),
            kind: self.kind,
            conversation_id: self.id.clone(),
            user_id: who.user.clone(),
            user_name: who.display_name().to_owned(),
            role: who.role,
            added_by,
            at: self.at,
        })
    }
}

fn not_found(kind: Kind, conversation: &ConversationId) -> DomainError {
    DomainError::NotFound(format!("{kind} {conversation}"))
}

fn message_not_found(id: &MessageId) -> DomainError {
    DomainError::NotFound(format!("message {id}"))
}
