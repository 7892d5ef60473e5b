//! `escalate {conversationId, reason?}`: ask for a human. The room hears
//! `status-change {status: "queued", conversationId}` (or `escalated`, when
//! the conversation's agent hands it up), and every waiting customer of the
//! tenant its `queue-update`. Escalating a waiting conversation again
//! changes nothing.

use domain::Room;
use domain::conversation::{Action, Remark};
use serde::Deserialize;

use super::{DIALECT, conversation, invalid_in};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Escalate {
    conversation_id: Option<String>,
    reason: Option<String>,
}

/// The conversation and the reason given (no IO).
pub(super) fn decode(req: &Inbound) -> Result<(Room, Option<Remark>), WireError> {
    let request: Escalate = req.parse()?;
    let room = conversation(req, request.conversation_id.as_deref())?;
    let reason = request
        .reason
        .map(|r| Remark::parse("reason", r))
        .transpose()
        .map_err(invalid_in(&room))?;
    Ok((room, reason))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let (room, reason) = decode(&req.inbound())?;
    req.state
        .commands
        .on_conversation(
            &req.origin_as(DIALECT, &req.actor),
            "escalate",
            &room,
            Action::Escalate { reason },
            None,
        )
        .await?;
    super::done(req, &room);
    Ok(())
}
