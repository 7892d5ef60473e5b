//! `join-knowledge-room {tenantId}` → `knowledge-room-joined {tenantId}`
//! (the caller's own tenant only; otherwise the seed's
//! `JOIN_KNOWLEDGE_ERROR`).

use serde::Deserialize;
use serde_json::json;

use super::knowledge::knowledge_room;
use crate::dialect::{Inbound, Request};
use crate::error::{ErrorCode, WireError};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JoinKnowledge {
    tenant_id: Option<String>,
}

/// The seed's code for every refusal of `join-knowledge-room`.
pub(super) fn join_failed(message: impl Into<String>) -> WireError {
    WireError::new(ErrorCode::JoinKnowledgeError, message)
}

/// Whether the caller may join the room the payload names (no IO).
pub(super) fn decode_join(req: &Inbound) -> Result<(), WireError> {
    let request: JoinKnowledge = req.parse().map_err(|e| join_failed(e.message))?;
    if let Some(tenant) = &request.tenant_id
        && tenant != req.actor.tenant.as_str()
    {
        return Err(join_failed("tenantId is not the caller's tenant"));
    }
    Ok(())
}

pub async fn join(req: &Request) -> Result<(), WireError> {
    decode_join(&req.inbound())?;
    req.socket.join(knowledge_room(req));
    req.reply(
        "knowledge-room-joined",
        &json!({ "tenantId": req.actor.tenant.as_str() }),
    );
    Ok(())
}
