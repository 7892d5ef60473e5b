//! Rebuilding read models from position 0 beside the live ones, and
//! swapping them in, while the gateway keeps serving.
//!
//! The fresh tables live in a sibling database (see [`store::Db::sibling`]):
//! a file beside the SQLite database, or a schema beside the PostgreSQL one.
//! It has its own checkpoints, committed with each batch, so an interrupted
//! rebuild resumes where it stopped and never touches the live read models.
//! The swap is one transaction on the live database that holds appends,
//! applies the last events to the fresh tables, copies them over the live
//! ones and moves the checkpoints. Readers see the old tables until it
//! commits and the new ones after; the gateway's projector notices that its
//! checkpoint moved and follows it (see `runner.rs`).

use std::sync::Arc;

use sqlx::Connection;
use store::{Backend, Db, EventLog, Position, RecordedEvent};

use crate::runner::put_checkpoint;
use crate::{Projection, ProjectionError};

/// The sibling database rebuilds are made in.
pub const SIBLING: &str = "rebuild";
/// Events per transaction while rebuilding: large, since nobody waits on
/// the sibling's write lock.
const BATCH: u32 = 5_000;
/// Ranges being read ahead of the one being applied.
const READ_AHEAD: usize = 3;

/// How far a rebuild has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Every projection has applied the log up to here.
    pub position: Position,
    /// The log's head when this stretch of work began.
    pub head: Position,
    /// Events read from the log by this process so far.
    pub events: u64,
}

/// What a swap did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swapped {
    /// The read models now reflect the log up to here.
    pub position: Position,
    /// Rows copied in, per table.
    pub tables: Vec<(&'static str, u64)>,
    /// How long the swap's transaction lasted, its wait for the write lock
    /// included: appends waited at most this long.
    pub held: std::time::Duration,
}

/// A rebuild in progress.
pub struct Rebuild {
    /// One rebuild at a time per database.
    _lock: store::db::SiblingLock,
    log: EventLog,
    shadow: Db,
    projections: Vec<Arc<dyn Projection>>,
    /// Per projection, how far its fresh tables are.
    checkpoints: Vec<Position>,
    events: u64,
}

impl Rebuild {
    /// Start rebuilding `projections`, or resume a rebuild that stopped
    /// (unless `fresh`: then whatever an earlier one left is thrown away).
    pub async fn open(
        log: EventLog,
        projections: Vec<Arc<dyn Projection>>,
        fresh: bool,
    ) -> Result<Self, ProjectionError> {
        let lock = log.db().lock_sibling(SIBLING).await?;
        if fresh {
            log.db().remove_sibling(SIBLING).await?;
        }
        let shadow = log.db().sibling(SIBLING).await?;
        let mut checkpoints = Vec::with_capacity(projections.len());
        for projection in &projections {
            let at: Option<i64> =
                sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = $1")
                    .bind(projection.name())
                    .fetch_optional(shadow.pool())
                    .await?;
            checkpoints.push(at.unwrap_or(0));
        }
        Ok(Self {
            _lock: lock,
            log,
            shadow,
            projections,
            checkpoints,
            events: 0,
        })
    }

    /// How far each projection's fresh tables are (0: from the start).
    pub fn checkpoints(&self) -> Vec<(&'static str, Position)> {
        self.projections
            .iter()
            .zip(&self.checkpoints)
            .map(|(p, at)| (p.name(), *at))
            .collect()
    }

    /// Where every projection has got to.
    pub fn position(&self) -> Position {
        self.checkpoints.iter().copied().min().unwrap_or(0)
    }

    /// Apply the log to the fresh tables up to `up_to` at least.
    pub async fn catch_up(
        &mut self,
        up_to: Position,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(), ProjectionError> {
        // The log is read in position ranges, a few ahead, each by a task
        // of its own, while the current one is applied: reading and
        // decoding cost about as much as applying, and use other
        // connections and cores.
        type Read = tokio::task::JoinHandle<Result<Vec<RecordedEvent>, store::StoreError>>;
        let mut ahead: std::collections::VecDeque<(Position, Read)> = Default::default();
        let mut next_range = self.position();
        loop {
            while ahead.len() < READ_AHEAD && next_range < up_to {
                let (after, end) = (next_range, (next_range + i64::from(BATCH)).min(up_to));
                let log = self.log.clone();
                ahead.push_back((
                    end,
                    tokio::spawn(async move { log.read_range(after, end).await }),
                ));
                next_range = end;
            }
            let Some((end, read)) = ahead.pop_front() else {
                return Ok(());
            };
            let events = read
                .await
                .map_err(|e| ProjectionError::Decode(format!("reading the log: {e}")))??;
            let from = self.position();
            let events: Vec<_> = events.into_iter().filter(|e| e.position > from).collect();
            // An empty range (a gap in positions) still moves the checkpoints.
            let last = events.last().map_or(end, |e| e.position).max(end);
            self.events += events.len() as u64;
            apply_batch(
                &self.shadow,
                &self.projections,
                &mut self.checkpoints,
                &events,
                last,
            )
            .await?;
            progress(Progress {
                position: last,
                head: up_to,
                events: self.events,
            });
        }
    }

    /// Catch up with the head, then swap the fresh tables in, in one
    /// transaction that holds appends for its length. The sibling is
    /// removed afterwards.
    pub async fn swap(
        mut self,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Swapped, ProjectionError> {
        // Most of the way outside the transaction, so that appends are held
        // only for the last few events and the copy.
        let head = self.log.stored_head().await?;
        self.catch_up(head, progress).await?;

        let live = self.log.db().clone();
        let mut columns = Vec::new();
        for projection in &self.projections {
            for table in projection.tables(live.backend()) {
                columns.push((*table, live.writable_columns(table).await?.join(", ")));
            }
        }
        // A connection of its own, closed afterwards, so that a failure
        // never returns one inside a transaction to the pool.
        let mut conn = live.pool().acquire().await?.detach();
        let fresh = live.attach_sibling(&mut conn, SIBLING).await?;
        let own = live.own_prefix();
        let turn = live.write_turn().await;
        let began = std::time::Instant::now();
        let result = self.copy(&mut conn, &fresh, &own, &columns, progress).await;
        let result = match result {
            Ok(mut swapped) => sqlx::query("COMMIT")
                .execute(&mut conn)
                .await
                .map(|_| {
                    swapped.held = began.elapsed();
                    swapped
                })
                .map_err(ProjectionError::from),
            Err(error) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
                Err(error)
            }
        };
        drop(turn);
        let _ = live.detach_sibling(&mut conn, SIBLING).await;
        let _ = conn.close().await;
        let swapped = result?;
        self.shadow.close().await;
        live.remove_sibling(SIBLING).await?;
        Ok(swapped)
    }

    async fn copy(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        fresh: &str,
        own: &str,
        columns: &[(&'static str, String)],
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Swapped, ProjectionError> {
        match self.log.db().backend() {
            Backend::Sqlite => {
                // BEGIN IMMEDIATE would lock the attached sibling too, which
                // the last catch-up below still writes to: a first write to
                // the live database takes its write lock alone.
                sqlx::query("BEGIN").execute(&mut *conn).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {own}projection_checkpoints SET position = position WHERE name = ''"
                )))
                .execute(&mut *conn)
                .await?;
            }
            Backend::Postgres => {
                sqlx::query("BEGIN").execute(&mut *conn).await?;
            }
        }
        self.log.hold_appends(conn).await?;
        // Nothing can be appended now: this head is the last one.
        let head = self.log.stored_head().await?;
        self.catch_up(head, progress).await?;
        // Checkpoints first: on PostgreSQL a live runner that is applying a
        // batch holds its checkpoint row, so this waits for it to commit
        // (and the copy below then replaces what it wrote); one that comes
        // later finds its checkpoint moved and applies nothing.
        for (projection, at) in self.projections.iter().zip(&self.checkpoints) {
            put_checkpoint(conn, own, projection.name(), (*at).max(head)).await?;
        }
        let mut tables = Vec::with_capacity(columns.len());
        for (table, columns) in columns {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {own}{table}")))
                .execute(&mut *conn)
                .await?;
            let copied = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {own}{table} ({columns}) SELECT {columns} FROM {fresh}{table}"
            )))
            .execute(&mut *conn)
            .await?
            .rows_affected();
            tables.push((*table, copied));
        }
        Ok(Swapped {
            position: head,
            tables,
            held: std::time::Duration::ZERO,
        })
    }

    /// Close the sibling's connections, keeping what was built (a later
    /// rebuild resumes from it).
    pub async fn pause(self) {
        self.shadow.close().await;
    }
}

/// Build every projection into `target` from one tenant's events up to
/// `up_to` (a view of the past: see `replay as-of`). Returns the events read.
pub async fn build_tenant(
    log: &EventLog,
    target: &Db,
    projections: &[Arc<dyn Projection>],
    tenant: &str,
    up_to: Position,
) -> Result<u64, ProjectionError> {
    let mut checkpoints = vec![0; projections.len()];
    let mut after = 0;
    let mut read = 0;
    loop {
        let events = log.read_tenant(tenant, after, up_to, BATCH).await?;
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(read);
        };
        read += events.len() as u64;
        apply_batch(target, projections, &mut checkpoints, &events, last).await?;
        after = last;
    }
}

/// Apply `events` (ending at `last`) to each projection that has not seen
/// them, and move their checkpoints, in one transaction on `db`.
async fn apply_batch(
    db: &Db,
    projections: &[Arc<dyn Projection>],
    checkpoints: &mut [Position],
    events: &[RecordedEvent],
    last: Position,
) -> Result<(), ProjectionError> {
    let behind = projections
        .iter()
        .zip(checkpoints.iter())
        .filter(|(_, at)| **at < last);
    match db.backend() {
        // PostgreSQL writes side by side: each projection in a transaction
        // of its own, at once, as their round trips are most of the time.
        Backend::Postgres => {
            futures::future::try_join_all(behind.map(|(projection, at)| async move {
                let mut tx = db.begin_write().await?;
                apply_one(&mut tx, projection.as_ref(), *at, events, last).await?;
                tx.commit().await?;
                Ok::<_, ProjectionError>(())
            }))
            .await?;
        }
        // SQLite has one writer: one transaction for them all.
        Backend::Sqlite => {
            let mut tx = db.begin_write().await?;
            for (projection, at) in behind {
                apply_one(&mut tx, projection.as_ref(), *at, events, last).await?;
            }
            tx.commit().await?;
        }
    }
    for at in checkpoints.iter_mut() {
        *at = (*at).max(last);
    }
    Ok(())
}

/// Apply to `projection` the events of the batch it has not seen (it is at
/// `at`) and move its checkpoint to `last`, on `tx`.
async fn apply_one(
    tx: &mut sqlx::AnyConnection,
    projection: &dyn Projection,
    at: Position,
    events: &[RecordedEvent],
    last: Position,
) -> Result<(), ProjectionError> {
    if Backend::of(tx) == Backend::Postgres {
        // A rebuild can always be redone: no need to wait for the WAL.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
    }
    // Projections skip what is not theirs, so a suffix of the batch will do.
    let start = events.partition_point(|e| e.position <= at);
    let unseen = &events[start..];
    if unseen.iter().any(|e| projection.handles(e)) {
        projection.apply(tx, unseen).await?;
    }
    put_checkpoint(tx, "", projection.name(), last).await
}

/// Every row of `table` (its writable columns, as text), sorted: to compare
/// read models, whatever the engine.
pub async fn table_rows(db: &Db, table: &str) -> Result<Vec<String>, ProjectionError> {
    use sqlx::Row;
    let columns = db.writable_columns(table).await?;
    let select = columns
        .iter()
        .map(|c| format!("CAST({} AS TEXT)", store::db::quote_ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {select} FROM {table}")))
        .fetch_all(db.pool())
        .await?;
    let mut lines = rows
        .iter()
        .map(|row| {
            (0..columns.len())
                .map(|i| {
                    Ok(row
                        .try_get::<Option<String>, _>(i)?
                        .unwrap_or_else(|| "NULL".to_owned()))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map(|values| values.join("\u{1f}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    lines.sort();
    Ok(lines)
}

/// The rows of every table of `projections`, by table.
pub async fn snapshot(
    db: &Db,
    projections: &[Arc<dyn Projection>],
) -> Result<std::collections::BTreeMap<&'static str, Vec<String>>, ProjectionError> {
    let mut tables = std::collections::BTreeMap::new();
    for projection in projections {
        for table in projection.tables(db.backend()) {
            tables.insert(*table, table_rows(db, table).await?);
        }
    }
    Ok(tables)
}
