//! The queue: conversations waiting for a human, first in line first, with
//! their estimated waits.
//!
//! Estimated waits: position × the median handle time of the tenant's last
//! 50 ended conversations that had an agent (300 s when there are none) ÷
//! the number of agents at work. Agents at work are the distinct agents of
//! the tenant's conversations in status `agent`, at least 1: the presence
//! read model does not know roles, and this count comes from this read
//! model's own rows, so it is the same on a rebuild.

use domain::conversation::Status;
use domain::ids::{ConversationId, TenantId, UserId};
use sqlx::{AnyConnection, Row};
use store::Db;
use store::event::parse_time;

use super::metrics::percentile;
use super::row::bad;
use crate::ProjectionError;
use crate::views::support::QueueEntry;

/// Handle time assumed when a tenant has no ended conversation to go by.
pub const DEFAULT_HANDLE_SECONDS: f64 = 300.0;
/// How many recently ended conversations the estimated wait looks at.
const RECENT_HANDLED: i64 = 50;

/// The tenant's queue: every conversation waiting for a human, first in
/// line first, with its position and estimated wait.
pub async fn queue(db: &Db, tenant: &TenantId) -> Result<Vec<QueueEntry>, ProjectionError> {
    let mut conn = db.pool().acquire().await?;
    queue_on(&mut conn, tenant).await
}

pub(super) async fn queue_on(
    conn: &mut AnyConnection,
    tenant: &TenantId,
) -> Result<Vec<QueueEntry>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT conversation_id, user_id, status, COALESCE(queued_at, created_at) \
         FROM support_conversations WHERE tenant = $1 AND status IN ('queued', 'escalated') \
         ORDER BY COALESCE(queued_at, created_at), conversation_id",
    )
    .bind(tenant.as_str())
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let handled: Vec<Option<i64>> = sqlx::query_scalar(
        "SELECT handle_time_seconds FROM support_conversations \
         WHERE tenant = $1 AND ended_at IS NOT NULL AND handle_time_seconds IS NOT NULL \
         ORDER BY ended_at DESC LIMIT $2",
    )
    .bind(tenant.as_str())
    .bind(RECENT_HANDLED)
    .fetch_all(&mut *conn)
    .await?;
    let handled: Vec<f64> = handled.into_iter().flatten().map(|s| s as f64).collect();
    let median = percentile(handled, 0.5).unwrap_or(DEFAULT_HANDLE_SECONDS);
    let agents: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT assigned_agent_id) FROM support_conversations \
         WHERE tenant = $1 AND status = 'agent'",
    )
    .bind(tenant.as_str())
    .fetch_one(&mut *conn)
    .await?;
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let position = u32::try_from(i + 1).unwrap_or(u32::MAX);
            Ok(QueueEntry {
                conversation_id: ConversationId::parse(row.try_get::<String, _>(0)?)
                    .map_err(bad)?,
                user_id: UserId::parse(row.try_get::<String, _>(1)?).map_err(bad)?,
                status: Status::parse(&row.try_get::<String, _>(2)?).map_err(bad)?,
                queued_at: parse_time(&row.try_get::<String, _>(3)?)?,
                position,
                estimated_wait_seconds: estimated_wait(position, median, agents),
            })
        })
        .collect()
}

/// `position` × `median_handle` seconds ÷ the agents at work (at least one).
pub fn estimated_wait(position: u32, median_handle: f64, agents: i64) -> u64 {
    let agents = agents.max(1) as f64;
    (f64::from(position) * median_handle / agents)
        .round()
        .max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimated_waits_share_the_line_among_the_agents_at_work() {
        assert_eq!(estimated_wait(1, 300.0, 0), 300);
        assert_eq!(estimated_wait(3, 300.0, 1), 900);
        assert_eq!(estimated_wait(3, 300.0, 2), 450);
        assert_eq!(estimated_wait(1, 100.0, 3), 33);
    }
}
