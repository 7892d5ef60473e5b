//! Given/when/then tests for every rule of the aggregate.

use cqrs_es::test::TestFramework;

use super::*;
use crate::actor::Role;
use crate::ids::MessageId;
use crate::message::{Emoji, MessageBody, OptimisticId};
use crate::testing::{actor, at};

type ConversationTest = TestFramework<Conversation>;

fn conv() -> ConversationId {
    ConversationId::parse("conv-1").unwrap()
}

fn command(who: &Actor, second: u32, action: Action) -> ConversationCommand {
    ConversationCommand {
        kind: Kind::Conversation,
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
            kind: Kind::Conversation,
            conversation_id: conv(),
            opened_by: who.user.clone(),
            opened_by_role: who.role,
            channel: None,
            support: None,
            at: at(0),
        }),
        joined_event(who, None, 0),
    ]
}

fn joined_event(who: &Actor, added_by: Option<&Actor>, second: u32) -> ConversationEvent {
    ConversationEvent::ParticipantJoined(ParticipantJoined {
        tenant: who.tenant.clone(),
        kind: Kind::Conversation,
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
        kind: Kind::Conversation,
        conversation_id: conv(),
        user_id: who.user.clone(),
        user_name: who.display_name().into(),
        role: Some(who.role),
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
        kind: MessageKind::Text,
        provenance: None,
        metadata: None,
    }
}

fn posted_event(who: &Actor, text: &str, second: u32) -> ConversationEvent {
    ConversationEvent::MessagePosted(MessagePosted {
        tenant: who.tenant.clone(),
        kind: Kind::Conversation,
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
        hidden: false,
        first_response_seconds: None,
        provenance: None,
        metadata: None,
        number: Some(1),
        owner: None,
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
fn a_participant_posts_a_message_and_the_customers_first_one_activates_the_conversation() {
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(
            &customer(),
            9,
            Action::PostMessage(new_message("Hello!")),
        ))
        .then_expect_events(vec![
            posted_event(&customer(), "Hello!", 9),
            ConversationEvent::ConversationActivated(ConversationActivated {
                tenant: customer().tenant,
                conversation_id: conv(),
                status: Status::Active,
                at: at(9),
            }),
        ]);
}

#[test]
fn staff_may_post_without_joining() {
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&agent(), 9, Action::PostMessage(new_message("Hi"))))
        .then_expect_events(vec![{
            // Staff's first answer: its delay since the opening is recorded.
            let mut posted = posted_event(&agent(), "Hi", 9);
            if let ConversationEvent::MessagePosted(e) = &mut posted {
                e.first_response_seconds = Some(9);
            }
            posted
        }]);
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

#[test]
fn a_posted_message_carries_its_number_in_the_conversation() {
    let mut state = Conversation::default();
    for event in opened_by(&customer()) {
        state.apply(event);
    }
    state.apply(posted_event(&customer(), "one", 1));
    state.apply(posted_event(&customer(), "two", 2));
    let mut third = new_message("three");
    third.id = MessageId::parse("msg_3").unwrap();
    let events = state
        .handle(command(&customer(), 3, Action::PostMessage(third)))
        .unwrap();
    let Some(ConversationEvent::MessagePosted(posted)) = events.first() else {
        panic!("expected a message, got {events:?}");
    };
    assert_eq!(posted.number, Some(3));
    assert_eq!(posted.owner, None, "not opened in a support session");
}

// ---- typing ----

#[test]
fn a_participant_starts_and_stops_typing() {
    let typing = Typing {
        tenant: customer().tenant,
        kind: Kind::Conversation,
        conversation_id: conv(),
        user_id: customer().user,
        user_name: customer().display_name().into(),
        role: Some(Role::Customer),
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
fn typing_recorded_before_roles_were_kept_still_loads() {
    let old = serde_json::json!({ "TypingStarted": {
        "tenant": "acme", "conversation_id": "conv-1", "user_id": "cus-1",
        "user_name": "cus-1 name", "at": "2026-11-22T10:00:04Z"
    }});
    let event: ConversationEvent = serde_json::from_value(old).unwrap();
    let ConversationEvent::TypingStarted(typing) = event else {
        panic!("{event:?}");
    };
    assert_eq!(typing.role, None);
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
fn stream_ids_cannot_collide_across_tenants_or_kinds() {
    let id = |raw: &str| ConversationId::parse(raw).unwrap();
    let tenant = |raw: &str| TenantId::parse(raw).unwrap();
    let a = Conversation::stream_id(Kind::Conversation, &tenant("a-b"), &id("c"));
    let b = Conversation::stream_id(Kind::Conversation, &tenant("a"), &id("b-c"));
    let channel = Conversation::stream_id(Kind::Channel, &tenant("a-b"), &id("c"));
    assert_ne!(a, b);
    assert_ne!(a, channel);
    assert!(Conversation::owns_stream(&a));
    assert!(Conversation::owns_stream(&channel));
    assert!(!Conversation::owns_stream("presence/a/b"));
}

#[test]
fn events_recorded_before_channels_existed_still_load_as_conversation_events() {
    let old = serde_json::json!({ "TypingStarted": {
        "tenant": "acme", "conversation_id": "conv-1", "user_id": "u1",
        "user_name": "U", "at": "2026-11-22T10:00:00Z"
    }});
    let event: ConversationEvent = serde_json::from_value(old).unwrap();
    assert_eq!(event.place().1, Kind::Conversation);
    // And conversation events are still written without a kind.
    let json = serde_json::to_value(&event).unwrap();
    assert!(json["TypingStarted"].get("kind").is_none());
}

#[test]
fn a_leave_recorded_before_it_carried_the_role_still_loads_without_one() {
    let old = serde_json::json!({ "ParticipantLeft": {
        "tenant": "acme", "conversation_id": "conv-1", "user_id": "u1",
        "user_name": "U", "at": "2026-11-22T10:00:00Z"
    }});
    let ConversationEvent::ParticipantLeft(left) = serde_json::from_value(old).unwrap() else {
        panic!("not a ParticipantLeft");
    };
    assert_eq!(left.role, None);
    // New ones carry it.
    let ConversationEvent::ParticipantLeft(left) = left_event(&agent(), 1) else {
        unreachable!()
    };
    assert_eq!(left.role, Some(Role::Agent));
}

// ---- edits, deletions, reactions, reads ----

fn msg(n: u32) -> MessageId {
    MessageId::parse(format!("msg_{n}")).unwrap()
}

/// A conversation opened by the customer, joined by the agent, with one
/// message `msg_1` by the customer.
fn with_a_message() -> Vec<ConversationEvent> {
    let mut given = opened_by(&customer());
    given.push(joined_event(&agent(), None, 1));
    given.push(posted_event(&customer(), "hello", 2));
    given
}

fn edit(id: MessageId, text: &str) -> Action {
    Action::EditMessage {
        id,
        body: MessageBody::parse(text).unwrap(),
        metadata: None,
    }
}

fn edited_event(who: &Actor, text: &str, second: u32) -> ConversationEvent {
    ConversationEvent::MessageEdited(MessageEdited {
        tenant: who.tenant.clone(),
        kind: Kind::Conversation,
        conversation_id: conv(),
        message_id: msg(1),
        content: text.into(),
        metadata: None,
        edited_by: who.user.clone(),
        edited_by_name: who.display_name().into(),
        at: at(second),
    })
}

fn deleted_event(who: &Actor, second: u32) -> ConversationEvent {
    ConversationEvent::MessageDeleted(MessageDeleted {
        tenant: who.tenant.clone(),
        kind: Kind::Conversation,
        conversation_id: conv(),
        message_id: msg(1),
        deleted_by: who.user.clone(),
        deleted_by_name: who.display_name().into(),
        at: at(second),
    })
}

fn reaction(who: &Actor, emoji: &str, second: u32) -> Reaction {
    Reaction {
        tenant: who.tenant.clone(),
        kind: Kind::Conversation,
        conversation_id: conv(),
        message_id: msg(1),
        emoji: emoji.into(),
        user_id: who.user.clone(),
        user_name: who.display_name().into(),
        at: at(second),
    }
}

fn react(emoji: &str, add: bool) -> Action {
    Action::React {
        id: msg(1),
        emoji: Emoji::parse(emoji).unwrap(),
        add,
    }
}

#[test]
fn the_author_edits_their_message() {
    ConversationTest::with(())
        .given(with_a_message())
        .when(command(&customer(), 5, edit(msg(1), "hello, edited")))
        .then_expect_events(vec![edited_event(&customer(), "hello, edited", 5)]);
}

#[test]
fn staff_may_edit_and_delete_anyones_message() {
    ConversationTest::with(())
        .given(with_a_message())
        .when(command(&agent(), 5, edit(msg(1), "moderated")))
        .then_expect_events(vec![edited_event(&agent(), "moderated", 5)]);
    ConversationTest::with(())
        .given(with_a_message())
        .when(command(&agent(), 6, Action::DeleteMessage { id: msg(1) }))
        .then_expect_events(vec![deleted_event(&agent(), 6)]);
}

#[test]
fn another_customer_may_not_edit_or_delete_the_message() {
    let other = actor("cus-2", Role::Customer);
    let mut given = with_a_message();
    given.push(joined_event(&other, Some(&agent()), 3));
    ConversationTest::with(())
        .given(given.clone())
        .when(command(&other, 5, edit(msg(1), "not mine")))
        .then_expect_error(DomainError::Forbidden(
            "only its author and staff may edit a message".into(),
        ));
    ConversationTest::with(())
        .given(given)
        .when(command(&other, 5, Action::DeleteMessage { id: msg(1) }))
        .then_expect_error(DomainError::Forbidden(
            "only its author and staff may delete a message".into(),
        ));
}

#[test]
fn editing_or_reacting_to_a_missing_message_is_not_found() {
    let missing = DomainError::NotFound("message msg_9".into());
    ConversationTest::with(())
        .given(with_a_message())
        .when(command(&customer(), 5, edit(msg(9), "where?")))
        .then_expect_error(missing.clone());
    ConversationTest::with(())
        .given(with_a_message())
        .when(command(
            &customer(),
            5,
            Action::React {
                id: msg(9),
                emoji: Emoji::parse("👍").unwrap(),
                add: true,
            },
        ))
        .then_expect_error(missing);
}

#[test]
fn a_deleted_message_cannot_be_edited_or_reacted_to_and_deleting_again_changes_nothing() {
    let mut given = with_a_message();
    given.push(deleted_event(&customer(), 4));
    let gone = DomainError::NotFound("message msg_1".into());
    ConversationTest::with(())
        .given(given.clone())
        .when(command(&customer(), 5, edit(msg(1), "too late")))
        .then_expect_error(gone.clone());
    ConversationTest::with(())
        .given(given.clone())
        .when(command(&agent(), 5, react("👍", true)))
        .then_expect_error(gone);
    ConversationTest::with(())
        .given(given)
        .when(command(
            &customer(),
            5,
            Action::DeleteMessage { id: msg(1) },
        ))
        .then_expect_events(vec![]);
}

#[test]
fn a_reaction_is_added_once_per_user_and_emoji_and_removed_once() {
    let mut given = with_a_message();
    ConversationTest::with(())
        .given(given.clone())
        .when(command(&agent(), 5, react("👍", true)))
        .then_expect_events(vec![ConversationEvent::ReactionAdded(reaction(
            &agent(),
            "👍",
            5,
        ))]);
    given.push(ConversationEvent::ReactionAdded(reaction(
        &agent(),
        "👍",
        5,
    )));
    ConversationTest::with(())
        .given(given.clone())
        .when(command(&agent(), 6, react("👍", true)))
        .then_expect_events(vec![]);
    // Another user's identical reaction is theirs.
    ConversationTest::with(())
        .given(given.clone())
        .when(command(&customer(), 6, react("👍", true)))
        .then_expect_events(vec![ConversationEvent::ReactionAdded(reaction(
            &customer(),
            "👍",
            6,
        ))]);
    ConversationTest::with(())
        .given(given.clone())
        .when(command(&agent(), 7, react("👍", false)))
        .then_expect_events(vec![ConversationEvent::ReactionRemoved(reaction(
            &agent(),
            "👍",
            7,
        ))]);
    given.push(ConversationEvent::ReactionRemoved(reaction(
        &agent(),
        "👍",
        7,
    )));
    ConversationTest::with(())
        .given(given)
        .when(command(&agent(), 8, react("👍", false)))
        .then_expect_events(vec![]);
}

fn second_message() -> ConversationEvent {
    let ConversationEvent::MessagePosted(mut e) = posted_event(&agent(), "second", 3) else {
        unreachable!()
    };
    e.message_id = msg(2);
    ConversationEvent::MessagePosted(e)
}

fn read_event(who: &Actor, ids: &[u32], last: u32, second: u32) -> ConversationEvent {
    ConversationEvent::MessagesRead(MessagesRead {
        tenant: who.tenant.clone(),
        kind: Kind::Conversation,
        conversation_id: conv(),
        user_id: who.user.clone(),
        user_name: who.display_name().into(),
        message_ids: ids.iter().map(|&n| msg(n)).collect(),
        last_read: msg(last),
        at: at(second),
    })
}

#[test]
fn reading_moves_the_marker_to_the_newest_message_read_and_only_forward() {
    let mut given = with_a_message();
    given.push(second_message());
    ConversationTest::with(())
        .given(given.clone())
        .when(command(
            &customer(),
            5,
            Action::MarkRead {
                ids: vec![msg(2), msg(1), msg(2)],
            },
        ))
        .then_expect_events(vec![read_event(&customer(), &[2, 1], 2, 5)]);
    given.push(read_event(&customer(), &[2], 2, 5));
    ConversationTest::with(())
        .given(given.clone())
        .when(command(
            &customer(),
            6,
            Action::MarkRead { ids: vec![msg(1)] },
        ))
        .then_expect_events(vec![]);
    ConversationTest::with(())
        .given(given)
        .when(command(
            &customer(),
            6,
            Action::MarkRead { ids: vec![msg(7)] },
        ))
        .then_expect_error(DomainError::NotFound("message msg_7".into()));
}

#[test]
fn a_read_receipt_names_at_least_one_message() {
    ConversationTest::with(())
        .given(with_a_message())
        .when(command(&customer(), 5, Action::MarkRead { ids: vec![] }))
        .then_expect_error(DomainError::invalid(
            "messageIds",
            format!("must name 1 to {MAX_READ_BATCH} messages"),
        ));
}

#[test]
fn posting_a_message_id_again_changes_nothing() {
    ConversationTest::with(())
        .given(with_a_message())
        .when(command(
            &customer(),
            5,
            Action::PostMessage(new_message("hello")),
        ))
        .then_expect_events(vec![]);
}

// ---- channels ----

fn channel_command(who: &Actor, second: u32, action: Action) -> ConversationCommand {
    ConversationCommand {
        kind: Kind::Channel,
        ..command(who, second, action)
    }
}

fn channel_opened_by(who: &Actor) -> Vec<ConversationEvent> {
    vec![
        ConversationEvent::ConversationOpened(ConversationOpened {
            tenant: who.tenant.clone(),
            kind: Kind::Channel,
            conversation_id: conv(),
            opened_by: who.user.clone(),
            opened_by_role: who.role,
            channel: Some(ChannelInfo {
                name: "conv-1".into(),
                description: String::new(),
                topic: String::new(),
                created_by: who.user.clone(),
                created_at: at(0),
            }),
            support: None,
            at: at(0),
        }),
        ConversationEvent::ParticipantJoined(ParticipantJoined {
            tenant: who.tenant.clone(),
            kind: Kind::Channel,
            conversation_id: conv(),
            user_id: who.user.clone(),
            user_name: who.display_name().into(),
            role: who.role,
            added_by: None,
            at: at(0),
        }),
    ]
}

#[test]
fn the_first_join_creates_a_channel_named_after_its_id() {
    ConversationTest::with(())
        .given_no_previous_events()
        .when(channel_command(&customer(), 0, Action::Join))
        .then_expect_events(channel_opened_by(&customer()));
}

#[test]
fn anyone_who_takes_part_may_join_a_channel_but_an_analyst_may_not() {
    let other = actor("cus-2", Role::Customer);
    let result = ConversationTest::with(())
        .given(channel_opened_by(&agent()))
        .when(channel_command(&other, 3, Action::Join))
        .inspect_result();
    assert!(
        matches!(result.as_deref(), Ok([ConversationEvent::ParticipantJoined(e)]) if e.user_id == other.user && e.kind == Kind::Channel)
    );
    ConversationTest::with(())
        .given(channel_opened_by(&agent()))
        .when(channel_command(
            &actor("ana-1", Role::Analyst),
            3,
            Action::Join,
        ))
        .then_expect_error(DomainError::Forbidden(
            "the analyst role cannot join channels".into(),
        ));
}

fn rename(name: &str) -> Action {
    Action::UpdateChannel(ChannelChanges {
        name: Some(ChannelName::parse(name).unwrap()),
        description: None,
        topic: Some(ChannelText::parse("topic", "Q4 launch").unwrap()),
    })
}

#[test]
fn the_creator_updates_a_channel_and_the_event_carries_the_result() {
    let creator = customer();
    let result = ConversationTest::with(())
        .given(channel_opened_by(&creator))
        .when(channel_command(&creator, 4, rename("launch")))
        .inspect_result()
        .unwrap();
    let [ConversationEvent::ChannelUpdated(e)] = result.as_slice() else {
        panic!("expected one ChannelUpdated, got {result:?}");
    };
    assert_eq!(e.changes.name.as_deref(), Some("launch"));
    assert_eq!(e.changes.description, None);
    assert_eq!(e.channel.name, "launch");
    assert_eq!(e.channel.topic, "Q4 launch");
    assert_eq!(e.channel.created_by, creator.user);
}

#[test]
fn only_the_creator_and_staff_may_update_a_channel() {
    let member = actor("cus-2", Role::Customer);
    let mut given = channel_opened_by(&customer());
    given.push(ConversationEvent::ParticipantJoined(ParticipantJoined {
        tenant: member.tenant.clone(),
        kind: Kind::Channel,
        conversation_id: conv(),
        user_id: member.user.clone(),
        user_name: member.display_name().into(),
        role: member.role,
        added_by: None,
        at: at(1),
    }));
    ConversationTest::with(())
        .given(given.clone())
        .when(channel_command(&member, 4, rename("mine now")))
        .then_expect_error(DomainError::Forbidden(
            "only the channel's creator and staff may update it".into(),
        ));
    let staff = ConversationTest::with(())
        .given(given)
        .when(channel_command(&agent(), 4, rename("moderated")))
        .inspect_result();
    assert!(matches!(
        staff.as_deref(),
        Ok([ConversationEvent::ChannelUpdated(_)])
    ));
}

#[test]
fn a_conversation_has_no_channel_settings_to_update() {
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(&agent(), 4, rename("nope")))
        .then_expect_error(DomainError::InvalidState(
            "only channels have a name, description and topic".into(),
        ));
}

#[test]
fn a_channel_is_not_the_conversation_with_the_same_id() {
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(channel_command(&customer(), 4, Action::Leave))
        .then_expect_error(DomainError::NotFound("channel conv-1".into()));
}

mod workflow;
