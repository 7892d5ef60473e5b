//! `swarm:subscribe {sessionId, afterSequence?}` → `swarm:subscribed
//! {sessionId}` (and the ack), then the session's steps so far as
//! `swarm:update {sessionId, sequence, step, timestamp}`, in order, so a
//! late subscriber catches up; later steps are pushed to the room.
//!
//! The socket joins the room before the read, and the read waits until the
//! projection has applied everything appended so far: a step is sent in the
//! catch-up or pushed afterwards, never neither. Around the join a step can
//! come both ways, and a live push can overtake the end of the catch-up:
//! clients order and de-duplicate by `sequence`. `afterSequence` (not in
//! the seed) skips the steps a reconnecting client already has.

use domain::swarm::SwarmSessionId;
use projections::swarm_steps;
use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError};
use std::time::Duration;

use super::swarm::{SessionRef, swarm_room, swarm_update};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

/// Steps read per query while catching up (each up to 64 KiB).
const PAGE: u32 = 100;
/// How long catching up waits for a socket whose send buffer is full.
const PATIENCE: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subscribe {
    #[serde(flatten)]
    session: SessionRef,
    after_sequence: Option<u64>,
}

/// The session, and the step after which to catch up (no IO).
pub(super) fn decode(input: &Inbound) -> Result<(SwarmSessionId, Option<u64>), WireError> {
    let request: Subscribe = input.parse()?;
    Ok((request.session.resolve()?, request.after_sequence))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let (session, after_sequence) = decode(&req.inbound())?;
    let tenant = &req.actor.tenant;
    req.socket.join(swarm_room(tenant, &session));
    req.reply(
        "swarm:subscribed",
        &json!({ "sessionId": session.as_str() }),
    );

    let state = &req.state;
    // If this times out the socket still gets every later step (it is in
    // the room), but the catch-up may lack the newest ones.
    state.read_your_writes(swarm_steps::NAME).await;
    let mut after = after_sequence.unwrap_or(0);
    loop {
        let page = swarm_steps::steps_after(state.log.db(), tenant, &session, after, PAGE).await?;
        for step in &page {
            if let Err(error) = emit_patiently(&req.socket, &swarm_update(step)).await {
                tracing::debug!(socket = %req.socket.id, %error, "swarm catch-up stopped");
                return Ok(());
            }
            after = step.sequence;
        }
        if page.len() < PAGE as usize {
            return Ok(());
        }
    }
}

/// Emit, waiting (a while) for room in the socket's send buffer: a long
/// catch-up must not overflow it.
async fn emit_patiently(socket: &SocketRef, payload: &Value) -> Result<(), SendError> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match socket.emit("swarm:update", payload) {
            Err(SendError::Socket(SocketError::InternalChannelFull))
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            result => return result,
        }
    }
}
