//! Reading support conversations: one, several, a filtered page, the
//! open ones of a customer or session, the idle ones, and agents' loads.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::conversation::Status;
use domain::ids::{ChatbotId, ConversationId, SessionId, TenantId, UserId};
use sqlx::{AnyConnection, Row};
use store::Db;
use store::event::{format_time, parse_time};

use super::row::{COLUMNS, bad, decode};
use crate::ProjectionError;
use crate::views::support::SupportView;

pub(super) async fn get_on(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    id: &ConversationId,
) -> Result<Option<SupportView>, ProjectionError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM support_conversations WHERE tenant = $1 AND conversation_id = $2"
    )))
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(decode).transpose()
}

/// One support conversation of `tenant` (another tenant's id is unknown).
pub async fn get(
    db: &Db,
    tenant: &TenantId,
    id: &ConversationId,
) -> Result<Option<SupportView>, ProjectionError> {
    let mut conn = db.pool().acquire().await?;
    get_on(&mut conn, tenant, id).await
}

/// Several support conversations of `tenant`, by id (unknown ids are left
/// out).
pub async fn get_many(
    db: &Db,
    tenant: &TenantId,
    ids: &[ConversationId],
) -> Result<HashMap<ConversationId, SupportView>, ProjectionError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders = (0..ids.len())
        .map(|i| format!("${}", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM support_conversations WHERE tenant = $1 \
         AND conversation_id IN ({placeholders})"
    )))
    .bind(tenant.as_str());
    for id in ids {
        query = query.bind(id.as_str());
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|row| decode(row).map(|view| (view.room.id.clone(), view)))
        .collect()
}

/// Which support conversations of a tenant to list, and which page.
#[derive(Debug, Clone, PartialEq)]
pub struct SupportQuery {
    pub tenant: TenantId,
    pub status: Option<Status>,
    /// Only conversations assigned to this agent.
    pub agent: Option<UserId>,
    /// Only conversations this customer opened.
    pub customer: Option<UserId>,
    /// Created at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Created strictly before this instant.
    pub to: Option<DateTime<Utc>>,
    /// 1 for the first page (0 reads as 1).
    pub page: u32,
    pub limit: u32,
}

/// A page of a tenant's support conversations, newest first, and how many
/// match over all pages. A page past the end is empty, with the right
/// total.
pub async fn list(
    db: &Db,
    query: &SupportQuery,
) -> Result<(Vec<SupportView>, u64), ProjectionError> {
    let mut clauses = vec!["tenant = $1".to_owned()];
    let mut binds = vec![query.tenant.as_str().to_owned()];
    let mut filter = |clause: &str, value: String| {
        binds.push(value);
        clauses.push(format!("{clause} ${}", binds.len()));
    };
    if let Some(status) = query.status {
        filter("status =", status.as_str().to_owned());
    }
    if let Some(agent) = &query.agent {
        filter("assigned_agent_id =", agent.as_str().to_owned());
    }
    if let Some(customer) = &query.customer {
        filter("user_id =", customer.as_str().to_owned());
    }
    if let Some(from) = query.from {
        filter("created_at >=", format_time(from));
    }
    if let Some(to) = query.to {
        filter("created_at <", format_time(to));
    }
    let filters = clauses.join(" AND ");
    let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM support_conversations WHERE {filters}"
    )));
    for bind in &binds {
        count = count.bind(bind.as_str());
    }
    let total = count.fetch_one(db.pool()).await?.max(0) as u64;
    let page = u64::from(query.page.max(1));
    let offset = (page - 1).saturating_mul(u64::from(query.limit));
    if query.limit == 0 || offset >= total {
        return Ok((Vec::new(), total));
    }
    let n = binds.len();
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM support_conversations WHERE {filters} \
         ORDER BY created_at DESC, conversation_id DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    )));
    for bind in &binds {
        rows = rows.bind(bind.as_str());
    }
    let rows = rows
        .bind(i64::from(query.limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(db.pool())
        .await?;
    let views = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok((views, total))
}

/// How many conversations each agent of the tenant handles now (status
/// `agent`).
pub async fn active_counts(
    db: &Db,
    tenant: &TenantId,
) -> Result<HashMap<UserId, u32>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT assigned_agent_id, COUNT(*) FROM support_conversations \
         WHERE tenant = $1 AND status = 'agent' AND assigned_agent_id IS NOT NULL \
         GROUP BY assigned_agent_id",
    )
    .bind(tenant.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let agent = UserId::parse(row.try_get::<String, _>(0)?).map_err(bad)?;
            let n: i64 = row.try_get(1)?;
            Ok((agent, u32::try_from(n).unwrap_or(u32::MAX)))
        })
        .collect()
}

/// An idle conversation: its tenant, id, status and last activity.
pub type Idle = (TenantId, ConversationId, Status, DateTime<Utc>);

/// Conversations of every tenant, not ended or closed, with no activity
/// since before `last_activity_before`; the longest idle first, at most
/// `limit`.
pub async fn idle(
    db: &Db,
    last_activity_before: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Idle>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT tenant, conversation_id, status, last_activity_at FROM support_conversations \
         WHERE status NOT IN ('ended', 'closed') AND last_activity_at < $1 \
         ORDER BY last_activity_at, tenant, conversation_id LIMIT $2",
    )
    .bind(format_time(last_activity_before))
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                TenantId::parse(row.try_get::<String, _>(0)?).map_err(bad)?,
                ConversationId::parse(row.try_get::<String, _>(1)?).map_err(bad)?,
                Status::parse(&row.try_get::<String, _>(2)?).map_err(bad)?,
                parse_time(&row.try_get::<String, _>(3)?)?,
            ))
        })
        .collect()
}

/// The user's most recently opened conversation of `chatbot` that is not
/// over (ended or closed), if any.
pub async fn latest_open_for_user(
    db: &Db,
    tenant: &TenantId,
    user: &UserId,
    chatbot: &ChatbotId,
) -> Result<Option<ConversationId>, ProjectionError> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT conversation_id FROM support_conversations \
         WHERE tenant = $1 AND user_id = $2 AND chatbot_id = $3 \
         AND status NOT IN ('ended', 'closed') \
         ORDER BY created_at DESC, conversation_id DESC LIMIT 1",
    )
    .bind(tenant.as_str())
    .bind(user.as_str())
    .bind(chatbot.as_str())
    .fetch_optional(db.pool())
    .await?;
    id.map(ConversationId::parse)
        .transpose()
        .map_err(|e| ProjectionError::Decode(e.to_string()))
}

/// How many conversations `user` opened under `session` are open (not
/// ended or closed): sessions are scoped to their owner.
pub async fn open_for_customer(
    db: &Db,
    tenant: &TenantId,
    session: &SessionId,
    user: &UserId,
) -> Result<u64, ProjectionError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM support_conversations \
         WHERE tenant = $1 AND session_id = $2 AND user_id = $3 \
         AND status NOT IN ('ended', 'closed')",
    )
    .bind(tenant.as_str())
    .bind(session.as_str())
    .bind(user.as_str())
    .fetch_one(db.pool())
    .await?;
    Ok(u64::try_from(n).unwrap_or_default())
}
