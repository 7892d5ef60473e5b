//! Given/when/then tests for every rule of the aggregate, and its values.

use cqrs_es::test::TestFramework;

use super::*;
use crate::testing::{at, tenant};

type PresenceTest = TestFramework<Presence>;

fn ana() -> UserId {
    UserId::parse("ana").unwrap()
}

fn command(second: u32, action: PresenceAction) -> PresenceCommand {
    PresenceCommand {
        tenant: tenant(),
        user: ana(),
        user_name: "Ana".into(),
        at: at(second),
        action,
    }
}

fn set(status: PresenceStatus, custom: Option<&str>, text: Option<&str>) -> PresenceAction {
    PresenceAction::SetStatus {
        status,
        custom_status: custom.map(|c| CustomStatus::parse(c).unwrap()),
        status_text: text.map(|t| StatusText::parse(t).unwrap()),
    }
}

fn changed(
    second: u32,
    status: PresenceStatus,
    custom: Option<&str>,
    text: Option<&str>,
    reason: PresenceReason,
) -> PresenceEvent {
    PresenceEvent::PresenceChanged(PresenceChanged {
        tenant: tenant(),
        user_id: ana(),
        user_name: "Ana".into(),
        status,
        custom_status: custom.map(Into::into),
        status_text: text.map(Into::into),
        reason,
        at: at(second),
    })
}

fn heartbeat(second: u32, status: PresenceStatus, custom: Option<&str>) -> PresenceEvent {
    PresenceEvent::PresenceHeartbeatReceived(PresenceHeartbeatReceived {
        tenant: tenant(),
        user_id: ana(),
        user_name: "Ana".into(),
        status,
        custom_status: custom.map(Into::into),
        status_text: None,
        at: at(second),
    })
}

/// Ana connected at 0 and set herself busy "In a meeting" at 1.
fn busy_in_a_meeting() -> Vec<PresenceEvent> {
    vec![
        changed(
            0,
            PresenceStatus::Online,
            None,
            None,
            PresenceReason::Connected,
        ),
        changed(
            1,
            PresenceStatus::Busy,
            Some("In a meeting"),
            Some("Back at 3pm"),
            PresenceReason::Manual,
        ),
    ]
}

fn timed_out_while_busy() -> Vec<PresenceEvent> {
    let mut history = busy_in_a_meeting();
    history.push(changed(
        5,
        PresenceStatus::Offline,
        Some("In a meeting"),
        Some("Back at 3pm"),
        PresenceReason::Timeout,
    ));
    history
}

// ---- setting a status ----

#[test]
fn a_user_sets_their_status_with_a_custom_status_and_text() {
    PresenceTest::with(())
        .given(vec![changed(
            0,
            PresenceStatus::Online,
            None,
            None,
            PresenceReason::Connected,
        )])
        .when(command(
            3,
            set(
                PresenceStatus::Away,
                Some("Lunch"),
                Some("Back in 30 minutes"),
            ),
        ))
        .then_expect_events(vec![changed(
            3,
            PresenceStatus::Away,
            Some("Lunch"),
            Some("Back in 30 minutes"),
            PresenceReason::Manual,
        )]);
}

#[test]
fn a_user_never_seen_may_set_a_status() {
    PresenceTest::with(())
        .given_no_previous_events()
        .when(command(3, set(PresenceStatus::Busy, None, None)))
        .then_expect_events(vec![changed(
            3,
            PresenceStatus::Busy,
            None,
            None,
            PresenceReason::Manual,
        )]);
}

#[test]
fn repeating_the_same_status_is_recorded_again() {
    PresenceTest::with(())
        .given(busy_in_a_meeting())
        .when(command(
            4,
            set(
                PresenceStatus::Busy,
                Some("In a meeting"),
                Some("Back at 3pm"),
            ),
        ))
        .then_expect_events(vec![changed(
            4,
            PresenceStatus::Busy,
            Some("In a meeting"),
            Some("Back at 3pm"),
            PresenceReason::Manual,
        )]);
}

#[test]
fn an_update_without_notes_clears_them() {
    PresenceTest::with(())
        .given(busy_in_a_meeting())
        .when(command(4, set(PresenceStatus::Online, None, None)))
        .then_expect_events(vec![changed(
            4,
            PresenceStatus::Online,
            None,
            None,
            PresenceReason::Manual,
        )]);
}

#[test]
fn a_user_may_set_themselves_offline() {
    PresenceTest::with(())
        .given(busy_in_a_meeting())
        .when(command(4, set(PresenceStatus::Offline, None, None)))
        .then_expect_events(vec![changed(
            4,
            PresenceStatus::Offline,
            None,
            None,
            PresenceReason::Manual,
        )]);
}

// ---- heartbeats ----

#[test]
fn a_heartbeat_is_recorded_with_the_presence_as_it_stands() {
    PresenceTest::with(())
        .given(busy_in_a_meeting())
        .when(command(4, PresenceAction::Heartbeat))
        .then_expect_events(vec![PresenceEvent::PresenceHeartbeatReceived(
            PresenceHeartbeatReceived {
                tenant: tenant(),
                user_id: ana(),
                user_name: "Ana".into(),
                status: PresenceStatus::Busy,
                custom_status: Some("In a meeting".into()),
                status_text: Some("Back at 3pm".into()),
                at: at(4),
            },
        )]);
}

#[test]
fn a_heartbeat_changes_no_status_even_after_a_timeout() {
    PresenceTest::with(())
        .given(timed_out_while_busy())
        .when(command(6, PresenceAction::Heartbeat))
        .then_expect_events(vec![PresenceEvent::PresenceHeartbeatReceived(
            PresenceHeartbeatReceived {
                tenant: tenant(),
                user_id: ana(),
                user_name: "Ana".into(),
                status: PresenceStatus::Offline,
                custom_status: Some("In a meeting".into()),
                status_text: Some("Back at 3pm".into()),
                at: at(6),
            },
        )]);
    let mut state = Presence::default();
    for event in busy_in_a_meeting() {
        state.apply(event);
    }
    state.apply(heartbeat(4, PresenceStatus::Busy, Some("In a meeting")));
    assert_eq!(state.status(), Some(PresenceStatus::Busy));
}

#[test]
fn a_heartbeat_of_a_user_never_seen_says_offline() {
    PresenceTest::with(())
        .given_no_previous_events()
        .when(command(1, PresenceAction::Heartbeat))
        .then_expect_events(vec![heartbeat(1, PresenceStatus::Offline, None)]);
}

// ---- connecting ----

#[test]
fn connecting_brings_a_user_never_seen_online() {
    PresenceTest::with(())
        .given_no_previous_events()
        .when(command(0, PresenceAction::Connected))
        .then_expect_events(vec![changed(
            0,
            PresenceStatus::Online,
            None,
            None,
            PresenceReason::Connected,
        )]);
}

#[test]
fn connecting_brings_an_offline_user_online_with_their_notes_kept() {
    PresenceTest::with(())
        .given(timed_out_while_busy())
        .when(command(9, PresenceAction::Connected))
        .then_expect_events(vec![changed(
            9,
            PresenceStatus::Online,
            Some("In a meeting"),
            Some("Back at 3pm"),
            PresenceReason::Connected,
        )]);
}

#[test]
fn connecting_while_online_away_or_busy_records_nothing() {
    PresenceTest::with(())
        .given(busy_in_a_meeting())
        .when(command(4, PresenceAction::Connected))
        .then_expect_events(vec![]);
    PresenceTest::with(())
        .given(vec![changed(
            0,
            PresenceStatus::Online,
            None,
            None,
            PresenceReason::Connected,
        )])
        .when(command(4, PresenceAction::Connected))
        .then_expect_events(vec![]);
}

// ---- timing out ----

#[test]
fn expiring_a_present_user_makes_them_offline_by_timeout_with_their_notes_kept() {
    PresenceTest::with(())
        .given(busy_in_a_meeting())
        .when(command(5, PresenceAction::Expire))
        .then_expect_events(vec![changed(
            5,
            PresenceStatus::Offline,
            Some("In a meeting"),
            Some("Back at 3pm"),
            PresenceReason::Timeout,
        )]);
}

#[test]
fn expiring_an_offline_user_or_one_never_seen_records_nothing() {
    PresenceTest::with(())
        .given(timed_out_while_busy())
        .when(command(9, PresenceAction::Expire))
        .then_expect_events(vec![]);
    PresenceTest::with(())
        .given_no_previous_events()
        .when(command(9, PresenceAction::Expire))
        .then_expect_events(vec![]);
}

// ---- identity ----

#[test]
fn a_command_for_another_user_on_this_stream_is_not_found() {
    let mut other = command(4, PresenceAction::Heartbeat);
    other.user = UserId::parse("bob").unwrap();
    PresenceTest::with(())
        .given(busy_in_a_meeting())
        .when(other)
        .then_expect_error(DomainError::NotFound("presence of bob".into()));
    let mut foreign = command(4, PresenceAction::Connected);
    foreign.tenant = TenantId::parse("globex").unwrap();
    PresenceTest::with(())
        .given(busy_in_a_meeting())
        .when(foreign)
        .then_expect_error(DomainError::NotFound("presence of ana".into()));
}

// ---- events and streams ----

#[test]
fn event_names_are_their_serde_tags_and_are_versioned() {
    use cqrs_es::DomainEvent;
    let mut events = timed_out_while_busy();
    events.push(heartbeat(9, PresenceStatus::Offline, None));
    for event in events {
        let json = serde_json::to_value(&event).unwrap();
        let tag = json.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(tag, event.event_type());
        assert_eq!(tag, event.name());
        assert_eq!(event.event_version(), "1");
        assert_eq!(event.tenant(), &tenant());
        assert_eq!(
            serde_json::from_value::<PresenceEvent>(json).unwrap(),
            event
        );
    }
    let json = serde_json::to_value(changed(
        1,
        PresenceStatus::Busy,
        None,
        None,
        PresenceReason::Timeout,
    ))
    .unwrap();
    assert_eq!(json["PresenceChanged"]["status"], "busy");
    assert_eq!(json["PresenceChanged"]["reason"], "timeout");
}

#[test]
fn stream_ids_cannot_collide_even_with_slashes_in_user_ids() {
    let a = Presence::stream_id(
        &TenantId::parse("a").unwrap(),
        &UserId::parse("b/c").unwrap(),
    );
    let b = Presence::stream_id(
        &TenantId::parse("a-b").unwrap(),
        &UserId::parse("c").unwrap(),
    );
    assert_eq!(a, "presence/a/b/c");
    assert_ne!(a, b);
    assert!(Presence::owns_stream(&a));
    assert!(!Presence::owns_stream("conversation/a/b"));
}

// ---- values ----

#[test]
fn the_four_statuses_parse_and_round_trip() {
    for raw in ["online", "away", "busy", "offline"] {
        let status = PresenceStatus::parse(raw).unwrap();
        assert_eq!(status.as_str(), raw);
        assert_eq!(raw.parse::<PresenceStatus>().unwrap(), status);
    }
}

#[test]
fn unknown_statuses_are_invalid() {
    for raw in ["", "Online", "dnd", "invisible", " online"] {
        assert!(
            matches!(
                PresenceStatus::parse(raw),
                Err(DomainError::Invalid {
                    field: "status",
                    ..
                })
            ),
            "{raw:?}"
        );
    }
}

#[test]
fn reasons_round_trip_through_their_names() {
    for reason in [
        PresenceReason::Manual,
        PresenceReason::Connected,
        PresenceReason::Timeout,
    ] {
        assert_eq!(reason.as_str().parse::<PresenceReason>().unwrap(), reason);
    }
    assert!("bored".parse::<PresenceReason>().is_err());
}

#[test]
fn notes_are_trimmed_bounded_in_characters_and_free_of_control_characters() {
    assert_eq!(
        CustomStatus::parse("  In a meeting ").unwrap().as_str(),
        "In a meeting"
    );
    assert!(CustomStatus::parse("😀".repeat(100)).is_ok());
    assert!(matches!(
        CustomStatus::parse("x".repeat(101)),
        Err(DomainError::Invalid {
            field: "customStatus",
            ..
        })
    ));
    assert!(StatusText::parse("x".repeat(280)).is_ok());
    assert!(matches!(
        StatusText::parse("x".repeat(281)),
        Err(DomainError::Invalid {
            field: "statusText",
            ..
        })
    ));
    for raw in ["a\nb", "bell\u{7}", "nul\u{0}"] {
        assert!(StatusText::parse(raw).is_err(), "{raw:?}");
    }
    assert!(CustomStatus::parse("   ").is_err());
}

#[test]
fn absent_or_blank_notes_are_none() {
    assert_eq!(CustomStatus::parse_optional(None).unwrap(), None);
    assert_eq!(
        CustomStatus::parse_optional(Some("  ".into())).unwrap(),
        None
    );
    assert_eq!(
        StatusText::parse_optional(Some("Back at 3pm".into()))
            .unwrap()
            .map(String::from),
        Some("Back at 3pm".into())
    );
    assert!(StatusText::parse_optional(Some("x".repeat(281))).is_err());
}
