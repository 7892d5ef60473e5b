//! cqrs-es driving the `Conversation` aggregate through the event log, on
//! SQLite and on PostgreSQL.

use chrono::Utc;
use cqrs_es::{AggregateError, CqrsFramework, EventEnvelope, Query};
use domain::DomainError;
use domain::actor::{Actor, Role};
use domain::conversation::{
    Action, Conversation, ConversationCommand, Kind, MessageKind, NewMessage,
};
use domain::ids::{ConversationId, MessageId, TenantId, UserId};
use domain::message::MessageBody;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use store::aggregate::{META_COMMAND_ID, META_POSITION, META_TENANT};
use store::testing::TestDatabase;
use store::{AggregateStore, Backend, EventLog, ExpectedVersion, NewEvent, both_backends};
use uuid::Uuid;

type Cqrs = CqrsFramework<Conversation, AggregateStore<Conversation>>;

/// The framework under test, and its store (a clone sharing cache and counters).
fn framework(log: &EventLog, snapshot_every: u64) -> (Cqrs, AggregateStore<Conversation>) {
    let store = AggregateStore::new(log.clone(), 100, snapshot_every);
    (CqrsFramework::new(store.clone(), vec![], ()), store)
}

/// An agent: its messages record only themselves (a customer's first one
/// also activates the support workflow), so event counts are message counts.
fn member() -> Actor {
    Actor {
        user: UserId::parse("agent-1").unwrap(),
        tenant: TenantId::parse("acme").unwrap(),
        role: Role::Agent,
        name: Some("Ana".into()),
    }
}

fn conversation() -> ConversationId {
    ConversationId::parse("conv-1").unwrap()
}

fn stream() -> String {
    Conversation::stream_id(Kind::Conversation, &member().tenant, &conversation())
}

fn command(actor: &Actor, action: Action) -> ConversationCommand {
    ConversationCommand {
        kind: Kind::Conversation,
        conversation: conversation(),
        actor: actor.clone(),
        at: Utc::now(),
        action,
    }
}

fn post(text: &str) -> Action {
    Action::PostMessage(NewMessage {
        id: MessageId::generate(),
        body: MessageBody::parse(text).unwrap(),
        optimistic_id: None,
        thread_id: None,
        mentions: vec![],
        kind: MessageKind::Text,
        provenance: None,
        metadata: None,
    })
}

fn metadata(command_id: Uuid) -> HashMap<String, String> {
    HashMap::from([
        (META_TENANT.to_owned(), "acme".to_owned()),
        (META_COMMAND_ID.to_owned(), command_id.to_string()),
        ("actor".to_owned(), "cus-1".to_owned()),
    ])
}

async fn execute(
    cqrs: &Cqrs,
    actor: &Actor,
    action: Action,
) -> Result<(), AggregateError<DomainError>> {
    cqrs.execute_with_metadata(&stream(), command(actor, action), metadata(Uuid::now_v7()))
        .await
}

both_backends!(
    commands_become_events_with_tenant_type_version_and_metadata,
    a_refused_command_writes_nothing_and_leaves_the_aggregate_usable,
    a_retried_command_is_stored_once,
    a_second_node_writing_first_is_a_conflict_then_a_retry_succeeds,
    a_conversation_with_a_hundred_thousand_messages_is_not_replayed,
    a_burst_of_commands_on_one_conversation_lands_once_each_in_order,
    a_long_replay_is_snapshotted_even_when_nothing_is_written,
    a_snapshot_saved_after_its_events_lets_a_cold_node_skip_them,
    committed_envelopes_name_the_log_position_of_each_event,
);

async fn commands_become_events_with_tenant_type_version_and_metadata(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = EventLog::connect(db.url()).await.unwrap();
    let (cqrs, _) = framework(&log, 100);
    execute(&cqrs, &member(), Action::Join).await.unwrap();
    execute(&cqrs, &member(), post("Hello")).await.unwrap();
    let events = log.read_stream(&stream(), 0).await.unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        ["ConversationOpened", "ParticipantJoined", "MessagePosted"]
    );
    assert!(
        events
            .iter()
            .all(|e| e.tenant == "acme" && e.schema_version == 1)
    );
    assert_eq!(events[2].payload["content"], json!("Hello"));
    assert_eq!(events[2].payload["tenant"], json!("acme"));
    assert_eq!(events[2].meta("actor"), Some("cus-1"));
    // Events of one command share the command id in their metadata.
    assert_eq!(
        events[0].meta(META_COMMAND_ID),
        events[1].meta(META_COMMAND_ID)
    );
}

async fn a_refused_command_writes_nothing_and_leaves_the_aggregate_usable(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = EventLog::connect(db.url()).await.unwrap();
    let (cqrs, _) = framework(&log, 100);
    execute(&cqrs, &member(), Action::Join).await.unwrap();
    let stranger = Actor {
        user: UserId::parse("cus-2").unwrap(),
        role: Role::Customer,
        ..member()
    };
    let refused = execute(&cqrs, &stranger, post("let me in")).await;
    assert!(
        matches!(
            refused,
            Err(AggregateError::UserError(DomainError::Forbidden(_)))
        ),
        "{refused:?}"
    );
    execute(&cqrs, &member(), post("still here")).await.unwrap();
    let events = log.read_stream(&stream(), 0).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].payload["content"], json!("still here"));
}

async fn a_retried_command_is_stored_once(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = EventLog::connect(db.url()).await.unwrap();
    let (cqrs, _) = framework(&log, 100);
    execute(&cqrs, &member(), Action::Join).await.unwrap();
    let command_id = Uuid::now_v7();
    let message = post("once");
    for _ in 0..3 {
        cqrs.execute_with_metadata(
            &stream(),
            command(&member(), message.clone()),
            metadata(command_id),
        )
        .await
        .unwrap();
    }
    let events = log.read_stream(&stream(), 0).await.unwrap();
    assert_eq!(events.len(), 3, "{events:#?}");
    // The aggregate was not left counting phantom messages.
    execute(&cqrs, &member(), post("next")).await.unwrap();
    let events = log.read_stream(&stream(), 0).await.unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(events[3].stream_version, 4);
}

async fn a_second_node_writing_first_is_a_conflict_then_a_retry_succeeds(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let node_a = EventLog::connect(db.url()).await.unwrap();
    let node_b = EventLog::connect(db.url()).await.unwrap();
    let (cqrs_a, _) = framework(&node_a, 100);
    let (cqrs_b, _) = framework(&node_b, 100);
    execute(&cqrs_a, &member(), Action::Join).await.unwrap();
    // Node B loads from the log and writes; node A's cached copy is now stale.
    execute(&cqrs_b, &member(), post("from b")).await.unwrap();
    let stale = execute(&cqrs_a, &member(), post("from a")).await;
    assert!(
        matches!(stale, Err(AggregateError::AggregateConflict)),
        "{stale:?}"
    );
    // The conflict dropped the stale copy: the retry loads fresh state.
    execute(&cqrs_a, &member(), post("from a")).await.unwrap();
    let contents: Vec<String> = node_b
        .read_stream(&stream(), 0)
        .await
        .unwrap()
        .iter()
        .filter_map(|e| e.payload["content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(contents, ["from b", "from a"]);
}

async fn a_conversation_with_a_hundred_thousand_messages_is_not_replayed(backend: Backend) {
    const MESSAGES: u64 = 100_000;
    const SNAPSHOT_EVERY: u64 = 500;
    let db = TestDatabase::new(backend).await;
    let log = EventLog::connect(db.url()).await.unwrap();
    let (cqrs, _) = framework(&log, SNAPSHOT_EVERY);
    execute(&cqrs, &member(), Action::Join).await.unwrap();
    // Fill the stream straight through the log, in large appends.
    let mut version = 2;
    for chunk in 0..(MESSAGES / 5_000) {
        let events: Vec<NewEvent> = (0..5_000)
            .map(|i| NewEvent {
                event_id: Uuid::new_v4(),
                event_type: "MessagePosted".into(),
                schema_version: 1,
                tenant: "acme".into(),
                payload: json!({
                    "tenant": "acme", "conversation_id": "conv-1",
                    "message_id": format!("msg_{chunk}_{i}"), "author_id": "cus-1",
                    "author_name": "Ana", "author_role": "customer", "content": "hi",
                    "content_type": "text", "optimistic_id": null, "thread_id": null,
                    "mentions": [], "at": "2026-11-22T10:00:00Z"
                }),
                metadata: json!({ "tenant": "acme" }),
            })
            .collect();
        log.append(&stream(), ExpectedVersion::Exact(version), events)
            .await
            .unwrap();
        version += 5_000;
    }
    // The first command after the bulk load replays the stream once; that
    // long replay is snapshotted (in the background).
    let (first, first_store) = framework(&log, SNAPSHOT_EVERY);
    execute(&first, &member(), post("one more")).await.unwrap();
    assert_eq!(first_store.replayed_events(), MESSAGES + 2);
    let snapshot = wait_for_snapshot(&log).await;
    assert_eq!(snapshot.stream_version, MESSAGES + 2);
    let state: Conversation = serde_json::from_value(snapshot.state).unwrap();
    assert_eq!(state.message_count(), MESSAGES);

    // A cold node (empty cache) loads the snapshot and replays only what
    // came after it: the one message.
    let (cold, cold_store) = framework(&log, SNAPSHOT_EVERY);
    execute(&cold, &member(), post("and another"))
        .await
        .unwrap();
    assert_eq!(cold_store.replayed_events(), 1);
    // A warm one does not even read the snapshot again.
    execute(&cold, &member(), post("and again")).await.unwrap();
    assert_eq!(cold_store.replayed_events(), 1);
    let tail = log.read_stream(&stream(), MESSAGES + 2).await.unwrap();
    let versions: Vec<u64> = tail.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, [MESSAGES + 3, MESSAGES + 4, MESSAGES + 5]);
}

/// Commands on one conversation are pipelined (decided before the previous
/// one is durable); a burst of them, some of them retries, must still land
/// exactly once each with contiguous versions, and the state must count
/// every message once.
async fn a_burst_of_commands_on_one_conversation_lands_once_each_in_order(backend: Backend) {
    const MESSAGES: usize = 200;
    let db = TestDatabase::new(backend).await;
    let log = EventLog::connect(db.url()).await.unwrap();
    let (cqrs, _) = framework(&log, 50);
    execute(&cqrs, &member(), Action::Join).await.unwrap();
    let cqrs = std::sync::Arc::new(cqrs);
    let mut tasks = Vec::new();
    for n in 0..MESSAGES {
        let cqrs = cqrs.clone();
        tasks.push(tokio::spawn(async move {
            let command_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("message {n}").as_bytes());
            let action = Action::PostMessage(NewMessage {
                id: MessageId::parse(format!("msg_{n}")).unwrap(),
                body: MessageBody::parse(format!("m{n}")).unwrap(),
                optimistic_id: None,
                thread_id: None,
                mentions: vec![],
                kind: MessageKind::Text,
                provenance: None,
                metadata: None,
            });
            // Every third message is sent twice, as a client retry would.
            let sends = if n % 3 == 0 { 2 } else { 1 };
            for _ in 0..sends {
                // A conflict means a pipelined predecessor failed: try again,
                // as the gateway does.
                loop {
                    let result = cqrs
                        .execute_with_metadata(
                            &stream(),
                            command(&member(), action.clone()),
                            metadata(command_id),
                        )
                        .await;
                    match result {
                        Err(AggregateError::AggregateConflict) => continue,
                        other => break other.unwrap(),
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let events = log.read_stream(&stream(), 0).await.unwrap();
    let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, (1..=(MESSAGES as u64 + 2)).collect::<Vec<_>>());
    let mut contents: Vec<String> = events
        .iter()
        .filter_map(|e| e.payload["content"].as_str().map(str::to_owned))
        .collect();
    contents.sort();
    let mut expected: Vec<String> = (0..MESSAGES).map(|n| format!("m{n}")).collect();
    expected.sort();
    assert_eq!(contents, expected);
    // A cold load agrees with the log.
    let (cold, _) = framework(&log, 50);
    execute(&cold, &member(), post("after the burst"))
        .await
        .unwrap();
    let snapshot_or_replay = log.read_stream(&stream(), 0).await.unwrap();
    assert_eq!(snapshot_or_replay.len(), MESSAGES + 3);
}

/// A conversation that is read (rejoined) far more than written must not be
/// replayed in full on every cold load.
async fn a_long_replay_is_snapshotted_even_when_nothing_is_written(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = EventLog::connect(db.url()).await.unwrap();
    let (writer, _) = framework(&log, 0);
    execute(&writer, &member(), Action::Join).await.unwrap();
    for n in 0..120 {
        execute(&writer, &member(), post(&format!("m{n}")))
            .await
            .unwrap();
    }
    assert_eq!(log.snapshot(&stream()).await.unwrap(), None);
    // A cold node loads for a command that writes nothing (joining again).
    let (reader, reader_store) = framework(&log, 100);
    execute(&reader, &member(), Action::Join).await.unwrap();
    assert_eq!(reader_store.replayed_events(), 122);
    assert_eq!(wait_for_snapshot(&log).await.stream_version, 122);
    let (cold, cold_store) = framework(&log, 100);
    execute(&cold, &member(), Action::Join).await.unwrap();
    assert_eq!(cold_store.replayed_events(), 0);
}

/// Snapshots due on a command are saved once its events are durable, in
/// the background: a cold node then replays only what came after.
async fn a_snapshot_saved_after_its_events_lets_a_cold_node_skip_them(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = EventLog::connect(db.url()).await.unwrap();
    let (writer, _) = framework(&log, 10);
    execute(&writer, &member(), Action::Join).await.unwrap();
    for n in 0..8 {
        execute(&writer, &member(), post(&format!("m{n}")))
            .await
            .unwrap();
    }
    // Version 10: the opening, the join and eight messages.
    let snapshot = wait_for_snapshot(&log).await;
    assert_eq!(snapshot.stream_version, 10);
    let state: Conversation = serde_json::from_value(snapshot.state).unwrap();
    assert_eq!(state.message_count(), 8);
    execute(&writer, &member(), post("after")).await.unwrap();
    let (cold, cold_store) = framework(&log, 10);
    execute(&cold, &member(), post("cold")).await.unwrap();
    assert_eq!(cold_store.replayed_events(), 1);
}

/// Snapshots are saved in the background: wait for one.
async fn wait_for_snapshot(log: &EventLog) -> store::Snapshot {
    for _ in 0..250 {
        if let Some(snapshot) = log.snapshot(&stream()).await.unwrap() {
            return snapshot;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no snapshot was saved")
}

/// Keeps the positions the committed envelopes name.
#[derive(Clone, Default)]
struct Positions(Arc<Mutex<Vec<Option<String>>>>);

#[async_trait::async_trait]
impl Query<Conversation> for Positions {
    async fn dispatch(&self, _: &str, events: &[EventEnvelope<Conversation>]) {
        let mut seen = self.0.lock().unwrap();
        seen.extend(
            events
                .iter()
                .map(|e| e.metadata.get(META_POSITION).cloned()),
        );
    }
}

async fn committed_envelopes_name_the_log_position_of_each_event(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let log = EventLog::connect(db.url()).await.unwrap();
    let positions = Positions::default();
    let store = AggregateStore::new(log.clone(), 100, 100);
    let cqrs = CqrsFramework::new(store, vec![Box::new(positions.clone())], ());
    execute(&cqrs, &member(), Action::Join).await.unwrap();
    execute(&cqrs, &member(), post("Hello")).await.unwrap();
    let stored: Vec<Option<String>> = log
        .read_stream(&stream(), 0)
        .await
        .unwrap()
        .iter()
        .map(|e| Some(e.position.to_string()))
        .collect();
    assert_eq!(stored.len(), 3, "opened, joined, posted");
    assert_eq!(*positions.0.lock().unwrap(), stored);
}
