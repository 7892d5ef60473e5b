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
use crate::commands::Command;
use crate::dialect::{Inbound, Request};
use crate::error::WireError;
use crate::wire_time;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Activity {
    activity: Option<String>,
    data: Option<Value>,
}

/// The activity the payload reports (no IO).
pub(super) fn decode_activity(req: &Inbound) -> Result<TrackingAction, WireError> {
    let request: Activity = req.parse()?;
    let activity = request
        .activity
        .ok_or_else(|| WireError::validation("activity is required"))?;
    let action = TrackingAction::TrackActivity {
        activity: ActivityName::parse(activity)?,
        data: request.data.map(ActivityData::parse).transpose()?,
    };
    Ok(action)
}

pub async fn track_activity(req: &Request) -> Result<(), WireError> {
    let action = decode_activity(&req.inbound())?;
    record(req, "track-activity", action).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageView {
    page: Option<String>,
    referrer: Option<String>,
}

/// The page view the payload reports (no IO).
pub(super) fn decode_page_view(req: &Inbound) -> Result<TrackingAction, WireError> {
    let request: PageView = req.parse()?;
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

pub async fn page_view(req: &Request) -> Result<(), WireError> {
    let action = decode_page_view(&req.inbound())?;
    record(req, "page-view", action).await
}

async fn record(
    req: &Request,
    command: &'static str,
    action: TrackingAction,
) -> Result<(), WireError> {
    let actor = &req.actor;
    let stream = Visitor::stream_id(&actor.tenant, &actor.user);
    req.state
        .commands
        .run(
            &req.state.commands.visitors,
            Command {
                origin: &req.origin(DIALECT),
                name: command,
                stream: &stream,
                id: None,
                make: |at| TrackingCommand {
                    actor: Actor::clone(actor),
                    at,
                    action: action.clone(),
                },
            },
        )
        .await?;
    req.answer(&json!({ "success": true, "timestamp": wire_time(chrono::Utc::now()) }));
    Ok(())
}
