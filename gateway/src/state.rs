//! What every handler shares.

use projections::Projector;
use std::sync::Arc;
use store::EventLog;

use crate::auth::Authenticator;
use crate::commands::Commands;
use crate::config::Config;
use crate::presence::PresenceTracker;

/// Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub log: EventLog,
    /// Every aggregate's framework, and the commands in flight.
    pub commands: Commands,
    /// Sockets and last signs of life per user, on this node.
    pub presence_tracker: PresenceTracker,
    pub projector: Projector,
    pub auth: Authenticator,
    /// The policy runner's inbox: tenants whose queue may now be served.
    pub nudges: crate::policies::Nudges,
    /// Cancelled when shutdown begins: connections the HTTP server no longer
    /// tracks (upgraded WebSockets) close themselves.
    pub closing: tokio_util::sync::CancellationToken,
    /// The assistant's answers being written on this node.
    pub assistant: crate::assistant::Assistant,
    /// Event budgets and connection caps across reconnects, on this node.
    pub limits: crate::limits::Limits,
    /// The wire dialects the server speaks.
    pub dialects: crate::dialect::Dialects,
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
