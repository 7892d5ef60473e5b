//! `track-activity {activity, data?}` and `page-view {page, referrer?}`:
//! recorded as `ActivityTracked` and `PageViewed` on the caller's visitor
//! stream (`visitor/{tenant}/{user}`). The seed defines no answer: the ack
//! callback, if the client gave one, gets `{success: true, timestamp}` once
//! the event is durable; otherwise nothing is sent.

use domain::actor::Actor;
use domain::tracking::{
    ActivityData, ActivityName, PageUrl, TrackingAction, TrackingCommand, Visitor,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::DIALECT;
use crate::commands;
use crate::error::WireError;
use crate::socket::{Call, Inbound};
use crate::wire_time;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Activity {
    activity: Option<String>,
    data: Option<Value>,
}

/// The activity the payload reports (no IO).
pub(super) fn decode_activity(call: &Inbound) -> Result<TrackingAction, WireError> {
    let request: Activity = call.parse()?;
    let activity = request
        .activity
        .ok_or_else(|| WireError::validation("activity is required"))?;
    let action = TrackingAction::TrackActivity {
        activity: ActivityName::parse(activity)?,
        data: request.data.map(ActivityData::parse).transpose()?,
    };
    Ok(action)
}

pub async fn track_activity(call: &Call) -> Result<(), WireError> {
    let action = decode_activity(&call.inbound())?;
    record(call, "track-activity", action).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageView {
    page: Option<String>,
    referrer: Option<String>,
}

/// The page view the payload reports (no IO).
pub(super) fn decode_page_view(call: &Inbound) -> Result<TrackingAction, WireError> {
    let request: PageView = call.parse()?;
    let page = request
        .page
        .ok_or_else(|| WireError::validation("page is required"))?;
    let action = TrackingAction::ViewPage {
        page: PageUrl::parse("page", page)?,
        referrer: request
            .referrer
            .filter(|r| !r.is_empty())
            .map(|r| PageUrl::parse("referrer", r))
            .transpose()?,
    };
    Ok(action)
}

pub async fn page_view(call: &Call) -> Result<(), WireError> {
    let action = decode_page_view(&call.inbound())?;
    record(call, "page-view", action).await
}

async fn record(
    call: &Call,
    command: &'static str,
    action: TrackingAction,
) -> Result<(), WireError> {
    let actor = &call.actor;
    let stream = Visitor::stream_id(&actor.tenant, &actor.user);
    commands::run(
        &call.state,
        &call.state.visitors,
        &call.origin(DIALECT),
        command,
        &stream,
        None,
        |at| TrackingCommand {
            actor: Actor::clone(actor),
            at,
            action: action.clone(),
        },
    )
    .await?;
    call.answer(&json!({ "success": true, "timestamp": wire_time(chrono::Utc::now()) }));
    Ok(())
}
