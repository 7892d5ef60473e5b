//! The support policies the server runs on its own: auto-assignment of
//! queued conversations to agents at work and the idle timeout, by
//! tenants' settings (the JSON shapes of support conversations are in the
//! `wire` crate).
//!
//! - `runner`: [`PolicyRunner`], started and stopped with the server.

mod runner;

pub use runner::PolicyRunner;

use domain::actor::Actor;
use domain::ids::TenantId;
use domain::settings::SupportSettings;
use std::sync::Mutex;
use tokio::sync::mpsc;

use crate::error::WireError;
use crate::state::AppState;

/// The `dialect` recorded for commands the server's policies run.
pub const SERVER: &str = "gateway";

/// Tenants whose queue may now be served: the policy runner's inbox.
pub struct Nudges {
    nudges: mpsc::UnboundedSender<TenantId>,
    inbox: Mutex<Option<mpsc::UnboundedReceiver<TenantId>>>,
}

impl Default for Nudges {
    fn default() -> Self {
        let (nudges, inbox) = mpsc::unbounded_channel();
        Self {
            nudges,
            inbox: Mutex::new(Some(inbox)),
        }
    }
}

impl Nudges {
    /// Ask the policy runner to look at `tenant`'s queue (cheap; repeated
    /// nudges for one tenant are served by one pass).
    pub fn nudge(&self, tenant: &TenantId) {
        // Nobody listening (the runner stopped): nothing to do.
        let _ = self.nudges.send(tenant.clone());
    }

    fn take_inbox(&self) -> Option<mpsc::UnboundedReceiver<TenantId>> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// A socket connected: a staff member may take queued conversations now.
pub fn staff_connected(state: &AppState, actor: &Actor) {
    if actor.role.is_staff() {
        state.nudges.nudge(&actor.tenant);
    }
}

/// A tenant's settings as the log has them now. Read from the log rather
/// than a cache: another node may have changed them, and the stream is a
/// handful of events.
pub async fn settings(state: &AppState, tenant: &TenantId) -> Result<SupportSettings, WireError> {
    let stream = SupportSettings::stream_id(tenant);
    let events = state
        .log
        .read_stream(&stream, 0)
        .await
        .map_err(|e| WireError::internal(&e))?;
    let mut settings = SupportSettings::default();
    for event in &events {
        let event = store::aggregate::decode_payload::<SupportSettings>(event)
            .map_err(|e| WireError::internal(&e))?;
        settings.apply(event);
    }
    Ok(settings)
}
