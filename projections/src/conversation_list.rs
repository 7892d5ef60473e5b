//! The conversation list per tenant: participants, message count, activity.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::actor::Role;
use domain::conversation::ConversationEvent;
use domain::ids::{ConversationId, TenantId, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use store::event::{format_time, parse_time};
use store::{Db, RecordedEvent};

use crate::{Projection, ProjectionError, Update, conversation_event};

pub const NAME: &str = "conversation_list";

#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSummary {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub opened_by: UserId,
    pub opened_at: DateTime<Utc>,
    pub participants: Vec<ParticipantView>,
    pub message_count: u64,
    pub last_message_at: Option<DateTime<Utc>>,
    pub last_activity_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantView {
    pub user_id: UserId,
    pub user_name: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

pub struct ConversationList;

/// Messages of one batch, per conversation: written once per conversation
/// rather than once per message.
#[derive(Default)]
struct Posted {
    count: i64,
    last_at: Option<DateTime<Utc>>,
}

#[async_trait]
impl Projection for ConversationList {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<Vec<Update>, ProjectionError> {
        let mut posted: HashMap<(TenantId, ConversationId), Posted> = HashMap::new();
        for recorded in events {
            let Some(event) = conversation_event(recorded) else {
                continue;
            };
            match event? {
                ConversationEvent::ConversationOpened(e) => {
                    sqlx::query(
                        "INSERT INTO conversation_list (tenant, conversation_id, opened_by, \
                         opened_at, message_count, last_message_at, last_activity_at) \
                         VALUES ($1, $2, $3, $4, 0, NULL, $4)",
                    )
                    .bind(e.tenant.as_str())
                    .bind(e.conversation_id.as_str())
                    .bind(e.opened_by.as_str())
                    .bind(format_time(e.at))
                    .execute(&mut *conn)
                    .await?;
                }
                ConversationEvent::ParticipantJoined(e) => {
                    sqlx::query(
                        "INSERT INTO conversation_participants (tenant, conversation_id, user_id, \
                         user_name, role, joined_at) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (tenant, conversation_id, user_id) DO UPDATE SET \
                         user_name = excluded.user_name, role = excluded.role, \
                         joined_at = excluded.joined_at",
                    )
                    .bind(e.tenant.as_str())
                    .bind(e.conversation_id.as_str())
                    .bind(e.user_id.as_str())
                    .bind(e.user_name.as_str())
                    .bind(e.role.as_str())
                    .bind(format_time(e.at))
                    .execute(&mut *conn)
                    .await?;
                    touch(conn, &e.tenant, &e.conversation_id, e.at).await?;
                }
                ConversationEvent::ParticipantLeft(e) => {
                    sqlx::query(
                        "DELETE FROM conversation_participants \
                         WHERE tenant = $1 AND conversation_id = $2 AND user_id = $3",
                    )
                    .bind(e.tenant.as_str())
                    .bind(e.conversation_id.as_str())
                    .bind(e.user_id.as_str())
                    .execute(&mut *conn)
                    .await?;
                    touch(conn, &e.tenant, &e.conversation_id, e.at).await?;
                }
                ConversationEvent::MessagePosted(e) => {
                    let entry = posted.entry((e.tenant, e.conversation_id)).or_default();
                    entry.count += 1;
                    entry.last_at = entry.last_at.max(Some(e.at));
                }
                ConversationEvent::TypingStarted(_) | ConversationEvent::TypingStopped(_) => {}
            }
        }
        for ((tenant, conversation), Posted { count, last_at }) in posted {
            let at = last_at.map(format_time);
            sqlx::query(
                "UPDATE conversation_list SET message_count = message_count + $1, \
                 last_message_at = CASE WHEN last_message_at IS NULL OR last_message_at < $2 \
                     THEN $2 ELSE last_message_at END, \
                 last_activity_at = CASE WHEN last_activity_at < $2 \
                     THEN $2 ELSE last_activity_at END \
                 WHERE tenant = $3 AND conversation_id = $4",
            )
            .bind(count)
            .bind(at)
            .bind(tenant.as_str())
            .bind(conversation.as_str())
            .execute(&mut *conn)
            .await?;
        }
        Ok(Vec::new())
    }
}

async fn touch(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    conversation: &ConversationId,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "UPDATE conversation_list SET last_activity_at = $1 \
         WHERE tenant = $2 AND conversation_id = $3 AND last_activity_at < $1",
    )
    .bind(format_time(at))
    .bind(tenant.as_str())
    .bind(conversation.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Which conversations of a tenant to list, and which page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    /// Only conversations this user currently takes part in.
    pub participant: Option<UserId>,
    pub offset: u64,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// Most recently active first.
    pub items: Vec<ConversationSummary>,
    /// How many conversations match, over all pages.
    pub total: u64,
}

const COLUMNS: &str = "l.tenant, l.conversation_id, l.opened_by, l.opened_at, l.message_count, \
     l.last_message_at, l.last_activity_at";

/// A page of a tenant's conversations. A page past the end is empty, with
/// the right total.
pub async fn list(
    db: &Db,
    tenant: &TenantId,
    query: &ListQuery,
) -> Result<ListPage, ProjectionError> {
    let (filter, participant) = match &query.participant {
        Some(user) => (
            " AND EXISTS (SELECT 1 FROM conversation_participants p WHERE p.tenant = l.tenant \
              AND p.conversation_id = l.conversation_id AND p.user_id = $2)",
            Some(user.as_str()),
        ),
        None => (" AND $2 IS NULL", None),
    };
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM conversation_list l WHERE l.tenant = $1{filter}"
    )))
    .bind(tenant.as_str())
    .bind(participant)
    .fetch_one(db.pool())
    .await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM conversation_list l WHERE l.tenant = $1{filter} \
         ORDER BY l.last_activity_at DESC, l.conversation_id LIMIT $3 OFFSET $4"
    )))
    .bind(tenant.as_str())
    .bind(participant)
    .bind(i64::from(query.limit))
    .bind(query.offset as i64)
    .fetch_all(db.pool())
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut summary = decode(row)?;
        summary.participants = participants(db, tenant, &summary.conversation_id).await?;
        items.push(summary);
    }
    Ok(ListPage {
        items,
        total: total as u64,
    })
}

/// One conversation of a tenant.
pub async fn get(
    db: &Db,
    tenant: &TenantId,
    conversation: &ConversationId,
) -> Result<Option<ConversationSummary>, ProjectionError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM conversation_list l WHERE l.tenant = $1 AND l.conversation_id = $2"
    )))
    .bind(tenant.as_str())
    .bind(conversation.as_str())
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut summary = decode(&row)?;
    summary.participants = participants(db, tenant, conversation).await?;
    Ok(Some(summary))
}

async fn participants(
    db: &Db,
    tenant: &TenantId,
    conversation: &ConversationId,
) -> Result<Vec<ParticipantView>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT user_id, user_name, role, joined_at FROM conversation_participants \
         WHERE tenant = $1 AND conversation_id = $2 ORDER BY joined_at, user_id",
    )
    .bind(tenant.as_str())
    .bind(conversation.as_str())
    .fetch_all(db.pool())
    .await?;
    let bad = |e: domain::DomainError| ProjectionError::Decode(e.to_string());
    rows.iter()
        .map(|row| {
            Ok(ParticipantView {
                user_id: UserId::parse(row.try_get::<String, _>(0)?).map_err(bad)?,
                user_name: row.try_get(1)?,
                role: row.try_get::<String, _>(2)?.parse().map_err(bad)?,
                joined_at: parse_time(&row.try_get::<String, _>(3)?)?,
            })
        })
        .collect()
}

fn decode(row: &AnyRow) -> Result<ConversationSummary, ProjectionError> {
    let bad = |e: domain::DomainError| ProjectionError::Decode(e.to_string());
    let last_message_at: Option<String> = row.try_get(5)?;
    Ok(ConversationSummary {
        tenant: TenantId::parse(row.try_get::<String, _>(0)?).map_err(bad)?,
        conversation_id: ConversationId::parse(row.try_get::<String, _>(1)?).map_err(bad)?,
        opened_by: UserId::parse(row.try_get::<String, _>(2)?).map_err(bad)?,
        opened_at: parse_time(&row.try_get::<String, _>(3)?)?,
        participants: Vec::new(),
        message_count: row.try_get::<i64, _>(4)? as u64,
        last_message_at: last_message_at.as_deref().map(parse_time).transpose()?,
        last_activity_at: parse_time(&row.try_get::<String, _>(6)?)?,
    })
}
