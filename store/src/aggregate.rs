//! The cqrs-es event store over [`EventLog`]: aggregates are loaded from a
//! cache, else from their newest snapshot plus the events after it, and
//! committed with an optimistic version check.
//!
//! Two things keep a command on a long conversation cheap:
//! - a bounded in-process cache of loaded aggregates, each behind its own
//!   async mutex, so commands on one aggregate take turns in this process
//!   instead of colliding, and a hot aggregate is never reloaded; the turn
//!   lasts only until the append is queued (pipelining: see `commit`), so a
//!   busy conversation is not limited to one command per fsync;
//! - a snapshot whenever `snapshot_every` events (or, for long streams, a
//!   quarter of the stream) have been written since the last one, saved as
//!   soon as those events are durable (not in their transaction: it would
//!   hold up every stream's appends), so that a cold load replays few
//!   events (a stream that was never snapshotted gets one on its next
//!   command).
//!
//! The cache is only an optimization: every commit still checks the stream
//! version in the log, so another node (or an evicted-and-reloaded copy)
//! writing in between surfaces as [`AggregateError::AggregateConflict`], and
//! the caller retries on fresh state.
//!
//! Event ids are derived from the `command_id` metadata entry (UUID v5 of the
//! command id and the event's index), so a retried command writes nothing the
//! second time: the log answers `Duplicate` and the commit returns no events.
//!
//! Events must be externally tagged enums whose serde tags equal
//! `DomainEvent::event_type()`: the log stores the tag as `event_type` and the
//! inner value as `payload`.

use cqrs_es::{
    Aggregate, AggregateContext, AggregateError, DomainEvent, EventEnvelope, EventStore,
};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{Mutex, OwnedMutexGuard};
use uuid::Uuid;

use crate::event::{AppendOutcome, ExpectedVersion, NewEvent, Position, RecordedEvent, Snapshot};
use crate::{Append, EventLog, StoreError};

/// Metadata key holding the tenant of every event (required).
pub const META_TENANT: &str = "tenant";
/// Metadata key holding the command's id, from which event ids derive.
pub const META_COMMAND_ID: &str = "command_id";
/// Metadata key the committed envelopes carry (not stored): the event's
/// position in the log, for callers that wait for it to be projected.
pub const META_POSITION: &str = "position";

type Slot<A> = Arc<Mutex<Option<Loaded<A>>>>;

/// Cheap to clone: clones share the cache and the counters.
pub struct AggregateStore<A: Aggregate> {
    log: EventLog,
    cache: moka::sync::Cache<String, Slot<A>>,
    snapshot_every: u64,
    replayed: Arc<AtomicU64>,
}

impl<A: Aggregate> Clone for AggregateStore<A> {
    fn clone(&self) -> Self {
        Self {
            log: self.log.clone(),
            cache: self.cache.clone(),
            snapshot_every: self.snapshot_every,
            replayed: self.replayed.clone(),
        }
    }
}

struct Loaded<A> {
    aggregate: A,
    version: u64,
    /// Version of the newest snapshot of this stream (0: none).
    snapshot_version: u64,
    /// Unique per load from the log: tags this state's pipelined appends.
    generation: u64,
}

/// Is a snapshot due at `version`, the last one being at `last`? Every
/// `every` events, but never more often than every quarter of the stream's
/// length: an aggregate's state grows with its stream (per-message facts),
/// so fixed spacing would make snapshot writes quadratic in a long
/// conversation, while this keeps them linear and a cold load replays at
/// most a fifth of the stream.
fn snapshot_due(every: u64, last: u64, version: u64) -> bool {
    every > 0 && version - last >= every.max(last / 4)
}

/// Generations are unique in the process, so a fence on one can never
/// catch a later load of the same aggregate.
fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A loaded aggregate, held exclusively until committed or dropped. If it is
/// dropped without a successful commit (a refused command, a conflict, an
/// error) the cache slot is left empty and the next command reloads.
pub struct Loading<A: Aggregate> {
    aggregate_id: String,
    slot: OwnedMutexGuard<Option<Loaded<A>>>,
    loaded: Loaded<A>,
}

impl<A: Aggregate> AggregateContext<A> for Loading<A> {
    fn aggregate(&mut self) -> &mut A {
        &mut self.loaded.aggregate
    }
}

impl<A: Aggregate + 'static> AggregateStore<A> {
    /// `cache_capacity` aggregates stay loaded; a snapshot is taken every
    /// `snapshot_every` events (0: never).
    pub fn new(log: EventLog, cache_capacity: u64, snapshot_every: u64) -> Self {
        Self {
            log,
            cache: moka::sync::Cache::new(cache_capacity),
            snapshot_every,
            replayed: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many events loading aggregates has replayed so far (a metric).
    pub fn replayed_events(&self) -> u64 {
        self.replayed.load(Ordering::Relaxed)
    }

    async fn load_from_log(&self, aggregate_id: &str) -> Result<Loaded<A>, StoreError> {
        let mut loaded = Loaded {
            aggregate: A::default(),
            version: 0,
            snapshot_version: 0,
            generation: next_generation(),
        };
        if let Some(snapshot) = self.log.snapshot(aggregate_id).await? {
            match serde_json::from_value::<A>(snapshot.state) {
                Ok(aggregate) if snapshot.aggregate_type == A::TYPE => {
                    loaded = Loaded {
                        aggregate,
                        version: snapshot.stream_version,
                        snapshot_version: snapshot.stream_version,
                        generation: loaded.generation,
                    };
                }
                // A snapshot is a cache: when the aggregate's shape changed
                // since it was taken, replaying the stream is always right.
                Ok(_) | Err(_) => {
                    tracing::warn!(aggregate_id, "ignoring a snapshot that no longer fits");
                }
            }
        }
        let events = self.log.read_stream(aggregate_id, loaded.version).await?;
        self.replayed
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        for event in events {
            loaded.version = event.stream_version;
            let payload = tagged::<A>(
                &event.event_type,
                event.payload,
                event.schema_version,
                event.position,
            )?;
            loaded.aggregate.apply(payload);
        }
        if snapshot_due(self.snapshot_every, loaded.snapshot_version, loaded.version) {
            // A long replay, and perhaps no write will come to snapshot it
            // (a conversation that is read far more than written): save one
            // now, off the command's path. Losing it costs only a replay.
            match serde_json::to_value(&loaded.aggregate) {
                Ok(state) => {
                    let snapshot = Snapshot {
                        aggregate_type: A::TYPE.to_owned(),
                        stream_version: loaded.version,
                        state,
                    };
                    let (log, id) = (self.log.clone(), aggregate_id.to_owned());
                    tokio::spawn(async move {
                        if let Err(error) = log.save_snapshot(&id, &snapshot).await {
                            tracing::warn!(aggregate_id = id, %error, "snapshot not saved");
                        }
                    });
                    loaded.snapshot_version = loaded.version;
                }
                Err(error) => tracing::warn!(aggregate_id, %error, "aggregate does not serialize"),
            }
        }
        Ok(loaded)
    }
}

impl<A: Aggregate + 'static> EventStore<A> for AggregateStore<A> {
    type AC = Loading<A>;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let events = self
            .log
            .read_stream(aggregate_id, 0)
            .await
            .map_err(to_aggregate_error)?;
        events
            .into_iter()
            .map(|e| decode::<A>(e).map_err(to_aggregate_error))
            .collect()
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<Self::AC, AggregateError<A::Error>> {
        let slot = self
            .cache
            .get_with_by_ref(aggregate_id, || Arc::new(Mutex::new(None)));
        let mut slot = slot.lock_owned().await;
        let loaded = match slot.take() {
            Some(loaded) => loaded,
            None => self
                .load_from_log(aggregate_id)
                .await
                .map_err(to_aggregate_error)?,
        };
        Ok(Loading {
            aggregate_id: aggregate_id.to_owned(),
            slot,
            loaded,
        })
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: Self::AC,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let Loading {
            aggregate_id,
            mut slot,
            mut loaded,
        } = context;
        if events.is_empty() {
            *slot = Some(loaded);
            return Ok(vec![]);
        }
        let new_events = encode::<A>(&events, &metadata).map_err(to_aggregate_error)?;
        let before = loaded.version;
        let after = before + events.len() as u64;
        let snapshot = snapshot_due(self.snapshot_every, loaded.snapshot_version, after)
            .then(|| {
                serde_json::to_value(&loaded.aggregate).map(|state| Snapshot {
                    aggregate_type: A::TYPE.to_owned(),
                    stream_version: after,
                    state,
                })
            })
            .transpose()
            .map_err(|e| AggregateError::UnexpectedError(Box::new(e)))?;
        let snapshotted = snapshot.is_some();
        let generation = loaded.generation;
        // Queue the append while still holding the aggregate: the writer
        // decides appends in queue order, so the next command on this
        // aggregate can be decided on the new state right away, without
        // waiting for this one to be durable.
        let pending = self
            .log
            .submit(Append {
                stream_id: aggregate_id.clone(),
                expected: ExpectedVersion::Exact(before),
                events: new_events,
                generation: Some(generation),
                // Saved once the events are durable, off the writer's batch
                // (see below).
                snapshot: None,
            })
            .await
            .map_err(to_aggregate_error)?;
        loaded.version = after;
        if snapshotted {
            loaded.snapshot_version = after;
        }
        let shared = OwnedMutexGuard::mutex(&slot).clone();
        *slot = Some(loaded);
        drop(slot);

        let outcome = pending.outcome().await;
        if !matches!(outcome, Ok(AppendOutcome::Appended { .. })) {
            // The state this process holds includes events that were not
            // written (or, for a duplicate, were written before and now
            // count twice). Forget it, unless a reload already replaced it.
            let mut slot = shared.lock().await;
            if slot.as_ref().is_some_and(|l| l.generation == generation) {
                *slot = None;
            }
        }
        if let (Ok(AppendOutcome::Appended { .. }), Some(snapshot)) = (&outcome, snapshot) {
            // A snapshot grows with the aggregate's state (a long
            // conversation's is tens of kilobytes): written inside the
            // writer's batch it held up every other stream's acknowledgement
            // (p99 ack 200–300 ms instead of 35–70 ms at 5,000 msg/s). It is
            // a cache, so it is saved afterwards; losing it costs a replay,
            // and an older one never replaces a newer one.
            let (log, id) = (self.log.clone(), aggregate_id.clone());
            tokio::spawn(async move {
                if let Err(error) = log.save_snapshot(&id, &snapshot).await {
                    tracing::warn!(aggregate_id = id, %error, "snapshot not saved");
                }
            });
        }
        match outcome.map_err(to_aggregate_error)? {
            AppendOutcome::Appended { first_position, .. } => Ok(events
                .into_iter()
                .enumerate()
                .map(|(i, payload)| {
                    let mut metadata = metadata.clone();
                    let position = first_position + i as Position;
                    metadata.insert(META_POSITION.to_owned(), position.to_string());
                    EventEnvelope {
                        aggregate_id: aggregate_id.clone(),
                        sequence: (before + 1 + i as u64) as usize,
                        payload,
                        metadata,
                    }
                })
                .collect()),
            // Already done by an earlier try of this command: nothing new
            // was written.
            AppendOutcome::Duplicate { .. } => Ok(vec![]),
        }
    }
}

fn untag(value: Value) -> Value {
    match value {
        Value::Object(map) if map.len() == 1 => map
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .unwrap_or(Value::Null),
        other => other,
    }
}

/// Encode an aggregate's events for the log, as a commit would: tenant and
/// event ids from `metadata` (see the module documentation).
pub fn encode<A: Aggregate>(
    events: &[A::Event],
    metadata: &HashMap<String, String>,
) -> Result<Vec<NewEvent>, StoreError> {
    let tenant = metadata
        .get(META_TENANT)
        .ok_or_else(|| StoreError::InvalidAppend(format!("metadata has no {META_TENANT:?}")))?;
    let command_id = metadata
        .get(META_COMMAND_ID)
        .and_then(|id| id.parse::<Uuid>().ok())
        .unwrap_or_else(Uuid::now_v7);
    let meta = Value::Object(
        metadata
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    );
    events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let schema_version = event.event_version().parse().map_err(|_| {
                StoreError::InvalidAppend(format!(
                    "event_version {:?} is not an integer",
                    event.event_version()
                ))
            })?;
            Ok(NewEvent {
                event_id: Uuid::new_v5(&command_id, index.to_string().as_bytes()),
                event_type: event.event_type(),
                schema_version,
                tenant: tenant.clone(),
                payload: untag(serde_json::to_value(event)?),
                metadata: meta.clone(),
            })
        })
        .collect()
}

/// Turn a recorded event back into the aggregate's event type.
pub fn decode<A: Aggregate>(event: RecordedEvent) -> Result<EventEnvelope<A>, StoreError> {
    let payload = tagged::<A>(
        &event.event_type,
        event.payload,
        event.schema_version,
        event.position,
    )?;
    let metadata = match event.metadata {
        Value::Object(map) => map
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
            .collect(),
        _ => HashMap::new(),
    };
    Ok(EventEnvelope {
        aggregate_id: event.stream_id,
        sequence: event.stream_version as usize,
        payload,
        metadata,
    })
}

/// Only the aggregate's event, without its envelope: what projections and
/// replays need (copies the payload, nothing else).
pub fn decode_payload<A: Aggregate>(event: &RecordedEvent) -> Result<A::Event, StoreError> {
    tagged::<A>(
        &event.event_type,
        event.payload.clone(),
        event.schema_version,
        event.position,
    )
}

fn tagged<A: Aggregate>(
    event_type: &str,
    payload: Value,
    schema_version: i32,
    position: i64,
) -> Result<A::Event, StoreError> {
    let tagged = Value::Object(Map::from_iter([(event_type.to_owned(), payload)]));
    serde_json::from_value(tagged).map_err(|e| {
        StoreError::Decode(format!(
            "{event_type} v{schema_version} at position {position}: {e}"
        ))
    })
}

fn to_aggregate_error<E: std::error::Error>(error: StoreError) -> AggregateError<E> {
    match error {
        StoreError::Conflict { .. } => AggregateError::AggregateConflict,
        StoreError::Decode(_) => AggregateError::DeserializationError(Box::new(error)),
        StoreError::InvalidAppend(_) => AggregateError::UnexpectedError(Box::new(error)),
        other => AggregateError::DatabaseConnectionError(Box::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::snapshot_due;

    #[test]
    fn snapshots_are_spaced_by_the_setting_then_by_a_quarter_of_the_stream() {
        assert!(!snapshot_due(0, 0, 1_000_000));
        assert!(!snapshot_due(500, 0, 499));
        assert!(snapshot_due(500, 0, 500));
        assert!(snapshot_due(500, 1_000, 1_500));
        // At 100,000 events the next snapshot waits 25,000 events.
        assert!(!snapshot_due(500, 100_000, 124_999));
        assert!(snapshot_due(500, 100_000, 125_000));
    }
}
