//! The projector: one task per projection, each following the log from its
//! own checkpoint.

use async_trait::async_trait;
use sqlx::AnyConnection;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use store::{EventLog, Position, RecordedEvent};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;

use crate::{ProjectionError, Update};

/// Events read and applied per transaction. Bounded so that on SQLite, where
/// projections and the event writer take turns on one write lock, a
/// projection never keeps acknowledgements waiting for long.
const BATCH: u32 = 500;
/// Projections also look at the log this often without being woken, to
/// pick up events appended by other processes.
const POLL: Duration = Duration::from_millis(500);
/// Updates buffered for slow subscribers before they start missing some.
const UPDATES_CAPACITY: usize = 65_536;

/// A read model built from the log.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Stable name: the checkpoint's key.
    fn name(&self) -> &'static str;

    /// Every table this projection writes on `backend`, and only those: a
    /// rebuild builds them afresh and swaps them in. Each table belongs to
    /// one projection.
    fn tables(&self, backend: store::Backend) -> &'static [&'static str];

    /// Whether `event` can matter to this projection. A batch of events it
    /// ignores moves its checkpoint in memory only, with no transaction (on
    /// SQLite every commit is an fsync under the one write lock the event
    /// writer needs too); after a restart it reads them again, and ignores
    /// them again.
    fn handles(&self, _event: &RecordedEvent) -> bool {
        true
    }

    /// When the projection reads only streams whose ids start with this,
    /// the runner fetches only those from the log (the others are never
    /// decoded). `None`: every event.
    fn stream_prefix(&self) -> Option<&'static str> {
        None
    }

    /// Apply a batch of events (in position order, possibly none of interest)
    /// on `conn`, inside the transaction that will also move the checkpoint.
    /// Returns the updates to publish once that transaction commits.
    async fn apply(
        &self,
        conn: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<Vec<Update>, ProjectionError>;
}

/// Runs projections and publishes their updates.
pub struct Projector {
    updates: broadcast::Sender<Arc<Update>>,
    progress: HashMap<&'static str, watch::Receiver<Position>>,
    stop: watch::Sender<bool>,
    tasks: tokio::sync::Mutex<JoinSet<()>>,
}

impl Projector {
    /// Start one task per projection; each first catches up from its checkpoint.
    pub async fn start(
        log: EventLog,
        projections: Vec<Arc<dyn Projection>>,
    ) -> Result<Self, ProjectionError> {
        let (updates, _) = broadcast::channel(UPDATES_CAPACITY);
        let (stop, stopped) = watch::channel(false);
        let mut progress = HashMap::new();
        let mut tasks = JoinSet::new();
        for projection in projections {
            let checkpoint = load_checkpoint(&log, projection.name()).await?;
            let (at, progress_rx) = watch::channel(checkpoint);
            progress.insert(projection.name(), progress_rx);
            let runner = Runner {
                log: log.clone(),
                projection,
                checkpoint,
                stored: checkpoint,
                at,
                updates: updates.clone(),
                stopped: stopped.clone(),
            };
            tasks.spawn(runner.run());
        }
        Ok(Self {
            updates,
            progress,
            stop,
            tasks: tokio::sync::Mutex::new(tasks),
        })
    }

    /// Updates from every projection, in commit order per projection.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Update>> {
        self.updates.subscribe()
    }

    /// The checkpoint of `projection` as this process last committed it.
    pub fn checkpoint(&self, projection: &str) -> Option<Position> {
        self.progress.get(projection).map(|p| *p.borrow())
    }

    /// Wait until `projection` has applied every event up to `position`
    /// (read-your-writes for queries). False if `timeout` passed first.
    pub async fn wait_for(&self, projection: &str, position: Position, timeout: Duration) -> bool {
        let Some(progress) = self.progress.get(projection) else {
            return false;
        };
        let mut progress = progress.clone();
        tokio::time::timeout(timeout, progress.wait_for(|at| *at >= position))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Stop every projection after its current batch.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let mut tasks = self.tasks.lock().await;
        while tasks.join_next().await.is_some() {}
    }
}

struct Runner {
    log: EventLog,
    projection: Arc<dyn Projection>,
    /// How far this runner has read (ahead of `stored` after batches it
    /// had nothing to do with).
    checkpoint: Position,
    /// The checkpoint as this runner last read or wrote it in the database.
    stored: Position,
    at: watch::Sender<Position>,
    updates: broadcast::Sender<Arc<Update>>,
    stopped: watch::Receiver<bool>,
}

impl Runner {
    async fn run(mut self) {
        let mut wake = self.log.subscribe();
        let mut backoff = Duration::from_millis(50);
        loop {
            if *self.stopped.borrow() {
                break;
            }
            match self.step().await {
                Ok(true) => {
                    backoff = Duration::from_millis(50);
                    continue;
                }
                Ok(false) => {}
                Err(error) => {
                    // Never skip: retry the same batch until it applies.
                    tracing::error!(
                        projection = self.projection.name(),
                        checkpoint = self.checkpoint,
                        %error,
                        "projection failed; retrying"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
            tokio::select! {
                _ = wake.changed() => {}
                _ = self.stopped.changed() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Apply the next batch. `Ok(false)` when there was nothing to apply.
    async fn step(&mut self) -> Result<bool, ProjectionError> {
        let (events, last) = match self.projection.stream_prefix() {
            None => {
                let events = self.log.read_all(self.checkpoint, BATCH).await?;
                let last = events.last().map(|e| e.position);
                (events, last)
            }
            Some(prefix) => {
                let head = self.log.stored_head().await?;
                if head <= self.checkpoint {
                    return Ok(false);
                }
                let events = self
                    .log
                    .read_all_in(prefix, self.checkpoint, head, BATCH)
                    .await?;
                // A short batch means nothing else of ours up to the head.
                let last = if events.len() < BATCH as usize {
                    head
                } else {
                    events.last().map_or(head, |e| e.position)
                };
                (events, Some(last))
            }
        };
        let Some(last) = last else {
            return Ok(false);
        };
        if !events.iter().any(|e| self.projection.handles(e)) {
            self.checkpoint = last;
            self.at.send_replace(last);
            return Ok(true);
        }
        let mut tx = self.log.db().begin_write().await?;
        if self.log.db().backend() == store::Backend::Postgres {
            // Read models are rebuildable from the log and move with their
            // checkpoint, so a crash that loses this commit only replays it:
            // no need to wait for the WAL flush.
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
        }
        // Claim the batch first: the checkpoint moves only from where this
        // runner last saw it. On PostgreSQL the row stays locked until
        // commit, so a rebuild's swap or another node's runner waits for
        // this transaction, or this one for theirs, and then fails here.
        if !save_checkpoint(&mut tx, self.projection.name(), self.stored, last).await? {
            // Someone else moved the checkpoint: a rebuild swapped fresh read
            // models in, or another node applied this batch. Go on from
            // theirs, so that no event is applied twice.
            drop(tx);
            let theirs = load_checkpoint(&self.log, self.projection.name()).await?;
            tracing::info!(
                projection = self.projection.name(),
                ours = self.stored,
                theirs,
                "checkpoint moved by another writer; following it"
            );
            self.checkpoint = theirs;
            self.stored = theirs;
            self.at.send_replace(theirs);
            return Ok(true);
        }
        let updates = self.projection.apply(&mut tx, &events).await?;
        tx.commit().await?;
        self.checkpoint = last;
        self.stored = last;
        self.at.send_replace(last);
        for update in updates {
            // No subscriber is not an error: nobody is listening yet.
            let _ = self.updates.send(Arc::new(update));
        }
        Ok(true)
    }
}

pub(crate) async fn load_checkpoint(
    log: &EventLog,
    name: &str,
) -> Result<Position, ProjectionError> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = $1")
            .bind(name)
            .fetch_optional(log.db().pool())
            .await?;
    Ok(position.unwrap_or(0))
}

/// Move the checkpoint of `name` from `from` to `to`, unless someone else
/// moved it first: false then, and nothing written.
pub(crate) async fn save_checkpoint(
    conn: &mut AnyConnection,
    name: &str,
    from: Position,
    to: Position,
) -> Result<bool, ProjectionError> {
    let done = sqlx::query(
        "INSERT INTO projection_checkpoints (name, position, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET position = excluded.position, \
         updated_at = excluded.updated_at WHERE projection_checkpoints.position = $4",
    )
    .bind(name)
    .bind(to)
    .bind(store::event::format_time(chrono::Utc::now()))
    .bind(from)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// Set the checkpoint of `name`, whatever it was.
pub(crate) async fn put_checkpoint(
    conn: &mut AnyConnection,
    prefix: &str,
    name: &str,
    position: Position,
) -> Result<(), ProjectionError> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {prefix}projection_checkpoints (name, position, updated_at) \
         VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET position = excluded.position, \
         updated_at = excluded.updated_at"
    )))
    .bind(name)
    .bind(position)
    .bind(store::event::format_time(chrono::Utc::now()))
    .execute(conn)
    .await?;
    Ok(())
}
