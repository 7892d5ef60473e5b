//! `end-conversation {conversationId, reason?}` → `conversation-ended
//! {conversationId, reason}` and `status-change {status: "ended"}` to the
//! room. A customer ends it as `user_ended`; staff as `agent_ended`, or
//! `resolved` when they say so in `reason` (an addition to the seed).
//! Ending twice is `INVALID_STATE`.

use domain::Room;
use domain::conversation::{Action, EndReason};
use serde::Deserialize;

use super::{DIALECT, conversation, invalid_in};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct End {
    conversation_id: Option<String>,
    reason: Option<String>,
}

/// The conversation, and why the caller ends it (no IO).
pub(super) fn decode(req: &Inbound) -> Result<(Room, EndReason), WireError> {
    let request: End = req.parse()?;
    let room = conversation(req, request.conversation_id.as_deref())?;
    let reason = if req.actor.role.is_staff() {
        match request.reason.as_deref() {
            None => EndReason::AgentEnded,
            Some(raw) => match EndReason::parse(raw).map_err(invalid_in(&room))? {
                reason @ (EndReason::AgentEnded | EndReason::Resolved) => reason,
                _ => {
                    return Err(WireError::validation(
                        "staff end a conversation as agent_ended or resolved",
                    )
                    .in_conversation(room.id.as_str()));
                }
            },
        }
    } else {
        // Customers have one reason; anyone else is refused by the domain.
        EndReason::UserEnded
    };
    Ok((room, reason))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let (room, reason) = decode(&req.inbound())?;
    let action = Action::End {
        reason,
        idle_since: None,
    };
    req.state
        .commands
        .on_conversation(
            &req.origin_as(DIALECT, &req.actor),
            "end-conversation",
            &room,
            action,
            None,
        )
        .await?;
    super::done(req, &room);
    Ok(())
}
