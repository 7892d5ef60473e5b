//! Given/when/then tests for every rule of the aggregate.

use chrono::{TimeZone, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::actor::Role;
use crate::ids::MessageId;
use crate::message::{MessageBody, OptimisticId};

type ConversationTest = TestFramework<Conversation>;

fn at(second: u32) -> crate::Timestamp {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, second).unwrap()
}

fn actor(user: &str, role: Role) -> Actor {
    Actor {
        user: UserId::parse(user).unwrap(),
        tenant: TenantId::parse("acme").unwrap(),
        role,
        name: Some(format!("{user} name")),
    }
}

fn conv() -> ConversationId {
    ConversationId::parse("conv-1").unwrap()
}

fn command(who: &Actor, second: u32, action: Action) -> ConversationCommand {
    ConversationCommand {
        conversation: conv(),
        actor: who.clone(),
        at: at(second),
        action,
    }
}

fn opened_by(who: &Actor) -> Vec<ConversationEvent> {
    vec![
        ConversationEvent::ConversationOpened(ConversationOpened {
            tenant: who.tenant.clone(),
            conversation_id: conv(),
            opened_by: who.user.clone(),
            opened_by_role: who.role,
            at: at(0),
        }),
        joined_event(who, None, 0),
    ]
}

fn joined_event(who: &Actor, added_by: Option<&Actor>, second: u32) -> ConversationEvent {
    ConversationEvent::ParticipantJoined(ParticipantJoined {
        tenant: who.tenant.clone(),
        conversation_id: conv(),
        user_id: who.user.clone(),
        user_name: who.display_name().into(),
        role: who.role,
        added_by: added_by.map(|a| a.user.clone()),
        at: at(second),
    })
}

fn left_event(who: &Actor, second: u32) -> ConversationEvent {
    ConversationEvent::ParticipantLeft(ParticipantLeft {
        tenant: who.tenant.clone(),
        conversation_id: conv(),
        user_id: who.user.clone(),
        user_name: who.display_name().into(),
        at: at(second),
    })
}

fn new_message(text: &str) -> NewMessage {
    NewMessage {
        id: MessageId::parse("msg_1").unwrap(),
        body: MessageBody::parse(text).unwrap(),
        optimistic_id: Some(OptimisticId::parse("tmp_1").unwrap()),
        thread_id: None,
        mentions: vec![UserId::parse("bob").unwrap()],
    }
}

fn posted_event(who: &Actor, text: &str, second: u32) -> ConversationEvent {
    ConversationEvent::MessagePosted(MessagePosted {
        tenant: who.tenant.clone(),
        conversation_id: conv(),
        message_id: MessageId::parse("msg_1").unwrap(),
        author_id: who.user.clone(),
        author_name: who.display_name().into(),
        author_role: who.role,
        content: text.into(),
        content_type: "text".into(),
        optimistic_id: Some("tmp_1".into()),
        thread_id: None,
        mentions: vec![UserId::parse("bob").unwrap()],
        at: at(second),
    })
}

fn customer() -> Actor {
    actor("cus-1", Role::Customer)
}

fn agent() -> Actor {
    actor("agent-1", Role::Agent)
}

// ---- opening and joining ----

#[test]
fn a_first_join_opens_the_conversation_with_the_joiner_as_participant() {
    ConversationTest::with(())
        .given_no_previous_events()
        .when(command(&customer(), 0, Action::Join))
        .then_expect_events(opened_by(&customer()));
}

#[test]
fn joining_again_changes_nothing() {
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&customer(), 5, Action::Join))
        .then_expect_events(vec![]);
}

#[test]
fn a_customer_may_not_join_a_conversation_another_customer_opened() {
    let other = actor("cus-2", Role::Customer);
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&other, 5, Action::Join))
        .then_expect_error(DomainError::Forbidden(
            "customers may join only conversations they opened or were added to".into(),
        ));
}

#[test]
fn staff_may_join_any_conversation_of_their_tenant() {
    for role in [Role::Agent, Role::Supervisor, Role::Admin] {
        let staff = actor("staff-1", role);
        ConversationTest::with(())
            .given(opened_by(&customer()))
            .when(command(&staff, 5, Action::Join))
            .then_expect_events(vec![joined_event(&staff, None, 5)]);
    }
}

#[test]
fn analysts_and_auditors_may_neither_open_nor_join() {
    for role in [Role::Analyst, Role::Auditor] {
        let reader = actor("reader-1", role);
        let refused = ConversationTest::with(())
            .given_no_previous_events()
            .when(command(&reader, 0, Action::Join))
            .inspect_result();
        assert!(matches!(refused, Err(DomainError::Forbidden(_))), "{role}");
        let refused = ConversationTest::with(())
            .given(opened_by(&customer()))
            .when(command(&reader, 5, Action::Join))
            .inspect_result();
        assert!(matches!(refused, Err(DomainError::Forbidden(_))), "{role}");
    }
}

#[test]
fn a_customer_added_by_staff_may_join_later() {
    let guest = actor("cus-2", Role::Customer);
    let mut history = opened_by(&customer());
    history.push(joined_event(&guest, Some(&agent()), 3));
    history.push(left_event(&guest, 4));
    ConversationTest::with(())
        .given(history)
        .when(command(&guest, 5, Action::Join))
        .then_expect_events(vec![joined_event(&guest, None, 5)]);
}

#[test]
fn a_customer_who_left_their_own_conversation_may_come_back() {
    let mut history = opened_by(&customer());
    history.push(left_event(&customer(), 3));
    ConversationTest::with(())
        .given(history)
        .when(command(&customer(), 5, Action::Join))
        .then_expect_events(vec![joined_event(&customer(), None, 5)]);
}

#[test]
fn a_conversation_of_another_tenant_is_not_found() {
    let mut foreign = agent();
    foreign.tenant = TenantId::parse("globex").unwrap();
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&foreign, 5, Action::Join))
        .then_expect_error(DomainError::NotFound("conversation conv-1".into()));
}

#[test]
fn rejoining_an_unknown_conversation_is_not_found_and_opens_nothing() {
    ConversationTest::with(())
        .given_no_previous_events()
        .when(command(&customer(), 0, Action::Rejoin))
        .then_expect_error(DomainError::NotFound("conversation conv-1".into()));
}

#[test]
fn rejoining_as_a_participant_changes_nothing() {
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&customer(), 5, Action::Rejoin))
        .then_expect_events(vec![]);
}

#[test]
fn rejoining_follows_the_join_rules_for_everyone_else() {
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&agent(), 5, Action::Rejoin))
        .then_expect_events(vec![joined_event(&agent(), None, 5)]);
    let stranger = actor("cus-2", Role::Customer);
    let refused = ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&stranger, 5, Action::Rejoin))
        .inspect_result();
    assert!(matches!(refused, Err(DomainError::Forbidden(_))));
}

// ---- adding and leaving ----

#[test]
fn staff_add_a_participant() {
    let guest = actor("cus-2", Role::Customer);
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(
            &agent(),
            3,
            Action::AddParticipant {
                user: guest.user.clone(),
                name: guest.name.clone(),
                role: Role::Customer,
            },
        ))
        .then_expect_events(vec![joined_event(&guest, Some(&agent()), 3)]);
}

#[test]
fn customers_may_not_add_participants() {
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(
            &customer(),
            3,
            Action::AddParticipant {
                user: UserId::parse("cus-2").unwrap(),
                name: None,
                role: Role::Customer,
            },
        ))
        .then_expect_error(DomainError::Forbidden(
            "only staff may add participants".into(),
        ));
}

#[test]
fn a_participant_leaves() {
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&customer(), 7, Action::Leave))
        .then_expect_events(vec![left_event(&customer(), 7)]);
}

#[test]
fn leaving_when_not_a_participant_changes_nothing() {
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&agent(), 7, Action::Leave))
        .then_expect_events(vec![]);
}

#[test]
fn leaving_an_unknown_conversation_is_not_found() {
    ConversationTest::with(())
        .given_no_previous_events()
        .when(command(&customer(), 7, Action::Leave))
        .then_expect_error(DomainError::NotFound("conversation conv-1".into()));
}

// ---- messages ----

#[test]
fn a_participant_posts_a_message() {
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(
            &customer(),
            9,
            Action::PostMessage(new_message("Hello!")),
        ))
        .then_expect_events(vec![posted_event(&customer(), "Hello!", 9)]);
}

#[test]
fn staff_may_post_without_joining() {
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&agent(), 9, Action::PostMessage(new_message("Hi"))))
        .then_expect_events(vec![posted_event(&agent(), "Hi", 9)]);
}

#[test]
fn a_customer_who_is_not_a_participant_may_not_post() {
    let other = actor("cus-2", Role::Customer);
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&other, 9, Action::PostMessage(new_message("Hi"))))
        .then_expect_error(DomainError::Forbidden(
            "only participants and staff may write to this conversation".into(),
        ));
}

#[test]
fn a_participant_who_left_may_not_post() {
    let mut history = opened_by(&customer());
    history.push(left_event(&customer(), 3));
    let refused = ConversationTest::with(())
        .given(history)
        .when(command(
            &customer(),
            9,
            Action::PostMessage(new_message("Hi")),
        ))
        .inspect_result();
    assert!(matches!(refused, Err(DomainError::Forbidden(_))));
}

#[test]
fn posting_to_an_unknown_conversation_is_not_found() {
    ConversationTest::with(())
        .given_no_previous_events()
        .when(command(
            &customer(),
            9,
            Action::PostMessage(new_message("Hi")),
        ))
        .then_expect_error(DomainError::NotFound("conversation conv-1".into()));
}

#[test]
fn content_outside_one_to_ten_thousand_characters_cannot_form_a_command() {
    // The rule lives in `MessageBody::parse`: an invalid body never reaches
    // the aggregate, so no event can carry one.
    assert!(MessageBody::parse("").is_err());
    assert!(MessageBody::parse("x".repeat(10_001)).is_err());
    assert!(MessageBody::parse("x".repeat(10_000)).is_ok());
}

#[test]
fn posted_messages_are_counted() {
    let mut state = Conversation::default();
    for event in opened_by(&customer()) {
        state.apply(event);
    }
    state.apply(posted_event(&customer(), "one", 1));
    state.apply(posted_event(&customer(), "two", 2));
    assert_eq!(state.message_count(), 2);
}

// ---- typing ----

#[test]
fn a_participant_starts_and_stops_typing() {
    let typing = Typing {
        tenant: customer().tenant,
        conversation_id: conv(),
        user_id: customer().user,
        user_name: customer().display_name().into(),
        at: at(4),
    };
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&customer(), 4, Action::StartTyping))
        .then_expect_events(vec![ConversationEvent::TypingStarted(typing.clone())]);
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&customer(), 4, Action::StopTyping))
        .then_expect_events(vec![ConversationEvent::TypingStopped(typing)]);
}

#[test]
fn an_outsider_may_not_signal_typing() {
    let other = actor("cus-2", Role::Customer);
    let refused = ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&other, 4, Action::StartTyping))
        .inspect_result();
    assert!(matches!(refused, Err(DomainError::Forbidden(_))));
}

// ---- events ----

#[test]
fn event_names_are_their_serde_tags_and_are_versioned() {
    use cqrs_es::DomainEvent;
    let mut events = opened_by(&customer());
    events.push(posted_event(&customer(), "x", 1));
    events.push(left_event(&customer(), 2));
    for event in events {
        let json = serde_json::to_value(&event).unwrap();
        let tag = json.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(tag, event.event_type());
        assert_eq!(event.event_version(), "1");
        assert_eq!(
            serde_json::from_value::<ConversationEvent>(json).unwrap(),
            event
        );
    }
}

#[test]
fn stream_ids_cannot_collide_across_tenants() {
    let a = Conversation::stream_id(
        &TenantId::parse("a-b").unwrap(),
        &ConversationId::parse("c").unwrap(),
    );
    let b = Conversation::stream_id(
        &TenantId::parse("a").unwrap(),
        &ConversationId::parse("b-c").unwrap(),
    );
    assert_ne!(a, b);
    assert!(Conversation::owns_stream(&a));
    assert!(!Conversation::owns_stream("channel/a/b"));
}
