//! `presence:update {status, customStatus?, statusText?}` and
//! `presence:heartbeat`. Everyone in the caller's org room (the caller's own
//! sockets included) hears `presence:update` through the projection; the
//! ack callback, if any, gets the same payload (or `{timestamp}` for a
//! heartbeat). A heartbeat is recorded as activity and pushes nothing.
//! Anonymous widget visitors have no presence: both are `FORBIDDEN` to them.

use chrono::{DateTime, Utc};
use domain::ids::UserId;
use domain::presence::{CustomStatus, PresenceAction, PresenceStatus, StatusText};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Instant;

use super::DIALECT;
use crate::dialect::{Inbound, Request};
use crate::error::WireError;
use crate::presence;
use crate::wire_time;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PresenceUpdate {
    status: String,
    custom_status: Option<String>,
    status_text: Option<String>,
}

/// Nobody tracks a visitor's sockets, so a status they set would never
/// time out; and staff presence is not for the public either.
fn refuse_widget_visitors(req: &Request) -> Result<(), WireError> {
    match crate::socket::widget(&req.socket) {
        Some(_) => Err(WireError::forbidden(
            "widget visitors are anonymous and have no presence",
        )),
        None => Ok(()),
    }
}

/// A status decoded and checked.
type Status = (PresenceStatus, Option<CustomStatus>, Option<StatusText>);

/// The status the payload sets (no IO).
pub(super) fn decode(req: &Inbound) -> Result<Status, WireError> {
    let input: PresenceUpdate = req.parse()?;
    let status = PresenceStatus::parse(&input.status)?;
    let custom_status = CustomStatus::parse_optional(input.custom_status)?;
    let status_text = StatusText::parse_optional(input.status_text)?;
    Ok((status, custom_status, status_text))
}

pub async fn update(req: &Request) -> Result<(), WireError> {
    refuse_widget_visitors(req)?;
    let (status, custom_status, status_text) = decode(&req.inbound())?;
    let actor = &req.actor;
    req.state
        .presence_tracker
        .seen(&actor.tenant, &actor.user, Instant::now());
    let answer = |at| {
        payload(
            &actor.user,
            actor.display_name(),
            status,
            custom_status.as_ref().map(CustomStatus::as_str),
            status_text.as_ref().map(StatusText::as_str),
            at,
        )
    };
    let action = PresenceAction::SetStatus {
        status,
        custom_status: custom_status.clone(),
        status_text: status_text.clone(),
    };
    let at = presence::run(
        &req.state.commands,
        &req.origin(DIALECT),
        "presence:update",
        &actor.tenant,
        &actor.user,
        actor.display_name(),
        action,
    )
    .await?;
    req.answer(&answer(at));
    Ok(())
}

pub async fn heartbeat(req: &Request) -> Result<(), WireError> {
    refuse_widget_visitors(req)?;
    // The seed's heartbeat has no payload; whatever comes is ignored.
    let actor = &req.actor;
    req.state
        .presence_tracker
        .seen(&actor.tenant, &actor.user, Instant::now());
    let at = presence::run(
        &req.state.commands,
        &req.origin(DIALECT),
        "presence:heartbeat",
        &actor.tenant,
        &actor.user,
        actor.display_name(),
        PresenceAction::Heartbeat,
    )
    .await?;
    req.answer(&json!({ "timestamp": wire_time(at) }));
    Ok(())
}

/// `presence:update` to clients: `{userId, userName, status, customStatus,
/// statusText, timestamp}`.
pub fn payload(
    user: &UserId,
    user_name: &str,
    status: PresenceStatus,
    custom_status: Option<&str>,
    status_text: Option<&str>,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "userId": user.as_str(),
        "userName": user_name,
        "status": status.as_str(),
        "customStatus": custom_status,
        "statusText": status_text,
        "timestamp": wire_time(at),
    })
}
