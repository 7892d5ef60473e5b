//! Steps of agent swarm sessions, in sequence order: what a late subscriber
//! catches up on. Every step is also published as an update.

use async_trait::async_trait;
use domain::ids::{TenantId, UserId};
use domain::swarm::{SwarmEvent, SwarmSession, SwarmSessionId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use store::event::{format_time, parse_time};
use store::{Backend, Db, RecordedEvent};

use crate::update::{Change, Update};
use crate::{Projection, ProjectionError};

pub use crate::views::swarm::SwarmStepView;

pub const NAME: &str = "swarm_steps";

pub struct SwarmSteps;

#[async_trait]
impl Projection for SwarmSteps {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self, _backend: Backend) -> &'static [&'static str] {
        &["swarm_steps"]
    }

    fn stream_prefix(&self) -> Option<&'static str> {
        Some(domain::swarm::STREAM_PREFIX)
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<Vec<Update>, ProjectionError> {
        let mut updates = Vec::new();
        let mut steps = Vec::new();
        for recorded in events {
            if !SwarmSession::owns_stream(&recorded.stream_id) {
                continue;
            }
            match store::aggregate::decode_payload::<SwarmSession>(recorded)? {
                SwarmEvent::SwarmStepRecorded(e) => {
                    let view = SwarmStepView {
                        tenant: e.tenant,
                        session_id: e.session_id,
                        sequence: e.sequence,
                        position: recorded.position,
                        step: e.step,
                        posted_by: e.posted_by,
                        at: e.at,
                    };
                    steps.push(view.clone());
                    updates.push(Update::from_event(
                        recorded,
                        Change::SwarmStepRecorded(view),
                    ));
                }
            }
        }
        let backend = Backend::of(conn);
        // Steps may be up to 64 KiB each: fewer rows per statement than
        // for small rows.
        for chunk in steps.chunks(INSERT_CHUNK) {
            insert(conn, backend, chunk).await?;
        }
        Ok(updates)
    }
}

const INSERT_CHUNK: usize = 20;

const COLUMNS: &str = "tenant, session_id, sequence, position, step, posted_by, recorded_at";

async fn insert(
    conn: &mut AnyConnection,
    backend: Backend,
    steps: &[SwarmStepView],
) -> Result<(), ProjectionError> {
    let sql = format!(
        "INSERT INTO swarm_steps ({COLUMNS}) VALUES {}",
        backend.row_placeholders(steps.len(), 7)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for s in steps {
        query = query
            .bind(s.tenant.as_str())
            .bind(s.session_id.as_str())
            .bind(s.sequence as i64)
            .bind(s.position)
            .bind(serde_json::to_string(&s.step)?)
            .bind(s.posted_by.as_str())
            .bind(format_time(s.at));
    }
    query.execute(conn).await?;
    Ok(())
}

fn decode(row: &AnyRow) -> Result<SwarmStepView, ProjectionError> {
    let bad = |e: domain::DomainError| ProjectionError::Decode(e.to_string());
    Ok(SwarmStepView {
        tenant: TenantId::parse(row.try_get::<String, _>(0)?).map_err(bad)?,
        session_id: SwarmSessionId::parse(row.try_get::<String, _>(1)?).map_err(bad)?,
        sequence: row.try_get::<i64, _>(2)? as u64,
        position: row.try_get(3)?,
        step: serde_json::from_str(&row.try_get::<String, _>(4)?)?,
        posted_by: UserId::parse(row.try_get::<String, _>(5)?).map_err(bad)?,
        at: parse_time(&row.try_get::<String, _>(6)?)?,
    })
}

/// At most `limit` steps of a session after `after_sequence`, in order
/// (ask again after the last one for more).
pub async fn steps_after(
    db: &Db,
    tenant: &TenantId,
    session: &SwarmSessionId,
    after_sequence: u64,
    limit: u32,
) -> Result<Vec<SwarmStepView>, ProjectionError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM swarm_steps WHERE tenant = $1 AND session_id = $2 \
         AND sequence > $3 ORDER BY sequence LIMIT $4"
    )))
    .bind(tenant.as_str())
    .bind(session.as_str())
    .bind(i64::try_from(after_sequence).unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(decode).collect()
}
