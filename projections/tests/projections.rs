//! The projector and the conversation read models, on SQLite and PostgreSQL.

use domain::Room;
use domain::actor::{Actor, Role};
use domain::conversation::{Action, Kind, MessageKind, NewMessage};
use domain::ids::{MessageId, TenantId};
use domain::message::MessageBody;
use projections::conversation_list::{self, ListQuery};
use projections::conversation_messages::{self, Cursor, Visibility};
use projections::rebuild::{Rebuild, snapshot};
use projections::update::Change;
use projections::{ProjectionError, Projector};
use std::time::Duration;
use store::{Backend, both_backends};

mod common;

use common::{World, conv, from_socket, message, person, t, tenant_id, user};

impl World {
    /// Run a command; every command gets a distinct, increasing time.
    async fn run(&self, who: &Actor, conversation: &str, action: Action) {
        self.run_in(Kind::Conversation, who, conversation, action)
            .await;
    }

    async fn run_in(&self, kind: Kind, who: &Actor, conversation: &str, action: Action) {
        let at = self.tick();
        self.converse(kind, who, conversation, at, action, from_socket(who))
            .await
            .unwrap();
    }

    async fn post(&self, who: &Actor, conversation: &str, text: &str) -> MessageId {
        let (id, action) = message(text, MessageKind::Text);
        self.run(who, conversation, action).await;
        id
    }

    /// Every projection has applied the whole log (read models compared
    /// whole need all of them, not only the conversation ones).
    async fn caught_up(&self, projector: &Projector) {
        let names: Vec<&str> = projections::all().iter().map(|p| p.name()).collect();
        self.wait_for(projector, &names).await;
    }
}

fn ids(tenant: &str, conversation: &str) -> (TenantId, Room) {
    let tenant = tenant_id(tenant);
    let room = Room::new(tenant.clone(), Kind::Conversation, conv(conversation));
    (tenant, room)
}

both_backends!(
    messages_are_projected_in_log_order_with_every_field,
    pages_after_a_message_say_when_more_follow_and_never_truncate,
    pages_after_a_time_and_the_latest_page,
    an_unknown_cursor_is_an_error_not_an_empty_page,
    updates_are_published_after_commit_in_log_order,
    a_restarted_projector_resumes_from_its_checkpoint_without_doubling,
    the_conversation_list_counts_messages_and_tracks_participants,
    conversation_list_pages_and_filters_and_an_empty_page_past_the_end,
    read_models_never_mix_tenants,
    edits_deletions_and_reactions_change_the_view_and_are_found_as_changes_since_a_cursor,
    read_markers_move_forward_and_drive_unread_counts,
    channels_are_listed_apart_from_conversations_with_their_settings,
    a_rebuild_from_position_zero_gives_the_same_views,
    a_messages_number_counts_only_its_conversations_messages_up_to_it,
    every_read_model_table_belongs_to_exactly_one_projection,
    a_rebuild_swaps_fresh_read_models_in_under_a_running_projector_that_follows_them,
    an_interrupted_rebuild_leaves_the_live_read_models_alone_and_resumes,
    two_projectors_on_one_database_never_apply_an_event_twice,
    a_second_rebuild_while_one_runs_is_refused,
);

async fn messages_are_projected_in_log_order_with_every_field(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    world.run(&ana, "c1", Action::Join).await;
    let first = world.post(&ana, "c1", "one").await;
    world
        .run(
            &ana,
            "c1",
            Action::PostMessage(NewMessage {
                id: MessageId::parse("msg_fixed").unwrap(),
                body: MessageBody::parse("two").unwrap(),
                optimistic_id: Some(domain::message::OptimisticId::parse("tmp_2").unwrap()),
                thread_id: Some(first.clone()),
                mentions: vec![user("bob")],
                kind: MessageKind::Text,
                provenance: None,
                metadata: None,
            }),
        )
        .await;
    world.caught_up(&projector).await;
    let (_, room) = ids("acme", "c1");
    let page = conversation_messages::page(
        world.log.db(),
        &room,
        Visibility::Staff,
        &Cursor::Latest,
        10,
    )
    .await
    .unwrap();
    let contents: Vec<&str> = page.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["one", "two"]);
    let two = &page.messages[1];
    assert_eq!(two.message_id.as_str(), "msg_fixed");
    assert_eq!(two.author_id.as_str(), "ana");
    assert_eq!(two.author_name, "ANA");
    assert_eq!(two.author_role, Role::Customer);
    assert_eq!(two.optimistic_id.as_deref(), Some("tmp_2"));
    assert_eq!(two.thread_id.as_ref(), Some(&first));
    assert_eq!(two.mentions, [user("bob")]);
    assert_eq!(two.created_at, t(2));
    assert!(page.messages[0].position < two.position);
    projector.stop().await;
}

async fn pages_after_a_message_say_when_more_follow_and_never_truncate(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    world.run(&ana, "c1", Action::Join).await;
    let mut sent = Vec::new();
    for n in 0..25 {
        sent.push(world.post(&ana, "c1", &format!("m{n}")).await);
    }
    world.caught_up(&projector).await;
    let (_, room) = ids("acme", "c1");
    // Missed everything after m4: 20 messages, read in pages of 8.
    let mut cursor = Cursor::AfterMessage(sent[4].clone());
    let mut got = Vec::new();
    let mut pages = 0;
    loop {
        let page =
            conversation_messages::page(world.log.db(), &room, Visibility::Staff, &cursor, 8)
                .await
                .unwrap();
        pages += 1;
        got.extend(page.messages.iter().map(|m| m.content.clone()));
        if !page.has_more {
            break;
        }
        cursor = Cursor::AfterMessage(page.messages.last().unwrap().message_id.clone());
    }
    let expected: Vec<String> = (5..25).map(|n| format!("m{n}")).collect();
    assert_eq!(got, expected);
    assert_eq!(pages, 3);
    // Exactly a page: no phantom "more".
    let exact = conversation_messages::page(
        world.log.db(),
        &room,
        Visibility::Staff,
        &Cursor::AfterMessage(sent[16].clone()),
        8,
    )
    .await
    .unwrap();
    assert_eq!(exact.messages.len(), 8);
    assert!(!exact.has_more);
    projector.stop().await;
}

async fn pages_after_a_time_and_the_latest_page(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    world.run(&ana, "c1", Action::Join).await; // t(0)
    for n in 0..6 {
        world.post(&ana, "c1", &format!("m{n}")).await; // t(1)..t(6)
    }
    world.caught_up(&projector).await;
    let (_, room) = ids("acme", "c1");
    let db = world.log.db();
    let after =
        conversation_messages::page(db, &room, Visibility::Staff, &Cursor::AfterTime(t(4)), 10)
            .await
            .unwrap();
    let contents: Vec<&str> = after.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["m4", "m5"]);
    let latest = conversation_messages::page(db, &room, Visibility::Staff, &Cursor::Latest, 4)
        .await
        .unwrap();
    let contents: Vec<&str> = latest.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["m2", "m3", "m4", "m5"]);
    assert!(latest.has_older && !latest.has_more);
    projector.stop().await;
}

async fn an_unknown_cursor_is_an_error_not_an_empty_page(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    world.run(&ana, "c1", Action::Join).await;
    world.run(&ana, "c2", Action::Join).await;
    let in_c2 = world.post(&ana, "c2", "elsewhere").await;
    world.caught_up(&projector).await;
    let (_, room) = ids("acme", "c1");
    for cursor in [MessageId::parse("msg_nope").unwrap(), in_c2] {
        let page = conversation_messages::page(
            world.log.db(),
            &room,
            Visibility::Staff,
            &Cursor::AfterMessage(cursor),
            10,
        )
        .await;
        assert!(
            matches!(page, Err(ProjectionError::UnknownCursor(_))),
            "{page:?}"
        );
    }
    projector.stop().await;
}

async fn updates_are_published_after_commit_in_log_order(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let mut updates = projector.subscribe();
    let ana = person("acme", "ana", Role::Customer);
    let bob = person("acme", "bob", Role::Agent);
    world.run(&ana, "c1", Action::Join).await;
    world.run(&bob, "c1", Action::Join).await;
    world.run(&bob, "c1", Action::StartTyping).await;
    world.post(&bob, "c1", "hi").await;
    world.run(&bob, "c1", Action::Leave).await;
    let mut seen = Vec::new();
    while seen.len() < 6 {
        let update = tokio::time::timeout(Duration::from_secs(10), updates.recv())
            .await
            .expect("an update")
            .unwrap();
        if let Change::MessagePosted(m) = &update.change {
            // Published after commit: the read model already has it.
            let found = conversation_messages::find(
                world.log.db(),
                &m.room,
                Visibility::Staff,
                &m.message_id,
            )
            .await
            .unwrap();
            assert_eq!(found.as_ref(), Some(&m.message));
        }
        // Listeners learn the roles from the update itself.
        match &update.change {
            Change::Opened { opened_by_role, .. } => assert_eq!(*opened_by_role, Role::Customer),
            Change::ParticipantLeft { role, .. } => assert_eq!(*role, Some(Role::Agent)),
            _ => {}
        }
        seen.push(update);
    }
    assert!(seen.windows(2).all(|w| w[0].position < w[1].position));
    let kinds: Vec<&str> = seen
        .iter()
        .map(|u| match &u.change {
            Change::ParticipantJoined { .. } => "joined",
            Change::ParticipantLeft { .. } => "left",
            Change::Typing { started: true, .. } => "typing",
            Change::Typing { started: false, .. } => "stopped",
            Change::MessagePosted(_) => "message",
            Change::Opened { .. } => "opened",
            // Other aggregates' changes (none are caused here).
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["opened", "joined", "joined", "typing", "message", "left"]
    );
    assert_eq!(seen[4].origin_socket.as_deref(), Some("socket-of-bob"));
    projector.stop().await;
}

async fn a_restarted_projector_resumes_from_its_checkpoint_without_doubling(backend: Backend) {
    let world = World::new(backend).await;
    let ana = person("acme", "ana", Role::Customer);
    let projector = world.projector().await;
    world.run(&ana, "c1", Action::Join).await;
    world.post(&ana, "c1", "before").await;
    world.caught_up(&projector).await;
    let checkpoint = projector.checkpoint(conversation_messages::NAME).unwrap();
    projector.stop().await;
    // The checkpoint outlives the projector.
    let persisted: i64 =
        sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = $1")
            .bind(conversation_messages::NAME)
            .fetch_one(world.log.db().pool())
            .await
            .unwrap();
    assert_eq!(persisted, checkpoint);
    // Written while no projector runs.
    world.post(&ana, "c1", "while down").await;
    world.post(&ana, "c1", "also while down").await;
    let projector = world.projector().await;
    world.caught_up(&projector).await;
    let (_, room) = ids("acme", "c1");
    let page = conversation_messages::page(
        world.log.db(),
        &room,
        Visibility::Staff,
        &Cursor::Latest,
        10,
    )
    .await
    .unwrap();
    let contents: Vec<&str> = page.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["before", "while down", "also while down"]);
    let summary = conversation_list::get(world.log.db(), &room)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.message_count, 3);
    let stored: i64 =
        sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = $1")
            .bind(conversation_messages::NAME)
            .fetch_one(world.log.db().pool())
            .await
            .unwrap();
    assert_eq!(stored, world.log.head());
    projector.stop().await;
}

async fn the_conversation_list_counts_messages_and_tracks_participants(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    let bob = person("acme", "bob", Role::Agent);
    world.run(&ana, "c1", Action::Join).await; // t0
    world.run(&bob, "c1", Action::Join).await; // t1
    world.post(&ana, "c1", "a").await; // t2
    world.post(&bob, "c1", "b").await; // t3
    world.run(&bob, "c1", Action::Leave).await; // t4
    world.caught_up(&projector).await;
    let (_, room) = ids("acme", "c1");
    let summary = conversation_list::get(world.log.db(), &room)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.message_count, 2);
    assert_eq!(summary.opened_by.as_str(), "ana");
    assert_eq!(summary.opened_at, t(0));
    assert_eq!(summary.last_message_at, Some(t(3)));
    assert_eq!(summary.last_activity_at, t(4));
    let who: Vec<&str> = summary
        .participants
        .iter()
        .map(|p| p.user_id.as_str())
        .collect();
    assert_eq!(who, ["ana"]);
    assert_eq!(summary.participants[0].role, Role::Customer);
    projector.stop().await;
}

async fn conversation_list_pages_and_filters_and_an_empty_page_past_the_end(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    let cid = person("acme", "cid", Role::Customer);
    for n in 0..5 {
        world.run(&ana, &format!("a{n}"), Action::Join).await;
    }
    world.run(&cid, "c0", Action::Join).await;
    world.post(&ana, "a1", "bump").await; // a1 is now the most recent
    world.caught_up(&projector).await;
    let tenant = tenant_id("acme");
    let db = world.log.db();
    let first = conversation_list::list(
        db,
        &tenant,
        &ListQuery {
            kind: Kind::Conversation,
            reader: None,
            participant: None,
            offset: 0,
            limit: 4,
        },
    )
    .await
    .unwrap();
    assert_eq!(first.total, 6);
    let order: Vec<&str> = first.items.iter().map(|c| c.room.id.as_str()).collect();
    assert_eq!(order, ["a1", "c0", "a4", "a3"]);
    let rest = conversation_list::list(
        db,
        &tenant,
        &ListQuery {
            kind: Kind::Conversation,
            reader: None,
            participant: None,
            offset: 4,
            limit: 4,
        },
    )
    .await
    .unwrap();
    assert_eq!(rest.items.len(), 2);
    let beyond = conversation_list::list(
        db,
        &tenant,
        &ListQuery {
            kind: Kind::Conversation,
            reader: None,
            participant: None,
            offset: 40,
            limit: 4,
        },
    )
    .await
    .unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 6);
    let cids = conversation_list::list(
        db,
        &tenant,
        &ListQuery {
            kind: Kind::Conversation,
            reader: None,
            participant: Some(cid.user.clone()),
            offset: 0,
            limit: 10,
        },
    )
    .await
    .unwrap();
    assert_eq!(cids.total, 1);
    assert_eq!(cids.items[0].room.id.as_str(), "c0");
    projector.stop().await;
}

async fn read_models_never_mix_tenants(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let acme = person("acme", "ana", Role::Customer);
    let globex = person("globex", "gus", Role::Customer);
    // Same conversation id in two tenants.
    world.run(&acme, "shared", Action::Join).await;
    world.run(&globex, "shared", Action::Join).await;
    world.post(&acme, "shared", "acme secret").await;
    world.post(&globex, "shared", "globex secret").await;
    world.caught_up(&projector).await;
    let db = world.log.db();
    for (tenant, secret) in [("acme", "acme secret"), ("globex", "globex secret")] {
        let (tenant, room) = ids(tenant, "shared");
        let page = conversation_messages::page(db, &room, Visibility::Staff, &Cursor::Latest, 10)
            .await
            .unwrap();
        let contents: Vec<&str> = page.messages.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(contents, [secret]);
        let list = conversation_list::list(
            db,
            &tenant,
            &ListQuery {
                kind: Kind::Conversation,
                reader: None,
                participant: None,
                offset: 0,
                limit: 10,
            },
        )
        .await
        .unwrap();
        assert_eq!(list.total, 1);
        assert_eq!(list.items[0].message_count, 1);
    }
    projector.stop().await;
}

fn emoji(raw: &str) -> domain::message::Emoji {
    domain::message::Emoji::parse(raw).unwrap()
}

async fn edits_deletions_and_reactions_change_the_view_and_are_found_as_changes_since_a_cursor(
    backend: Backend,
) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    let bob = person("acme", "bob", Role::Agent);
    world.run(&ana, "c1", Action::Join).await;
    world.run(&bob, "c1", Action::Join).await;
    let first = world.post(&ana, "c1", "first").await;
    let second = world.post(&ana, "c1", "second").await;
    let third = world.post(&ana, "c1", "third").await;
    world.caught_up(&projector).await;
    let (_, room) = ids("acme", "c1");
    let db = world.log.db();
    let cursor = conversation_messages::position_of(db, &room, &third)
        .await
        .unwrap()
        .unwrap();

    world
        .run(
            &ana,
            "c1",
            Action::EditMessage {
                id: first.clone(),
                body: MessageBody::parse("first, edited").unwrap(),
                metadata: Some(
                    domain::message::MessageMetadata::parse(serde_json::json!({"k": 1})).unwrap(),
                ),
            },
        )
        .await;
    world
        .run(&bob, "c1", Action::DeleteMessage { id: second.clone() })
        .await;
    for (who, e) in [(&bob, "👍"), (&ana, "👍"), (&bob, "🎉")] {
        world
            .run(
                who,
                "c1",
                Action::React {
                    id: third.clone(),
                    emoji: emoji(e),
                    add: true,
                },
            )
            .await;
    }
    world
        .run(
            &bob,
            "c1",
            Action::React {
                id: third.clone(),
                emoji: emoji("🎉"),
                add: false,
            },
        )
        .await;
    let fourth = world.post(&bob, "c1", "fourth").await;
    world.caught_up(&projector).await;

    let page = conversation_messages::page(db, &room, Visibility::Staff, &Cursor::Latest, 10)
        .await
        .unwrap();
    let by_id = |id: &MessageId| page.messages.iter().find(|m| &m.message_id == id).unwrap();
    let edited = by_id(&first);
    assert_eq!(edited.content, "first, edited");
    assert_eq!(edited.metadata, Some(serde_json::json!({"k": 1})));
    assert!(edited.edited_at.is_some());
    assert!(edited.updated_at > edited.created_at);
    let deleted = by_id(&second);
    assert_eq!(deleted.content, "");
    let deletion = deleted.deleted.as_ref().unwrap();
    assert_eq!(deletion.by.as_str(), "bob");
    assert_eq!(deletion.by_name, "BOB");
    let reacted = by_id(&third);
    assert_eq!(reacted.reactions.len(), 1);
    assert_eq!(reacted.reactions[0].emoji, "👍");
    let who: Vec<&str> = reacted.reactions[0]
        .users
        .iter()
        .map(|u| u.id.as_str())
        .collect();
    assert_eq!(who, ["bob", "ana"]);

    // What changed since the cursor: earlier messages only, oldest change
    // first; the new message is not a change.
    let (changed, more) = conversation_messages::changed_since(
        db,
        &room,
        Visibility::Staff,
        &conversation_messages::Since::Position(cursor),
        10,
    )
    .await
    .unwrap();
    let changed: Vec<&MessageId> = changed.iter().map(|m| &m.message_id).collect();
    assert_eq!(changed, [&first, &second, &third]);
    assert!(!more);
    let (limited, more) = conversation_messages::changed_since(
        db,
        &room,
        Visibility::Staff,
        &conversation_messages::Since::Position(cursor),
        2,
    )
    .await
    .unwrap();
    assert_eq!(limited.len(), 2);
    assert!(more);
    // Since the newest message, nothing before it changed afterwards.
    let newest = conversation_messages::position_of(db, &room, &fourth)
        .await
        .unwrap()
        .unwrap();
    let (none, _) = conversation_messages::changed_since(
        db,
        &room,
        Visibility::Staff,
        &conversation_messages::Since::Position(newest),
        10,
    )
    .await
    .unwrap();
    assert!(none.is_empty());
    projector.stop().await;
}

async fn read_markers_move_forward_and_drive_unread_counts(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    let bob = person("acme", "bob", Role::Agent);
    world.run(&ana, "c1", Action::Join).await;
    world.run(&bob, "c1", Action::Join).await;
    world.post(&ana, "c1", "from ana").await;
    let mut replies = Vec::new();
    for n in 0..3 {
        replies.push(world.post(&bob, "c1", &format!("reply {n}")).await);
    }
    let (tenant, room) = ids("acme", "c1");
    let unread = |reader: &Actor| {
        let query = ListQuery {
            kind: Kind::Conversation,
            reader: Some(reader.user.clone()),
            participant: None,
            offset: 0,
            limit: 10,
        };
        let db = world.log.db().clone();
        let tenant = tenant.clone();
        async move {
            conversation_list::list(&db, &tenant, &query)
                .await
                .unwrap()
                .items[0]
                .unread_count
                .unwrap()
        }
    };
    world.caught_up(&projector).await;
    assert_eq!(unread(&ana).await, 3);
    assert_eq!(unread(&bob).await, 1);
    world
        .run(
            &ana,
            "c1",
            Action::MarkRead {
                ids: vec![replies[1].clone()],
            },
        )
        .await;
    world.caught_up(&projector).await;
    assert_eq!(unread(&ana).await, 1);
    let marker = conversation_messages::last_read(world.log.db(), &room, &ana.user)
        .await
        .unwrap();
    assert_eq!(marker.as_ref(), Some(&replies[1]));
    // An older receipt never moves the marker back.
    world
        .run(
            &ana,
            "c1",
            Action::MarkRead {
                ids: vec![replies[0].clone()],
            },
        )
        .await;
    world.caught_up(&projector).await;
    assert_eq!(unread(&ana).await, 1);
    projector.stop().await;
}

async fn channels_are_listed_apart_from_conversations_with_their_settings(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    world.run(&ana, "same", Action::Join).await;
    world
        .run_in(Kind::Channel, &ana, "same", Action::Join)
        .await;
    world
        .run_in(
            Kind::Channel,
            &ana,
            "same",
            Action::UpdateChannel(domain::conversation::ChannelChanges {
                name: Some(domain::conversation::ChannelName::parse("Same, renamed").unwrap()),
                description: None,
                topic: Some(domain::conversation::ChannelText::parse("topic", "news").unwrap()),
            }),
        )
        .await;
    world.caught_up(&projector).await;
    let tenant = tenant_id("acme");
    let list = |kind| {
        let query = ListQuery {
            kind,
            reader: None,
            participant: None,
            offset: 0,
            limit: 10,
        };
        let db = world.log.db().clone();
        let tenant = tenant.clone();
        async move { conversation_list::list(&db, &tenant, &query).await.unwrap() }
    };
    let conversations = list(Kind::Conversation).await;
    assert_eq!(conversations.total, 1);
    assert_eq!(conversations.items[0].channel, None);
    let channels = list(Kind::Channel).await;
    assert_eq!(channels.total, 1);
    let channel = channels.items[0].channel.as_ref().unwrap();
    assert_eq!(channel.name, "Same, renamed");
    assert_eq!(channel.topic, "news");
    assert_eq!(channel.description, "");
    assert_eq!(channels.items[0].participants.len(), 1);
    projector.stop().await;
}

/// Read models are derived data: dropping the checkpoints and replaying the
/// log from position 0 must give the same views (what the 0003 migration
/// relies on).
async fn a_rebuild_from_position_zero_gives_the_same_views(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    let bob = person("acme", "bob", Role::Agent);
    world.run(&ana, "c1", Action::Join).await;
    world.run(&bob, "c1", Action::Join).await;
    let first = world.post(&ana, "c1", "first").await;
    world.post(&bob, "c1", "second").await;
    world
        .run(
            &bob,
            "c1",
            Action::React {
                id: first.clone(),
                emoji: emoji("👍"),
                add: true,
            },
        )
        .await;
    world
        .run(&bob, "c1", Action::DeleteMessage { id: first.clone() })
        .await;
    world.caught_up(&projector).await;
    let (_, room) = ids("acme", "c1");
    let db = world.log.db();
    let before = conversation_messages::page(db, &room, Visibility::Staff, &Cursor::Latest, 10)
        .await
        .unwrap();
    let list_before = conversation_list::get(db, &room).await.unwrap();
    projector.stop().await;

    let tables: Vec<&str> = projections::all()
        .iter()
        .flat_map(|p| p.tables(backend).iter().copied())
        .chain(["projection_checkpoints"])
        .collect();
    for table in tables {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(db.pool())
            .await
            .unwrap();
    }
    let projector = world.projector().await;
    world.caught_up(&projector).await;
    let after = conversation_messages::page(db, &room, Visibility::Staff, &Cursor::Latest, 10)
        .await
        .unwrap();
    assert_eq!(after, before);
    assert_eq!(
        conversation_list::get(db, &room).await.unwrap(),
        list_before
    );
    projector.stop().await;
}

async fn a_messages_number_counts_only_its_conversations_messages_up_to_it(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let mut updates = projector.subscribe();
    let ana = person("acme", "ana", Role::Customer);
    let eve = person("globex", "eve", Role::Customer);
    world.run(&ana, "c1", Action::Join).await;
    world.run(&ana, "c2", Action::Join).await;
    world.run(&eve, "c1", Action::Join).await;
    let mut mine = Vec::new();
    for n in 0..3 {
        mine.push(world.post(&ana, "c1", &format!("c1 #{n}")).await);
        // Interleaved: another conversation, and the same id in another tenant.
        world.post(&ana, "c2", "elsewhere").await;
        world.post(&eve, "c1", "other tenant").await;
    }
    let (_, room) = ids("acme", "c1");
    let mut numbers = Vec::new();
    while numbers.len() < mine.len() {
        let update = tokio::time::timeout(Duration::from_secs(10), updates.recv())
            .await
            .expect("an update")
            .unwrap();
        if let Change::MessagePosted(m) = &update.change
            && m.room == room
        {
            numbers.push((m.message_id.clone(), m.number));
        }
    }
    let expected: Vec<_> = mine.into_iter().zip(1..).collect();
    assert_eq!(numbers, expected);
    projector.stop().await;
}

async fn every_read_model_table_belongs_to_exactly_one_projection(backend: Backend) {
    let world = World::new(backend).await;
    let mut owned: Vec<&str> = projections::all()
        .iter()
        .flat_map(|p| p.tables(backend).iter().copied())
        .collect();
    owned.sort();
    let claimed = owned.len();
    owned.dedup();
    assert_eq!(owned.len(), claimed, "a table claimed twice: {owned:?}");
    let infrastructure = [
        "events",
        "snapshots",
        "projection_checkpoints",
        "_sqlx_migrations",
        "sqlite_sequence",
    ];
    let tables = world.log.db().tables().await.unwrap();
    let unclaimed: Vec<_> = tables
        .iter()
        .filter(|t| !infrastructure.contains(&t.as_str()) && !owned.contains(&t.as_str()))
        // FTS5 keeps its index in tables named after the virtual table.
        .filter(|t| !owned.iter().any(|o| t.starts_with(&format!("{o}_"))))
        .collect();
    assert!(
        unclaimed.is_empty(),
        "tables no projection claims (a rebuild would leave them stale): {unclaimed:?}"
    );
    for table in owned {
        assert!(tables.iter().any(|t| t == table), "{table} is not a table");
    }
}

/// Messages, a reaction and a read marker in two conversations.
async fn some_history(world: &World, conversation: &str, messages: usize) {
    let ana = person("acme", "ana", Role::Customer);
    let bob = person("acme", "bob", Role::Agent);
    world.run(&ana, conversation, Action::Join).await;
    world.run(&bob, conversation, Action::Join).await;
    for i in 0..messages {
        let who = if i % 2 == 0 { &ana } else { &bob };
        world.post(who, conversation, &format!("message {i}")).await;
    }
}

async fn message_count(world: &World, conversation: &str) -> (u64, usize) {
    let (_, room) = ids("acme", conversation);
    let db = world.log.db();
    let listed = conversation_list::get(db, &room)
        .await
        .unwrap()
        .map_or(0, |s| s.message_count);
    let stored = conversation_messages::page(db, &room, Visibility::Staff, &Cursor::Latest, 1000)
        .await
        .unwrap()
        .messages
        .len();
    (listed, stored)
}

async fn a_rebuild_swaps_fresh_read_models_in_under_a_running_projector_that_follows_them(
    backend: Backend,
) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    some_history(&world, "c1", 6).await;
    world.caught_up(&projector).await;
    let all = projections::all();
    let before = snapshot(world.log.db(), &all).await.unwrap();

    let rebuild = Rebuild::open(world.log.clone(), projections::all(), true)
        .await
        .unwrap();
    let swapped = rebuild.swap(&mut |_| {}).await.unwrap();
    assert_eq!(swapped.position, world.log.stored_head().await.unwrap());
    assert_eq!(snapshot(world.log.db(), &all).await.unwrap(), before);
    assert!(
        swapped
            .tables
            .iter()
            .any(|(t, rows)| *t == "conversation_messages" && *rows == 6),
        "{swapped:?}"
    );

    // The running projector follows the swapped checkpoint: later events
    // are applied once, on top of the fresh tables.
    some_history(&world, "c1", 4).await;
    world.caught_up(&projector).await;
    assert_eq!(message_count(&world, "c1").await, (10, 10));
    projector.stop().await;
}

async fn an_interrupted_rebuild_leaves_the_live_read_models_alone_and_resumes(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    some_history(&world, "c1", 12).await;
    world.caught_up(&projector).await;
    let all = projections::all();
    let live = snapshot(world.log.db(), &all).await.unwrap();

    let head = world.log.stored_head().await.unwrap();
    let mut rebuild = Rebuild::open(world.log.clone(), projections::all(), true)
        .await
        .unwrap();
    rebuild.catch_up(head / 2, &mut |_| {}).await.unwrap();
    let halfway = rebuild.position();
    assert!(halfway >= head / 2 && halfway < head, "{halfway} of {head}");
    rebuild.pause().await;
    assert_eq!(snapshot(world.log.db(), &all).await.unwrap(), live);

    let rebuild = Rebuild::open(world.log.clone(), projections::all(), false)
        .await
        .unwrap();
    assert_eq!(rebuild.position(), halfway, "resumes where it stopped");
    rebuild.swap(&mut |_| {}).await.unwrap();
    assert_eq!(snapshot(world.log.db(), &all).await.unwrap(), live);
    projector.stop().await;
}

async fn two_projectors_on_one_database_never_apply_an_event_twice(backend: Backend) {
    let world = World::new(backend).await;
    let first = world.projector().await;
    let second = world.projector().await;
    for round in 0..5 {
        some_history(&world, &format!("c{round}"), 8).await;
    }
    world.caught_up(&first).await;
    world.caught_up(&second).await;
    for round in 0..5 {
        assert_eq!(message_count(&world, &format!("c{round}")).await, (8, 8));
    }
    first.stop().await;
    second.stop().await;
}

async fn a_second_rebuild_while_one_runs_is_refused(backend: Backend) {
    let world = World::new(backend).await;
    some_history(&world, "c1", 2).await;
    let first = Rebuild::open(world.log.clone(), projections::all(), true)
        .await
        .unwrap();
    let second = Rebuild::open(world.log.clone(), projections::all(), false).await;
    assert!(
        matches!(
            second,
            Err(ProjectionError::Store(store::StoreError::Busy(_)))
        ),
        "a second rebuild must wait its turn"
    );
    first.pause().await;
    let third = Rebuild::open(world.log.clone(), projections::all(), false).await;
    assert!(third.is_ok(), "free again once the first stopped");
}
