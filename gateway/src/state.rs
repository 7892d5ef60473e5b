//! What every handler shares.

use cqrs_es::CqrsFramework;
use domain::access_key::AccessKey;
use domain::call::Call;
use domain::conversation::Conversation;
use domain::knowledge::Article;
use domain::presence::Presence;
use domain::swarm::SwarmSession;
use domain::tracking::Visitor;
use projections::Projector;
use std::sync::Arc;
use store::{AggregateStore, EventLog};
use tokio_util::task::TaskTracker;

use crate::auth::Authenticator;
use crate::commands::Recorder;
use crate::config::Config;
use crate::presence::PresenceTracker;

pub type Conversations = CqrsFramework<Conversation, AggregateStore<Conversation>>;
pub type Presences = CqrsFramework<Presence, AggregateStore<Presence>>;
pub type Calls = CqrsFramework<Call, AggregateStore<Call>>;
pub type SwarmSessions = CqrsFramework<SwarmSession, AggregateStore<SwarmSession>>;
pub type AccessKeys = CqrsFramework<AccessKey, AggregateStore<AccessKey>>;
pub type Visitors = CqrsFramework<Visitor, AggregateStore<Visitor>>;
pub type Articles = CqrsFramework<Article, AggregateStore<Article>>;

/// Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub log: EventLog,
    pub conversations: Conversations,
    pub presences: Presences,
    /// Sockets and last signs of life per user, on this node.
    pub presence_tracker: PresenceTracker,
    pub calls: Calls,
    /// Runs with `swarm_recorder` among its queries (posting a step answers
    /// with its sequence).
    pub swarm_sessions: SwarmSessions,
    pub swarm_recorder: Recorder<SwarmSession>,
    /// Widget and API keys (issued and revoked over REST).
    pub access_keys: AccessKeys,
    pub projector: Projector,
    pub auth: Authenticator,
    /// Support settings and the policy runner's inbox.
    pub support: crate::support::Support,
    /// Commands in flight; shutdown waits for them before closing the log.
    pub inflight: TaskTracker,
    /// Site activity and page views (the chatbot dialect's tracking).
    pub visitors: Visitors,
    /// The knowledge base's articles (written over REST).
    pub articles: Articles,
    /// Cancelled when shutdown begins: connections the HTTP server no longer
    /// tracks (upgraded WebSockets) close themselves.
    pub closing: tokio_util::sync::CancellationToken,
    /// The assistant's answers being written on this node.
    pub assistant: crate::assistant::Assistant,
    /// Event budgets and connection caps across reconnects, on this node.
    pub limits: crate::limits::Limits,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl Inner {
    /// Wait until `projection` reflects everything appended so far, so that
    /// a query answers with what the caller was already acknowledged. Gives
    /// up (with a warning) after the configured timeout.
    pub async fn read_your_writes(&self, projection: &str) {
        let head = self.log.head();
        let timeout = self.config.read_your_writes_timeout();
        if !self.projector.wait_for(projection, head, timeout).await {
            tracing::warn!(
                projection,
                head,
                "answering before the projection caught up"
            );
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
