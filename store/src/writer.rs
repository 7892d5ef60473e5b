//! The one writer of the log.
//!
//! # Why one serialized writer
//!
//! Catch-up readers follow the log with `WHERE position > checkpoint`. On
//! PostgreSQL a sequence hands out numbers at insert time but rows become
//! visible at commit time, so with concurrent writers position 11 can become
//! visible before position 10; a reader that saw 11 would then skip 10 for
//! ever. DESIGN.md names two cures: read below `pg_snapshot_xmin`, or assign
//! positions under one serialized writer. Parley takes the second:
//!
//! - in a process, every append goes through this task, which commits in
//!   batches (group commit: one transaction and one fsync for every request
//!   that queued up while the previous batch was being written);
//! - across processes (several gateway nodes on one PostgreSQL), each batch
//!   takes `pg_advisory_xact_lock` before it inserts and holds it until commit,
//!   so no two transactions ever hold unassigned positions at the same time:
//!   whoever took position N committed before anyone could take N+1.
//!
//! It was chosen over the xmin horizon because it keeps positions a single
//! integer (simple checkpoints, simple cursors for clients and exports), costs
//! nothing on the read path, and batching recovers the throughput that
//! serializing would otherwise cost. SQLite allows one writer at a time
//! anyway, so the same code is correct there by construction.

use sqlx::{Any, Row, Transaction};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::StoreError;
use crate::db::{Backend, Db};
use crate::event::{AppendOutcome, ExpectedVersion, NewEvent, Position, Snapshot, format_time};

/// Requests waiting for the writer; beyond this, appenders wait (backpressure).
pub(crate) const QUEUE_DEPTH: usize = 8192;
/// At most this many events go into one transaction.
const MAX_BATCH_EVENTS: usize = 2048;
/// Rows per INSERT statement (9 binds each; well under every bind limit).
const INSERT_CHUNK: usize = 100;
/// Ids per `IN (…)` lookup.
const LOOKUP_CHUNK: usize = 500;

pub(crate) struct AppendRequest {
    pub stream_id: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    pub snapshot: Option<Snapshot>,
    pub reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

pub(crate) struct Writer {
    pub db: Db,
    pub lock_key: i64,
    pub rx: mpsc::Receiver<AppendRequest>,
    pub head: watch::Sender<Position>,
    pub shutdown: Arc<Notify>,
}

impl Writer {
    pub async fn run(mut self) {
        let mut closing = false;
        loop {
            let next = if closing {
                self.rx.recv().await
            } else {
                tokio::select! {
                    next = self.rx.recv() => next,
                    _ = self.shutdown.notified() => {
                        // Refuse new appends, then drain what is queued.
                        self.rx.close();
                        closing = true;
                        continue;
                    }
                }
            };
            let Some(first) = next else { break };
            let mut batch = vec![first];
            let mut events = batch[0].events.len();
            while events < MAX_BATCH_EVENTS {
                match self.rx.try_recv() {
                    Ok(request) => {
                        events += request.events.len();
                        batch.push(request);
                    }
                    Err(_) => break,
                }
            }
            self.write(batch).await;
        }
        tracing::debug!("event log writer stopped");
    }

    async fn write(&self, batch: Vec<AppendRequest>) {
        let outcomes = match write_batch(&self.db, self.lock_key, &batch).await {
            Ok(outcomes) => outcomes,
            Err(error) if batch.len() == 1 => vec![Err(error)],
            Err(error) => {
                // Nothing of the batch was written. Retry each request on its
                // own, so that one bad request cannot fail its neighbours.
                tracing::warn!(%error, requests = batch.len(), "batch append failed; retrying one by one");
                let mut outcomes = Vec::with_capacity(batch.len());
                for request in &batch {
                    let single = std::slice::from_ref(request);
                    outcomes.push(match write_batch(&self.db, self.lock_key, single).await {
                        Ok(mut one) => one.remove(0),
                        Err(error) => Err(error),
                    });
                }
                outcomes
            }
        };
        // Move the head before answering: an appender that reads `head()`
        // after its ack must see its own events (read-your-writes waits on it).
        let newest = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                Ok(AppendOutcome::Appended { last_position, .. }) => Some(*last_position),
                _ => None,
            })
            .max();
        if let Some(position) = newest {
            self.head.send_if_modified(|head| {
                let moved = position > *head;
                *head = (*head).max(position);
                moved
            });
        }
        for (request, outcome) in batch.into_iter().zip(outcomes) {
            // The appender may have given up waiting; the write still stands.
            let _ = request.reply.send(outcome);
        }
    }
}

/// How one request of a batch will end, decided before anything is written.
enum Decision {
    Write {
        first_version: u64,
    },
    Duplicate(AppendOutcome),
    /// Same first event id as an earlier request of this very batch.
    DuplicateOf(usize),
    Refused(StoreError),
}

/// Write a batch in one transaction. `Err` means nothing was written;
/// `Ok` holds one outcome per request, in order.
async fn write_batch(
    db: &Db,
    lock_key: i64,
    batch: &[AppendRequest],
) -> Result<Vec<Result<AppendOutcome, StoreError>>, StoreError> {
    let mut tx = db.begin_write().await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(lock_key)
            .execute(&mut *tx)
            .await?;
    }

    let ids: Vec<String> = batch
        .iter()
        .flat_map(|r| r.events.iter().map(|e| e.event_id.to_string()))
        .collect();
    let stored = stored_positions(&mut tx, &ids).await?;
    let streams: Vec<String> = batch
        .iter()
        .map(|r| r.stream_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut versions = stream_versions(&mut tx, &streams).await?;

    let mut decisions = Vec::with_capacity(batch.len());
    let mut in_batch: HashMap<String, usize> = HashMap::new();
    for (index, request) in batch.iter().enumerate() {
        let decision = decide(request, &stored, &in_batch, &mut versions);
        if matches!(decision, Decision::Write { .. }) {
            for event in &request.events {
                in_batch.insert(event.event_id.to_string(), index);
            }
        }
        decisions.push(decision);
    }

    let recorded_at = format_time(chrono::Utc::now());
    let mut rows: Vec<PendingRow<'_>> = Vec::new();
    for (request, decision) in batch.iter().zip(&decisions) {
        if let Decision::Write { first_version } = decision {
            for (offset, event) in request.events.iter().enumerate() {
                rows.push(PendingRow {
                    stream_id: &request.stream_id,
                    stream_version: first_version + offset as u64,
                    event,
                });
            }
        }
    }
    let mut positions: HashMap<String, Position> = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(INSERT_CHUNK) {
        insert_events(&mut tx, chunk, &recorded_at, &mut positions).await?;
    }
    for (request, decision) in batch.iter().zip(&decisions) {
        if let (Decision::Write { first_version }, Some(snapshot)) = (decision, &request.snapshot) {
            let version = first_version + request.events.len() as u64 - 1;
            if snapshot.stream_version == version {
                save_snapshot(&mut tx, &request.stream_id, snapshot, &recorded_at).await?;
            }
        }
    }
    tx.commit().await?;

    let span = |request: &AppendRequest| -> Result<(Position, Position), StoreError> {
        let at = |event: &NewEvent| {
            positions
                .get(&event.event_id.to_string())
                .copied()
                .ok_or_else(|| {
                    StoreError::Decode(format!("no position came back for {}", event.event_id))
                })
        };
        let first = request
            .events
            .first()
            .map(at)
            .transpose()?
            .unwrap_or_default();
        let last = request
            .events
            .last()
            .map(at)
            .transpose()?
            .unwrap_or_default();
        Ok((first, last))
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for (index, (request, decision)) in batch.iter().zip(decisions).enumerate() {
        outcomes.push(match decision {
            Decision::Write { first_version } => {
                span(request).map(|(first, last)| AppendOutcome::Appended {
                    first_position: first,
                    last_position: last,
                    stream_version: first_version + request.events.len() as u64 - 1,
                })
            }
            Decision::Duplicate(outcome) => Ok(outcome),
            Decision::DuplicateOf(original) => {
                debug_assert!(original < index);
                span(&batch[original]).map(|(first, last)| AppendOutcome::Duplicate {
                    first_position: first,
                    last_position: last,
                })
            }
            Decision::Refused(error) => Err(error),
        });
    }
    Ok(outcomes)
}

/// Idempotency is keyed on the first event id: a retried command produces
/// the same ids, so finding the first one stored (or queued earlier in this
/// batch) means "already done". Any other id reused is a caller bug.
fn decide(
    request: &AppendRequest,
    stored: &HashMap<String, Position>,
    in_batch: &HashMap<String, usize>,
    versions: &mut HashMap<String, u64>,
) -> Decision {
    if request.events.is_empty() {
        return Decision::Refused(StoreError::InvalidAppend("no events to append".into()));
    }
    let ids: Vec<String> = request
        .events
        .iter()
        .map(|e| e.event_id.to_string())
        .collect();
    if ids.iter().collect::<HashSet<_>>().len() != ids.len() {
        return Decision::Refused(StoreError::InvalidAppend(
            "the same event id appears twice in one append".into(),
        ));
    }
    if let Some(position) = stored.get(&ids[0]) {
        let last = ids.iter().filter_map(|id| stored.get(id)).max().copied();
        return Decision::Duplicate(AppendOutcome::Duplicate {
            first_position: *position,
            last_position: last.unwrap_or(*position),
        });
    }
    if let Some(original) = in_batch.get(&ids[0]) {
        return Decision::DuplicateOf(*original);
    }
    if let Some(reused) = ids
        .iter()
        .find(|id| stored.contains_key(*id) || in_batch.contains_key(*id))
    {
        return Decision::Refused(StoreError::InvalidAppend(format!(
            "event id {reused} is already in the log"
        )));
    }
    let current = versions.get(&request.stream_id).copied().unwrap_or(0);
    let ok = match request.expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => current == 0,
        ExpectedVersion::Exact(v) => v == current,
    };
    if !ok {
        return Decision::Refused(StoreError::Conflict {
            stream: request.stream_id.clone(),
            expected: request.expected.to_string(),
            actual: current,
        });
    }
    versions.insert(
        request.stream_id.clone(),
        current + request.events.len() as u64,
    );
    Decision::Write {
        first_version: current + 1,
    }
}

struct PendingRow<'a> {
    stream_id: &'a str,
    stream_version: u64,
    event: &'a NewEvent,
}

async fn stored_positions(
    tx: &mut Transaction<'static, Any>,
    ids: &[String],
) -> Result<HashMap<String, Position>, StoreError> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let sql = format!(
            "SELECT event_id, position FROM events WHERE event_id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
        for id in chunk {
            query = query.bind(id.as_str());
        }
        for row in query.fetch_all(&mut **tx).await? {
            found.insert(row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)?);
        }
    }
    Ok(found)
}

async fn stream_versions(
    tx: &mut Transaction<'static, Any>,
    streams: &[String],
) -> Result<HashMap<String, u64>, StoreError> {
    let mut found = HashMap::new();
    for chunk in streams.chunks(LOOKUP_CHUNK) {
        let sql = format!(
            "SELECT stream_id, MAX(stream_version) FROM events \
             WHERE stream_id IN ({}) GROUP BY stream_id",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
        for stream in chunk {
            query = query.bind(stream.as_str());
        }
        for row in query.fetch_all(&mut **tx).await? {
            let version: i64 = row.try_get(1)?;
            found.insert(row.try_get::<String, _>(0)?, version as u64);
        }
    }
    Ok(found)
}

async fn insert_events(
    tx: &mut Transaction<'static, Any>,
    rows: &[PendingRow<'_>],
    recorded_at: &str,
    positions: &mut HashMap<String, Position>,
) -> Result<(), StoreError> {
    const COLUMNS: usize = 9;
    let values: Vec<String> = (0..rows.len())
        .map(|i| format!("({})", placeholders(i * COLUMNS + 1, COLUMNS)))
        .collect();
    let sql = format!(
        "INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, \
         tenant, payload, metadata, recorded_at) VALUES {} RETURNING event_id, position",
        values.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
    for row in rows {
        query = query
            .bind(row.stream_id)
            .bind(row.stream_version as i64)
            .bind(row.event.event_id.to_string())
            .bind(row.event.event_type.as_str())
            .bind(i64::from(row.event.schema_version))
            .bind(row.event.tenant.as_str())
            .bind(row.event.payload.to_string())
            .bind(row.event.metadata.to_string())
            .bind(recorded_at);
    }
    for row in query.fetch_all(&mut **tx).await? {
        positions.insert(row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)?);
    }
    Ok(())
}

async fn save_snapshot(
    tx: &mut Transaction<'static, Any>,
    stream_id: &str,
    snapshot: &Snapshot,
    taken_at: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO snapshots (stream_id, aggregate_type, stream_version, state, taken_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (stream_id) DO UPDATE SET aggregate_type = excluded.aggregate_type, \
         stream_version = excluded.stream_version, state = excluded.state, \
         taken_at = excluded.taken_at \
         WHERE snapshots.stream_version < excluded.stream_version",
    )
    .bind(stream_id)
    .bind(snapshot.aggregate_type.as_str())
    .bind(snapshot.stream_version as i64)
    .bind(snapshot.state.to_string())
    .bind(taken_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `$first, $first+1, …` (`count` of them). Both engines take `$N`.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_are_numbered_from_the_given_start() {
        assert_eq!(placeholders(1, 3), "$1, $2, $3");
        assert_eq!(placeholders(10, 2), "$10, $11");
    }
}
