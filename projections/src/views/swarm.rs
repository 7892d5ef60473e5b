//! What a swarm step looks like to readers and in updates: a plain value,
//! no projection code.

use chrono::{DateTime, Utc};
use domain::ids::{TenantId, UserId};
use domain::swarm::SwarmSessionId;
use serde_json::Value;
use store::Position;

/// One step, as queries and updates present it.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmStepView {
    pub tenant: TenantId,
    pub session_id: SwarmSessionId,
    pub sequence: u64,
    pub position: Position,
    /// The JSON object as posted.
    pub step: Value,
    pub posted_by: UserId,
    pub at: DateTime<Utc>,
}
