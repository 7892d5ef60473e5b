//! `escalate {conversationId, reason?}`: ask for a human. The room hears
//! `status-change {status: "queued", conversationId}` (or `escalated`, when
//! the conversation's agent hands it up), and every waiting customer of the
//! tenant its `queue-update`. Escalating a waiting conversation again
//! changes nothing.

use domain::conversation::{Action, Remark};
use projections::Room;
use serde::Deserialize;

use super::{conversation, invalid_in, run};
use crate::error::WireError;
use crate::socket::{Call, Inbound};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Escalate {
    conversation_id: Option<String>,
    reason: Option<String>,
}

/// The conversation and the reason given (no IO).
pub(super) fn decode(call: &Inbound) -> Result<(Room, Option<Remark>), WireError> {
    let request: Escalate = call.parse()?;
    let room = conversation(call, request.conversation_id.as_deref())?;
    let reason = request
        .reason
        .map(|r| Remark::parse("reason", r))
        .transpose()
        .map_err(invalid_in(&room))?;
    Ok((room, reason))
}

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let (room, reason) = decode(&call.inbound())?;
    run(
        call,
        &call.actor,
        "escalate",
        &room,
        Action::Escalate { reason },
    )
    .await?;
    super::done(call, &room);
    Ok(())
}
