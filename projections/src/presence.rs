//! The current presence of each user per tenant: status, the user's own
//! notes, when it last changed and when the user was last seen.
//!
//! Status changes are published as [`Change::PresenceChanged`]; heartbeats
//! only move `last_seen_at` and publish nothing (there is nothing new to show).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::ids::{TenantId, UserId};
use domain::presence::{
    Presence, PresenceEvent, PresenceHeartbeatReceived, PresenceReason, PresenceStatus,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use store::event::{format_time, parse_time};
use store::{Db, RecordedEvent};

use crate::update::{Change, Update};
use crate::{Projection, ProjectionError};

pub const NAME: &str = "presence";

/// One user's presence as every query presents it.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceView {
    pub tenant: TenantId,
    pub user_id: UserId,
    pub user_name: String,
    pub status: PresenceStatus,
    pub custom_status: Option<String>,
    pub status_text: Option<String>,
    /// When the status (or the notes) last changed.
    pub updated_at: DateTime<Utc>,
    /// The last sign of life: a change the user caused, or a heartbeat.
    pub last_seen_at: DateTime<Utc>,
}

pub struct PresenceProjection;

#[async_trait]
impl Projection for PresenceProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self, _backend: store::Backend) -> &'static [&'static str] {
        &["presence"]
    }

    fn stream_prefix(&self) -> Option<&'static str> {
        Some(domain::presence::STREAM_PREFIX)
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<Vec<Update>, ProjectionError> {
        let mut updates = Vec::new();
        // Heartbeats of one batch, the latest per user: one write per user
        // rather than one per heartbeat.
        let mut heartbeats: HashMap<(TenantId, UserId), PresenceHeartbeatReceived> = HashMap::new();
        for recorded in events {
            if !Presence::owns_stream(&recorded.stream_id) {
                continue;
            }
            match store::aggregate::decode_payload::<Presence>(recorded)? {
                PresenceEvent::PresenceChanged(e) => {
                    // A timeout is no sign of life: last_seen_at stays.
                    let seen = (e.reason != PresenceReason::Timeout).then(|| format_time(e.at));
                    sqlx::query(
                        "INSERT INTO presence (tenant, user_id, user_name, status, custom_status, \
                         status_text, updated_at, last_seen_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                         ON CONFLICT (tenant, user_id) DO UPDATE SET \
                         user_name = excluded.user_name, status = excluded.status, \
                         custom_status = excluded.custom_status, \
                         status_text = excluded.status_text, updated_at = excluded.updated_at, \
                         last_seen_at = COALESCE($8, presence.last_seen_at)",
                    )
                    .bind(e.tenant.as_str())
                    .bind(e.user_id.as_str())
                    .bind(e.user_name.as_str())
                    .bind(e.status.as_str())
                    .bind(e.custom_status.as_deref())
                    .bind(e.status_text.as_deref())
                    .bind(format_time(e.at))
                    .bind(seen)
                    .execute(&mut *conn)
                    .await?;
                    updates.push(Update::from_event(
                        recorded,
                        Change::PresenceChanged {
                            tenant: e.tenant,
                            user_id: e.user_id,
                            user_name: e.user_name,
                            status: e.status,
                            custom_status: e.custom_status,
                            status_text: e.status_text,
                            reason: e.reason,
                            at: e.at,
                        },
                    ));
                }
                PresenceEvent::PresenceHeartbeatReceived(e) => {
                    heartbeats.insert((e.tenant.clone(), e.user_id.clone()), e);
                }
            }
        }
        for e in heartbeats.into_values() {
            // The row normally exists (a connect comes first); if not, the
            // heartbeat carries the whole presence to start it with.
            sqlx::query(
                "INSERT INTO presence (tenant, user_id, user_name, status, custom_status, \
                 status_text, updated_at, last_seen_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                 ON CONFLICT (tenant, user_id) DO UPDATE SET \
                 last_seen_at = CASE WHEN presence.last_seen_at < excluded.last_seen_at \
                     THEN excluded.last_seen_at ELSE presence.last_seen_at END",
            )
            .bind(e.tenant.as_str())
            .bind(e.user_id.as_str())
            .bind(e.user_name.as_str())
            .bind(e.status.as_str())
            .bind(e.custom_status.as_deref())
            .bind(e.status_text.as_deref())
            .bind(format_time(e.at))
            .execute(&mut *conn)
            .await?;
        }
        Ok(updates)
    }
}

const COLUMNS: &str =
    "tenant, user_id, user_name, status, custom_status, status_text, updated_at, last_seen_at";

/// Every user of `tenant` Parley has seen, by user id.
pub async fn list(db: &Db, tenant: &TenantId) -> Result<Vec<PresenceView>, ProjectionError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM presence WHERE tenant = $1 ORDER BY user_id"
    )))
    .bind(tenant.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(decode).collect()
}

/// One user's presence, if Parley has seen them.
pub async fn get(
    db: &Db,
    tenant: &TenantId,
    user: &UserId,
) -> Result<Option<PresenceView>, ProjectionError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM presence WHERE tenant = $1 AND user_id = $2"
    )))
    .bind(tenant.as_str())
    .bind(user.as_str())
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(decode).transpose()
}

/// Everyone, in every tenant, shown as anything but offline: who must time
/// out if nobody hears from them (the gateway asks at start-up).
pub async fn present(db: &Db) -> Result<Vec<PresenceView>, ProjectionError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM presence WHERE status IN ('online', 'away', 'busy') \
         ORDER BY tenant, user_id"
    )))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(decode).collect()
}

fn decode(row: &AnyRow) -> Result<PresenceView, ProjectionError> {
    let bad = |e: domain::DomainError| ProjectionError::Decode(e.to_string());
    Ok(PresenceView {
        tenant: TenantId::parse(row.try_get::<String, _>(0)?).map_err(bad)?,
        user_id: UserId::parse(row.try_get::<String, _>(1)?).map_err(bad)?,
        user_name: row.try_get(2)?,
        status: PresenceStatus::parse(&row.try_get::<String, _>(3)?).map_err(bad)?,
        custom_status: row.try_get(4)?,
        status_text: row.try_get(5)?,
        updated_at: parse_time(&row.try_get::<String, _>(6)?)?,
        last_seen_at: parse_time(&row.try_get::<String, _>(7)?)?,
    })
}
