//! Given/when/then tests for the support workflow.

use super::*;
use crate::conversation::{
    Assignment, EndReason, MAX_METADATA_KEYS, Provenance, Rating, Remark, ReplyOutcome,
    SessionOwner, SourceRef, Status, SupportDetails,
};

fn supervisor() -> Actor {
    actor("sup-1", Role::Supervisor)
}

fn other_agent() -> Actor {
    actor("agent-2", Role::Agent)
}

fn system() -> Actor {
    crate::policy::system_actor(&customer().tenant)
}

fn activated(status: Status, second: u32) -> ConversationEvent {
    ConversationEvent::ConversationActivated(ConversationActivated {
        tenant: customer().tenant,
        conversation_id: conv(),
        status,
        at: at(second),
    })
}

fn escalated(by: &Actor, from: Status, to: Status, second: u32) -> ConversationEvent {
    ConversationEvent::ConversationEscalated(ConversationEscalated {
        tenant: by.tenant.clone(),
        conversation_id: conv(),
        status: to,
        previous_status: from,
        reason: None,
        escalated_by: by.user.clone(),
        escalated_by_name: by.display_name().into(),
        escalated_by_role: by.role,
        at: at(second),
    })
}

fn assigned(
    agent: &Actor,
    how: Assignment,
    from: Status,
    queued_at: Option<u32>,
    second: u32,
) -> ConversationEvent {
    ConversationEvent::AgentAssigned(AgentAssigned {
        tenant: agent.tenant.clone(),
        conversation_id: conv(),
        agent_id: agent.user.clone(),
        agent_name: agent.display_name().into(),
        agent_role: agent.role,
        how,
        assigned_by: None,
        previous_status: from,
        previous_agent: None,
        queued_at: queued_at.map(at),
        queue_time_seconds: queued_at.map(|q| i64::from(second - q)),
        at: at(second),
    })
}

/// Opened by the customer, who said something: `active`.
fn active() -> Vec<ConversationEvent> {
    let mut history = opened_by(&customer());
    history.push(posted_event(&customer(), "Hello!", 1));
    history.push(activated(Status::Active, 1));
    history
}

/// Active, then queued at second 5.
fn queued() -> Vec<ConversationEvent> {
    let mut history = active();
    history.push(escalated(&customer(), Status::Active, Status::Queued, 5));
    history
}

/// Queued, then handled by agent-1 from second 20.
fn handled() -> Vec<ConversationEvent> {
    let mut history = queued();
    history.push(joined_event(&agent(), None, 20));
    history.push(assigned(
        &agent(),
        Assignment::Claimed,
        Status::Queued,
        Some(5),
        20,
    ));
    history
}

fn ended(by: &Actor, reason: EndReason, second: u32) -> ConversationEvent {
    ConversationEvent::ConversationEnded(ConversationEnded {
        tenant: by.tenant.clone(),
        conversation_id: conv(),
        reason,
        previous_status: Status::Agent,
        ended_by: by.user.clone(),
        ended_by_name: by.display_name().into(),
        ended_by_role: by.role,
        agent_id: Some(agent().user),
        handle_time_seconds: Some(i64::from(second - 20)),
        duration_seconds: i64::from(second),
        at: at(second),
    })
}

fn end(reason: EndReason) -> Action {
    Action::End {
        reason,
        idle_since: None,
    }
}

#[test]
fn a_conversation_started_from_a_widget_records_where_the_customer_came_from() {
    let details = SupportDetails {
        chatbot_id: Some(crate::ids::ChatbotId::parse("bot-1").unwrap()),
        session_id: Some(crate::ids::SessionId::parse("sess-1").unwrap()),
        user_agent: Some("Mozilla/5.0".into()),
        ip_address: Some("203.0.113.9".into()),
        referrer: None,
    };
    let events = ConversationTest::with(())
        .given_no_previous_events()
        .when(command(&customer(), 0, Action::Start(details.clone())))
        .inspect_result()
        .unwrap();
    let ConversationEvent::ConversationOpened(opened) = &events[0] else {
        panic!("expected an opening, got {events:?}");
    };
    assert_eq!(opened.support.as_ref(), Some(&details));
    assert!(matches!(events[1], ConversationEvent::ParticipantJoined(_)));
}

/// Given a conversation opened with `support` details (none: a plain
/// one), when its customer says hello, then it becomes `status`.
fn first_message_makes(support: Option<SupportDetails>, status: Status) {
    let mut history = opened_by(&customer());
    if let ConversationEvent::ConversationOpened(opened) = &mut history[0] {
        opened.support = support.clone();
    }
    // A message of a session's conversation names the session and its
    // opener, whose other sockets hear it.
    let mut posted = posted_event(&customer(), "Hello!", 1);
    if let ConversationEvent::MessagePosted(posted) = &mut posted {
        posted.owner = support
            .and_then(|s| s.session_id)
            .map(|session_id| SessionOwner {
                session_id,
                user_id: customer().user,
            });
    }
    ConversationTest::with(())
        .given(history)
        .when(command(
            &customer(),
            1,
            Action::PostMessage(new_message("Hello!")),
        ))
        .then_expect_events(vec![posted, activated(status, 1)]);
}

#[test]
fn with_a_chatbot_the_customers_first_message_puts_the_conversation_in_ai_handling() {
    let widget = SupportDetails {
        chatbot_id: Some(crate::ids::ChatbotId::parse("bot-1").unwrap()),
        ..SupportDetails::default()
    };
    first_message_makes(Some(widget), Status::Ai);
}

#[test]
fn a_support_conversation_of_a_signed_in_customer_is_in_ai_handling_too() {
    // Opened through the chatbot seed's join by a token user: no widget, so
    // no chatbot id, and the seed's assistant answers them all the same.
    let session = SupportDetails {
        session_id: Some(crate::ids::SessionId::parse("sess-1").unwrap()),
        ..SupportDetails::default()
    };
    first_message_makes(Some(session), Status::Ai);
}

#[test]
fn a_plain_conversation_becomes_active_not_ai() {
    first_message_makes(None, Status::Active);
}

#[test]
fn another_customer_learns_nothing_of_the_state_of_a_conversation() {
    // Ended: a state-first check would answer INVALID_STATE ("has ended").
    let mut history = handled();
    history.push(ended(&agent(), EndReason::Resolved, 30));
    let stranger = actor("eve", Role::Customer);
    for action in [
        end(EndReason::UserEnded),
        Action::Escalate { reason: None },
        Action::Rate {
            rating: Rating::parse("good").unwrap(),
            comment: None,
        },
        Action::PostMessage(new_message("hi")),
        Action::StartTyping,
    ] {
        ConversationTest::with(())
            .given(history.clone())
            .when(command(&stranger, 31, action))
            .then_expect_error(DomainError::Forbidden(
                "only participants and staff may write to this conversation".into(),
            ));
    }
}

#[test]
fn the_customer_escalates_an_active_conversation_into_the_queue() {
    ConversationTest::with(())
        .given(active())
        .when(command(&customer(), 5, Action::Escalate { reason: None }))
        .then_expect_events(vec![escalated(
            &customer(),
            Status::Active,
            Status::Queued,
            5,
        )]);
}

#[test]
fn escalating_a_waiting_conversation_again_changes_nothing() {
    ConversationTest::with(())
        .given(queued())
        .when(command(
            &customer(),
            6,
            Action::Escalate {
                reason: Some(Remark::parse("reason", "still waiting").unwrap()),
            },
        ))
        .then_expect_events(vec![]);
}

#[test]
fn an_ended_conversation_cannot_be_escalated() {
    let mut history = handled();
    history.push(ended(&agent(), EndReason::Resolved, 30));
    ConversationTest::with(())
        .given(history)
        .when(command(&customer(), 31, Action::Escalate { reason: None }))
        .then_expect_error(DomainError::InvalidState(
            "the conversation has ended and cannot be escalated".into(),
        ));
}

#[test]
fn an_agent_claims_a_queued_conversation_and_the_wait_is_recorded() {
    ConversationTest::with(())
        .given(queued())
        .when(command(&agent(), 20, Action::Claim))
        .then_expect_events(vec![
            joined_event(&agent(), None, 20),
            assigned(&agent(), Assignment::Claimed, Status::Queued, Some(5), 20),
        ]);
}

#[test]
fn a_second_agent_cannot_claim_a_conversation_already_taken() {
    ConversationTest::with(())
        .given(handled())
        .when(command(&other_agent(), 21, Action::Claim))
        .then_expect_error(DomainError::InvalidState(
            "already assigned to agent-1 name".into(),
        ));
}

#[test]
fn claiming_a_conversation_one_already_has_changes_nothing() {
    ConversationTest::with(())
        .given(handled())
        .when(command(&agent(), 21, Action::Claim))
        .then_expect_events(vec![]);
}

#[test]
fn customers_cannot_claim() {
    ConversationTest::with(())
        .given(queued())
        .when(command(&customer(), 21, Action::Claim))
        .then_expect_error(DomainError::Forbidden(
            "only staff may claim conversations".into(),
        ));
}

#[test]
fn an_agent_joining_a_queued_conversation_takes_it() {
    ConversationTest::with(())
        .given(queued())
        .when(command(&agent(), 20, Action::Join))
        .then_expect_events(vec![
            joined_event(&agent(), None, 20),
            assigned(&agent(), Assignment::Joined, Status::Queued, Some(5), 20),
        ]);
}

#[test]
fn a_supervisor_joining_a_queued_conversation_only_watches() {
    ConversationTest::with(())
        .given(queued())
        .when(command(&supervisor(), 20, Action::Join))
        .then_expect_events(vec![joined_event(&supervisor(), None, 20)]);
}

#[test]
fn its_agent_escalates_to_supervisors_and_only_a_supervisor_may_take_it() {
    let mut history = handled();
    history.push(escalated(&agent(), Status::Agent, Status::Escalated, 25));
    ConversationTest::with(())
        .given(history.clone())
        .when(command(&other_agent(), 26, Action::Claim))
        .then_expect_error(DomainError::Forbidden(
            "an escalated conversation is for supervisors and admins".into(),
        ));
    let events = ConversationTest::with(())
        .given(history)
        .when(command(&supervisor(), 30, Action::Claim))
        .inspect_result()
        .unwrap();
    let ConversationEvent::AgentAssigned(taken) = &events[1] else {
        panic!("expected an assignment, got {events:?}");
    };
    assert_eq!(taken.agent_id, supervisor().user);
    assert_eq!(taken.previous_agent, Some(agent().user));
    assert_eq!(taken.queue_time_seconds, Some(5), "waited from 25 to 30");
}

#[test]
fn a_customer_cannot_escalate_a_conversation_an_agent_handles() {
    ConversationTest::with(())
        .given(handled())
        .when(command(&customer(), 25, Action::Escalate { reason: None }))
        .then_expect_error(DomainError::Forbidden(
            "only staff may escalate a conversation an agent handles".into(),
        ));
}

#[test]
fn auto_assignment_gives_a_queued_conversation_to_the_picked_agent() {
    let events = ConversationTest::with(())
        .given(queued())
        .when(command(
            &system(),
            9,
            Action::Assign {
                agent: agent().user,
                name: agent().name,
                role: Role::Agent,
            },
        ))
        .inspect_result()
        .unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    let ConversationEvent::AgentAssigned(taken) = &events[1] else {
        panic!("expected an assignment, got {events:?}");
    };
    assert_eq!(taken.how, Assignment::Auto);
    assert_eq!(taken.assigned_by.as_ref(), Some(&system().user));
}

#[test]
fn auto_assignment_of_a_conversation_someone_claimed_meanwhile_is_refused() {
    ConversationTest::with(())
        .given(handled())
        .when(command(
            &system(),
            21,
            Action::Assign {
                agent: other_agent().user,
                name: None,
                role: Role::Agent,
            },
        ))
        .then_expect_error(DomainError::InvalidState(
            "only queued conversations are assigned; this one is agent".into(),
        ));
}

#[test]
fn agents_cannot_assign_and_customers_cannot_be_assigned() {
    ConversationTest::with(())
        .given(queued())
        .when(command(
            &agent(),
            9,
            Action::Assign {
                agent: other_agent().user,
                name: None,
                role: Role::Agent,
            },
        ))
        .then_expect_error(DomainError::Forbidden(
            "only supervisors, admins and auto-assignment assign conversations".into(),
        ));
    ConversationTest::with(())
        .given(queued())
        .when(command(
            &supervisor(),
            9,
            Action::Assign {
                agent: customer().user,
                name: None,
                role: Role::Customer,
            },
        ))
        .then_expect_error(DomainError::Invalid {
            field: "agentId",
            reason: "the customer role cannot handle conversations".into(),
        });
}

#[test]
fn the_agent_ends_a_conversation_and_the_handle_time_is_recorded() {
    ConversationTest::with(())
        .given(handled())
        .when(command(&agent(), 50, end(EndReason::Resolved)))
        .then_expect_events(vec![ended(&agent(), EndReason::Resolved, 50)]);
}

#[test]
fn ending_twice_is_refused() {
    let mut history = handled();
    history.push(ended(&customer(), EndReason::UserEnded, 30));
    ConversationTest::with(())
        .given(history)
        .when(command(&customer(), 31, end(EndReason::UserEnded)))
        .then_expect_error(DomainError::InvalidState(
            "the conversation has ended and cannot be ended".into(),
        ));
}

#[test]
fn each_side_ends_with_its_own_reasons() {
    ConversationTest::with(())
        .given(handled())
        .when(command(&customer(), 30, end(EndReason::Resolved)))
        .then_expect_error(DomainError::Forbidden(
            "only staff end a conversation as agent_ended or resolved".into(),
        ));
    ConversationTest::with(())
        .given(handled())
        .when(command(&agent(), 30, end(EndReason::UserEnded)))
        .then_expect_error(DomainError::Invalid {
            field: "reason",
            reason: "user_ended is the customer's reason".into(),
        });
    ConversationTest::with(())
        .given(handled())
        .when(command(&agent(), 30, end(EndReason::Timeout)))
        .then_expect_error(DomainError::Forbidden(
            "only the idle policy ends conversations for a timeout".into(),
        ));
}

#[test]
fn the_idle_policy_ends_a_conversation_idle_since_what_it_saw() {
    let events = ConversationTest::with(())
        .given(handled())
        .when(command(
            &system(),
            50,
            Action::End {
                reason: EndReason::Timeout,
                idle_since: Some(at(20)),
            },
        ))
        .inspect_result()
        .unwrap();
    let [ConversationEvent::ConversationEnded(e)] = events.as_slice() else {
        panic!("expected one end, got {events:?}");
    };
    assert_eq!(e.reason, EndReason::Timeout);
    assert_eq!(e.handle_time_seconds, Some(30));
}

#[test]
fn activity_after_what_the_idle_policy_saw_keeps_the_conversation_going() {
    let mut history = handled();
    history.push(posted_event(&customer(), "still there?", 40));
    ConversationTest::with(())
        .given(history)
        .when(command(
            &system(),
            50,
            Action::End {
                reason: EndReason::Timeout,
                idle_since: Some(at(20)),
            },
        ))
        .then_expect_error(DomainError::InvalidState(
            "the conversation was active since".into(),
        ));
}

#[test]
fn no_message_may_be_posted_once_the_conversation_has_ended() {
    let mut history = handled();
    history.push(ended(&customer(), EndReason::UserEnded, 30));
    ConversationTest::with(())
        .given(history)
        .when(command(
            &customer(),
            31,
            Action::PostMessage(NewMessage {
                id: MessageId::parse("msg_2").unwrap(),
                ..new_message("hello?")
            }),
        ))
        .then_expect_error(DomainError::InvalidState(
            "the conversation has ended".into(),
        ));
}

#[test]
fn staff_close_an_ended_conversation_but_not_a_live_one() {
    let mut history = handled();
    history.push(ended(&customer(), EndReason::UserEnded, 30));
    ConversationTest::with(())
        .given(history)
        .when(command(&agent(), 31, Action::Close))
        .then_expect_events(vec![ConversationEvent::ConversationClosed(
            ConversationClosed {
                tenant: agent().tenant,
                conversation_id: conv(),
                closed_by: agent().user,
                closed_by_name: agent().display_name().into(),
                at: at(31),
            },
        )]);
    ConversationTest::with(())
        .given(handled())
        .when(command(&agent(), 31, Action::Close))
        .then_expect_error(DomainError::InvalidState(
            "only ended conversations are closed; this one is agent".into(),
        ));
}

#[test]
fn the_customer_rates_and_may_change_their_mind() {
    let rated = |rating: Rating, comment: Option<&str>, second: u32| {
        ConversationEvent::ConversationRated(ConversationRated {
            tenant: customer().tenant,
            conversation_id: conv(),
            rating,
            comment: comment.map(Into::into),
            rated_by: customer().user,
            agent_id: Some(agent().user),
            at: at(second),
        })
    };
    let rate = |rating, comment: Option<&str>| Action::Rate {
        rating,
        comment: comment.map(|c| Remark::parse("comment", c).unwrap()),
    };
    ConversationTest::with(())
        .given(handled())
        .when(command(&customer(), 40, rate(Rating::Bad, Some("slow"))))
        .then_expect_events(vec![rated(Rating::Bad, Some("slow"), 40)]);
    let mut history = handled();
    history.push(rated(Rating::Bad, Some("slow"), 40));
    ConversationTest::with(())
        .given(history.clone())
        .when(command(&customer(), 41, rate(Rating::Bad, Some("slow"))))
        .then_expect_events(vec![]);
    ConversationTest::with(())
        .given(history)
        .when(command(&customer(), 42, rate(Rating::Good, None)))
        .then_expect_events(vec![rated(Rating::Good, None, 42)]);
}

#[test]
fn an_empty_conversation_cannot_be_rated_and_staff_never_rate() {
    ConversationTest::with(())
        .given(opened_by(&customer()))
        .when(command(
            &customer(),
            3,
            Action::Rate {
                rating: Rating::Good,
                comment: None,
            },
        ))
        .then_expect_error(DomainError::InvalidState(
            "there is nothing to rate: no message was sent".into(),
        ));
    ConversationTest::with(())
        .given(handled())
        .when(command(
            &agent(),
            30,
            Action::Rate {
                rating: Rating::Good,
                comment: None,
            },
        ))
        .then_expect_error(DomainError::Forbidden(
            "only the conversation's customer rates it".into(),
        ));
}

#[test]
fn metadata_updates_are_recorded_and_empty_ones_change_nothing() {
    let changes =
        crate::message::MessageMetadata::parse(serde_json::json!({"plan": "pro"})).unwrap();
    ConversationTest::with(())
        .given(active())
        .when(command(&customer(), 3, Action::UpdateMetadata(changes)))
        .then_expect_events(vec![ConversationEvent::ConversationMetadataUpdated(
            ConversationMetadataUpdated {
                tenant: customer().tenant,
                conversation_id: conv(),
                changes: serde_json::json!({"plan": "pro"}),
                updated_by: customer().user,
                at: at(3),
            },
        )]);
    let empty = crate::message::MessageMetadata::parse(serde_json::json!({})).unwrap();
    ConversationTest::with(())
        .given(active())
        .when(command(&customer(), 3, Action::UpdateMetadata(empty)))
        .then_expect_events(vec![]);
}

fn metadata_update(changes: serde_json::Value) -> Action {
    Action::UpdateMetadata(crate::message::MessageMetadata::parse(changes).unwrap())
}

fn metadata_updated(changes: serde_json::Value, second: u32) -> ConversationEvent {
    ConversationEvent::ConversationMetadataUpdated(ConversationMetadataUpdated {
        tenant: customer().tenant,
        conversation_id: conv(),
        changes,
        updated_by: customer().user,
        at: at(second),
    })
}

/// Active, with metadata `key-0` … `key-{n-1}` set by `n` updates.
fn with_metadata(n: usize, value: &str) -> Vec<ConversationEvent> {
    let mut history = active();
    history.extend(
        (0..n).map(|i| metadata_updated(serde_json::json!({ format!("key-{i}"): value }), 2)),
    );
    history
}

/// The refusal of an update that would take the metadata past a limit.
fn past_the_limit(history: Vec<ConversationEvent>, changes: serde_json::Value) -> String {
    let refused = ConversationTest::with(())
        .given(history)
        .when(command(&customer(), 3, metadata_update(changes)))
        .inspect_result();
    match refused {
        Err(DomainError::Invalid {
            field: "metadata",
            reason,
        }) => reason,
        other => panic!("expected the metadata refused, got {other:?}"),
    }
}

#[test]
fn metadata_of_a_hundred_keys_takes_no_new_key_but_may_change_its_own() {
    let full = with_metadata(MAX_METADATA_KEYS, "v");
    let reason = past_the_limit(full.clone(), serde_json::json!({ "one-more": "v" }));
    assert!(
        reason.contains("101 keys") && reason.contains("at most 100"),
        "{reason}"
    );
    for changes in [
        serde_json::json!({ "key-7": "changed" }),
        serde_json::json!({ "key-7": null, "instead": "v" }),
    ] {
        ConversationTest::with(())
            .given(full.clone())
            .when(command(&customer(), 3, metadata_update(changes.clone())))
            .then_expect_events(vec![metadata_updated(changes, 3)]);
    }
}

#[test]
fn metadata_that_would_pass_64_kib_merged_is_refused() {
    // As in the report: updates of 15 KB each, every one well under the
    // 16 KiB an update may carry; four fit, the fifth does not.
    let chunk = "x".repeat(15_000);
    let four = with_metadata(4, &chunk);
    let reason = past_the_limit(four.clone(), serde_json::json!({ "key-4": chunk }));
    assert!(reason.contains("at most 65536"), "{reason}");
    // Replacing a key with as much is no growth.
    let same = serde_json::json!({ "key-0": "y".repeat(15_000) });
    ConversationTest::with(())
        .given(four)
        .when(command(&customer(), 3, metadata_update(same.clone())))
        .then_expect_events(vec![metadata_updated(same, 3)]);
}

#[test]
fn metadata_recorded_before_the_limits_may_shrink_but_not_grow() {
    // Seven updates of 15 KB: about 105 KB, from before the limit.
    let chunk = "x".repeat(15_000);
    let legacy = with_metadata(7, &chunk);
    for changes in [
        serde_json::json!({ "key-0": null }),
        serde_json::json!({ "key-1": "short" }),
    ] {
        ConversationTest::with(())
            .given(legacy.clone())
            .when(command(&customer(), 3, metadata_update(changes.clone())))
            .then_expect_events(vec![metadata_updated(changes, 3)]);
    }
    past_the_limit(legacy.clone(), serde_json::json!({ "new": "v" }));
    past_the_limit(
        legacy,
        serde_json::json!({ "key-1": format!("{chunk}more") }),
    );
}

#[test]
fn a_robot_message_is_hidden_until_staff_share_it() {
    let robot = NewMessage {
        id: MessageId::parse("msg_robot").unwrap(),
        optimistic_id: None,
        mentions: vec![],
        kind: MessageKind::Robot,
        ..new_message("Try turning it off and on again")
    };
    let events = ConversationTest::with(())
        .given(handled())
        .when(command(&agent(), 21, Action::PostMessage(robot.clone())))
        .inspect_result()
        .unwrap();
    let [ConversationEvent::MessagePosted(posted)] = events.as_slice() else {
        panic!("expected one message, got {events:?}");
    };
    assert!(posted.hidden);
    assert_eq!(posted.content_type, "robot");
    assert_eq!(
        posted.first_response_seconds, None,
        "a suggestion is not an answer"
    );

    let mut history = handled();
    history.extend(events);
    let share = Action::ShareMessage {
        id: robot.id.clone(),
    };
    ConversationTest::with(())
        .given(history.clone())
        .when(command(&agent(), 22, share.clone()))
        .then_expect_events(vec![ConversationEvent::MessageShared(MessageShared {
            tenant: agent().tenant,
            conversation_id: conv(),
            message_id: robot.id.clone(),
            shared_by: agent().user,
            shared_by_name: agent().display_name().into(),
            at: at(22),
        })]);
    ConversationTest::with(())
        .given(history)
        .when(command(&customer(), 22, share))
        .then_expect_error(DomainError::Forbidden(
            "only staff share robot messages".into(),
        ));
}

#[test]
fn customers_cannot_post_robot_or_system_messages() {
    ConversationTest::with(())
        .given(active())
        .when(command(
            &customer(),
            3,
            Action::PostMessage(NewMessage {
                id: MessageId::parse("msg_2").unwrap(),
                kind: MessageKind::System,
                ..new_message("I am the system")
            }),
        ))
        .then_expect_error(DomainError::Forbidden(
            "only staff may post system messages".into(),
        ));
}

#[test]
fn the_first_answer_after_queueing_records_the_response_time_once() {
    let answer = |id: &str, second| {
        command(
            &agent(),
            second,
            Action::PostMessage(NewMessage {
                id: MessageId::parse(id).unwrap(),
                ..new_message("How can I help?")
            }),
        )
    };
    let events = ConversationTest::with(())
        .given(handled())
        .when(answer("msg_a", 26))
        .inspect_result()
        .unwrap();
    let [ConversationEvent::MessagePosted(first)] = events.as_slice() else {
        panic!("expected one message, got {events:?}");
    };
    assert_eq!(
        first.first_response_seconds,
        Some(21),
        "queued at 5, answered at 26"
    );
    let mut history = handled();
    history.extend(events);
    let later = ConversationTest::with(())
        .given(history)
        .when(answer("msg_b", 40))
        .inspect_result()
        .unwrap();
    let [ConversationEvent::MessagePosted(second)] = later.as_slice() else {
        panic!("expected one message, got {later:?}");
    };
    assert_eq!(second.first_response_seconds, None);
}

#[test]
fn channels_have_no_support_workflow() {
    ConversationTest::with(())
        .given(channel_opened_by(&customer()))
        .when(channel_command(
            &customer(),
            3,
            Action::Escalate { reason: None },
        ))
        .then_expect_error(DomainError::InvalidState(
            "channels have no support workflow".into(),
        ));
}

#[test]
fn only_the_assistant_posts_answers_with_provenance() {
    let provenance = Provenance {
        in_reply_to: MessageId::parse("msg_1").unwrap(),
        outcome: ReplyOutcome::Answered,
        sources: vec![SourceRef {
            article_id: "kb-1".into(),
            version: 2,
            title: "Resetting your password".into(),
        }],
        provider: "embedded".into(),
        model: None,
        handoff_offered: false,
        close_suggested: false,
    };
    let answer = NewMessage {
        id: MessageId::parse("msg_answer").unwrap(),
        provenance: Some(provenance.clone()),
        ..new_message("Open Settings, then Security.")
    };
    ConversationTest::with(())
        .given(active())
        .when(command(&customer(), 3, Action::PostMessage(answer.clone())))
        .then_expect_error(DomainError::Forbidden(
            "only the assistant may post an answer with provenance".into(),
        ));
    let events = ConversationTest::with(())
        .given(active())
        .when(command(&system(), 3, Action::PostMessage(answer)))
        .inspect_result()
        .unwrap();
    let [ConversationEvent::MessagePosted(posted)] = events.as_slice() else {
        panic!("expected one message, got {events:?}");
    };
    assert_eq!(posted.provenance, Some(provenance));
    assert_eq!(
        posted.first_response_seconds, None,
        "the assistant is not staff"
    );
}
