//! The event log's contract, on SQLite and on PostgreSQL.

use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use store::testing::TestDatabase;
use store::{
    Append, AppendOutcome, Backend, Db, EventLog, ExpectedVersion, NewEvent, RecordedEvent,
    Snapshot, StoreError, Upcaster, both_backends,
};
use uuid::Uuid;

fn event(tenant: &str, n: u64) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "ThingHappened".into(),
        schema_version: 1,
        tenant: tenant.into(),
        payload: json!({ "n": n }),
        metadata: json!({ "actor": "tester" }),
    }
}

async fn open(db: &TestDatabase) -> EventLog {
    EventLog::connect(db.url()).await.expect("open the log")
}

async fn count(log: &EventLog) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(log.db().pool())
        .await
        .unwrap()
}

both_backends!(
    appends_get_increasing_positions_and_stream_versions,
    a_stale_expected_version_is_a_conflict_and_writes_nothing,
    an_event_id_stored_before_returns_the_original_position_and_writes_nothing,
    one_append_request_is_all_or_nothing,
    streams_read_back_after_a_version,
    subscribers_are_woken_after_each_append,
    the_log_refuses_updates_and_deletes,
    snapshots_are_saved_with_their_events,
    old_schema_versions_are_read_through_upcasters,
    closing_finishes_queued_appends_and_refuses_new_ones,
    racing_appends_on_one_stream_have_exactly_one_winner,
    a_catch_up_reader_never_skips_or_repeats_under_sixteen_concurrent_writers,
    events_survive_reopening_the_database,
    a_failed_pipelined_append_fences_the_rest_of_its_generation,
);

async fn appends_get_increasing_positions_and_stream_versions(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = open(&db).await;
    let first = log
        .append(
            "s-1",
            ExpectedVersion::NoStream,
            vec![event("t", 1), event("t", 2)],
        )
        .await
        .unwrap();
    let AppendOutcome::Appended {
        first_position,
        last_position,
        stream_version,
    } = first
    else {
        panic!("expected an append, got {first:?}")
    };
    assert_eq!(stream_version, 2);
    assert!(last_position > first_position);
    let second = log
        .append("s-2", ExpectedVersion::Any, vec![event("t", 3)])
        .await
        .unwrap();
    assert!(second.last_position() > last_position);
    assert_eq!(log.head(), second.last_position());

    let all = log.read_all(0, 100).await.unwrap();
    let positions: Vec<i64> = all.iter().map(|e| e.position).collect();
    assert_eq!(positions.len(), 3);
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(all[0].payload, json!({ "n": 1 }));
    assert_eq!(all[0].tenant, "t");
    assert_eq!(all[0].meta("actor"), Some("tester"));
    assert_eq!(
        (
            all[0].stream_version,
            all[1].stream_version,
            all[2].stream_version
        ),
        (1, 2, 1)
    );
    assert_eq!(log.read_all(positions[1], 100).await.unwrap().len(), 1);
}

async fn a_stale_expected_version_is_a_conflict_and_writes_nothing(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = open(&db).await;
    log.append("s", ExpectedVersion::Exact(0), vec![event("t", 1)])
        .await
        .unwrap();
    let stale = log
        .append("s", ExpectedVersion::Exact(0), vec![event("t", 2)])
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { actual: 1, .. })),
        "{stale:?}"
    );
    let exists = log
        .append("s", ExpectedVersion::NoStream, vec![event("t", 3)])
        .await;
    assert!(
        matches!(exists, Err(StoreError::Conflict { .. })),
        "{exists:?}"
    );
    assert_eq!(count(&log).await, 1);
}

async fn an_event_id_stored_before_returns_the_original_position_and_writes_nothing(
    backend: Backend,
) {
    let db = TestDatabase::new(backend).await;
    let log = open(&db).await;
    let original = event("t", 1);
    let first = log
        .append("s", ExpectedVersion::Any, vec![original.clone()])
        .await
        .unwrap();
    // A retry arrives with a different expected version: still the same event.
    let again = log
        .append("s", ExpectedVersion::Exact(7), vec![original.clone()])
        .await
        .unwrap();
    assert_eq!(
        again,
        AppendOutcome::Duplicate {
            first_position: first.last_position(),
            last_position: first.last_position(),
        }
    );
    // Two retries queued together are also written once.
    let (a, b) = tokio::join!(
        log.append("s", ExpectedVersion::Any, vec![original.clone()]),
        log.append("s", ExpectedVersion::Any, vec![original])
    );
    assert!(matches!(a, Ok(AppendOutcome::Duplicate { .. })));
    assert!(matches!(b, Ok(AppendOutcome::Duplicate { .. })));
    assert_eq!(count(&log).await, 1);
}

async fn one_append_request_is_all_or_nothing(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = open(&db).await;
    let stored = event("t", 1);
    log.append("a", ExpectedVersion::Any, vec![stored.clone()])
        .await
        .unwrap();
    // The second event reuses a stored id: the whole request is refused.
    let refused = log
        .append("b", ExpectedVersion::Any, vec![event("t", 2), stored])
        .await;
    assert!(
        matches!(refused, Err(StoreError::InvalidAppend(_))),
        "{refused:?}"
    );
    let same = event("t", 3);
    let twice = log
        .append("b", ExpectedVersion::Any, vec![same.clone(), same])
        .await;
    assert!(
        matches!(twice, Err(StoreError::InvalidAppend(_))),
        "{twice:?}"
    );
    let empty = log.append("b", ExpectedVersion::Any, vec![]).await;
    assert!(
        matches!(empty, Err(StoreError::InvalidAppend(_))),
        "{empty:?}"
    );
    assert_eq!(count(&log).await, 1);
    assert!(log.read_stream("b", 0).await.unwrap().is_empty());
}

async fn streams_read_back_after_a_version(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = open(&db).await;
    for n in 0..5 {
        log.append("s", ExpectedVersion::Exact(n), vec![event("t", n)])
            .await
            .unwrap();
        log.append("other", ExpectedVersion::Any, vec![event("t", 100 + n)])
            .await
            .unwrap();
    }
    let tail = log.read_stream("s", 3).await.unwrap();
    let versions: Vec<u64> = tail.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, vec![4, 5]);
    assert!(tail.iter().all(|e| e.stream_id == "s"));
    assert_eq!(tail[0].payload, json!({ "n": 3 }));
}

async fn subscribers_are_woken_after_each_append(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = open(&db).await;
    let mut wake = log.subscribe();
    let before = *wake.borrow_and_update();
    let outcome = log
        .append("s", ExpectedVersion::Any, vec![event("t", 1)])
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), wake.changed())
        .await
        .expect("woken")
        .unwrap();
    assert!(*wake.borrow() > before);
    assert_eq!(*wake.borrow(), outcome.last_position());
}

async fn the_log_refuses_updates_and_deletes(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = open(&db).await;
    log.append("s", ExpectedVersion::Any, vec![event("t", 1)])
        .await
        .unwrap();
    let update = sqlx::query("UPDATE events SET payload = '{}'")
        .execute(log.db().pool())
        .await;
    assert!(update.is_err(), "an update went through");
    let delete = sqlx::query("DELETE FROM events")
        .execute(log.db().pool())
        .await;
    assert!(delete.is_err(), "a delete went through");
    assert_eq!(
        log.read_all(0, 10).await.unwrap()[0].payload,
        json!({ "n": 1 })
    );
}

async fn snapshots_are_saved_with_their_events(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = open(&db).await;
    assert_eq!(log.snapshot("s").await.unwrap(), None);
    let snapshot = Snapshot {
        aggregate_type: "thing".into(),
        stream_version: 2,
        state: json!({ "count": 2 }),
    };
    log.append_with_snapshot(
        "s",
        ExpectedVersion::NoStream,
        vec![event("t", 1), event("t", 2)],
        Some(snapshot.clone()),
    )
    .await
    .unwrap();
    assert_eq!(log.snapshot("s").await.unwrap(), Some(snapshot));
    // A refused append saves no snapshot either.
    let stale = Snapshot {
        stream_version: 3,
        ..log.snapshot("s").await.unwrap().unwrap()
    };
    let refused = log
        .append_with_snapshot(
            "s",
            ExpectedVersion::Exact(0),
            vec![event("t", 3)],
            Some(stale),
        )
        .await;
    assert!(refused.is_err());
    assert_eq!(log.snapshot("s").await.unwrap().unwrap().stream_version, 2);
}

struct RenameField;

impl Upcaster for RenameField {
    fn can_upcast(&self, event_type: &str, schema_version: i32) -> bool {
        event_type == "ThingHappened" && schema_version == 1
    }

    fn upcast(&self, event: &mut RecordedEvent) -> Result<(), StoreError> {
        let n = event.payload["n"].clone();
        event.payload = json!({ "count": n });
        event.schema_version = 2;
        Ok(())
    }
}

async fn old_schema_versions_are_read_through_upcasters(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let plain = open(&db).await;
    plain
        .append("s", ExpectedVersion::Any, vec![event("t", 7)])
        .await
        .unwrap();
    plain.close().await;
    let upcasting = EventLog::open(
        Db::connect(db.url()).await.unwrap(),
        vec![Arc::new(RenameField)],
    )
    .await
    .unwrap();
    let read = upcasting.read_all(0, 10).await.unwrap();
    assert_eq!(read[0].schema_version, 2);
    assert_eq!(read[0].payload, json!({ "count": 7 }));
    let by_stream = upcasting.read_stream("s", 0).await.unwrap();
    assert_eq!(by_stream[0].payload, json!({ "count": 7 }));
    // The stored bytes were not touched.
    let raw: String = sqlx::query_scalar("SELECT payload FROM events")
        .fetch_one(upcasting.db().pool())
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&raw).unwrap(),
        json!({ "n": 7 })
    );
}

async fn closing_finishes_queued_appends_and_refuses_new_ones(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = open(&db).await;
    let appends: Vec<_> = (0..50)
        .map(|n| {
            let log = log.clone();
            tokio::spawn(async move {
                log.append(&format!("s-{n}"), ExpectedVersion::Any, vec![event("t", n)])
                    .await
            })
        })
        .collect();
    tokio::task::yield_now().await;
    log.close().await;
    let mut acknowledged = 0;
    for append in appends {
        match append.await.unwrap() {
            Ok(_) => acknowledged += 1,
            Err(StoreError::Closed) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    let after = log
        .append("late", ExpectedVersion::Any, vec![event("t", 0)])
        .await;
    assert!(matches!(after, Err(StoreError::Closed)), "{after:?}");
    // Every acknowledged append is durable, and nothing else was written.
    let reopened = open(&db).await;
    assert_eq!(count(&reopened).await, acknowledged);
}

async fn racing_appends_on_one_stream_have_exactly_one_winner(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = open(&db).await;
    let racers: Vec<_> = (0..20)
        .map(|n| {
            let log = log.clone();
            tokio::spawn(async move {
                log.append("contested", ExpectedVersion::NoStream, vec![event("t", n)])
                    .await
            })
        })
        .collect();
    let mut winners = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(AppendOutcome::Appended { .. }) => winners += 1,
            Err(StoreError::Conflict { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(log.read_stream("contested", 0).await.unwrap().len(), 1);
}

/// Sixteen writers, each with its own connection pool and its own writer
/// task (as sixteen gateway nodes would have), append concurrently while a
/// reader follows the log by position. The reader must see every event
/// exactly once, in position order.
async fn a_catch_up_reader_never_skips_or_repeats_under_sixteen_concurrent_writers(
    backend: Backend,
) {
    const WRITERS: u64 = 16;
    const APPENDS_PER_WRITER: u64 = 60;
    let db = TestDatabase::new(backend).await;
    let reader_log = open(&db).await;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let log = open(&db).await;
        writers.push(tokio::spawn(async move {
            let mut written = Vec::new();
            for n in 0..APPENDS_PER_WRITER {
                // Multi-event appends widen the window between taking a
                // position and committing it.
                let batch = vec![event("t", w * 1000 + n), event("t", w * 1000 + n)];
                let ids: Vec<Uuid> = batch.iter().map(|e| e.event_id).collect();
                log.append(&format!("writer-{w}"), ExpectedVersion::Exact(n * 2), batch)
                    .await
                    .expect("append");
                written.extend(ids);
            }
            log.close().await;
            written
        }));
    }
    let expected_total = (WRITERS * APPENDS_PER_WRITER * 2) as usize;
    let (done_tx, done) = tokio::sync::watch::channel(false);
    let reader = tokio::spawn(async move {
        let mut cursor = 0;
        let mut seen: Vec<RecordedEvent> = Vec::new();
        loop {
            // Decide to stop before reading: an empty page read after every
            // writer finished means the reader has reached the end.
            let writers_done = *done.borrow();
            let page = reader_log.read_all(cursor, 37).await.expect("read");
            match page.last() {
                Some(last) => cursor = last.position,
                None if writers_done => break,
                None => tokio::time::sleep(Duration::from_millis(1)).await,
            }
            seen.extend(page);
        }
        seen
    });
    let mut written = HashSet::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    done_tx.send(true).unwrap();
    let seen = reader.await.unwrap();
    let positions: Vec<i64> = seen.iter().map(|e| e.position).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "the reader saw positions out of order or twice"
    );
    let seen_ids: HashSet<Uuid> = seen.iter().map(|e| e.event_id).collect();
    assert_eq!(seen_ids.len(), seen.len(), "the reader saw an event twice");
    let missed = written.difference(&seen_ids).count();
    assert_eq!(
        missed,
        0,
        "the reader skipped {missed} of {} events",
        written.len()
    );
    assert_eq!(seen.len(), expected_total);
}

async fn events_survive_reopening_the_database(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = open(&db).await;
    let outcome = log
        .append("s", ExpectedVersion::Any, vec![event("t", 1)])
        .await
        .unwrap();
    log.close().await;
    let reopened = open(&db).await;
    assert_eq!(reopened.head(), outcome.last_position());
    let next = reopened
        .append("s", ExpectedVersion::Exact(1), vec![event("t", 2)])
        .await
        .unwrap();
    assert!(next.last_position() > outcome.last_position());
}

/// A caller pipelines B on top of A (same generation). A is refused; by the
/// time B is decided, someone else has moved the stream to exactly the
/// version B expects. B must still fail: it was decided on a state that
/// never existed. A new generation (a reload) is not affected.
async fn a_failed_pipelined_append_fences_the_rest_of_its_generation(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = open(&db).await;
    let stored = event("t", 0);
    log.append("elsewhere", ExpectedVersion::Any, vec![stored.clone()])
        .await
        .unwrap();
    let submit = |expected, events, generation| {
        log.submit(Append {
            stream_id: "s".into(),
            expected,
            events,
            snapshot: None,
            generation,
        })
    };
    // Queued in this order; the writer decides in this order.
    // A reuses a stored id in second place: refused as a whole.
    let a = submit(
        ExpectedVersion::Exact(0),
        vec![event("t", 9), stored],
        Some(7),
    )
    .await
    .unwrap();
    let other = submit(ExpectedVersion::Exact(0), vec![event("t", 1)], None)
        .await
        .unwrap();
    let b = submit(ExpectedVersion::Exact(1), vec![event("t", 2)], Some(7))
        .await
        .unwrap();
    let reloaded = submit(ExpectedVersion::Exact(1), vec![event("t", 3)], Some(8))
        .await
        .unwrap();
    assert!(matches!(
        a.outcome().await,
        Err(StoreError::InvalidAppend(_))
    ));
    assert!(matches!(
        other.outcome().await,
        Ok(AppendOutcome::Appended { .. })
    ));
    let b = b.outcome().await;
    assert!(matches!(b, Err(StoreError::Conflict { .. })), "{b:?}");
    let reloaded = reloaded.outcome().await;
    assert!(
        matches!(
            reloaded,
            Ok(AppendOutcome::Appended {
                stream_version: 2,
                ..
            })
        ),
        "{reloaded:?}"
    );
    let payloads: Vec<_> = log
        .read_stream("s", 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload)
        .collect();
    assert_eq!(payloads, [json!({ "n": 1 }), json!({ "n": 3 })]);
}
