//! The access key read model, on SQLite and PostgreSQL.

use domain::access_key::{
    AccessKey, AccessKeyAction, AccessKeyCommand, KeyId, KeyKind, KeyLabel, KeyScope, KeySecret,
    PresentedKey,
};
use domain::actor::{Actor, Role};
use domain::ids::{ChatbotId, UserId};
use projections::Projector;
use projections::access_keys::{self, AccessKeyView};
use store::{Backend, both_backends};

mod common;

use common::{World, execute, metadata, person, t, tenant_id};

impl World {
    async fn run(&self, who: &Actor, key: &str, action: AccessKeyAction) {
        let key_id = KeyId::parse(key).unwrap();
        let stream = AccessKey::stream_id(&who.tenant, &key_id);
        let command = AccessKeyCommand {
            key_id,
            actor: who.clone(),
            at: self.tick(),
            action,
        };
        execute(&self.keys, &stream, command, metadata(&who.tenant))
            .await
            .unwrap();
    }

    /// Issue a key with secret byte `seed` repeated; its presented form.
    async fn issue(&self, who: &Actor, key: &str, chatbot: Option<&str>, seed: u8) -> PresentedKey {
        let secret = KeySecret::from_random([seed; 32]);
        let scope = match chatbot {
            Some(bot) => KeyScope::Widget(ChatbotId::parse(bot).unwrap()),
            None => KeyScope::Api,
        };
        let action = AccessKeyAction::Issue {
            scope,
            secret_hash: secret.hash(),
            label: Some(KeyLabel::parse(&format!("key {key}")).unwrap()),
        };
        self.run(who, key, action).await;
        PresentedKey::new(KeyId::parse(key).unwrap(), secret)
    }

    async fn caught_up(&self, projector: &Projector) {
        self.wait_for(projector, &[access_keys::NAME]).await;
    }

    async fn find(&self, key: &str) -> Option<AccessKeyView> {
        access_keys::find(self.log.db(), &KeyId::parse(key).unwrap())
            .await
            .unwrap()
    }

    async fn list(&self, tenant: &str) -> Vec<AccessKeyView> {
        access_keys::list(self.log.db(), &tenant_id(tenant))
            .await
            .unwrap()
    }
}

fn admin(tenant: &str) -> Actor {
    person(tenant, &format!("admin-of-{tenant}"), Role::Admin)
}

fn chatbot(raw: &str) -> ChatbotId {
    ChatbotId::parse(raw).unwrap()
}

both_backends!(
    an_issued_key_is_found_by_its_id_with_its_hash_and_never_its_secret,
    a_revoked_key_is_found_revoked_and_refused,
    keys_are_listed_per_tenant_only,
    the_same_key_id_in_two_tenants_keeps_the_first_and_never_stalls,
    a_rebuild_from_position_zero_gives_the_same_keys,
);

async fn an_issued_key_is_found_by_its_id_with_its_hash_and_never_its_secret(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let widget = world.issue(&admin("acme"), "k1", Some("bot-1"), 7).await; // t0
    let api = world.issue(&admin("acme"), "k2", None, 8).await; // t1
    world.caught_up(&projector).await;

    let found = world.find("k1").await.expect("the widget key");
    assert_eq!(found.tenant.as_str(), "acme");
    assert_eq!(found.kind, KeyKind::Widget);
    assert_eq!(found.chatbot_id, Some(chatbot("bot-1")));
    assert_eq!(found.secret_hash, widget.secret().hash());
    assert_eq!(found.prefix, "pk_k1");
    assert_eq!(found.label.as_deref(), Some("key k1"));
    assert_eq!(found.issued_by.as_str(), "admin-of-acme");
    assert_eq!(found.issued_at, t(0));
    assert_eq!((&found.revoked_by, found.revoked_at), (&None, None));
    assert_eq!(
        found.record().admit_widget(&widget, &chatbot("bot-1")),
        Ok(())
    );

    let found = world.find("k2").await.expect("the api key");
    assert_eq!((found.kind, found.chatbot_id.clone()), (KeyKind::Api, None));
    assert_eq!(found.record().verify(&api), Ok(()));
    assert!(
        found.record().verify(&widget).is_err(),
        "another key's secret"
    );
    assert!(world.find("k3").await.is_none());

    // Neither the read model nor the log holds a secret.
    for secret in [widget.secret().expose(), api.secret().expose()] {
        for (table, column) in [("access_keys", "secret_hash"), ("events", "payload")] {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} LIKE $1");
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(format!("%{secret}%"))
                .fetch_one(world.log.db().pool())
                .await
                .unwrap();
            assert_eq!(count, 0, "a secret is stored in {table}");
        }
    }
    projector.stop().await;
}

async fn a_revoked_key_is_found_revoked_and_refused(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let acme = admin("acme");
    let key = world.issue(&acme, "k1", Some("bot-1"), 7).await; // t0
    world.issue(&acme, "k2", Some("bot-1"), 8).await; // t1
    world.run(&acme, "k1", AccessKeyAction::Revoke).await; // t2
    // Revoking again records nothing and changes nothing.
    world.run(&acme, "k1", AccessKeyAction::Revoke).await; // t3 (unused)
    world.caught_up(&projector).await;

    let found = world.find("k1").await.unwrap();
    assert_eq!(found.revoked_at, Some(t(2)));
    assert_eq!(
        found.revoked_by.as_ref().map(UserId::as_str),
        Some("admin-of-acme")
    );
    assert!(
        found
            .record()
            .admit_widget(&key, &chatbot("bot-1"))
            .is_err()
    );
    assert_eq!(world.find("k2").await.unwrap().revoked_at, None);
    projector.stop().await;
}

async fn keys_are_listed_per_tenant_only(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    world.issue(&admin("acme"), "a1", Some("bot-1"), 1).await;
    world.issue(&admin("globex"), "g1", Some("bot-1"), 2).await;
    world.issue(&admin("acme"), "a2", None, 3).await;
    world
        .run(&admin("acme"), "a1", AccessKeyAction::Revoke)
        .await;
    world.caught_up(&projector).await;

    let ids = |keys: Vec<AccessKeyView>| -> Vec<(String, String, bool)> {
        keys.into_iter()
            .map(|k| {
                (
                    k.tenant.to_string(),
                    k.key_id.to_string(),
                    k.revoked_at.is_some(),
                )
            })
            .collect()
    };
    assert_eq!(
        ids(world.list("acme").await),
        [
            ("acme".into(), "a1".into(), true),
            ("acme".into(), "a2".into(), false)
        ]
    );
    assert_eq!(
        ids(world.list("globex").await),
        [("globex".into(), "g1".into(), false)]
    );
    assert!(world.list("initech").await.is_empty());
    projector.stop().await;
}

/// A presented key names no tenant, so key ids are unique across tenants.
/// Should two tenants ever draw the same random id, the second key is not
/// usable, and the projection goes on.
async fn the_same_key_id_in_two_tenants_keeps_the_first_and_never_stalls(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let first = world.issue(&admin("acme"), "same", Some("bot-1"), 1).await;
    let second = world
        .issue(&admin("globex"), "same", Some("bot-1"), 2)
        .await;
    // Globex revoking its copy must not touch acme's key.
    world
        .run(&admin("globex"), "same", AccessKeyAction::Revoke)
        .await;
    world.issue(&admin("globex"), "after", None, 3).await;
    world.caught_up(&projector).await;

    let found = world.find("same").await.unwrap();
    assert_eq!(found.tenant.as_str(), "acme");
    assert_eq!(found.revoked_at, None);
    assert_eq!(
        found.record().admit_widget(&first, &chatbot("bot-1")),
        Ok(())
    );
    assert!(
        found
            .record()
            .admit_widget(&second, &chatbot("bot-1"))
            .is_err()
    );
    assert!(
        world.find("after").await.is_some(),
        "the projection stalled"
    );
    projector.stop().await;
}

async fn a_rebuild_from_position_zero_gives_the_same_keys(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    world.issue(&admin("acme"), "a1", Some("bot-1"), 1).await;
    world.issue(&admin("acme"), "a2", None, 2).await;
    world.issue(&admin("globex"), "g1", Some("bot-2"), 3).await;
    world
        .run(&admin("acme"), "a2", AccessKeyAction::Revoke)
        .await;
    world.caught_up(&projector).await;
    let before = (world.list("acme").await, world.list("globex").await);
    assert_eq!(before.0.len() + before.1.len(), 3);
    projector.stop().await;

    for table in ["access_keys", "projection_checkpoints"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(world.log.db().pool())
            .await
            .unwrap();
    }
    assert!(world.list("acme").await.is_empty());
    let projector = world.projector().await;
    world.caught_up(&projector).await;
    assert_eq!(
        (world.list("acme").await, world.list("globex").await),
        before
    );
    projector.stop().await;
}
