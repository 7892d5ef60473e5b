//! REST for support consoles, all scoped to the caller's tenant (another
//! tenant's conversation is unknown: 404):
//!
//! - `GET /api/v1/queue` (staff) → `{queue: [{conversationId, userId,
//!   status, position, estimatedWait, queuedAt}]}`;
//! - `POST /api/v1/conversations/{id}/claim` (staff) → the conversation;
//!   409 `INVALID_STATE` when someone else has it;
//! - `POST /api/v1/conversations/{id}/end` `{reason?: "agent_ended" |
//!   "resolved"}` (staff) → the conversation; 409 if it has ended;
//! - `POST /api/v1/conversations/{id}/escalate` `{reason?}` (its customer or
//!   staff) → the conversation;
//! - `GET /api/v1/metrics?from=&to=` (staff and analysts) → `{from, to,
//!   overall, perAgent, perDay}`;
//! - `GET /api/v1/settings/assignment` (staff) and `PUT` (admins)
//!   `{autoAssign, maxConcurrent?}` → `{autoAssign, maxConcurrent}`;
//! - the support filters of `GET /api/v1/conversations` ([`Filters`]).
//!
//! "The conversation" is the chatbot seed's `IConversation` without its
//! messages (see `wire::support::conversation`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use domain::Room;
use domain::actor::{Actor, Role};
use domain::conversation::{Action, EndReason, Kind, Remark, Status};
use domain::ids::{ConversationId, TenantId, UserId};
use domain::settings::{MaxConcurrent, SettingsAction, SettingsCommand, SupportSettings};
use projections::conversation_list::{self, ConversationSummary};
use projections::support::{self as read_model, SupportQuery, SupportView};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::HashMap;

use super::Caller;
use crate::commands::{Command, Origin};
use crate::error::{ErrorCode, WireError};
use crate::state::AppState;
use wire::support as render;

const DIALECT: &str = "http";

fn staff_only(actor: &Actor) -> Result<(), WireError> {
    if actor.role.is_staff() {
        Ok(())
    } else {
        Err(WireError::forbidden(
            "only staff (agents, supervisors, admins) may do this",
        ))
    }
}

/// A JSON object body; an empty body reads as `{}`.
fn body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, WireError> {
    let body = body.map_err(|rejection| {
        let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ErrorCode::PayloadTooLarge
        } else {
            ErrorCode::ValidationError
        };
        WireError::new(code, rejection.body_text())
    })?;
    let raw: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &body
    };
    serde_json::from_slice(raw).map_err(|e| {
        WireError::validation("the body must be a JSON object with the documented fields")
            .with_details(e.to_string())
    })
}

/// Run `action` on a conversation of the caller's tenant, then answer with
/// the conversation as it stands after it.
async fn act(
    state: &AppState,
    actor: &Actor,
    command: &'static str,
    raw_id: String,
    action: Action,
) -> Result<Json<Value>, WireError> {
    let id = ConversationId::parse(raw_id)?;
    let origin = Origin {
        actor,
        dialect: DIALECT,
        socket_id: None,
    };
    let room = Room::new(actor.tenant.clone(), Kind::Conversation, id.clone());
    state
        .commands
        .on_conversation(&origin, command, &room, action, None)
        .await?;
    state.read_your_writes(read_model::NAME).await;
    let view = read_model::get(state.log.db(), &actor.tenant, &id)
        .await?
        .ok_or_else(|| WireError::not_found(format!("conversation {id} not found")))?;
    Ok(Json(render::conversation(&view)))
}

pub(super) async fn queue(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Value>, WireError> {
    staff_only(&actor)?;
    state.read_your_writes(read_model::NAME).await;
    let queue = read_model::queue(state.log.db(), &actor.tenant).await?;
    Ok(Json(json!({
        "queue": queue.iter().map(render::queue_entry).collect::<Vec<_>>(),
    })))
}

pub(super) async fn claim(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, WireError> {
    staff_only(&actor)?;
    act(&state, &actor, "support:claim", id, Action::Claim).await
}

#[derive(Deserialize)]
struct ReasonBody {
    reason: Option<String>,
}

pub(super) async fn end(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, WireError> {
    staff_only(&actor)?;
    let request: ReasonBody = body(raw)?;
    let reason = match request.reason.as_deref() {
        None | Some("agent_ended") => EndReason::AgentEnded,
        Some("resolved") => EndReason::Resolved,
        Some(other) => {
            return Err(WireError::validation(format!(
                "reason {other:?} is not \"agent_ended\" or \"resolved\""
            )));
        }
    };
    let action = Action::End {
        reason,
        idle_since: None,
    };
    act(&state, &actor, "support:end", id, action).await
}

pub(super) async fn escalate(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, WireError> {
    let request: ReasonBody = body(raw)?;
    let reason = request
        .reason
        .map(|r| Remark::parse("reason", r))
        .transpose()?;
    act(
        &state,
        &actor,
        "support:escalate",
        id,
        Action::Escalate { reason },
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct Period {
    from: Option<String>,
    to: Option<String>,
}

pub(super) async fn metrics(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(period): Query<Period>,
) -> Result<Json<Value>, WireError> {
    if !(actor.role.is_staff() || actor.role == Role::Analyst) {
        return Err(WireError::forbidden(
            "only staff and analysts may read metrics",
        ));
    }
    let from = instant("from", period.from.as_deref(), false)?;
    let to = instant("to", period.to.as_deref(), true)?;
    state.read_your_writes(read_model::NAME).await;
    let metrics = read_model::metrics(state.log.db(), &actor.tenant, from, to).await?;
    let mut answer = render::metrics(&metrics);
    answer["from"] = json!(from.map(crate::wire_time));
    answer["to"] = json!(to.map(crate::wire_time));
    Ok(Json(answer))
}

/// An instant from a query parameter: RFC 3339, or a date (`YYYY-MM-DD`,
/// midnight UTC). Periods are `[from, to)`; a date as the end includes that
/// whole day (it reads as the next midnight).
fn instant(field: &str, raw: Option<&str>, end: bool) -> Result<Option<DateTime<Utc>>, WireError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        WireError::validation(format!(
            "{field} {raw:?} is not a date (YYYY-MM-DD) or an ISO 8601 time"
        ))
    })?;
    let day = if end {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    Ok(day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()))
}

pub(super) async fn get_assignment(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Value>, WireError> {
    staff_only(&actor)?;
    let settings = crate::policies::settings(&state, &actor.tenant).await?;
    Ok(Json(assignment(&settings)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssignmentBody {
    auto_assign: Option<bool>,
    max_concurrent: Option<i64>,
}

pub(super) async fn put_assignment(
    State(state): State<AppState>,
    Caller(actor): Caller,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, WireError> {
    if actor.role != Role::Admin {
        return Err(WireError::forbidden("only admins change support settings"));
    }
    let request: AssignmentBody = body(raw)?;
    let enabled = request
        .auto_assign
        .ok_or_else(|| WireError::validation("autoAssign (true or false) is required"))?;
    let max_concurrent = request
        .max_concurrent
        .map(MaxConcurrent::parse)
        .transpose()?;
    let origin = Origin {
        actor: &actor,
        dialect: DIALECT,
        socket_id: None,
    };
    state
        .commands
        .run(
            &state.commands.support_settings,
            Command {
                origin: &origin,
                name: "support:settings",
                stream: &SupportSettings::stream_id(&actor.tenant),
                id: None,
                make: |at| SettingsCommand {
                    actor: actor.clone(),
                    at,
                    action: SettingsAction::SetAutoAssignment {
                        enabled,
                        max_concurrent,
                    },
                },
            },
        )
        .await?;
    // Turned on: the queue may be served at once.
    state.nudges.nudge(&actor.tenant);
    let settings = crate::policies::settings(&state, &actor.tenant).await?;
    Ok(Json(assignment(&settings)))
}

fn assignment(settings: &SupportSettings) -> Value {
    json!({
        "autoAssign": settings.auto_assignment() != domain::policy::AutoAssignment::Off,
        "maxConcurrent": settings.max_concurrent(),
    })
}

/// The support filters of `GET /api/v1/conversations` (the chatbot seed's
/// `request-conversation-list`). With any of them the list comes from the
/// support read model: conversations only, newest first (by creation), and
/// for customers those they opened.
#[derive(Debug, Default)]
pub(super) struct Filters {
    pub status: Option<String>,
    pub agent_id: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

impl Filters {
    pub fn any(&self) -> bool {
        [
            &self.status,
            &self.agent_id,
            &self.start_date,
            &self.end_date,
        ]
        .iter()
        .any(|f| f.as_deref().is_some_and(|v| !v.trim().is_empty()))
    }
}

/// The support list, each conversation with the list's fields and the
/// support fields.
pub(super) async fn filtered_list(
    state: &AppState,
    actor: &Actor,
    kind: Kind,
    page: u64,
    limit: u32,
    filters: &Filters,
) -> Result<Json<Value>, WireError> {
    if kind != Kind::Conversation {
        return Err(WireError::validation(
            "status, agentId, startDate and endDate filter conversations, not channels",
        ));
    }
    let query = SupportQuery {
        tenant: actor.tenant.clone(),
        status: text(&filters.status).map(Status::parse).transpose()?,
        agent: text(&filters.agent_id).map(UserId::parse).transpose()?,
        customer: (actor.role == Role::Customer).then(|| actor.user.clone()),
        from: instant("startDate", filters.start_date.as_deref(), false)?,
        to: instant("endDate", filters.end_date.as_deref(), true)?,
        page: u32::try_from(page).unwrap_or(u32::MAX),
        limit,
    };
    for projection in [
        read_model::NAME,
        conversation_list::NAME,
        projections::conversation_messages::NAME,
    ] {
        state.read_your_writes(projection).await;
    }
    let db = state.log.db();
    let (views, total) = read_model::list(db, &query).await?;
    let mut conversations = Vec::with_capacity(views.len());
    for view in &views {
        let listed = match conversation_list::get(db, &view.room).await? {
            Some(mut summary) => {
                summary.unread_count =
                    Some(conversation_list::unread_count(db, &view.room, &actor.user).await?);
                super::summary(&summary)
            }
            None => json!({}),
        };
        conversations.push(with_support(listed, Some(view)));
    }
    Ok(Json(json!({
        "conversations": conversations,
        "pagination": {
            "page": page,
            "limit": limit,
            "total": total,
            "totalPages": total.div_ceil(u64::from(limit)),
        },
    })))
}

/// A filter's value, if it has one (blank is none).
fn text(filter: &Option<String>) -> Option<&str> {
    filter.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The support rows of a page of the conversation list, by id.
pub(super) async fn views_of(
    state: &AppState,
    tenant: &TenantId,
    items: &[ConversationSummary],
) -> Result<HashMap<ConversationId, SupportView>, WireError> {
    let ids: Vec<ConversationId> = items
        .iter()
        .filter(|c| c.room.kind == Kind::Conversation)
        .map(|c| c.room.id.clone())
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    state.read_your_writes(read_model::NAME).await;
    Ok(read_model::get_many(state.log.db(), tenant, &ids).await?)
}

/// A listed conversation with the support fields added (the list's own
/// fields win where both have one).
pub(super) fn with_support(mut listed: Value, view: Option<&SupportView>) -> Value {
    if let (Some(view), Value::Object(fields)) = (view, &mut listed)
        && let Value::Object(support) = render::conversation(view)
    {
        for (key, value) in support {
            fields.entry(key).or_insert(value);
        }
    }
    listed
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn periods_take_instants_and_whole_days() {
        let noon = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let midnight = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
        assert_eq!(
            instant("from", Some("2026-11-22T12:00:00Z"), false).unwrap(),
            Some(noon)
        );
        assert_eq!(
            instant("from", Some("2026-11-22"), false).unwrap(),
            Some(midnight)
        );
        assert_eq!(
            instant("to", Some("2026-11-22"), true).unwrap(),
            Some(midnight + chrono::Duration::days(1))
        );
        assert_eq!(instant("to", Some(" "), true).unwrap(), None);
        assert_eq!(instant("to", None, true).unwrap(), None);
        let refused = instant("startDate", Some("last week"), false).unwrap_err();
        assert_eq!(refused.code, ErrorCode::ValidationError);
    }

    #[test]
    fn listed_fields_win_over_support_fields() {
        let listed = json!({ "conversationId": "c1", "messageCount": 3 });
        assert_eq!(with_support(listed.clone(), None), listed);
    }
}
