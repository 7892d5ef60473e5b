//! `activity:subscribe {customerId?}` → the socket joins the tenant's
//! activity feed (`activity:{tenant}`) and gets `activity:subscribed
//! {customerId, room}`; from then on `activity:new` for every conversation
//! and channel opened, member joined and message posted in the tenant.
//! Staff only. `activity:unsubscribe` leaves it (`activity:unsubscribed`).
//!
//! The seed names the room but no way into it; a feed is opt-in because
//! every message of the tenant reaches every subscriber: joining all staff
//! sockets on connect would multiply the message path's fan-out by the
//! number of agents online.

use serde::Deserialize;
use serde_json::json;

use super::activity_room;
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subscribe {
    customer_id: Option<String>,
}

/// The feed's room, if the caller may follow it (no IO).
pub(super) fn decode(req: &Inbound) -> Result<String, WireError> {
    let request: Subscribe = req.parse()?;
    if let Some(customer) = &request.customer_id
        && customer != req.actor.tenant.as_str()
    {
        return Err(WireError::forbidden(
            "customerId does not match your tenant",
        ));
    }
    if !req.actor.role.is_staff() {
        return Err(WireError::forbidden(
            "only agents, supervisors and admins may follow the activity feed",
        ));
    }
    Ok(activity_room(&req.actor.tenant))
}

pub async fn subscribe(req: &Request) -> Result<(), WireError> {
    let room = decode(&req.inbound())?;
    req.socket.join(room.clone());
    req.reply(
        "activity:subscribed",
        &json!({ "customerId": req.actor.tenant.as_str(), "room": room }),
    );
    Ok(())
}

pub async fn unsubscribe(req: &Request) -> Result<(), WireError> {
    let room = decode(&req.inbound())?;
    req.socket.leave(room.clone());
    req.reply(
        "activity:unsubscribed",
        &json!({ "customerId": req.actor.tenant.as_str(), "room": room }),
    );
    Ok(())
}
