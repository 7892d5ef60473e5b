//! What every handler shares.

use cqrs_es::CqrsFramework;
use domain::conversation::Conversation;
use projections::Projector;
use std::sync::Arc;
use store::{AggregateStore, EventLog};
use tokio_util::task::TaskTracker;

use crate::auth::Authenticator;
use crate::config::Config;

pub type Conversations = CqrsFramework<Conversation, AggregateStore<Conversation>>;

/// Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub log: EventLog,
    pub conversations: Conversations,
    pub projector: Projector,
    pub auth: Authenticator,
    /// Commands in flight; shutdown waits for them before closing the log.
    pub inflight: TaskTracker,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
