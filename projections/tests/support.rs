//! The support read model (`support_conversations`), the queue, metrics,
//! and hidden robot messages, on SQLite and PostgreSQL.

use domain::Room;
use domain::actor::{Actor, Role};
use domain::conversation::{Action, EndReason, Kind, MessageKind, Rating, Status, SupportDetails};
use domain::ids::{ChatbotId, MessageId, SessionId};
use domain::message::MessageMetadata;
use projections::conversation_list;
use projections::conversation_messages::{self, Cursor, Since, Visibility};
use projections::support::{self, SupportChange, SupportQuery, SupportView};
use projections::update::Change;
use projections::{Projector, Update};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use store::{Backend, both_backends};
use tokio::sync::broadcast;

mod common;

use common::{World, conv, message, metadata, person, t, tenant_id, user};

impl World {
    /// Run a command at `second` seconds past the test's epoch.
    async fn run(&self, second: i64, who: &Actor, conversation: &str, action: Action) {
        self.try_run(second, who, conversation, action)
            .await
            .unwrap();
    }

    async fn try_run(
        &self,
        second: i64,
        who: &Actor,
        conversation: &str,
        action: Action,
    ) -> Result<(), cqrs_es::AggregateError<domain::DomainError>> {
        let (kind, at) = (Kind::Conversation, t(second));
        self.converse(kind, who, conversation, at, action, metadata(&who.tenant))
            .await
    }

    async fn post(
        &self,
        second: i64,
        who: &Actor,
        conversation: &str,
        kind: MessageKind,
    ) -> MessageId {
        let (id, action) = message(format!("said at {second}"), kind);
        self.run(second, who, conversation, action).await;
        id
    }

    async fn caught_up(&self, projector: &Projector) {
        self.wait_for(projector, &[support::NAME, conversation_messages::NAME])
            .await;
    }

    async fn view(&self, tenant: &str, conversation: &str) -> SupportView {
        support::get(self.log.db(), &tenant_id(tenant), &conv(conversation))
            .await
            .unwrap()
            .expect("a support conversation")
    }
}

fn query(tenant: &str) -> SupportQuery {
    SupportQuery {
        tenant: tenant_id(tenant),
        status: None,
        agent: None,
        customer: None,
        from: None,
        to: None,
        page: 1,
        limit: 10,
    }
}

fn escalate() -> Action {
    Action::Escalate { reason: None }
}

fn end(reason: EndReason) -> Action {
    Action::End {
        reason,
        idle_since: None,
    }
}

/// Updates until `done` says enough, or ten seconds.
async fn collect(
    updates: &mut broadcast::Receiver<Arc<Update>>,
    done: impl Fn(&[Arc<Update>]) -> bool,
) -> Vec<Arc<Update>> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(&seen) {
        match tokio::time::timeout_at(deadline, updates.recv()).await {
            Ok(Ok(update)) => seen.push(update),
            other => panic!("updates stopped ({other:?}) after {seen:#?}"),
        }
    }
    seen
}

fn queue_moves(updates: &[Arc<Update>]) -> Vec<Vec<(String, u32, u64)>> {
    updates
        .iter()
        .filter_map(|u| match &u.change {
            Change::QueueMoved { queue, .. } => Some(
                queue
                    .iter()
                    .map(|e| {
                        (
                            e.conversation_id.to_string(),
                            e.position,
                            e.estimated_wait_seconds,
                        )
                    })
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

both_backends!(
    a_conversation_is_a_row_with_what_its_events_carry,
    metadata_is_merged_where_it_is_stored_key_by_key_whatever_the_keys,
    support_changes_are_published_with_the_view_after_the_change,
    the_list_filters_by_status_agent_customer_and_dates_and_pages_past_the_end_are_empty,
    queue_positions_and_estimated_waits_move_and_each_move_is_published,
    active_counts_and_idle_conversations,
    metrics_give_medians_p90s_and_csat_overall_per_agent_and_per_day,
    hidden_messages_are_left_out_for_customers_until_shared,
    a_rebuild_from_zero_gives_the_live_rows,
);

async fn a_conversation_is_a_row_with_what_its_events_carry(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    let bob = person("acme", "bob", Role::Agent);
    let bot = person("acme", "assistant", Role::Service);
    let details = SupportDetails {
        chatbot_id: Some(ChatbotId::parse("bot-1").unwrap()),
        session_id: Some(SessionId::parse("sess-1").unwrap()),
        user_agent: Some("Mozilla/5.0".into()),
        ip_address: Some("203.0.113.9".into()),
        referrer: Some("https://example.com/help".into()),
    };
    world.run(0, &ana, "c1", Action::Start(details)).await;
    world.post(1, &ana, "c1", MessageKind::Text).await;
    world.post(2, &bot, "c1", MessageKind::Text).await;
    world.run(10, &ana, "c1", escalate()).await;
    world.run(40, &bob, "c1", Action::Claim).await;
    world.post(55, &bob, "c1", MessageKind::Text).await;
    world.post(56, &bob, "c1", MessageKind::Text).await;
    let metadata = MessageMetadata::parse(json!({ "plan": "pro", "topic": "billing" })).unwrap();
    world
        .run(57, &ana, "c1", Action::UpdateMetadata(metadata))
        .await;
    let metadata = MessageMetadata::parse(json!({ "plan": null, "seats": 3 })).unwrap();
    world
        .run(58, &ana, "c1", Action::UpdateMetadata(metadata))
        .await;
    world.run(100, &bob, "c1", end(EndReason::Resolved)).await;
    world
        .run(
            101,
            &ana,
            "c1",
            Action::Rate {
                rating: Rating::Good,
                comment: Some(domain::conversation::Remark::parse("comment", "quick").unwrap()),
            },
        )
        .await;
    world.run(102, &bob, "c1", Action::Close).await;
    world.caught_up(&projector).await;

    let view = world.view("acme", "c1").await;
    assert_eq!(
        view.room,
        Room::new(tenant_id("acme"), Kind::Conversation, conv("c1"))
    );
    assert_eq!(
        view.chatbot_id.as_ref().map(ChatbotId::as_str),
        Some("bot-1")
    );
    assert_eq!(
        view.session_id.as_ref().map(SessionId::as_str),
        Some("sess-1")
    );
    assert_eq!(view.user_agent.as_deref(), Some("Mozilla/5.0"));
    assert_eq!(view.ip_address.as_deref(), Some("203.0.113.9"));
    assert_eq!(view.referrer.as_deref(), Some("https://example.com/help"));
    assert_eq!(view.user_id, user("ana"));
    assert_eq!(view.status, Status::Closed);
    assert_eq!(view.assigned_agent_id, Some(user("bob")));
    assert_eq!(view.assigned_agent_name.as_deref(), Some("BOB"));
    assert_eq!(view.metadata, json!({ "topic": "billing", "seats": 3 }));
    assert_eq!(view.created_at, t(0));
    // Closing, rating and metadata are not activity; ending is.
    assert_eq!(view.last_activity_at, t(100));
    assert_eq!(view.queued_at, Some(t(10)));
    assert_eq!(view.agent_assigned_at, Some(t(40)));
    assert_eq!(view.ended_at, Some(t(100)));
    assert_eq!(view.end_reason, Some(EndReason::Resolved));
    assert_eq!(
        (
            view.message_count,
            view.ai_message_count,
            view.agent_message_count
        ),
        (4, 1, 2)
    );
    assert_eq!(view.queue_time_seconds, Some(30));
    assert_eq!(view.handle_time_seconds, Some(60));
    assert_eq!(view.first_response_seconds, Some(45));
    assert_eq!(view.rating, Some(Rating::Good));
    assert_eq!(view.rating_comment.as_deref(), Some("quick"));
    // Another tenant's id is unknown.
    assert_eq!(
        support::get(world.log.db(), &tenant_id("globex"), &conv("c1"))
            .await
            .unwrap(),
        None
    );
    projector.stop().await;
}

async fn metadata_is_merged_where_it_is_stored_key_by_key_whatever_the_keys(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    world.run(0, &ana, "c1", Action::Join).await;
    let updates = [
        json!({
            "plain": "v",
            "a\"quote": 1,
            "back\\slash": true,
            "dot.key": [1, null, 2],
            "br[0]": { "nested": { "x": null, "y": 1 } },
            "ünï😀": "é",
            "new\nline": 1e300,
            "": "empty key",
            "$.x": 0.30000000000000004,
            "big": 18446744073709551615u64,
        }),
        // A nested object is replaced, not merged; null removes a key,
        // even one that is not there.
        json!({ "br[0]": { "z": 2 }, "plain": null, "absent": null, "a\"quote": "again" }),
        json!({ "added": { "k": [] } }),
    ];
    let mut expected = serde_json::Map::new();
    for (second, changes) in (1..).zip(updates) {
        for (key, value) in changes.as_object().unwrap() {
            if value.is_null() {
                expected.remove(key);
            } else {
                expected.insert(key.clone(), value.clone());
            }
        }
        let changes = MessageMetadata::parse(changes).unwrap();
        world
            .run(second, &ana, "c1", Action::UpdateMetadata(changes))
            .await;
    }
    world.caught_up(&projector).await;
    let view = world.view("acme", "c1").await;
    assert_eq!(view.metadata, serde_json::Value::Object(expected));
    // Stored as given: numbers keep their text (no 301-digit 1e300).
    let stored: String = sqlx::query_scalar(
        "SELECT metadata FROM support_conversations WHERE tenant = 'acme' AND conversation_id = 'c1'",
    )
    .fetch_one(world.log.db().pool())
    .await
    .unwrap();
    assert!(stored.contains("1e+300") && stored.len() < 400, "{stored}");
    projector.stop().await;
}

async fn support_changes_are_published_with_the_view_after_the_change(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let mut updates = projector.subscribe();
    let ana = person("acme", "ana", Role::Customer);
    let bob = person("acme", "bob", Role::Agent);
    world.run(0, &ana, "c1", Action::Join).await;
    world.post(1, &ana, "c1", MessageKind::Text).await;
    world.run(2, &ana, "c1", escalate()).await;
    world.run(3, &bob, "c1", Action::Claim).await;
    world.run(4, &bob, "c1", end(EndReason::AgentEnded)).await;
    let support = |u: &Arc<Update>| matches!(u.change, Change::Support { .. });
    let seen = collect(&mut updates, |seen| {
        seen.iter().filter(|u| support(u)).count() >= 4
    })
    .await;
    let changes: Vec<(Status, &SupportChange)> = seen
        .iter()
        .filter_map(|u| match &u.change {
            Change::Support { view, change, .. } => Some((view.status, change)),
            _ => None,
        })
        .collect();
    assert_eq!(changes[0], (Status::Active, &SupportChange::Activated));
    assert!(matches!(
        changes[1],
        (Status::Queued, SupportChange::Escalated { by, .. }) if *by == user("ana")
    ));
    assert!(matches!(
        changes[2],
        (
            Status::Agent,
            SupportChange::AgentAssigned {
                how: domain::conversation::Assignment::Claimed,
                previous_agent: None,
                active_call: None,
            }
        )
    ));
    assert!(matches!(
        changes[3],
        (
            Status::Ended,
            SupportChange::Ended {
                reason: EndReason::AgentEnded,
                by_role: Role::Agent,
                ..
            }
        )
    ));
    // The view after the message: its count is in it.
    let Change::Support { view, at, .. } = &seen.iter().find(|u| support(u)).unwrap().change else {
        unreachable!()
    };
    assert_eq!(view.message_count, 1);
    assert_eq!(*at, t(1));
    projector.stop().await;
}

async fn the_list_filters_by_status_agent_customer_and_dates_and_pages_past_the_end_are_empty(
    backend: Backend,
) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let bob = person("acme", "bob", Role::Agent);
    let cyd = person("acme", "cyd", Role::Agent);
    // c0..c5 opened an hour apart, by two customers.
    for n in 0..6 {
        let customer = person(
            "acme",
            if n % 2 == 0 { "ana" } else { "dan" },
            Role::Customer,
        );
        let id = format!("c{n}");
        world.run(n * 3600, &customer, &id, Action::Join).await;
        world
            .post(n * 3600 + 1, &customer, &id, MessageKind::Text)
            .await;
        if n >= 2 {
            world.run(n * 3600 + 2, &customer, &id, escalate()).await;
        }
    }
    world.run(30_000, &bob, "c2", Action::Claim).await;
    world.run(30_001, &bob, "c3", Action::Claim).await;
    world.run(30_002, &cyd, "c4", Action::Claim).await;
    // Another tenant's conversation is never listed.
    let eve = person("globex", "eve", Role::Customer);
    world.run(0, &eve, "c0", Action::Join).await;
    world.caught_up(&projector).await;
    let db = world.log.db();
    let ids = |views: &[SupportView]| -> Vec<String> {
        views.iter().map(|v| v.room.id.to_string()).collect()
    };

    let (all, total) = support::list(db, &query("acme")).await.unwrap();
    assert_eq!(total, 6);
    assert_eq!(
        ids(&all),
        ["c5", "c4", "c3", "c2", "c1", "c0"],
        "newest first"
    );

    let mut by_status = query("acme");
    by_status.status = Some(Status::Agent);
    let (agent, total) = support::list(db, &by_status).await.unwrap();
    assert_eq!(
        (ids(&agent), total),
        (vec!["c4".into(), "c3".into(), "c2".into()], 3)
    );
    by_status.status = Some(Status::Queued);
    assert_eq!(ids(&support::list(db, &by_status).await.unwrap().0), ["c5"]);

    let mut by_agent = query("acme");
    by_agent.agent = Some(user("bob"));
    assert_eq!(
        ids(&support::list(db, &by_agent).await.unwrap().0),
        ["c3", "c2"]
    );

    let mut by_customer = query("acme");
    by_customer.customer = Some(user("dan"));
    assert_eq!(
        ids(&support::list(db, &by_customer).await.unwrap().0),
        ["c5", "c3", "c1"]
    );

    // From inclusive, to exclusive, on created_at.
    let mut by_date = query("acme");
    by_date.from = Some(t(3600));
    by_date.to = Some(t(4 * 3600));
    assert_eq!(
        ids(&support::list(db, &by_date).await.unwrap().0),
        ["c3", "c2", "c1"]
    );

    let mut paged = query("acme");
    paged.limit = 4;
    paged.page = 2;
    let (second, total) = support::list(db, &paged).await.unwrap();
    assert_eq!((ids(&second), total), (vec!["c1".into(), "c0".into()], 6));
    paged.page = 3;
    let (beyond, total) = support::list(db, &paged).await.unwrap();
    assert!(beyond.is_empty());
    assert_eq!(total, 6, "a page past the end still tells the total");
    paged.page = 0;
    assert_eq!(
        support::list(db, &paged).await.unwrap().0.len(),
        4,
        "page 0 reads as 1"
    );

    let (globex, total) = support::list(db, &query("globex")).await.unwrap();
    assert_eq!((ids(&globex), total), (vec!["c0".into()], 1));
    let many = support::get_many(db, &tenant_id("globex"), &[conv("c0"), conv("c1")])
        .await
        .unwrap();
    assert_eq!(many.len(), 1);
    assert_eq!(many[&conv("c0")].user_id, user("eve"));
    projector.stop().await;
}

async fn queue_positions_and_estimated_waits_move_and_each_move_is_published(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let mut updates = projector.subscribe();
    let bob = person("acme", "bob", Role::Agent);
    let sue = person("acme", "sue", Role::Supervisor);
    let customers: Vec<Actor> = (1..=4)
        .map(|n| person("acme", &format!("cus{n}"), Role::Customer))
        .collect();
    for (n, customer) in customers.iter().enumerate() {
        let id = format!("c{}", n + 1);
        world.run(n as i64, customer, &id, Action::Join).await;
    }
    // Escalated out of order of opening: the queue follows queued_at.
    world.run(10, &customers[1], "c2", escalate()).await;
    world.run(11, &customers[0], "c1", escalate()).await;
    world.run(12, &customers[2], "c3", escalate()).await;
    // No agent at work and no history: 300 s per position. (Events of one
    // batch move the line once, so wait for the line, not for a count.)
    let line = vec![
        ("c2".to_owned(), 1, 300),
        ("c1".to_owned(), 2, 600),
        ("c3".to_owned(), 3, 900),
    ];
    let seen = collect(&mut updates, |seen| queue_moves(seen).last() == Some(&line)).await;
    assert!(queue_moves(&seen).iter().all(|queue| queue.len() <= 3));
    world.caught_up(&projector).await;
    let queue = support::queue(world.log.db(), &tenant_id("acme"))
        .await
        .unwrap();
    assert_eq!(queue.len(), 3);
    assert_eq!(queue[0].user_id, user("cus2"));
    assert_eq!(queue[0].status, Status::Queued);
    assert_eq!(queue[0].queued_at, t(10));

    // bob takes the first in line and ends it after 100 s: one agent at
    // work, median handle time 100 s.
    world.run(20, &bob, "c2", Action::Claim).await;
    world.run(120, &bob, "c2", end(EndReason::Resolved)).await;
    world.run(121, &bob, "c1", Action::Claim).await;
    // Served conversations leave the line; the rest move up.
    let line = vec![("c3".to_owned(), 1, 100)];
    collect(&mut updates, |seen| queue_moves(seen).last() == Some(&line)).await;
    // Ending a conversation that waits moves the line; ending one an agent
    // handles does not.
    world.run(122, &customers[3], "c4", escalate()).await;
    world
        .run(123, &customers[2], "c3", end(EndReason::UserEnded))
        .await;
    world.run(124, &bob, "c1", end(EndReason::Resolved)).await;
    // An agent escalates to supervisors: it waits again, as `escalated`.
    world.run(125, &customers[0], "c5", Action::Join).await;
    world.run(126, &customers[0], "c5", escalate()).await;
    world.run(130, &bob, "c5", Action::Claim).await;
    world.run(131, &bob, "c5", escalate()).await;
    world.caught_up(&projector).await;
    let queue = support::queue(world.log.db(), &tenant_id("acme"))
        .await
        .unwrap();
    let line: Vec<(String, Status, u32)> = queue
        .iter()
        .map(|e| (e.conversation_id.to_string(), e.status, e.position))
        .collect();
    assert_eq!(
        line,
        [
            ("c4".to_owned(), Status::Queued, 1),
            ("c5".to_owned(), Status::Escalated, 2)
        ]
    );
    world.run(140, &sue, "c5", Action::Claim).await;
    world.caught_up(&projector).await;
    let view = world.view("acme", "c5").await;
    assert_eq!(
        view.queue_time_seconds,
        Some(4),
        "the first wait is the queue time"
    );
    assert_eq!(
        view.queued_at,
        Some(t(131)),
        "the latest wait is where it stood in line"
    );
    assert_eq!(view.assigned_agent_id, Some(user("sue")));
    // The other tenant's queue is its own.
    assert!(
        support::queue(world.log.db(), &tenant_id("globex"))
            .await
            .unwrap()
            .is_empty()
    );
    projector.stop().await;
}

async fn active_counts_and_idle_conversations(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let bob = person("acme", "bob", Role::Agent);
    let cyd = person("acme", "cyd", Role::Agent);
    let ana = person("acme", "ana", Role::Customer);
    let eve = person("globex", "eve", Role::Customer);
    for (n, id) in ["c1", "c2", "c3"].into_iter().enumerate() {
        world.run(n as i64, &ana, id, Action::Join).await;
        world.run(10 + n as i64, &ana, id, escalate()).await;
    }
    world.run(20, &bob, "c1", Action::Claim).await;
    world.run(21, &bob, "c2", Action::Claim).await;
    world.run(22, &cyd, "c3", Action::Claim).await;
    world.run(23, &cyd, "c3", end(EndReason::Resolved)).await;
    world.run(5, &eve, "g1", Action::Join).await;
    world.post(30, &ana, "c2", MessageKind::Text).await;
    world.caught_up(&projector).await;
    let db = world.log.db();
    let counts = support::active_counts(db, &tenant_id("acme"))
        .await
        .unwrap();
    assert_eq!(counts, HashMap::from([(user("bob"), 2)]));
    assert!(
        support::active_counts(db, &tenant_id("globex"))
            .await
            .unwrap()
            .is_empty()
    );

    // Idle since before t(25): c1 (last activity t(20)) and globex's g1
    // (t(5)), the longest idle first; c3 is over, c2 spoke at t(30).
    let idle = support::idle(db, t(25), 10).await.unwrap();
    assert_eq!(
        idle,
        [
            (tenant_id("globex"), conv("g1"), Status::New, t(5)),
            (tenant_id("acme"), conv("c1"), Status::Agent, t(20)),
        ]
    );
    assert_eq!(support::idle(db, t(25), 1).await.unwrap().len(), 1);
    assert!(
        support::idle(db, t(5), 10).await.unwrap().is_empty(),
        "strictly before"
    );
    // The idle policy's command, with the activity seen, ends it.
    let system = domain::policy::system_actor(&tenant_id("acme"));
    world
        .run(
            2000,
            &system,
            "c1",
            Action::End {
                reason: EndReason::Timeout,
                idle_since: Some(idle[1].3),
            },
        )
        .await;
    world.caught_up(&projector).await;
    let view = world.view("acme", "c1").await;
    assert_eq!(
        (view.status, view.end_reason),
        (Status::Ended, Some(EndReason::Timeout))
    );
    // Activity the policy did not see keeps a conversation going.
    let refused = world
        .try_run(
            2001,
            &system,
            "c2",
            Action::End {
                reason: EndReason::Timeout,
                idle_since: Some(t(21)),
            },
        )
        .await;
    assert!(refused.is_err());
    projector.stop().await;
}

async fn metrics_give_medians_p90s_and_csat_overall_per_agent_and_per_day(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let bob = person("acme", "bob", Role::Agent);
    let cyd = person("acme", "cyd", Role::Agent);
    let bot = person("acme", "assistant", Role::Service);
    let day = 24 * 3600;
    // Five conversations on day 0 and one on day 1. Queue waits 10, 20, 30,
    // 40, 50 s; handle times 100, 200, 300, 400 s; c5 is still handled.
    let plan = [
        ("c1", 0, &bob, 10, Some(100), Some(Rating::Good)),
        ("c2", 1000, &bob, 20, Some(200), Some(Rating::Bad)),
        ("c3", 2000, &cyd, 30, Some(300), Some(Rating::Good)),
        ("c4", 3000, &cyd, 40, Some(400), None),
        ("c5", 4000, &cyd, 50, None, None),
    ];
    for (id, start, agent, wait, handle, rating) in plan {
        let customer = person("acme", &format!("cus-{id}"), Role::Customer);
        world.run(start, &customer, id, Action::Join).await;
        world
            .post(start + 1, &customer, id, MessageKind::Text)
            .await;
        world.post(start + 2, &bot, id, MessageKind::Text).await;
        world.run(start + 3, &customer, id, escalate()).await;
        world.run(start + 3 + wait, agent, id, Action::Claim).await;
        // First responses 5 s after the claim: wait + 5.
        world
            .post(start + 8 + wait, agent, id, MessageKind::Text)
            .await;
        if let Some(handle) = handle {
            world
                .run(
                    start + 3 + wait + handle,
                    agent,
                    id,
                    end(EndReason::Resolved),
                )
                .await;
        }
        if let Some(rating) = rating {
            world
                .run(
                    start + 900,
                    &customer,
                    id,
                    Action::Rate {
                        rating,
                        comment: None,
                    },
                )
                .await;
        }
    }
    let late = person("acme", "cus-late", Role::Customer);
    world.run(day + 60, &late, "c6", Action::Join).await;
    world.post(day + 61, &late, "c6", MessageKind::Text).await;
    world
        .run(day + 62, &late, "c6", end(EndReason::UserEnded))
        .await;
    world.caught_up(&projector).await;
    let db = world.log.db();

    let m = support::metrics(db, &tenant_id("acme"), None, None)
        .await
        .unwrap();
    let o = &m.overall;
    assert_eq!((o.conversations, o.ended, o.queued), (6, 5, 5));
    assert_eq!((o.messages, o.ai_messages, o.agent_messages), (16, 5, 5));
    assert_eq!(o.queue_time.median, Some(30.0));
    assert_eq!(o.queue_time.p90, Some(46.0));
    assert_eq!(o.first_response.median, Some(35.0));
    assert_eq!(o.handle_time.median, Some(250.0));
    assert_eq!(o.handle_time.p90, Some(370.0));
    assert_eq!((o.ratings_good, o.ratings_bad), (2, 1));
    assert_eq!(o.csat, Some(2.0 / 3.0));

    let agents: Vec<(&str, u64, Option<f64>, Option<f64>)> = m
        .per_agent
        .iter()
        .map(|a| {
            (
                a.agent_id.as_str(),
                a.metrics.conversations,
                a.metrics.handle_time.median,
                a.metrics.csat,
            )
        })
        .collect();
    assert_eq!(
        agents,
        [
            ("bob", 2, Some(150.0), Some(0.5)),
            ("cyd", 3, Some(350.0), Some(1.0)),
        ]
    );
    assert_eq!(m.per_agent[0].agent_name.as_deref(), Some("BOB"));

    let days: Vec<(String, u64, Option<f64>)> = m
        .per_day
        .iter()
        .map(|d| (d.day.to_string(), d.metrics.conversations, d.metrics.csat))
        .collect();
    assert_eq!(
        days,
        [
            ("2026-11-22".to_owned(), 5, Some(2.0 / 3.0)),
            ("2026-11-23".to_owned(), 1, None),
        ]
    );
    assert_eq!(
        m.per_day[1].metrics.queue_time.median, None,
        "no data is no number"
    );

    // The period selects by creation: [from, to).
    let day1 = support::metrics(db, &tenant_id("acme"), Some(t(day)), Some(t(2 * day)))
        .await
        .unwrap();
    assert_eq!(day1.overall.conversations, 1);
    assert!(day1.per_agent.is_empty());
    let early = support::metrics(db, &tenant_id("acme"), None, Some(t(1000)))
        .await
        .unwrap();
    assert_eq!(early.overall.conversations, 1);
    let other = support::metrics(db, &tenant_id("globex"), None, None)
        .await
        .unwrap();
    assert_eq!(other.overall.conversations, 0);
    assert_eq!(other.overall.csat, None);
    projector.stop().await;
}

async fn hidden_messages_are_left_out_for_customers_until_shared(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let mut updates = projector.subscribe();
    let ana = person("acme", "ana", Role::Customer);
    let bob = person("acme", "bob", Role::Agent);
    world.run(0, &ana, "c1", Action::Join).await;
    let first = world.post(1, &ana, "c1", MessageKind::Text).await;
    let robot = world.post(2, &bob, "c1", MessageKind::Robot).await;
    let last = world.post(3, &bob, "c1", MessageKind::Text).await;
    world.caught_up(&projector).await;
    let db = world.log.db();
    let room = Room::new(tenant_id("acme"), Kind::Conversation, conv("c1"));
    let ids = |page: &[conversation_messages::MessageView]| -> Vec<MessageId> {
        page.iter().map(|m| m.message_id.clone()).collect()
    };
    let everyone = Visibility::Everyone;
    let staff = Visibility::Staff;

    let page = conversation_messages::page(db, &room, everyone, &Cursor::Latest, 10)
        .await
        .unwrap();
    assert_eq!(ids(&page.messages), [first.clone(), last.clone()]);
    let page = conversation_messages::page(db, &room, staff, &Cursor::Latest, 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&page.messages),
        [first.clone(), robot.clone(), last.clone()]
    );
    assert!(page.messages[1].hidden);
    let after = conversation_messages::page(
        db,
        &room,
        everyone,
        &Cursor::AfterMessage(first.clone()),
        10,
    )
    .await
    .unwrap();
    assert_eq!(ids(&after.messages), vec![last.clone()]);
    assert_eq!(
        conversation_messages::count(db, &room, everyone)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        conversation_messages::count(db, &room, staff)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        conversation_messages::find(db, &room, everyone, &robot)
            .await
            .unwrap(),
        None
    );
    assert!(
        conversation_messages::find(db, &room, staff, &robot)
            .await
            .unwrap()
            .is_some()
    );
    let offset = conversation_messages::page_by_offset(db, &room, everyone, 1, 10)
        .await
        .unwrap();
    assert_eq!(ids(&offset), vec![last.clone()]);
    let offset = conversation_messages::page_by_offset(db, &room, staff, 1, 1)
        .await
        .unwrap();
    assert_eq!(ids(&offset), vec![robot.clone()]);
    assert!(
        conversation_messages::page_by_offset(db, &room, staff, 3, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Nobody is to read a hidden suggestion: ana has one unread message.
    assert_eq!(unread(&world, &room).await, (1, 1));
    // The customer's cursor: the last message they saw.
    let cursor = conversation_messages::position_of(db, &room, &last)
        .await
        .unwrap()
        .unwrap();

    world
        .run(4, &bob, "c1", Action::ShareMessage { id: robot.clone() })
        .await;
    let seen = collect(&mut updates, |seen| {
        seen.iter()
            .any(|u| matches!(u.change, Change::MessageShared(_)))
    })
    .await;
    let shared = seen
        .iter()
        .find_map(|u| match &u.change {
            Change::MessageShared(m) => Some(m.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(shared.message_id, robot);
    assert!(!shared.hidden);
    assert!(
        seen.iter().any(
            |u| matches!(&u.change, Change::MessagePosted(m) if m.message_id == robot && m.hidden)
        ),
        "posted hidden, shared later"
    );
    world.caught_up(&projector).await;
    let page = conversation_messages::page(db, &room, everyone, &Cursor::Latest, 10)
        .await
        .unwrap();
    assert_eq!(ids(&page.messages), [first, robot.clone(), last]);
    assert!(!page.messages[1].hidden);
    assert_eq!(unread(&world, &room).await, (2, 2));
    // A customer who rejoins after the share finds it among the changes.
    let (changed, _) =
        conversation_messages::changed_since(db, &room, everyone, &Since::Position(cursor), 10)
            .await
            .unwrap();
    assert_eq!(ids(&changed), [robot]);
    projector.stop().await;
}

/// ana's unread count in `room`, by the list and by the single query.
async fn unread(world: &World, room: &Room) -> (u64, u64) {
    let db = world.log.db();
    let query = conversation_list::ListQuery {
        kind: Kind::Conversation,
        participant: None,
        reader: Some(user("ana")),
        offset: 0,
        limit: 10,
    };
    let listed = conversation_list::list(db, &room.tenant, &query)
        .await
        .unwrap();
    let single = conversation_list::unread_count(db, room, &user("ana"))
        .await
        .unwrap();
    (listed.items[0].unread_count.unwrap(), single)
}

/// Dropping the rows and the checkpoint and replaying the log from position
/// 0 gives the same rows (what a fresh deployment of 0007 relies on).
async fn a_rebuild_from_zero_gives_the_live_rows(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    let bob = person("acme", "bob", Role::Agent);
    for (n, id) in ["c1", "c2", "c3"].into_iter().enumerate() {
        let at = n as i64 * 100;
        world.run(at, &ana, id, Action::Join).await;
        world.post(at + 1, &ana, id, MessageKind::Text).await;
        world.run(at + 2, &ana, id, escalate()).await;
    }
    world.run(400, &bob, "c1", Action::Claim).await;
    world.post(401, &bob, "c1", MessageKind::Text).await;
    world.run(402, &bob, "c1", end(EndReason::Resolved)).await;
    world
        .run(
            403,
            &ana,
            "c1",
            Action::Rate {
                rating: Rating::Bad,
                comment: None,
            },
        )
        .await;
    let metadata = MessageMetadata::parse(json!({ "k": "v" })).unwrap();
    world
        .run(404, &ana, "c2", Action::UpdateMetadata(metadata))
        .await;
    world.caught_up(&projector).await;
    let db = world.log.db();
    let mut everything = query("acme");
    everything.limit = 100;
    let before = support::list(db, &everything).await.unwrap();
    let queue_before = support::queue(db, &tenant_id("acme")).await.unwrap();
    assert_eq!(before.1, 3);
    projector.stop().await;

    sqlx::query("DELETE FROM support_conversations")
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM projection_checkpoints WHERE name = $1")
        .bind(support::NAME)
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(support::list(db, &everything).await.unwrap().1, 0);
    let projector = world.projector().await;
    world.caught_up(&projector).await;
    assert_eq!(support::list(db, &everything).await.unwrap(), before);
    assert_eq!(
        support::queue(db, &tenant_id("acme")).await.unwrap(),
        queue_before
    );
    projector.stop().await;
}
