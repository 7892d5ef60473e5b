//! Given/when/then tests for every rule of the access key aggregate, and
//! the parsing, hashing and checking of keys.

use cqrs_es::test::TestFramework;

use super::*;
use crate::testing::{actor, actor_in, at, tenant};

type KeyTest = TestFramework<AccessKey>;

/// The secret every test key has: 32 bytes 0x00..0x1f, in hex.
const SECRET: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// `sha256(SECRET)`, computed independently of this crate.
const SECRET_SHA256: &str = "6c86c6aac5fb24bcf5d9939cb7d7d5645ce39418f449e03b262dd4fa14b4b92b";

fn admin() -> Actor {
    actor("ada", Role::Admin)
}

fn key_id() -> KeyId {
    KeyId::parse("0123456789abcdef").unwrap()
}

fn chatbot(raw: &str) -> ChatbotId {
    ChatbotId::parse(raw).unwrap()
}

fn secret() -> KeySecret {
    KeySecret::parse(SECRET).unwrap()
}

fn hash() -> SecretHash {
    SecretHash::parse(SECRET_SHA256).unwrap()
}

fn command(who: &Actor, second: u32, action: AccessKeyAction) -> AccessKeyCommand {
    AccessKeyCommand {
        key_id: key_id(),
        actor: who.clone(),
        at: at(second),
        action,
    }
}

fn issue_widget(bot: &str) -> AccessKeyAction {
    AccessKeyAction::Issue {
        scope: KeyScope::Widget(chatbot(bot)),
        secret_hash: hash(),
        label: Some(KeyLabel::parse("Website").unwrap()),
    }
}

fn issued(kind: KeyKind, bot: Option<&str>, second: u32) -> AccessKeyEvent {
    AccessKeyEvent::AccessKeyIssued(AccessKeyIssued {
        tenant: tenant(),
        key_id: key_id(),
        kind,
        chatbot_id: bot.map(chatbot),
        secret_hash: hash(),
        prefix: "pk_0123456789abcdef".into(),
        label: Some("Website".into()),
        issued_by: UserId::parse("ada").unwrap(),
        issued_by_name: "ada name".into(),
        at: at(second),
    })
}

fn revoked(second: u32) -> AccessKeyEvent {
    AccessKeyEvent::AccessKeyRevoked(AccessKeyRevoked {
        tenant: tenant(),
        key_id: key_id(),
        revoked_by: UserId::parse("ada").unwrap(),
        revoked_by_name: "ada name".into(),
        at: at(second),
    })
}

/// The state after `events`, as a read model would also describe it.
fn record_after(events: Vec<AccessKeyEvent>) -> KeyRecord {
    let mut key = AccessKey::default();
    for event in events {
        key.apply(event);
    }
    key.record().cloned().expect("an issued key")
}

fn presented(raw_secret: &str) -> PresentedKey {
    PresentedKey::new(key_id(), KeySecret::parse(raw_secret).unwrap())
}

// ---- issuing ----

#[test]
fn an_admin_issues_a_widget_key_bound_to_its_chatbot() {
    KeyTest::with(())
        .given_no_previous_events()
        .when(command(&admin(), 0, issue_widget("bot-1")))
        .then_expect_events(vec![issued(KeyKind::Widget, Some("bot-1"), 0)]);
}

#[test]
fn an_admin_issues_an_api_key_bound_to_no_chatbot() {
    let mut expected = issued(KeyKind::Api, None, 0);
    if let AccessKeyEvent::AccessKeyIssued(e) = &mut expected {
        e.label = None;
    }
    KeyTest::with(())
        .given_no_previous_events()
        .when(command(
            &admin(),
            0,
            AccessKeyAction::Issue {
                scope: KeyScope::Api,
                secret_hash: hash(),
                label: None,
            },
        ))
        .then_expect_events(vec![expected]);
}

#[test]
fn nobody_but_an_admin_issues_a_key() {
    for role in [
        Role::Customer,
        Role::Agent,
        Role::Supervisor,
        Role::Analyst,
        Role::Auditor,
        Role::Service,
    ] {
        KeyTest::with(())
            .given_no_previous_events()
            .when(command(&actor("eve", role), 0, issue_widget("bot-1")))
            .then_expect_error(DomainError::Forbidden(format!(
                "only admins manage keys, not the {role} role"
            )));
    }
}

#[test]
fn issuing_a_key_id_again_is_an_invalid_state() {
    KeyTest::with(())
        .given(vec![issued(KeyKind::Widget, Some("bot-1"), 0)])
        .when(command(&admin(), 1, issue_widget("bot-2")))
        .then_expect_error(DomainError::InvalidState(
            "key 0123456789abcdef was already issued".into(),
        ));
}

#[test]
fn the_issued_event_holds_the_hash_and_never_the_secret() {
    let events = AccessKey::default()
        .handle(command(&admin(), 0, issue_widget("bot-1")))
        .unwrap();
    let stored = serde_json::to_string(&events).unwrap();
    assert!(stored.contains(SECRET_SHA256), "{stored}");
    assert!(!stored.contains(SECRET), "the secret reached the event");
}

// ---- revoking ----

#[test]
fn an_admin_revokes_an_issued_key() {
    KeyTest::with(())
        .given(vec![issued(KeyKind::Widget, Some("bot-1"), 0)])
        .when(command(&admin(), 5, AccessKeyAction::Revoke))
        .then_expect_events(vec![revoked(5)]);
}

#[test]
fn revoking_twice_changes_nothing() {
    KeyTest::with(())
        .given(vec![issued(KeyKind::Widget, Some("bot-1"), 0), revoked(5)])
        .when(command(&admin(), 6, AccessKeyAction::Revoke))
        .then_expect_events(vec![]);
}

#[test]
fn revoking_an_unknown_key_is_not_found() {
    KeyTest::with(())
        .given_no_previous_events()
        .when(command(&admin(), 0, AccessKeyAction::Revoke))
        .then_expect_error(DomainError::NotFound("key 0123456789abcdef".into()));
}

#[test]
fn nobody_but_an_admin_revokes_a_key() {
    KeyTest::with(())
        .given(vec![issued(KeyKind::Widget, Some("bot-1"), 0)])
        .when(command(
            &actor("sam", Role::Supervisor),
            5,
            AccessKeyAction::Revoke,
        ))
        .then_expect_error(DomainError::Forbidden(
            "only admins manage keys, not the supervisor role".into(),
        ));
}

#[test]
fn another_tenants_admin_finds_no_such_key() {
    KeyTest::with(())
        .given(vec![issued(KeyKind::Widget, Some("bot-1"), 0)])
        .when(command(
            &actor_in("globex", "gus", Role::Admin),
            5,
            AccessKeyAction::Revoke,
        ))
        .then_expect_error(DomainError::NotFound("key 0123456789abcdef".into()));
}

// ---- checking a presented key ----

#[test]
fn the_right_secret_of_a_live_widget_key_opens_its_chatbot_only() {
    let key = record_after(vec![issued(KeyKind::Widget, Some("bot-1"), 0)]);
    assert_eq!(
        key.admit_widget(&presented(SECRET), &chatbot("bot-1")),
        Ok(())
    );
    assert_eq!(
        key.admit_widget(&presented(SECRET), &chatbot("bot-2")),
        Err(DomainError::Forbidden(
            "this widget key is for another chatbot".into()
        ))
    );
}

#[test]
fn a_wrong_secret_is_refused_like_an_unknown_key() {
    let key = record_after(vec![issued(KeyKind::Widget, Some("bot-1"), 0)]);
    let mut wrong = SECRET.to_owned();
    wrong.replace_range(63.., "e");
    let refused = key.admit_widget(&presented(&wrong), &chatbot("bot-1"));
    assert_eq!(
        refused,
        Err(DomainError::Forbidden("unknown or invalid key".into()))
    );
    let other_id = PresentedKey::new(KeyId::parse("ffff").unwrap(), secret());
    assert_eq!(key.verify(&other_id), refused);
}

#[test]
fn a_revoked_key_is_refused() {
    let key = record_after(vec![issued(KeyKind::Widget, Some("bot-1"), 0), revoked(5)]);
    assert_eq!(
        key.admit_widget(&presented(SECRET), &chatbot("bot-1")),
        Err(DomainError::Forbidden("this key was revoked".into()))
    );
}

#[test]
fn an_api_key_does_not_open_a_widget() {
    let key = record_after(vec![issued(KeyKind::Api, None, 0)]);
    assert_eq!(key.verify(&presented(SECRET)), Ok(()));
    assert_eq!(
        key.admit_widget(&presented(SECRET), &chatbot("bot-1")),
        Err(DomainError::Forbidden(
            "this key is not a widget key".into()
        ))
    );
}

// ---- values ----

#[test]
fn a_widget_key_needs_a_chatbot_and_an_api_key_has_none() {
    assert!(KeyScope::parse(KeyKind::Widget, Some(chatbot("b"))).is_ok());
    assert!(KeyScope::parse(KeyKind::Api, None).is_ok());
    assert!(matches!(
        KeyScope::parse(KeyKind::Widget, None),
        Err(DomainError::Invalid {
            field: "chatbotId",
            ..
        })
    ));
    assert!(matches!(
        KeyScope::parse(KeyKind::Api, Some(chatbot("b"))),
        Err(DomainError::Invalid {
            field: "chatbotId",
            ..
        })
    ));
}

#[test]
fn key_kinds_round_trip_through_their_names() {
    for kind in [KeyKind::Widget, KeyKind::Api] {
        assert_eq!(kind.as_str().parse::<KeyKind>().unwrap(), kind);
    }
    assert!("admin".parse::<KeyKind>().is_err());
}

#[test]
fn key_ids_are_short_lowercase_letters_and_digits() {
    assert!(KeyId::parse("0123456789abcdef").is_ok());
    for bad in ["", "ABC", "a_b", "a/b", "a-b", &"a".repeat(33)] {
        assert!(KeyId::parse(bad).is_err(), "{bad:?} should be refused");
    }
    let minted = KeyId::from_random([0xab; 8]);
    assert_eq!(minted.as_str(), "abababababababab");
    assert_eq!(minted.prefix(), "pk_abababababababab");
}

#[test]
fn the_hash_of_a_secret_is_its_sha256_in_hex() {
    assert_eq!(secret().hash(), hash());
    let minted = KeySecret::from_random(std::array::from_fn(|i| i as u8));
    assert_eq!(minted.expose(), SECRET);
    assert!(hash().matches(&minted));
    assert!(!hash().matches(&KeySecret::from_random([0; 32])));
}

#[test]
fn secrets_and_hashes_are_exactly_64_lowercase_hex_digits() {
    for bad in [
        "",
        &SECRET[1..],
        &SECRET.to_uppercase(),
        &format!("{SECRET}0"),
    ] {
        assert!(KeySecret::parse(bad).is_err(), "{bad:?}");
        assert!(SecretHash::parse(bad).is_err(), "{bad:?}");
    }
    let not_json_hash: Result<SecretHash, _> = serde_json::from_str("\"xyz\"");
    assert!(not_json_hash.is_err());
}

#[test]
fn a_presented_key_parses_and_prints_back_the_same() {
    let raw = format!("pk_0123456789abcdef_{SECRET}");
    let key = PresentedKey::parse(&raw).unwrap();
    assert_eq!(key.key_id(), &key_id());
    assert_eq!(key.secret(), &secret());
    assert_eq!(key.expose(), raw);
}

#[test]
fn malformed_presented_keys_are_refused_without_repeating_them() {
    for bad in [
        "".to_owned(),
        "garbage".to_owned(),
        format!("sk_0123_{SECRET}"),
        format!("pk_{SECRET}"),
        format!("pk__{SECRET}"),
        format!("pk_0123_{}", &SECRET[..10]),
        format!("pk_0123_{SECRET}_x"),
        format!("pk_AB_{SECRET}"),
    ] {
        let error = PresentedKey::parse(&bad).expect_err(&bad).to_string();
        assert!(bad.is_empty() || !error.contains(&bad), "{error}");
    }
}

#[test]
fn debug_output_never_shows_a_secret() {
    let key = PresentedKey::new(key_id(), secret());
    for shown in [format!("{key:?}"), format!("{:?}", secret())] {
        assert!(!shown.contains(SECRET), "{shown}");
    }
    assert!(format!("{key:?}").contains("pk_0123456789abcdef"));
}

#[test]
fn labels_are_one_line_of_at_most_100_characters() {
    assert_eq!(KeyLabel::parse("  Website ").unwrap().as_str(), "Website");
    assert!(KeyLabel::parse(&"é".repeat(100)).is_ok());
    for bad in ["", "   ", "a\nb", &"x".repeat(101)] {
        assert!(KeyLabel::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn streams_are_per_tenant_and_key() {
    let acme = tenant();
    assert_eq!(
        AccessKey::stream_id(&acme, &key_id()),
        "access_key/acme/0123456789abcdef"
    );
    assert!(AccessKey::owns_stream("access_key/acme/x"));
    assert!(!AccessKey::owns_stream("call/acme/x"));
}

#[test]
fn only_admins_manage_keys() {
    assert!(AccessKey::may_manage(Role::Admin));
    assert!(!AccessKey::may_manage(Role::Supervisor));
}
