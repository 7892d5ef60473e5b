//! Given/when/then tests for every rule of the call aggregate, and the
//! parsing of its values.

use cqrs_es::test::TestFramework;

use super::*;
use crate::testing::{actor, at, tenant};

type CallTest = TestFramework<Call>;

fn ana() -> Actor {
    actor("ana", Role::Customer)
}

fn bob() -> Actor {
    actor("bob", Role::Agent)
}

fn room() -> RoomName {
    RoomName::parse("call_engineering_standup").unwrap()
}

fn command(who: &Actor, second: u32, action: CallAction) -> CallCommand {
    CallCommand {
        room: room(),
        actor: who.clone(),
        at: at(second),
        action,
    }
}

/// Membership of a caller who takes part in the conversation the room is
/// named after.
fn in_conversation() -> Membership {
    Membership {
        conversation: Some(true),
        channel: None,
    }
}

fn started(who: &Actor, session: u64, second: u32) -> CallEvent {
    started_in(who, session, second, Some(Venue::Conversation))
}

fn started_in(who: &Actor, session: u64, second: u32, venue: Option<Venue>) -> CallEvent {
    CallEvent::CallStarted(CallStarted {
        tenant: who.tenant.clone(),
        room_name: room(),
        session,
        started_by: who.user.clone(),
        venue,
        at: at(second),
    })
}

fn joined(who: &Actor, session: u64, second: u32) -> CallEvent {
    CallEvent::CallParticipantJoined(CallParticipantJoined {
        tenant: who.tenant.clone(),
        room_name: room(),
        session,
        user_id: who.user.clone(),
        user_name: who.display_name().into(),
        role: who.role,
        at: at(second),
    })
}

fn left(who: &Actor, session: u64, reason: LeaveReason, second: u32) -> CallEvent {
    CallEvent::CallParticipantLeft(CallParticipantLeft {
        tenant: who.tenant.clone(),
        room_name: room(),
        session,
        user_id: who.user.clone(),
        user_name: who.display_name().into(),
        reason,
        at: at(second),
    })
}

fn ended(session: u64, second: u32) -> CallEvent {
    CallEvent::CallEnded(CallEnded {
        tenant: tenant(),
        room_name: room(),
        session,
        at: at(second),
    })
}

fn segment(text: &str) -> TranscriptSegment {
    TranscriptSegment::parse("Matty", text, true, Some(0.97)).unwrap()
}

/// Ana started session 1 and Bob joined it.
fn ana_and_bob_in_call() -> Vec<CallEvent> {
    vec![
        started(&ana(), 1, 0),
        joined(&ana(), 1, 0),
        joined(&bob(), 1, 1),
    ]
}

// ---- joining ----

#[test]
fn a_first_join_starts_session_one_with_the_joiner_in_it() {
    CallTest::with(())
        .given_no_previous_events()
        .when(command(&ana(), 0, CallAction::Join(in_conversation())))
        .then_expect_events(vec![started(&ana(), 1, 0), joined(&ana(), 1, 0)]);
}

#[test]
fn a_second_caller_joins_the_running_session() {
    CallTest::with(())
        .given(vec![started(&ana(), 1, 0), joined(&ana(), 1, 0)])
        .when(command(&bob(), 1, CallAction::Join(in_conversation())))
        .then_expect_events(vec![joined(&bob(), 1, 1)]);
}

#[test]
fn joining_twice_changes_nothing() {
    CallTest::with(())
        .given(ana_and_bob_in_call())
        .when(command(&bob(), 5, CallAction::Join(in_conversation())))
        .then_expect_events(vec![]);
}

#[test]
fn customers_and_staff_may_join_but_analysts_auditors_and_services_may_not() {
    for role in [Role::Customer, Role::Agent, Role::Supervisor, Role::Admin] {
        let caller = actor("caller", role);
        CallTest::with(())
            .given(ana_and_bob_in_call())
            .when(command(&caller, 5, CallAction::Join(in_conversation())))
            .then_expect_events(vec![joined(&caller, 1, 5)]);
    }
    for role in [Role::Analyst, Role::Auditor, Role::Service] {
        let caller = actor("reader", role);
        CallTest::with(())
            .given_no_previous_events()
            .when(command(&caller, 0, CallAction::Join(in_conversation())))
            .then_expect_error(DomainError::Forbidden(format!(
                "the {role} role cannot take part in calls"
            )));
    }
}

// ---- who may join: the room's venue and the caller's membership ----

fn customers_refused() -> DomainError {
    DomainError::Forbidden(
        "customers may join only the call of a conversation or channel they take part in".into(),
    )
}

#[test]
fn a_first_join_records_what_the_room_belongs_to() {
    let cases = [
        (in_conversation(), Venue::Conversation),
        (
            Membership {
                conversation: None,
                channel: Some(false),
            },
            Venue::Channel,
        ),
        (Membership::default(), Venue::Standalone),
        // A conversation and a channel of one id: the conversation's rule.
        (
            Membership {
                conversation: Some(false),
                channel: Some(true),
            },
            Venue::Conversation,
        ),
    ];
    for (membership, venue) in cases {
        CallTest::with(())
            .given_no_previous_events()
            .when(command(&bob(), 0, CallAction::Join(membership)))
            .then_expect_events(vec![
                started_in(&bob(), 1, 0, Some(venue)),
                joined(&bob(), 1, 0),
            ]);
    }
}

#[test]
fn a_customer_may_not_start_or_join_a_standalone_room_but_staff_may() {
    CallTest::with(())
        .given_no_previous_events()
        .when(command(&ana(), 0, CallAction::Join(Membership::default())))
        .then_expect_error(customers_refused());
    let standup = vec![
        started_in(&bob(), 1, 0, Some(Venue::Standalone)),
        joined(&bob(), 1, 0),
    ];
    CallTest::with(())
        .given(standup.clone())
        .when(command(&ana(), 1, CallAction::Join(Membership::default())))
        .then_expect_error(customers_refused());
    let cid = actor("cid", Role::Supervisor);
    CallTest::with(())
        .given(standup)
        .when(command(&cid, 1, CallAction::Join(Membership::default())))
        .then_expect_events(vec![joined(&cid, 1, 1)]);
}

#[test]
fn a_customer_joins_a_conversations_call_only_as_its_participant() {
    let call = vec![started(&bob(), 1, 0), joined(&bob(), 1, 0)];
    let outsider = Membership {
        conversation: Some(false),
        channel: None,
    };
    CallTest::with(())
        .given(call.clone())
        .when(command(&ana(), 1, CallAction::Join(outsider)))
        .then_expect_error(customers_refused());
    // Being a member of a channel of the same id does not help.
    CallTest::with(())
        .given(call.clone())
        .when(command(
            &ana(),
            1,
            CallAction::Join(Membership {
                conversation: Some(false),
                channel: Some(true),
            }),
        ))
        .then_expect_error(customers_refused());
    CallTest::with(())
        .given(call)
        .when(command(&ana(), 1, CallAction::Join(in_conversation())))
        .then_expect_events(vec![joined(&ana(), 1, 1)]);
}

#[test]
fn a_channels_call_admits_the_channels_members() {
    let call = vec![
        started_in(&bob(), 1, 0, Some(Venue::Channel)),
        joined(&bob(), 1, 0),
    ];
    let member = |yes| Membership {
        conversation: None,
        channel: Some(yes),
    };
    CallTest::with(())
        .given(call.clone())
        .when(command(&ana(), 1, CallAction::Join(member(false))))
        .then_expect_error(customers_refused());
    CallTest::with(())
        .given(call)
        .when(command(&ana(), 1, CallAction::Join(member(true))))
        .then_expect_events(vec![joined(&ana(), 1, 1)]);
}

#[test]
fn a_conversation_opened_later_under_a_standalone_rooms_name_does_not_admit_its_customer() {
    // Staff held a call; then a customer opened a conversation of that id.
    let history = vec![
        started_in(&bob(), 1, 0, Some(Venue::Standalone)),
        joined(&bob(), 1, 0),
        left(&bob(), 1, LeaveReason::Left, 1),
        ended(1, 1),
    ];
    CallTest::with(())
        .given(history.clone())
        .when(command(&ana(), 2, CallAction::Join(in_conversation())))
        .then_expect_error(customers_refused());
    // The next session stays standalone, whatever the name names now.
    CallTest::with(())
        .given(history)
        .when(command(&bob(), 2, CallAction::Join(in_conversation())))
        .then_expect_events(vec![
            started_in(&bob(), 2, 2, Some(Venue::Standalone)),
            joined(&bob(), 2, 2),
        ]);
}

#[test]
fn a_room_from_before_venues_follows_what_its_name_names_until_it_records_one() {
    let legacy = vec![started_in(&bob(), 1, 0, None), joined(&bob(), 1, 0)];
    CallTest::with(())
        .given(legacy.clone())
        .when(command(&ana(), 1, CallAction::Join(Membership::default())))
        .then_expect_error(customers_refused());
    CallTest::with(())
        .given(legacy.clone())
        .when(command(&ana(), 1, CallAction::Join(in_conversation())))
        .then_expect_events(vec![joined(&ana(), 1, 1)]);
    let mut ended_legacy = legacy;
    ended_legacy.push(left(&bob(), 1, LeaveReason::Left, 2));
    ended_legacy.push(ended(1, 2));
    CallTest::with(())
        .given(ended_legacy)
        .when(command(&bob(), 3, CallAction::Join(Membership::default())))
        .then_expect_events(vec![
            started_in(&bob(), 2, 3, Some(Venue::Standalone)),
            joined(&bob(), 2, 3),
        ]);
}

#[test]
fn a_call_started_event_from_before_venues_still_loads() {
    let json = serde_json::json!({ "CallStarted": {
        "tenant": "acme", "room_name": "call_engineering_standup", "session": 1,
        "started_by": "bob", "at": "2026-11-22T10:00:00Z",
    }});
    let event: CallEvent = serde_json::from_value(json).unwrap();
    assert_eq!(event, started_in(&bob(), 1, 0, None));
    let mut call = Call::default();
    call.apply(event);
    assert_eq!(call.venue(), None);
    call.apply(started_in(&bob(), 2, 1, Some(Venue::Channel)));
    call.apply(started_in(&bob(), 3, 2, Some(Venue::Standalone)));
    assert_eq!(call.venue(), Some(Venue::Channel));
}

#[test]
fn a_call_room_of_another_tenant_is_not_found() {
    let mut foreign = bob();
    foreign.tenant = TenantId::parse("globex").unwrap();
    CallTest::with(())
        .given(ana_and_bob_in_call())
        .when(command(&foreign, 5, CallAction::Join(in_conversation())))
        .then_expect_error(DomainError::NotFound(
            "call room call_engineering_standup".into(),
        ));
}

// ---- transcription ----

#[test]
fn a_participants_segment_is_recorded_with_every_field() {
    CallTest::with(())
        .given(ana_and_bob_in_call())
        .when(command(
            &bob(),
            3,
            CallAction::Transcribe(segment("Let us review the sprint backlog.")),
        ))
        .then_expect_events(vec![CallEvent::TranscriptSegmentRecorded(
            TranscriptSegmentRecorded {
                tenant: tenant(),
                room_name: room(),
                session: 1,
                user_id: UserId::parse("bob").unwrap(),
                user_name: "bob name".into(),
                speaker: "Matty".into(),
                text: "Let us review the sprint backlog.".into(),
                is_final: true,
                confidence: Some(0.97),
                at: at(3),
            },
        )]);
}

#[test]
fn someone_not_in_the_call_may_not_send_transcription() {
    let error =
        DomainError::Forbidden("only participants of the call may send its transcription".into());
    let outsider = actor("cid", Role::Agent);
    CallTest::with(())
        .given(ana_and_bob_in_call())
        .when(command(&outsider, 3, CallAction::Transcribe(segment("hi"))))
        .then_expect_error(error.clone());
    // Nor into a room that never had a call.
    CallTest::with(())
        .given_no_previous_events()
        .when(command(&ana(), 0, CallAction::Transcribe(segment("hi"))))
        .then_expect_error(error.clone());
    // Nor after leaving.
    let mut history = ana_and_bob_in_call();
    history.push(left(&bob(), 1, LeaveReason::Left, 2));
    CallTest::with(())
        .given(history)
        .when(command(&bob(), 3, CallAction::Transcribe(segment("hi"))))
        .then_expect_error(error);
}

// ---- leaving and ending ----

#[test]
fn leaving_records_the_reason_and_the_call_goes_on_while_others_remain() {
    CallTest::with(())
        .given(ana_and_bob_in_call())
        .when(command(
            &bob(),
            4,
            CallAction::Leave(LeaveReason::Disconnected),
        ))
        .then_expect_events(vec![left(&bob(), 1, LeaveReason::Disconnected, 4)]);
}

#[test]
fn leaving_when_not_in_the_call_changes_nothing() {
    CallTest::with(())
        .given_no_previous_events()
        .when(command(&ana(), 0, CallAction::Leave(LeaveReason::Left)))
        .then_expect_events(vec![]);
    CallTest::with(())
        .given(ana_and_bob_in_call())
        .when(command(
            &actor("cid", Role::Agent),
            4,
            CallAction::Leave(LeaveReason::Left),
        ))
        .then_expect_events(vec![]);
}

#[test]
fn the_last_participant_leaving_ends_the_call() {
    let mut history = ana_and_bob_in_call();
    history.push(left(&bob(), 1, LeaveReason::Left, 2));
    CallTest::with(())
        .given(history)
        .when(command(&ana(), 3, CallAction::Leave(LeaveReason::Left)))
        .then_expect_events(vec![left(&ana(), 1, LeaveReason::Left, 3), ended(1, 3)]);
}

#[test]
fn a_join_after_the_end_starts_the_next_session() {
    let mut history = vec![started(&ana(), 1, 0), joined(&ana(), 1, 0)];
    history.push(left(&ana(), 1, LeaveReason::Left, 1));
    history.push(ended(1, 1));
    CallTest::with(())
        .given(history)
        .when(command(&bob(), 5, CallAction::Join(in_conversation())))
        .then_expect_events(vec![started(&bob(), 2, 5), joined(&bob(), 2, 5)]);
}

#[test]
fn segments_of_a_later_session_carry_that_session() {
    let history = vec![
        started(&ana(), 1, 0),
        joined(&ana(), 1, 0),
        left(&ana(), 1, LeaveReason::Left, 1),
        ended(1, 1),
        started(&ana(), 2, 2),
        joined(&ana(), 2, 2),
    ];
    let result = CallTest::with(())
        .given(history)
        .when(command(&ana(), 3, CallAction::Transcribe(segment("again"))))
        .inspect_result()
        .unwrap();
    let [CallEvent::TranscriptSegmentRecorded(recorded)] = result.as_slice() else {
        panic!("one segment expected: {result:?}");
    };
    assert_eq!(recorded.session, 2);
}

#[test]
fn state_follows_the_events() {
    let mut call = Call::default();
    assert!(!call.is_active());
    for event in ana_and_bob_in_call() {
        call.apply(event);
    }
    assert!(call.is_active() && call.session() == 1);
    assert!(call.is_participant(&bob().user));
    call.apply(left(&bob(), 1, LeaveReason::Left, 2));
    call.apply(left(&ana(), 1, LeaveReason::Left, 3));
    call.apply(ended(1, 3));
    assert!(!call.is_active() && !call.is_participant(&ana().user));
    assert_eq!(call.session(), 1);
}

// ---- names and streams ----

#[test]
fn streams_are_per_tenant_and_room() {
    let acme = tenant();
    assert_eq!(
        Call::stream_id(&acme, &room()),
        "call/acme/call_engineering_standup"
    );
    assert!(Call::owns_stream("call/acme/x"));
    assert!(!Call::owns_stream("conversation/acme/x"));
}

#[test]
fn event_names_equal_their_serde_tags() {
    let events = [
        started(&ana(), 1, 0),
        joined(&ana(), 1, 0),
        left(&ana(), 1, LeaveReason::Left, 1),
        ended(1, 1),
    ];
    for event in events {
        let json = serde_json::to_value(&event).unwrap();
        assert!(json.get(event.name()).is_some(), "{json}");
        assert_eq!(event.tenant().as_str(), "acme");
    }
}

// ---- values ----

#[test]
fn room_names_take_the_seed_example_and_refuse_separators() {
    assert!(RoomName::parse("call_engineering_standup").is_ok());
    assert!(RoomName::parse("team.sync@2026-03").is_ok());
    assert!(RoomName::parse("x".repeat(128)).is_ok());
    for raw in ["", "a:b", "a/b", "a b", "ü", &"x".repeat(129)] {
        assert!(RoomName::parse(raw).is_err(), "{raw:?} should be refused");
    }
    let bad: Result<RoomName, _> = serde_json::from_str("\"a:b\"");
    assert!(bad.is_err());
}

#[test]
fn leave_reasons_round_trip_through_their_names() {
    for reason in [LeaveReason::Left, LeaveReason::Disconnected] {
        assert_eq!(reason.as_str().parse::<LeaveReason>().unwrap(), reason);
        assert_eq!(
            serde_json::to_value(reason).unwrap(),
            serde_json::json!(reason.as_str())
        );
    }
    assert!("kicked".parse::<LeaveReason>().is_err());
}

#[test]
fn a_segment_keeps_what_it_was_given() {
    let s = TranscriptSegment::parse("", "line\n\tnext", false, None).unwrap();
    assert_eq!(s.speaker(), "");
    assert_eq!(s.text(), "line\n\tnext");
    assert!(!s.is_final());
    assert_eq!(s.confidence(), None);
    let s = TranscriptSegment::parse("S".repeat(200), "t".repeat(10_000), true, Some(1.0));
    assert!(s.is_ok());
    assert!(TranscriptSegment::parse("Matty", "ok", true, Some(0.0)).is_ok());
}

#[test]
fn bad_segments_are_refused_naming_the_field() {
    let field_of = |r: Result<TranscriptSegment, DomainError>| match r {
        Err(DomainError::Invalid { field, .. }) => field,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let cases: [(&str, String, Option<f64>, &str); 8] = [
        ("Matty", String::new(), None, "segment.text"),
        ("Matty", " \n\t".into(), None, "segment.text"),
        ("Matty", "a\u{0}b".into(), None, "segment.text"),
        ("Matty", "t".repeat(10_001), None, "segment.text"),
        ("Mat\u{7}ty", "ok".into(), None, "segment.speaker"),
        ("Matty", "ok".into(), Some(1.01), "segment.confidence"),
        ("Matty", "ok".into(), Some(-0.1), "segment.confidence"),
        ("Matty", "ok".into(), Some(f64::NAN), "segment.confidence"),
    ];
    for (speaker, text, confidence, field) in cases {
        assert_eq!(
            field_of(TranscriptSegment::parse(speaker, text, true, confidence)),
            field
        );
    }
    assert_eq!(
        field_of(TranscriptSegment::parse("S".repeat(201), "ok", true, None)),
        "segment.speaker"
    );
}
