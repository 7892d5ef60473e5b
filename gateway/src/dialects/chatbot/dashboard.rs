//! `subscribe-dashboard {dashboardId}` (staff only) → `dashboard-subscribed
//! {dashboardId, timestamp}`; from then on, on every change to a support
//! conversation of the tenant, `dashboard-update {dashboardId, queue:
//! {length, entries}, change, timestamp}` (an addition to the seed, which
//! names no update event): `entries` as `GET /api/v1/queue` lists them,
//! `change` is `{type, conversationId, status, …}` (see `push`). A socket
//! may follow several dashboards; each gets its own updates. Subscriptions
//! last as long as the connection.

use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::{dashboard_room_prefix, dashboards_room, socket_state};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;
use crate::wire_time;

/// Longest dashboard id accepted.
const MAX_ID_CHARS: usize = 128;
/// Dashboards one socket may follow.
const MAX_DASHBOARDS: usize = 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subscribe {
    dashboard_id: Option<String>,
}

/// The dashboard to follow, if the caller may (no IO).
pub(super) fn decode(req: &Inbound) -> Result<String, WireError> {
    let request: Subscribe = req.parse()?;
    let id = request
        .dashboard_id
        .ok_or_else(|| WireError::validation("dashboardId is required"))?;
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS || id.chars().any(char::is_control) {
        return Err(WireError::validation(format!(
            "dashboardId must be 1 to {MAX_ID_CHARS} characters without control characters"
        )));
    }
    if !req.actor.role.is_staff() {
        return Err(WireError::forbidden(
            "only agents, supervisors and admins follow dashboards",
        ));
    }
    Ok(id)
}

pub async fn subscribe(req: &Request) -> Result<(), WireError> {
    let id = decode(&req.inbound())?;
    let added = socket_state(req).with(|s| {
        if s.dashboards.len() >= MAX_DASHBOARDS && !s.dashboards.contains(&id) {
            return false;
        }
        s.dashboards.insert(id.clone());
        true
    });
    if !added {
        return Err(WireError::validation(format!(
            "a connection follows at most {MAX_DASHBOARDS} dashboards"
        )));
    }
    let tenant = &req.actor.tenant;
    req.socket
        .join([dashboards_room(tenant), dashboard_room_prefix(tenant) + &id]);
    req.reply(
        "dashboard-subscribed",
        &json!({ "dashboardId": id, "timestamp": wire_time(Utc::now()) }),
    );
    Ok(())
}
