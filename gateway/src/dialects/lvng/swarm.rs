//! What the lvng swarm events share: the swarm room and the `swarm:update`
//! payload.

use domain::ids::TenantId;
use domain::swarm::SwarmSessionId;
use projections::swarm_steps::SwarmStepView;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::WireError;
use crate::wire_time;

/// The room of a swarm session (the seed's `swarm:{sessionId}`, with the
/// tenant so that no two tenants share one). Neither part can contain `:`.
pub fn swarm_room(tenant: &TenantId, session: &SwarmSessionId) -> String {
    format!("swarm:{tenant}:{session}")
}

/// `{sessionId}`, as every swarm event names its session.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SessionRef {
    session_id: String,
}

impl SessionRef {
    pub(super) fn resolve(&self) -> Result<SwarmSessionId, WireError> {
        SwarmSessionId::parse(self.session_id.as_str()).map_err(WireError::from)
    }
}

/// `swarm:update {sessionId, sequence, step, timestamp}`.
pub(super) fn swarm_update(s: &SwarmStepView) -> Value {
    json!({
        "sessionId": s.session_id.as_str(),
        "sequence": s.sequence,
        "step": s.step,
        "timestamp": wire_time(s.at),
    })
}
