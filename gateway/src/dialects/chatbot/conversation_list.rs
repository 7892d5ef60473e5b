//! The tenant's conversations, for consoles (staff only):
//! - `join-conversation-list {tenantId}` → `joined-conversation-list
//!   {tenantId}`; the socket then hears `status-change {status,
//!   conversationId, agentName?, agentId?}` for every conversation of the
//!   tenant that is opened (`new`) or changes status;
//! - `request-conversation-list {page?, limit?, status?, agentId?,
//!   startDate?, endDate?}` → `conversation-list {success, data:
//!   {conversations: IConversation[], pagination: {page, limit, total,
//!   totalPages}}, timestamp}`, newest first. `page` counts from 1 (default
//!   1), `limit` is 1 to 100 (default 20); the dates filter on creation and
//!   are RFC 3339 times or `YYYY-MM-DD` days (the period is `[startDate,
//!   endDate)`, and an `endDate` day is included whole). A page beyond the
//!   end is empty, with the right totals. Conversations are rendered as
//!   `GET /api/v1/conversations` renders them, with `messages: []`: lists
//!   never carry message bodies (`join-conversation` gives them).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use domain::conversation::Status;
use domain::ids::UserId;
use projections::support::SupportQuery;
use serde::Deserialize;
use serde_json::json;

use super::{list_room, reads};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;
use crate::wire_time;
use wire::support as render;

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Join {
    tenant_id: Option<String>,
}

/// Whether the caller may follow the tenant's list (no IO).
pub(super) fn decode_join(req: &Inbound) -> Result<(), WireError> {
    let request: Join = req.parse()?;
    let tenant = request.tenant_id.ok_or_else(|| {
        WireError::validation("tenantId is required")
            .with_details("join-conversation-list: missing field `tenantId`")
    })?;
    if tenant != req.actor.tenant.as_str() {
        return Err(WireError::forbidden("tenantId is not your tenant"));
    }
    staff_only(req)
}

pub async fn join(req: &Request) -> Result<(), WireError> {
    decode_join(&req.inbound())?;
    req.socket.join(list_room(&req.actor.tenant));
    req.reply(
        "joined-conversation-list",
        &json!({ "tenantId": req.actor.tenant.as_str() }),
    );
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListRequest {
    page: Option<u32>,
    limit: Option<u32>,
    status: Option<String>,
    agent_id: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
}

/// The page of the list asked for, if the caller may see it (no IO).
pub(super) fn decode_request(req: &Inbound) -> Result<SupportQuery, WireError> {
    let request: ListRequest = req.parse()?;
    staff_only(req)?;
    let query = SupportQuery {
        tenant: req.actor.tenant.clone(),
        customer: None,
        status: request
            .status
            .as_deref()
            .map(Status::parse)
            .transpose()
            .map_err(WireError::from)?,
        agent: request
            .agent_id
            .map(UserId::parse)
            .transpose()
            .map_err(|e| WireError::validation(format!("invalid agentId: {e}")))?,
        from: request
            .start_date
            .as_deref()
            .map(|raw| parse_date("startDate", raw, false))
            .transpose()?,
        to: request
            .end_date
            .as_deref()
            .map(|raw| parse_date("endDate", raw, true))
            .transpose()?,
        page: match request.page {
            None => 1,
            Some(0) => return Err(WireError::validation("page counts from 1")),
            Some(page) => page,
        },
        limit: match request.limit {
            None => DEFAULT_LIMIT,
            Some(limit @ 1..=MAX_LIMIT) => limit,
            Some(limit) => {
                return Err(WireError::validation(format!(
                    "limit {limit} is not between 1 and {MAX_LIMIT}"
                )));
            }
        },
    };
    Ok(query)
}

pub async fn request(req: &Request) -> Result<(), WireError> {
    let query = decode_request(&req.inbound())?;
    let (conversations, total) = reads::list(&req.state, &query).await?;
    req.reply(
        "conversation-list",
        &json!({
            "success": true,
            "data": {
                "conversations": conversations.iter().map(|c| {
                    let mut conversation = render::conversation(c);
                    conversation["messages"] = json!([]);
                    conversation
                }).collect::<Vec<_>>(),
                "pagination": {
                    "page": query.page,
                    "limit": query.limit,
                    "total": total,
                    "totalPages": total.div_ceil(u64::from(query.limit)),
                },
            },
            "timestamp": wire_time(Utc::now()),
        }),
    );
    Ok(())
}

fn staff_only(req: &Inbound) -> Result<(), WireError> {
    if req.actor.role.is_staff() {
        Ok(())
    } else {
        Err(WireError::forbidden(
            "only agents, supervisors and admins see the conversation list",
        ))
    }
}

/// An RFC 3339 time, or a `YYYY-MM-DD` day: its midnight (UTC), or with
/// `end` the next midnight, as periods are `[startDate, endDate)` and an
/// end day is included whole (as `GET /api/v1/conversations` reads them).
fn parse_date(field: &str, raw: &str, end: bool) -> Result<DateTime<Utc>, WireError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        WireError::validation(format!(
            "{field} {raw:?} is not an RFC 3339 time or a YYYY-MM-DD date"
        ))
    })?;
    let day = if end {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    Ok(day.and_time(NaiveTime::MIN).and_utc())
}

#[cfg(test)]
mod tests {
    use super::parse_date;
    use crate::error::ErrorCode;
    use chrono::{TimeZone, Utc};

    #[test]
    fn dates_are_times_or_whole_days() {
        assert_eq!(
            parse_date("startDate", "2026-03-19", false).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 19, 0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_date("endDate", "2026-03-19", true).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 20, 0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_date("endDate", "2026-03-19T14:00:00+02:00", true).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 19, 12, 0, 0).unwrap()
        );
        let refused = parse_date("startDate", "yesterday", false).unwrap_err();
        assert_eq!(refused.code, ErrorCode::ValidationError);
        assert!(refused.message.contains("startDate"), "{}", refused.message);
    }
}
