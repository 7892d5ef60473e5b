//! `escalate {conversationId, reason?}`: ask for a human. The room hears
//! `status-change {status: "queued", conversationId}` (or `escalated`, when
//! the conversation's agent hands it up), and every waiting customer of the
//! tenant its `queue-update`. Escalating a waiting conversation again
//! changes nothing.

use domain::conversation::{Action, Remark};
use serde::Deserialize;

use super::{conversation, invalid_in, run};
use crate::error::WireError;
use crate::socket::Call;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Escalate {
    conversation_id: Option<String>,
    reason: Option<String>,
}

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let request: Escalate = call.parse()?;
    let room = conversation(call, request.conversation_id.as_deref())?;
    let reason = request
        .reason
        .map(|r| Remark::parse("reason", r))
        .transpose()
        .map_err(invalid_in(&room))?;
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
