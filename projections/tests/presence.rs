//! The presence read model, on SQLite and PostgreSQL.

use domain::ids::{TenantId, UserId};
use domain::presence::{
    CustomStatus, Presence, PresenceAction, PresenceCommand, PresenceReason, PresenceStatus,
    StatusText,
};
use projections::Projector;
use projections::presence::{self, PresenceView};
use projections::update::Change;
use store::{Backend, both_backends};

mod common;

use common::{World, execute, metadata, next_changes, t, tenant_id};

impl World {
    /// Run `action` for `user` of `tenant` at second `second`.
    async fn run(&self, tenant: &str, user: &str, second: i64, action: PresenceAction) {
        let (tenant, user) = ids(tenant, user);
        let metadata = metadata(&tenant);
        let stream = Presence::stream_id(&tenant, &user);
        let command = PresenceCommand {
            user_name: user.as_str().to_uppercase(),
            tenant,
            user,
            at: t(second),
            action,
        };
        execute(&self.presence, &stream, command, metadata)
            .await
            .unwrap();
    }

    async fn caught_up(&self, projector: &Projector) {
        self.wait_for(projector, &[presence::NAME]).await;
    }

    async fn get(&self, tenant: &str, user: &str) -> PresenceView {
        let (tenant, user) = ids(tenant, user);
        presence::get(self.log.db(), &tenant, &user)
            .await
            .unwrap()
            .expect("a presence row")
    }
}

fn ids(tenant: &str, user: &str) -> (TenantId, UserId) {
    (tenant_id(tenant), common::user(user))
}

fn set(status: &str, custom: Option<&str>, text: Option<&str>) -> PresenceAction {
    PresenceAction::SetStatus {
        status: PresenceStatus::parse(status).unwrap(),
        custom_status: custom.map(|c| CustomStatus::parse(c).unwrap()),
        status_text: text.map(|s| StatusText::parse(s).unwrap()),
    }
}

both_backends!(
    a_status_change_is_projected_with_every_field,
    heartbeats_move_last_seen_only_and_publish_nothing,
    a_timeout_makes_the_user_offline_without_moving_last_seen,
    status_changes_are_published_in_log_order,
    present_users_are_listed_across_tenants_and_lists_never_mix_tenants,
);

async fn a_status_change_is_projected_with_every_field(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    world.run("acme", "ana", 0, PresenceAction::Connected).await;
    world
        .run(
            "acme",
            "ana",
            3,
            set("busy", Some("In a meeting"), Some("Back at 3pm")),
        )
        .await;
    world.caught_up(&projector).await;
    let ana = world.get("acme", "ana").await;
    assert_eq!(ana.tenant.as_str(), "acme");
    assert_eq!(ana.user_id.as_str(), "ana");
    assert_eq!(ana.user_name, "ANA");
    assert_eq!(ana.status, PresenceStatus::Busy);
    assert_eq!(ana.custom_status.as_deref(), Some("In a meeting"));
    assert_eq!(ana.status_text.as_deref(), Some("Back at 3pm"));
    assert_eq!(ana.updated_at, t(3));
    assert_eq!(ana.last_seen_at, t(3));
    // An update without notes clears them.
    world.run("acme", "ana", 4, set("online", None, None)).await;
    world.caught_up(&projector).await;
    let ana = world.get("acme", "ana").await;
    assert_eq!(ana.status, PresenceStatus::Online);
    assert_eq!(ana.custom_status, None);
    assert_eq!(ana.status_text, None);
    projector.stop().await;
}

async fn heartbeats_move_last_seen_only_and_publish_nothing(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let mut updates = projector.subscribe();
    world
        .run("acme", "ana", 0, set("away", Some("Lunch"), None))
        .await;
    for second in [10, 20, 30] {
        world
            .run("acme", "ana", second, PresenceAction::Heartbeat)
            .await;
    }
    // A heartbeat of someone never seen starts a row with what it carries.
    world
        .run("acme", "bob", 40, PresenceAction::Heartbeat)
        .await;
    // A last change, so that everything before it was published by then.
    world
        .run("acme", "zed", 50, PresenceAction::Connected)
        .await;
    world.caught_up(&projector).await;
    let ana = world.get("acme", "ana").await;
    assert_eq!(ana.status, PresenceStatus::Away);
    assert_eq!(ana.custom_status.as_deref(), Some("Lunch"));
    assert_eq!(ana.updated_at, t(0));
    assert_eq!(ana.last_seen_at, t(30));
    let bob = world.get("acme", "bob").await;
    assert_eq!(bob.status, PresenceStatus::Offline);
    assert_eq!(bob.last_seen_at, t(40));
    let published: Vec<(String, PresenceStatus)> = next_changes(&mut updates, 2)
        .await
        .into_iter()
        .map(|change| match change {
            Change::PresenceChanged {
                user_id, status, ..
            } => (user_id.to_string(), status),
            other => panic!("not a presence change: {other:?}"),
        })
        .collect();
    assert_eq!(
        published,
        [
            ("ana".to_owned(), PresenceStatus::Away),
            ("zed".to_owned(), PresenceStatus::Online)
        ]
    );
    assert!(updates.try_recv().is_err(), "nothing else is published");
    projector.stop().await;
}

async fn a_timeout_makes_the_user_offline_without_moving_last_seen(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    world.run("acme", "ana", 0, PresenceAction::Connected).await;
    world
        .run("acme", "ana", 5, set("busy", Some("Focus"), None))
        .await;
    world.run("acme", "ana", 9, PresenceAction::Heartbeat).await;
    world.run("acme", "ana", 70, PresenceAction::Expire).await;
    world.caught_up(&projector).await;
    let ana = world.get("acme", "ana").await;
    assert_eq!(ana.status, PresenceStatus::Offline);
    assert_eq!(ana.custom_status.as_deref(), Some("Focus"));
    assert_eq!(ana.updated_at, t(70));
    assert_eq!(ana.last_seen_at, t(9));
    // Coming back is a sign of life again.
    world
        .run("acme", "ana", 80, PresenceAction::Connected)
        .await;
    world.caught_up(&projector).await;
    let ana = world.get("acme", "ana").await;
    assert_eq!(ana.status, PresenceStatus::Online);
    assert_eq!(ana.last_seen_at, t(80));
    projector.stop().await;
}

async fn status_changes_are_published_in_log_order(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let mut updates = projector.subscribe();
    world.run("acme", "ana", 0, PresenceAction::Connected).await;
    world.run("acme", "ana", 1, PresenceAction::Heartbeat).await;
    world
        .run("acme", "ana", 2, set("away", None, Some("brb")))
        .await;
    world.run("acme", "ana", 3, PresenceAction::Expire).await;
    world.caught_up(&projector).await;
    let mut seen = Vec::new();
    // Exactly three: the heartbeat in between publishes nothing.
    for change in next_changes(&mut updates, 3).await {
        if let Change::PresenceChanged {
            tenant,
            user_id,
            user_name,
            status,
            status_text,
            reason,
            at,
            ..
        } = change
        {
            assert_eq!(tenant.as_str(), "acme");
            assert_eq!(user_id.as_str(), "ana");
            assert_eq!(user_name, "ANA");
            seen.push((status, reason, status_text, at));
        }
    }
    assert_eq!(
        seen,
        [
            (
                PresenceStatus::Online,
                PresenceReason::Connected,
                None,
                t(0)
            ),
            (
                PresenceStatus::Away,
                PresenceReason::Manual,
                Some("brb".to_owned()),
                t(2)
            ),
            (
                PresenceStatus::Offline,
                PresenceReason::Timeout,
                Some("brb".to_owned()),
                t(3)
            ),
        ]
    );
    projector.stop().await;
}

async fn present_users_are_listed_across_tenants_and_lists_never_mix_tenants(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    world.run("acme", "ana", 0, PresenceAction::Connected).await;
    world.run("acme", "bob", 1, set("busy", None, None)).await;
    world
        .run("acme", "cid", 2, set("offline", None, None))
        .await;
    world.run("globex", "ana", 3, set("away", None, None)).await;
    world.caught_up(&projector).await;
    let (acme, _) = ids("acme", "x");
    let listed: Vec<(String, PresenceStatus)> = presence::list(world.log.db(), &acme)
        .await
        .unwrap()
        .into_iter()
        .map(|p| {
            assert_eq!(p.tenant, acme);
            (p.user_id.to_string(), p.status)
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("ana".to_owned(), PresenceStatus::Online),
            ("bob".to_owned(), PresenceStatus::Busy),
            ("cid".to_owned(), PresenceStatus::Offline),
        ]
    );
    let (globex, _) = ids("globex", "x");
    let listed = presence::list(world.log.db(), &globex).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, PresenceStatus::Away);
    let present: Vec<(String, String)> = presence::present(world.log.db())
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.tenant.to_string(), p.user_id.to_string()))
        .collect();
    assert_eq!(
        present,
        [
            ("acme".to_owned(), "ana".to_owned()),
            ("acme".to_owned(), "bob".to_owned()),
            ("globex".to_owned(), "ana".to_owned()),
        ]
    );
    projector.stop().await;
}
