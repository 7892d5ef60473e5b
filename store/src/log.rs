//! [`EventLog`]: append, read in order, and be woken when the log grows.

use sqlx::Row;
use sqlx::any::AnyRow;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::db::{Backend, Db};
use crate::event::{
    AppendOutcome, ExpectedVersion, NewEvent, Position, RecordedEvent, Snapshot, parse_time,
};
use crate::upcast::Upcasters;
use crate::writer::{AppendRequest, QUEUE_DEPTH, Writer};
use crate::{StoreError, Upcaster};

const EVENT_COLUMNS: &str = "position, stream_id, stream_version, event_id, event_type, \
     schema_version, tenant, payload, metadata, recorded_at";

/// Which events an export reads: always one tenant's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    pub tenant: String,
    /// Recorded at or after.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Recorded before.
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// One stream only.
    pub stream_id: Option<String>,
    /// Only these event types (all when empty).
    pub types: Vec<String>,
    /// At or below this position.
    pub up_to: Option<Position>,
}

/// An append for [`EventLog::submit`].
#[derive(Debug, Clone, PartialEq)]
pub struct Append {
    pub stream_id: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    /// Saved in the same transaction; must describe the stream after these events.
    pub snapshot: Option<Snapshot>,
    /// Pipelining tag (see [`EventLog::submit`]); `None` for plain appends.
    pub generation: Option<u64>,
}

/// A queued append; await [`outcome`](Self::outcome) for durability.
#[must_use = "an append is only known durable once its outcome is awaited"]
pub struct PendingAppend(oneshot::Receiver<Result<AppendOutcome, StoreError>>);

impl PendingAppend {
    pub async fn outcome(self) -> Result<AppendOutcome, StoreError> {
        self.0.await.map_err(|_| StoreError::Closed)?
    }
}

/// The append-only event log. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    appends: mpsc::Sender<AppendRequest>,
    head: watch::Receiver<Position>,
    upcasters: Upcasters,
    lock_key: i64,
    shutdown: Arc<Notify>,
    writer: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.abort();
        }
    }
}

/// How often the SQLite WAL is checkpointed in the background.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl EventLog {
    /// Connect to `DATABASE_URL`-style `url`, migrate, and start the writer.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::open(Db::connect(url).await?, Vec::new()).await
    }

    /// Start the writer on an open database. Events are read through the
    /// given upcasters, so older schema versions reach callers as the newest.
    pub async fn open(db: Db, upcasters: Vec<Arc<dyn Upcaster>>) -> Result<Self, StoreError> {
        let head: Option<i64> = sqlx::query_scalar("SELECT MAX(position) FROM events")
            .fetch_one(db.pool())
            .await?;
        let lock_key = match db.backend() {
            Backend::Postgres => {
                let name: String =
                    sqlx::query_scalar("SELECT current_database() || '.' || current_schema()")
                        .fetch_one(db.pool())
                        .await?;
                writer_lock_key(&name)
            }
            Backend::Sqlite => 0,
        };
        let (appends, rx) = mpsc::channel(QUEUE_DEPTH);
        let (head_tx, head_rx) = watch::channel(head.unwrap_or(0));
        let shutdown = Arc::new(Notify::new());
        let writer = Writer {
            db: db.clone(),
            lock_key,
            rx,
            head: head_tx,
            shutdown: shutdown.clone(),
        };
        let handle = tokio::spawn(writer.run());
        let checkpointer = (db.backend() == Backend::Sqlite).then(|| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(CHECKPOINT_EVERY);
                loop {
                    every.tick().await;
                    if let Err(error) = db.checkpoint().await {
                        tracing::warn!(%error, "WAL checkpoint failed");
                    }
                }
            })
        });
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                appends,
                head: head_rx,
                upcasters: Upcasters::new(upcasters),
                lock_key,
                shutdown,
                writer: Mutex::new(Some(handle)),
                checkpointer,
            }),
        })
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Append `events` to one stream, atomically, if the stream is at the
    /// `expected` version. Returns once the events are durable.
    pub async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        self.append_with_snapshot(stream_id, expected, events, None)
            .await
    }

    /// As [`append`](Self::append), also saving `snapshot` in the same
    /// transaction (it must describe the stream after these events).
    pub async fn append_with_snapshot(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        snapshot: Option<Snapshot>,
    ) -> Result<AppendOutcome, StoreError> {
        self.submit(Append {
            stream_id: stream_id.to_owned(),
            expected,
            events,
            snapshot,
            generation: None,
        })
        .await?
        .outcome()
        .await
    }

    /// Queue an append and return as soon as it is queued: appends are
    /// decided in the order they were queued, so a caller may queue another
    /// one built on top of this before this one is durable (tag both with
    /// the same `generation`: if this one fails, the next fails too).
    pub async fn submit(&self, append: Append) -> Result<PendingAppend, StoreError> {
        let (reply, outcome) = oneshot::channel();
        let request = AppendRequest { append, reply };
        self.inner
            .appends
            .send(request)
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(PendingAppend(outcome))
    }

    /// Up to `limit` events after `after`, in position order. Never skips an
    /// event that a later read could return (see `writer.rs`).
    pub async fn read_all(
        &self,
        after: Position,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(self.db().pool())
            .await?;
        self.decode_rows(rows)
    }

    /// The events after `after` up to `up_to`, in position order: a reader
    /// can split the log into ranges and read them side by side.
    pub async fn read_range(
        &self,
        after: Position,
        up_to: Position,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 AND position <= $2 \
             ORDER BY position"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .bind(up_to)
            .fetch_all(self.db().pool())
            .await?;
        self.decode_rows(rows)
    }

    /// The events after `after` up to `up_to` whose stream id starts with
    /// `prefix`, in position order, at most `limit`: a reader that follows
    /// only some streams does not fetch and decode all the others.
    pub async fn read_all_in(
        &self,
        prefix: &str,
        after: Position,
        up_to: Position,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 AND position <= $2 \
             AND stream_id LIKE $3 ORDER BY position LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .bind(up_to)
            .bind(format!("{prefix}%"))
            .bind(i64::from(limit))
            .fetch_all(self.db().pool())
            .await?;
        self.decode_rows(rows)
    }

    /// The newest position in the database, whoever appended it. Appends
    /// are serialized (one writer, under an advisory lock on PostgreSQL),
    /// so every position up to it is committed and visible.
    pub async fn stored_head(&self) -> Result<Position, StoreError> {
        let head: Option<i64> = sqlx::query_scalar("SELECT MAX(position) FROM events")
            .fetch_one(self.db().pool())
            .await?;
        Ok(head.unwrap_or(0))
    }

    /// Up to `limit` of one tenant's events after `after` up to `up_to`, in
    /// position order.
    pub async fn read_tenant(
        &self,
        tenant: &str,
        after: Position,
        up_to: Position,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE tenant = $1 AND position > $2 \
             AND position <= $3 ORDER BY position LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(after)
            .bind(up_to)
            .bind(i64::from(limit))
            .fetch_all(self.db().pool())
            .await?;
        self.decode_rows(rows)
    }

    /// Up to `limit` events after `after` that pass `filter`, in position
    /// order, exactly as stored: no upcasting, for exports that must show
    /// what the log holds.
    pub async fn read_stored(
        &self,
        filter: &EventFilter,
        after: Position,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        // Only the conditions in use, so that each shape gets a plan of its
        // own (PostgreSQL's generic plan for `$n IS NULL OR …` scanned the
        // whole table for every page).
        let mut sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE tenant = $1 AND position > $2 \
             AND position <= $3"
        );
        let mut next = 5;
        let mut placeholder = |sql: &mut String, condition: &str| {
            sql.push_str(&format!(" AND {condition} ${next}"));
            next += 1;
        };
        if filter.from.is_some() {
            placeholder(&mut sql, "recorded_at >=");
        }
        if filter.to.is_some() {
            placeholder(&mut sql, "recorded_at <");
        }
        if filter.stream_id.is_some() {
            placeholder(&mut sql, "stream_id =");
        }
        if !filter.types.is_empty() {
            // Numbered on both engines: a handful of types, bound last.
            let types = Backend::Postgres.placeholders(next, filter.types.len());
            sql.push_str(&format!(" AND event_type IN ({types})"));
        }
        sql.push_str(" ORDER BY position LIMIT $4");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(filter.tenant.as_str())
            .bind(after)
            .bind(filter.up_to.unwrap_or(Position::MAX))
            .bind(i64::from(limit));
        if let Some(from) = filter.from {
            query = query.bind(crate::event::format_time(from));
        }
        if let Some(to) = filter.to {
            query = query.bind(crate::event::format_time(to));
        }
        if let Some(stream) = &filter.stream_id {
            query = query.bind(stream.as_str());
        }
        for event_type in &filter.types {
            query = query.bind(event_type.as_str());
        }
        let rows = query.fetch_all(self.db().pool()).await?;
        rows.iter().map(decode_event).collect()
    }

    /// Hold every append to this log until the transaction open on `tx`
    /// ends, whichever process makes it. On SQLite a write transaction
    /// already does.
    pub async fn hold_appends(&self, tx: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        if self.db().backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(self.inner.lock_key)
                .execute(tx)
                .await?;
        }
        Ok(())
    }

    /// A stream's events after `after_version`, in order.
    pub async fn read_stream(
        &self,
        stream_id: &str,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version > $2 \
             ORDER BY stream_version"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(stream_id)
            .bind(after_version as i64)
            .fetch_all(self.db().pool())
            .await?;
        self.decode_rows(rows)
    }

    /// The newest snapshot of a stream, if one was taken.
    pub async fn snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        let row = sqlx::query(
            "SELECT aggregate_type, stream_version, state FROM snapshots WHERE stream_id = $1",
        )
        .bind(stream_id)
        .fetch_optional(self.db().pool())
        .await?;
        row.map(|row| {
            Ok(Snapshot {
                aggregate_type: row.try_get(0)?,
                stream_version: row.try_get::<i64, _>(1)? as u64,
                state: serde_json::from_str(&row.try_get::<String, _>(2)?)?,
            })
        })
        .transpose()
    }

    /// Save a snapshot outside any append (snapshots are not the log: a
    /// newer one replaces an older one, never the reverse).
    pub async fn save_snapshot(
        &self,
        stream_id: &str,
        snapshot: &Snapshot,
    ) -> Result<(), StoreError> {
        let mut tx = self.db().begin_write().await?;
        let now = crate::event::format_time(chrono::Utc::now());
        crate::writer::save_snapshot(&mut tx, stream_id, snapshot, &now).await?;
        tx.commit().await
    }

    /// The newest position this process has written or seen at start.
    pub fn head(&self) -> Position {
        *self.inner.head.borrow()
    }

    /// Woken after every append that moved the head.
    pub fn subscribe(&self) -> watch::Receiver<Position> {
        self.inner.head.clone()
    }

    /// Stop taking appends, finish those already queued, and wait for the
    /// writer to stop. Appends after this fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        if let Some(checkpointer) = &self.inner.checkpointer {
            checkpointer.abort();
        }
        self.inner.shutdown.notify_one();
        let handle = self
            .inner
            .writer
            .lock()
            .map(|mut w| w.take())
            .ok()
            .flatten();
        if let Some(handle) = handle
            && let Err(error) = handle.await
        {
            tracing::error!(%error, "event log writer failed");
        }
    }

    fn decode_rows(&self, rows: Vec<AnyRow>) -> Result<Vec<RecordedEvent>, StoreError> {
        rows.into_iter()
            .map(|row| {
                let mut event = decode_event(&row)?;
                self.inner.upcasters.apply(&mut event)?;
                Ok(event)
            })
            .collect()
    }
}

fn decode_event(row: &AnyRow) -> Result<RecordedEvent, StoreError> {
    let event_id: String = row.try_get(3)?;
    Ok(RecordedEvent {
        position: row.try_get(0)?,
        stream_id: row.try_get(1)?,
        stream_version: row.try_get::<i64, _>(2)? as u64,
        event_id: event_id
            .parse()
            .map_err(|e| StoreError::Decode(format!("event id {event_id:?}: {e}")))?,
        event_type: row.try_get(4)?,
        schema_version: row.try_get::<i64, _>(5)? as i32,
        tenant: row.try_get(6)?,
        payload: serde_json::from_str(&row.try_get::<String, _>(7)?)?,
        metadata: serde_json::from_str(&row.try_get::<String, _>(8)?)?,
        recorded_at: parse_time(&row.try_get::<String, _>(9)?)?,
    })
}

/// The advisory-lock key of one log: stable across processes and releases,
/// different for each schema, so that test schemas in one database do not
/// serialize each other.
fn writer_lock_key(name: &str) -> i64 {
    crate::db::lock_key(&format!("parley-event-log:{name}"))
}

#[cfg(test)]
mod tests {
    use super::writer_lock_key;

    #[test]
    fn lock_keys_are_stable_and_differ_per_schema() {
        assert_eq!(
            writer_lock_key("test.public"),
            writer_lock_key("test.public")
        );
        assert_ne!(
            writer_lock_key("test.public"),
            writer_lock_key("test.other")
        );
    }
}
