//! The world every projection test runs in, and the fixtures they share.
//!
//! A world is a fresh database on one backend (`both_backends!` runs each
//! test on both), its event log, the command side of each aggregate the
//! read models follow, and a clock. Each test file adds the commands it
//! speaks in an `impl World` block of its own.

// Every test file is a crate of its own and uses only part of this.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework};
use domain::DomainError;
use domain::access_key::AccessKey;
use domain::actor::{Actor, Role};
use domain::call::Call;
use domain::conversation::{
    Action, Conversation, ConversationCommand, Kind, MessageKind, NewMessage,
};
use domain::ids::{ConversationId, MessageId, TenantId, UserId};
use domain::knowledge::Article;
use domain::message::MessageBody;
use domain::presence::Presence;
use domain::swarm::SwarmSession;
use projections::update::Change;
use projections::{Projector, Update};
use store::testing::TestDatabase;
use store::{AggregateStore, Backend, EventLog};
use tokio::sync::broadcast;
use uuid::Uuid;

/// The command side of one aggregate, on the world's log.
pub type Cqrs<A> = CqrsFramework<A, AggregateStore<A>>;

/// What the gateway records with a command.
pub type Metadata = HashMap<String, String>;

pub struct World {
    _db: TestDatabase,
    pub log: EventLog,
    pub conversations: Cqrs<Conversation>,
    pub calls: Cqrs<Call>,
    pub swarms: Cqrs<SwarmSession>,
    pub articles: Cqrs<Article>,
    pub keys: Cqrs<AccessKey>,
    pub presence: Cqrs<Presence>,
    clock: AtomicI64,
}

fn cqrs<A: Aggregate<Services = ()> + 'static>(log: &EventLog) -> Cqrs<A> {
    CqrsFramework::new(AggregateStore::new(log.clone(), 100, 100), vec![], ())
}

impl World {
    pub async fn new(backend: Backend) -> Self {
        let db = TestDatabase::new(backend).await;
        let log = EventLog::connect(db.url()).await.unwrap();
        Self {
            conversations: cqrs(&log),
            calls: cqrs(&log),
            swarms: cqrs(&log),
            articles: cqrs(&log),
            keys: cqrs(&log),
            presence: cqrs(&log),
            _db: db,
            log,
            clock: 0.into(),
        }
    }

    /// A projector running every projection Parley runs.
    pub async fn projector(&self) -> Projector {
        Projector::start(self.log.clone(), projections::all())
            .await
            .unwrap()
    }

    /// The next distinct, increasing command time.
    pub fn tick(&self) -> DateTime<Utc> {
        t(self.clock.fetch_add(1, Ordering::SeqCst))
    }

    /// Wait until each named projection has applied the whole log.
    pub async fn wait_for(&self, projector: &Projector, names: &[&str]) {
        for name in names {
            assert!(
                projector
                    .wait_for(name, self.log.head(), Duration::from_secs(10))
                    .await,
                "{name} did not catch up"
            );
        }
    }

    /// Run a conversation command as `who`, at `at`.
    pub async fn converse(
        &self,
        kind: Kind,
        who: &Actor,
        conversation: &str,
        at: DateTime<Utc>,
        action: Action,
        metadata: Metadata,
    ) -> Result<(), AggregateError<DomainError>> {
        let command = ConversationCommand {
            kind,
            conversation: conv(conversation),
            actor: who.clone(),
            at,
            action,
        };
        let stream = Conversation::stream_id(kind, &who.tenant, &command.conversation);
        execute(&self.conversations, &stream, command, metadata).await
    }
}

/// Run `command` on `stream` with `metadata`.
pub async fn execute<A>(
    framework: &Cqrs<A>,
    stream: &str,
    command: A::Command,
    metadata: Metadata,
) -> Result<(), AggregateError<DomainError>>
where
    A: Aggregate<Error = DomainError> + 'static,
{
    framework
        .execute_with_metadata(stream, command, metadata)
        .await
}

/// A command's metadata: its tenant and a fresh command id.
pub fn metadata(tenant: &TenantId) -> Metadata {
    HashMap::from([
        ("tenant".to_owned(), tenant.to_string()),
        ("command_id".to_owned(), Uuid::now_v7().to_string()),
    ])
}

/// A command's metadata when `who` sent it from their socket
/// (`socket-of-{user}`), which updates name as their origin.
pub fn from_socket(who: &Actor) -> Metadata {
    let mut metadata = metadata(&who.tenant);
    metadata.insert("socket_id".to_owned(), format!("socket-of-{}", who.user));
    metadata
}

/// `second` seconds past the tests' epoch, 2026-11-22 09:00 UTC.
pub fn t(second: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + Span::seconds(second)
}

/// `user` of `tenant` with `role`, named as their id in capitals.
pub fn person(tenant: &str, user: &str, role: Role) -> Actor {
    Actor {
        user: UserId::parse(user).unwrap(),
        tenant: TenantId::parse(tenant).unwrap(),
        role,
        name: Some(user.to_uppercase()),
    }
}

pub fn tenant_id(raw: &str) -> TenantId {
    TenantId::parse(raw).unwrap()
}

pub fn conv(raw: &str) -> ConversationId {
    ConversationId::parse(raw).unwrap()
}

pub fn user(raw: &str) -> UserId {
    UserId::parse(raw).unwrap()
}

/// A new message `text` of `kind`, and its id.
pub fn message(text: impl Into<String>, kind: MessageKind) -> (MessageId, Action) {
    let id = MessageId::generate();
    let action = Action::PostMessage(NewMessage {
        id: id.clone(),
        body: MessageBody::parse(text.into()).unwrap(),
        optimistic_id: None,
        thread_id: None,
        mentions: vec![],
        kind,
        provenance: None,
        metadata: None,
    });
    (id, action)
}

/// The next update, waiting for it (updates are published just after the
/// checkpoint moves, so a caught-up projection may not have sent it yet).
pub async fn next(updates: &mut broadcast::Receiver<Arc<Update>>) -> Arc<Update> {
    tokio::time::timeout(Duration::from_secs(10), updates.recv())
        .await
        .expect("an update in time")
        .expect("the update channel is open")
}

/// The changes of the next `n` updates, waiting for each.
pub async fn next_changes(updates: &mut broadcast::Receiver<Arc<Update>>, n: usize) -> Vec<Change> {
    let mut got = Vec::new();
    for _ in 0..n {
        got.push(next(updates).await.change.clone());
    }
    got
}
