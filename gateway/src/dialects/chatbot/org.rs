//! The organisation's notification room (staff only):
//! - `join-org {orgId, userId?}` → `org-joined {orgId, roomName,
//!   timestamp}`; `orgId` must be the caller's tenant and `userId`, when
//!   given, the caller; otherwise `error {code: "JOIN_ORG_FAILED"}`;
//! - `leave-org {orgId}` → `org-left {orgId, timestamp}`.
//!
//! The room hears `notification {type, title, message, data, timestamp}`
//! when a conversation is queued (`conversation-queued`) or escalated to
//! supervisors (`conversation-escalated`), and when a customer rates one
//! `bad` (`bad-rating`); `data` holds `conversationId`, `status`, `userId`
//! and what the event adds (`reason`, `comment`, `agentId`).

use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::org_room;
use crate::dialect::{Inbound, Request};
use crate::error::{ErrorCode, WireError};
use crate::wire_time;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Org {
    org_id: Option<String>,
    user_id: Option<String>,
}

fn failed(message: &str) -> WireError {
    WireError::new(ErrorCode::JoinOrgFailed, message)
}

/// The organisation to follow, if the caller may (no IO).
pub(super) fn decode_join(req: &Inbound) -> Result<String, WireError> {
    let request: Org = req.parse().map_err(|e| failed(&e.message))?;
    let org = request.org_id.ok_or_else(|| failed("orgId is required"))?;
    if org != req.actor.tenant.as_str() {
        return Err(failed("orgId is not your organisation"));
    }
    if request
        .user_id
        .is_some_and(|user| user != req.actor.user.as_str())
    {
        return Err(failed("userId is not you"));
    }
    if !req.actor.role.is_staff() {
        return Err(failed(
            "only agents, supervisors and admins follow the organisation's notifications",
        ));
    }
    Ok(org)
}

pub async fn join(req: &Request) -> Result<(), WireError> {
    let org = decode_join(&req.inbound())?;
    let room = org_room(&req.actor.tenant);
    req.socket.join(room.clone());
    req.reply(
        "org-joined",
        &json!({ "orgId": org, "roomName": room, "timestamp": wire_time(Utc::now()) }),
    );
    Ok(())
}

/// The organisation to stop following (no IO).
pub(super) fn decode_leave(req: &Inbound) -> Result<String, WireError> {
    let request: Org = req.parse()?;
    let org = request
        .org_id
        .ok_or_else(|| WireError::validation("orgId is required"))?;
    if org != req.actor.tenant.as_str() {
        return Err(WireError::forbidden("orgId is not your organisation"));
    }
    Ok(org)
}

pub async fn leave(req: &Request) -> Result<(), WireError> {
    let org = decode_leave(&req.inbound())?;
    req.socket.leave(org_room(&req.actor.tenant));
    req.reply(
        "org-left",
        &json!({ "orgId": org, "timestamp": wire_time(Utc::now()) }),
    );
    Ok(())
}
