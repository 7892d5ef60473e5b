//! The command service: every aggregate's cqrs framework and the commands
//! in flight, with one way to run a command ([`Commands::run`]) that
//! answers with what was recorded.
//!
//! `recorded`: the [`Recorder`] query that hands a command's events back.

mod recorded;

pub use recorded::Recorder;

use chrono::{SubsecRound, Utc};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework};
use domain::Room;
use domain::access_key::AccessKey;
use domain::actor::Actor;
use domain::call::{Call, CallAction, CallCommand, RoomName};
use domain::conversation::{Action, Conversation, ConversationCommand};
use domain::knowledge::Article;
use domain::presence::Presence;
use domain::settings::SupportSettings;
use domain::swarm::SwarmSession;
use domain::tracking::Visitor;
use domain::{DomainError, Timestamp};
use std::collections::HashMap;
use store::aggregate::{META_COMMAND_ID, META_TENANT};
use store::{AggregateStore, EventLog, Position};
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::config::Config;
use crate::error::WireError;

/// A conflict means another writer (another node, or a stale cached copy)
/// got there first; the aggregate is reloaded and the command decided again.
const ATTEMPTS: usize = 3;

/// One aggregate type's framework, with the query that hands its events
/// back to the command that recorded them.
pub struct Aggregates<A: Aggregate + 'static> {
    framework: CqrsFramework<A, AggregateStore<A>>,
    recorder: Recorder<A>,
}

impl<A> Aggregates<A>
where
    A: Aggregate<Error = DomainError, Services = ()> + 'static,
{
    fn new(log: &EventLog, config: &Config) -> Self {
        let recorder = Recorder::default();
        let store = AggregateStore::new(log.clone(), config.aggregate_cache, config.snapshot_every);
        Self {
            framework: CqrsFramework::new(store, vec![Box::new(recorder.clone())], ()),
            recorder,
        }
    }
}

/// Cheap to share: held once in the application state.
pub struct Commands {
    pub conversations: Aggregates<Conversation>,
    pub presences: Aggregates<Presence>,
    pub calls: Aggregates<Call>,
    pub swarm_sessions: Aggregates<SwarmSession>,
    /// Widget and API keys (issued and revoked over REST).
    pub access_keys: Aggregates<AccessKey>,
    /// Site activity and page views (the chatbot dialect's tracking).
    pub visitors: Aggregates<Visitor>,
    /// The knowledge base's articles (written over REST).
    pub articles: Aggregates<Article>,
    /// Tenants' support settings (changed over REST).
    pub support_settings: Aggregates<SupportSettings>,
    /// Commands in flight; shutdown waits for them before closing the log.
    inflight: TaskTracker,
}

/// Who sent a command, and through what.
pub struct Origin<'a> {
    pub actor: &'a Actor,
    pub dialect: &'static str,
    pub socket_id: Option<String>,
}

/// When a command was recorded, and where in the log: what the commands
/// of the message path answer (their events are not copied out).
#[derive(Debug, Clone, Copy)]
pub struct Stamped {
    /// The time its events carry; when it changed nothing, the time it
    /// was decided at.
    pub at: Timestamp,
    /// The log position of its last event; `None` when it changed nothing.
    pub position: Option<Position>,
}

/// What a command recorded.
#[derive(Debug)]
pub struct Recorded<E> {
    /// The time its events carry; when it changed nothing, the time it
    /// was decided at.
    pub at: Timestamp,
    /// The log position of its last event; `None` when it changed nothing.
    pub position: Option<Position>,
    pub events: Vec<E>,
}

impl<E> Recorded<E> {
    fn stamped(&self) -> Stamped {
        Stamped {
            at: self.at,
            position: self.position,
        }
    }
}

/// A command for `stream`: `make` builds it for a given time (and is
/// called again on each retry, with the same time).
pub struct Command<'a, F> {
    pub origin: &'a Origin<'a>,
    /// The wire name of what asked for it (recorded as metadata).
    pub name: &'static str,
    pub stream: &'a str,
    /// Makes the command idempotent: the same id always yields the same
    /// event ids, so a retry writes nothing new. A fresh one when `None`.
    pub id: Option<Uuid>,
    pub make: F,
}

impl Commands {
    pub fn new(log: &EventLog, config: &Config) -> Self {
        Self {
            conversations: Aggregates::new(log, config),
            presences: Aggregates::new(log, config),
            calls: Aggregates::new(log, config),
            swarm_sessions: Aggregates::new(log, config),
            access_keys: Aggregates::new(log, config),
            visitors: Aggregates::new(log, config),
            articles: Aggregates::new(log, config),
            support_settings: Aggregates::new(log, config),
            inflight: TaskTracker::new(),
        }
    }

    /// Commands (and clean-ups) in flight: shutdown waits for them.
    pub fn inflight(&self) -> &TaskTracker {
        &self.inflight
    }

    /// Run a command on one aggregate, tracked so that shutdown waits for
    /// it, retried on a conflict.
    pub async fn run<A, F>(
        &self,
        aggregates: &Aggregates<A>,
        command: Command<'_, F>,
    ) -> Result<Recorded<A::Event>, WireError>
    where
        A: Aggregate<Error = DomainError> + 'static,
        F: Fn(Timestamp) -> A::Command,
    {
        self.run_keeping(aggregates, command, true).await
    }

    /// [`Commands::run`], answering with the events too when `events`.
    async fn run_keeping<A, F>(
        &self,
        aggregates: &Aggregates<A>,
        command: Command<'_, F>,
        events: bool,
    ) -> Result<Recorded<A::Event>, WireError>
    where
        A: Aggregate<Error = DomainError> + 'static,
        F: Fn(Timestamp) -> A::Command,
    {
        let command_id = command.id.unwrap_or_else(Uuid::now_v7);
        let metadata = metadata(command.origin, command.name, command_id);
        // The wire shows milliseconds; storing exactly that makes a client's
        // `createdAt` a precise cursor.
        let at = Utc::now().trunc_subsecs(3);
        let claim = aggregates.recorder.claim(command_id, events);
        let attempts = async {
            let mut attempt = 1;
            loop {
                match aggregates
                    .framework
                    .execute_with_metadata(command.stream, (command.make)(at), metadata.clone())
                    .await
                {
                    Err(AggregateError::AggregateConflict) if attempt < ATTEMPTS => attempt += 1,
                    result => return result.map_err(WireError::from),
                }
            }
        };
        self.inflight.track_future(attempts).await?;
        let (position, events) = claim.take();
        Ok(Recorded {
            at,
            position,
            events,
        })
    }

    /// Run `action` on a conversation or channel of the caller's tenant;
    /// errors name the conversation.
    pub async fn on_conversation(
        &self,
        origin: &Origin<'_>,
        name: &'static str,
        room: &Room,
        action: Action,
        id: Option<Uuid>,
    ) -> Result<Stamped, WireError> {
        let stream = Conversation::stream_id(room.kind, &origin.actor.tenant, &room.id);
        let command = Command {
            origin,
            name,
            stream: &stream,
            id,
            make: |at| ConversationCommand {
                kind: room.kind,
                conversation: room.id.clone(),
                actor: origin.actor.clone(),
                at,
                action: action.clone(),
            },
        };
        match self.run_keeping(&self.conversations, command, false).await {
            Ok(recorded) => Ok(recorded.stamped()),
            Err(error) => Err(error.in_conversation(room.id.as_str())),
        }
    }
}

impl Commands {
    /// Run `action` in the call room `room` of the caller's tenant.
    pub async fn on_call(
        &self,
        origin: &Origin<'_>,
        name: &'static str,
        room: &RoomName,
        action: CallAction,
    ) -> Result<Stamped, WireError> {
        let stream = Call::stream_id(&origin.actor.tenant, room);
        let command = Command {
            origin,
            name,
            stream: &stream,
            id: None,
            make: |at| CallCommand {
                room: room.clone(),
                actor: origin.actor.clone(),
                at,
                action: action.clone(),
            },
        };
        let recorded = self.run_keeping(&self.calls, command, false).await?;
        Ok(recorded.stamped())
    }
}

/// What every event records about the command that caused it.
fn metadata(origin: &Origin<'_>, command: &str, command_id: Uuid) -> HashMap<String, String> {
    let mut metadata = HashMap::from([
        (META_TENANT.to_owned(), origin.actor.tenant.to_string()),
        (META_COMMAND_ID.to_owned(), command_id.to_string()),
        ("correlation_id".to_owned(), command_id.to_string()),
        ("actor".to_owned(), origin.actor.user.to_string()),
        ("role".to_owned(), origin.actor.role.to_string()),
        ("dialect".to_owned(), origin.dialect.to_owned()),
        ("command".to_owned(), command.to_owned()),
    ]);
    if let Some(socket) = &origin.socket_id {
        metadata.insert("socket_id".to_owned(), socket.clone());
    }
    metadata
}
