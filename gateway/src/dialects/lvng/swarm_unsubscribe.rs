//! `swarm:unsubscribe {sessionId}` → `swarm:unsubscribed {sessionId}` (not
//! in the seed, which names only `swarm:subscribed`) and the ack; the socket
//! hears no more of the session.

use domain::swarm::SwarmSessionId;
use serde_json::json;

use super::swarm::{SessionRef, swarm_room};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

/// The session to stop hearing (no IO).
pub(super) fn decode(input: &Inbound) -> Result<SwarmSessionId, WireError> {
    input.parse::<SessionRef>()?.resolve()
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let session = decode(&req.inbound())?;
    req.socket.leave(swarm_room(&req.actor.tenant, &session));
    req.reply(
        "swarm:unsubscribed",
        &json!({ "sessionId": session.as_str() }),
    );
    Ok(())
}
