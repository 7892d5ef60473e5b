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
//!
//! # Pipelined appends and generations
//!
//! Requests are decided strictly in the order they were queued, so a caller
//! may queue an append decided on top of another that is not durable yet
//! (see `aggregate.rs`). If the earlier one fails, the later one must fail
//! too, even if the stream's version happens to match by then. Callers tag
//! such requests with a generation; once a request of a generation fails on
//! a stream, the writer refuses that generation's later requests on it.
//!
//! # Cost per batch
//!
//! On its own connection: BEGIN (with the advisory lock, one round trip on
//! PostgreSQL), one lookup of stored event ids and stream versions, one
//! INSERT per 100 events, snapshots if any, COMMIT. Statements are prepared
//! once and reused.

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Executor, Row};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::db::{Backend, Db};
use crate::event::{AppendOutcome, ExpectedVersion, NewEvent, Position, Snapshot, format_time};
use crate::{Append, StoreError};

/// Requests waiting for the writer; beyond this, appenders wait (backpressure).
pub(crate) const QUEUE_DEPTH: usize = 8192;
/// At most this many events go into one transaction.
const MAX_BATCH_EVENTS: usize = 2048;
/// Rows per INSERT statement (9 binds each; well under every bind limit).
const INSERT_CHUNK: usize = 100;
/// Ids per lookup statement.
const LOOKUP_CHUNK: usize = 256;

pub(crate) struct AppendRequest {
    pub append: Append,
    pub reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

pub(crate) struct Writer {
    pub db: Db,
    pub lock_key: i64,
    pub rx: mpsc::Receiver<AppendRequest>,
    pub head: watch::Sender<Position>,
    pub shutdown: Arc<Notify>,
}

/// Streams whose pipelined generation failed: later requests of that
/// generation on that stream are refused.
type Fences = HashMap<String, u64>;

impl Writer {
    pub async fn run(mut self) {
        let mut closing = false;
        let mut conn: Option<PoolConnection<Any>> = None;
        let mut fences = Fences::new();
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
            let mut events = batch[0].append.events.len();
            while events < MAX_BATCH_EVENTS {
                match self.rx.try_recv() {
                    Ok(request) => {
                        events += request.append.events.len();
                        batch.push(request);
                    }
                    Err(_) => break,
                }
            }
            self.write(&mut conn, &mut fences, batch).await;
        }
        tracing::debug!("event log writer stopped");
    }

    async fn write(
        &self,
        conn: &mut Option<PoolConnection<Any>>,
        fences: &mut Fences,
        batch: Vec<AppendRequest>,
    ) {
        let outcomes = match self.attempt(conn, fences, &batch).await {
            Ok(outcomes) => outcomes,
            Err(error) if batch.len() == 1 => vec![Err(error)],
            Err(error) => {
                // Nothing of the batch was written. Retry each request on its
                // own, so that one bad request cannot fail its neighbours.
                tracing::warn!(%error, requests = batch.len(), "batch append failed; retrying one by one");
                let mut outcomes = Vec::with_capacity(batch.len());
                for request in &batch {
                    let single = std::slice::from_ref(request);
                    outcomes.push(match self.attempt(conn, fences, single).await {
                        Ok(mut one) => one.remove(0),
                        Err(error) => Err(error),
                    });
                }
                outcomes
            }
        };
        for (request, outcome) in batch.iter().zip(&outcomes) {
            fence(
                fences,
                request,
                matches!(outcome, Ok(AppendOutcome::Appended { .. })),
            );
        }
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

    /// One try at a batch on the writer's own connection, which is opened on
    /// first use and dropped after any error (it may be broken).
    async fn attempt(
        &self,
        conn: &mut Option<PoolConnection<Any>>,
        fences: &Fences,
        batch: &[AppendRequest],
    ) -> Result<Vec<Result<AppendOutcome, StoreError>>, StoreError> {
        let mut connection = match conn.take() {
            Some(connection) => connection,
            None => self.db.pool().acquire().await?,
        };
        let result = write_batch(&self.db, &mut connection, self.lock_key, fences, batch).await;
        if result.is_ok() {
            *conn = Some(connection);
        } else {
            // Leave no transaction open behind us, and start afresh next time.
            let _ = connection.execute("ROLLBACK").await;
            connection.close_on_drop();
        }
        result
    }
}

/// Keep the fences up to date after `request` was written or not. A failed
/// (or duplicate) pipelined request fences its generation on its stream.
/// Only a write by another generation lifts it: that generation comes from
/// a reload, queued after every request of the fenced one. Unpipelined
/// writes (another node's, say) leave fences alone.
fn fence(fences: &mut Fences, request: &AppendRequest, written: bool) {
    let Some(generation) = request.append.generation else {
        return;
    };
    if !written {
        fences.insert(request.append.stream_id.clone(), generation);
    } else if fences
        .get(&request.append.stream_id)
        .is_some_and(|fenced| *fenced != generation)
    {
        fences.remove(&request.append.stream_id);
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
    conn: &mut AnyConnection,
    lock_key: i64,
    fences: &Fences,
    batch: &[AppendRequest],
) -> Result<Vec<Result<AppendOutcome, StoreError>>, StoreError> {
    let _turn = db.write_turn().await;
    match db.backend() {
        Backend::Sqlite => {
            conn.execute("BEGIN IMMEDIATE").await?;
        }
        Backend::Postgres => {
            // The key is our own integer, not input: safe to inline, and it
            // saves a round trip.
            let begin = format!("BEGIN; SELECT pg_advisory_xact_lock({lock_key})");
            conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(begin)))
                .await?;
        }
    }

    let ids: Vec<String> = batch
        .iter()
        .flat_map(|r| r.append.events.iter().map(|e| e.event_id.to_string()))
        .collect();
    let streams: Vec<String> = batch
        .iter()
        .map(|r| r.append.stream_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let (stored, mut versions) = lookup(conn, db.backend(), &ids, &streams).await?;

    let mut decisions = Vec::with_capacity(batch.len());
    let mut in_batch: HashMap<String, usize> = HashMap::new();
    let mut fenced = fences.clone();
    for (index, request) in batch.iter().enumerate() {
        let decision = decide(request, &stored, &in_batch, &mut versions, &fenced);
        let written = matches!(decision, Decision::Write { .. });
        if written {
            for event in &request.append.events {
                in_batch.insert(event.event_id.to_string(), index);
            }
        }
        // Later requests of a failed generation in this batch fail too.
        fence(&mut fenced, request, written);
        decisions.push(decision);
    }

    let recorded_at = format_time(chrono::Utc::now());
    let mut rows: Vec<PendingRow<'_>> = Vec::new();
    for (request, decision) in batch.iter().zip(&decisions) {
        if let Decision::Write { first_version } = decision {
            for (offset, event) in request.append.events.iter().enumerate() {
                rows.push(PendingRow {
                    stream_id: &request.append.stream_id,
                    stream_version: first_version + offset as u64,
                    event,
                });
            }
        }
    }
    let mut positions: HashMap<String, Position> = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(INSERT_CHUNK) {
        insert_events(conn, db.backend(), chunk, &recorded_at, &mut positions).await?;
    }
    for (request, decision) in batch.iter().zip(&decisions) {
        if let (Decision::Write { first_version }, Some(snapshot)) =
            (decision, &request.append.snapshot)
        {
            let version = first_version + request.append.events.len() as u64 - 1;
            if snapshot.stream_version == version {
                save_snapshot(conn, &request.append.stream_id, snapshot, &recorded_at).await?;
            }
        }
    }
    conn.execute("COMMIT").await?;

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
            .append
            .events
            .first()
            .map(at)
            .transpose()?
            .unwrap_or_default();
        let last = request
            .append
            .events
            .last()
            .map(at)
            .transpose()?
            .unwrap_or_default();
        Ok((first, last))
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for (request, decision) in batch.iter().zip(decisions) {
        outcomes.push(match decision {
            Decision::Write { first_version } => {
                span(request).map(|(first, last)| AppendOutcome::Appended {
                    first_position: first,
                    last_position: last,
                    stream_version: first_version + request.append.events.len() as u64 - 1,
                })
            }
            Decision::Duplicate(outcome) => Ok(outcome),
            Decision::DuplicateOf(original) => {
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
    fenced: &Fences,
) -> Decision {
    if request.append.events.is_empty() {
        return Decision::Refused(StoreError::InvalidAppend("no events to append".into()));
    }
    let ids: Vec<String> = request
        .append
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
    let current = versions
        .get(&request.append.stream_id)
        .copied()
        .unwrap_or(0);
    if let Some(generation) = request.append.generation
        && fenced.get(&request.append.stream_id) == Some(&generation)
    {
        // Decided on top of an append that failed: whatever the version
        // says now, the state it was decided on never existed.
        return Decision::Refused(StoreError::Conflict {
            stream: request.append.stream_id.clone(),
            expected: request.append.expected.to_string(),
            actual: current,
        });
    }
    let ok = match request.append.expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => current == 0,
        ExpectedVersion::Exact(v) => v == current,
    };
    if !ok {
        return Decision::Refused(StoreError::Conflict {
            stream: request.append.stream_id.clone(),
            expected: request.append.expected.to_string(),
            actual: current,
        });
    }
    versions.insert(
        request.append.stream_id.clone(),
        current + request.append.events.len() as u64,
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

/// Which event ids are stored (with their positions), and each stream's
/// version, in one round trip per chunk of ids.
async fn lookup(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: &[String],
    streams: &[String],
) -> Result<(HashMap<String, Position>, HashMap<String, u64>), StoreError> {
    let mut stored = HashMap::new();
    let mut versions = HashMap::new();
    let id_chunks: Vec<&[String]> = ids.chunks(LOOKUP_CHUNK).collect();
    let stream_chunks: Vec<&[String]> = streams.chunks(LOOKUP_CHUNK).collect();
    for i in 0..id_chunks.len().max(stream_chunks.len()) {
        let ids = id_chunks.get(i).copied().unwrap_or_default();
        let streams = stream_chunks.get(i).copied().unwrap_or_default();
        // Pad both lists to a power of two (repeating an item changes no
        // answer) so that a few prepared statements serve every batch.
        let (ids, streams) = (padded(ids), padded(streams));
        let mut parts = Vec::new();
        if !ids.is_empty() {
            parts.push(format!(
                "SELECT 0, event_id, position FROM events WHERE event_id IN ({})",
                backend.placeholders(1, ids.len())
            ));
        }
        if !streams.is_empty() {
            // One index probe per stream: `MAX` of a single stream_id reads
            // one entry of the (stream_id, stream_version) index, whereas
            // `… IN (…) GROUP BY stream_id` would read every version of
            // every stream, a cost that grows with each conversation.
            let names = (0..streams.len())
                .map(|i| {
                    format!(
                        "SELECT {} AS id",
                        backend.placeholders(ids.len() + 1 + i, 1)
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            parts.push(format!(
                "SELECT 1, s.id, (SELECT MAX(e.stream_version) FROM events e \
                 WHERE e.stream_id = s.id) FROM ({names}) s"
            ));
        }
        let sql = parts.join(" UNION ALL ");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in ids.iter().chain(&streams) {
            query = query.bind(*value);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let kind: i64 = row.try_get(0)?;
            let key: String = row.try_get(1)?;
            // NULL: a stream with no events yet.
            let value: Option<i64> = row.try_get(2)?;
            match (kind, value) {
                (0, Some(position)) => {
                    stored.insert(key, position);
                }
                (_, version) => {
                    versions.insert(key, version.unwrap_or(0) as u64);
                }
            }
        }
    }
    Ok((stored, versions))
}

fn padded(items: &[String]) -> Vec<&str> {
    let Some(first) = items.first() else {
        return Vec::new();
    };
    let mut out: Vec<&str> = items.iter().map(String::as_str).collect();
    out.resize(items.len().next_power_of_two(), first);
    out
}

async fn insert_events(
    conn: &mut AnyConnection,
    backend: Backend,
    rows: &[PendingRow<'_>],
    recorded_at: &str,
    positions: &mut HashMap<String, Position>,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, \
         tenant, payload, metadata, recorded_at) VALUES {} RETURNING event_id, position",
        backend.row_placeholders(rows.len(), 9)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
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
    for row in query.fetch_all(&mut *conn).await? {
        positions.insert(row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)?);
    }
    Ok(())
}

pub(crate) async fn save_snapshot(
    conn: &mut AnyConnection,
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
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::padded;

    #[test]
    fn lookups_are_padded_to_powers_of_two_with_a_repeat() {
        let items: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert_eq!(padded(&items), ["a", "b", "c", "a"]);
        assert!(padded(&[]).is_empty());
    }
}
