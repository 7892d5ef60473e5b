//! The call and swarm read models, on SQLite and PostgreSQL.

use domain::actor::{Actor, Role};
use domain::call::{
    Call, CallAction, CallCommand, LeaveReason, Membership, RoomName, TranscriptSegment,
};
use domain::swarm::{SwarmAction, SwarmCommand, SwarmSession, SwarmSessionId, SwarmStep};
use projections::Projector;
use projections::calls::{self, CallStatus, Sessions::All, Sessions::TakenPartIn};
use projections::swarm_steps;
use projections::update::Change;
use serde_json::json;
use store::{Backend, both_backends};

mod common;

use common::{World, execute, from_socket, next, person, t, tenant_id, user};

impl World {
    async fn call(&self, who: &Actor, room: &str, action: CallAction) {
        let room = RoomName::parse(room).unwrap();
        let stream = Call::stream_id(&who.tenant, &room);
        let command = CallCommand {
            room,
            actor: who.clone(),
            at: self.tick(),
            action,
        };
        execute(&self.calls, &stream, command, from_socket(who))
            .await
            .unwrap();
    }

    async fn say(&self, who: &Actor, room: &str, text: &str) {
        let segment = TranscriptSegment::parse(who.display_name(), text, true, Some(0.5)).unwrap();
        self.call(who, room, CallAction::Transcribe(segment)).await;
    }

    async fn step(&self, who: &Actor, session: &str, step: serde_json::Value) {
        let session = SwarmSessionId::parse(session).unwrap();
        let stream = SwarmSession::stream_id(&who.tenant, &session);
        let command = SwarmCommand {
            session,
            actor: who.clone(),
            at: self.tick(),
            action: SwarmAction::RecordStep(SwarmStep::parse(step).unwrap()),
        };
        execute(&self.swarms, &stream, command, from_socket(who))
            .await
            .unwrap();
    }

    async fn caught_up(&self, projector: &Projector) {
        self.wait_for(projector, &[calls::NAME, swarm_steps::NAME])
            .await;
    }
}

/// Joining as a participant of the conversation the room is named after
/// (the gateway looks that up; here it is given).
fn join() -> CallAction {
    CallAction::Join(Membership {
        conversation: Some(true),
        channel: None,
    })
}

fn room(raw: &str) -> RoomName {
    RoomName::parse(raw).unwrap()
}

both_backends!(
    a_call_is_projected_with_its_participants_and_its_segments_in_order,
    a_room_called_again_keeps_its_sessions_apart,
    a_customer_reads_only_the_sessions_they_took_part_in,
    joins_leaves_and_segments_are_published_in_log_order,
    call_read_models_never_mix_tenants,
    swarm_steps_are_projected_in_sequence_order_and_read_in_pages,
    swarm_steps_are_published_and_never_mix_tenants_or_sessions,
);

async fn a_call_is_projected_with_its_participants_and_its_segments_in_order(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    let bob = person("acme", "bob", Role::Agent);
    world.call(&ana, "standup", join()).await; // t0
    world.call(&bob, "standup", join()).await; // t1
    world.say(&bob, "standup", "first").await; // t2
    world.say(&ana, "standup", "second").await; // t3
    world.say(&bob, "standup", "third").await; // t4
    world
        .call(
            &bob,
            "standup",
            CallAction::Leave(LeaveReason::Disconnected),
        )
        .await; // t5
    world
        .call(&ana, "standup", CallAction::Leave(LeaveReason::Left))
        .await; // t6
    world.caught_up(&projector).await;

    let sessions = calls::transcript(world.log.db(), &tenant_id("acme"), &room("standup"), All)
        .await
        .unwrap()
        .expect("the room had a call");
    assert_eq!(sessions.len(), 1);
    let call = &sessions[0];
    assert_eq!(call.session, 1);
    assert_eq!(call.status, CallStatus::Ended);
    assert_eq!(call.started_by.as_str(), "ana");
    assert_eq!(call.started_at, t(0));
    assert_eq!(call.ended_at, Some(t(6)));
    let who: Vec<(&str, Option<LeaveReason>)> = call
        .participants
        .iter()
        .map(|p| (p.user_id.as_str(), p.leave_reason))
        .collect();
    assert_eq!(
        who,
        [
            ("ana", Some(LeaveReason::Left)),
            ("bob", Some(LeaveReason::Disconnected))
        ]
    );
    assert_eq!(call.participants[1].role, Role::Agent);
    assert_eq!(call.participants[1].joined_at, t(1));
    assert_eq!(call.participants[1].left_at, Some(t(5)));
    let texts: Vec<&str> = call.segments.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts, ["first", "second", "third"]);
    let second = &call.segments[1];
    assert_eq!(second.speaker, "ANA");
    assert_eq!(second.user_id.as_str(), "ana");
    assert!(second.is_final);
    assert_eq!(second.confidence, Some(0.5));
    assert_eq!(second.at, t(3));
    assert_eq!(second.session, 1);
    assert!(
        call.segments
            .windows(2)
            .all(|w| w[0].position < w[1].position)
    );
    // A room that never had a call is not an empty transcript.
    let none = calls::transcript(world.log.db(), &tenant_id("acme"), &room("nobody"), All)
        .await
        .unwrap();
    assert!(none.is_none());
    projector.stop().await;
}

async fn a_room_called_again_keeps_its_sessions_apart(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    let bob = person("acme", "bob", Role::Agent);
    world.call(&ana, "r", join()).await;
    world.say(&ana, "r", "monday").await;
    world
        .call(&ana, "r", CallAction::Leave(LeaveReason::Left))
        .await;
    world.call(&bob, "r", join()).await;
    world.say(&bob, "r", "tuesday").await;
    world.call(&ana, "r", join()).await;
    // Leaving and coming back within one session keeps one participant row.
    world
        .call(&bob, "r", CallAction::Leave(LeaveReason::Disconnected))
        .await;
    world.call(&bob, "r", join()).await;
    world.caught_up(&projector).await;

    let sessions = calls::transcript(world.log.db(), &tenant_id("acme"), &room("r"), All)
        .await
        .unwrap()
        .unwrap();
    let summary: Vec<(u64, CallStatus, Vec<&str>, Vec<&str>)> = sessions
        .iter()
        .map(|s| {
            (
                s.session,
                s.status,
                s.participants.iter().map(|p| p.user_id.as_str()).collect(),
                s.segments.iter().map(|x| x.text.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, CallStatus::Ended, vec!["ana"], vec!["monday"]),
            (2, CallStatus::Active, vec!["bob", "ana"], vec!["tuesday"]),
        ]
    );
    // Bob came back: he is in the call again, not gone.
    assert_eq!(sessions[1].participants[0].left_at, None);
    assert_eq!(sessions[1].participants[0].leave_reason, None);
    assert_eq!(sessions[1].ended_at, None);
    projector.stop().await;
}

async fn a_customer_reads_only_the_sessions_they_took_part_in(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    let bob = person("acme", "bob", Role::Agent);
    let zoe = person("acme", "zoe", Role::Customer);
    // Session 1: Ana and Bob; it ends.
    world.call(&ana, "r", join()).await;
    world.call(&bob, "r", join()).await;
    world.say(&ana, "r", "ana's secret").await;
    world
        .call(&ana, "r", CallAction::Leave(LeaveReason::Left))
        .await;
    world
        .call(&bob, "r", CallAction::Leave(LeaveReason::Left))
        .await;
    // Session 2: Zoe joins the room afterwards, with Bob.
    world.call(&zoe, "r", join()).await;
    world.call(&bob, "r", join()).await;
    world.say(&zoe, "r", "zoe's own").await;
    world.caught_up(&projector).await;

    let db = world.log.db();
    let (acme, r) = (tenant_id("acme"), room("r"));
    let read = |which| calls::transcript(db, &acme, &r, which);
    let summary = |sessions: Vec<calls::CallSessionView>| -> Vec<(u64, Vec<String>, Vec<String>)> {
        sessions
            .into_iter()
            .map(|s| {
                (
                    s.session,
                    s.participants
                        .into_iter()
                        .map(|p| p.user_id.to_string())
                        .collect(),
                    s.segments.into_iter().map(|x| x.text).collect(),
                )
            })
            .collect()
    };
    let zoe_sees = read(TakenPartIn(&zoe.user)).await.unwrap().unwrap();
    assert_eq!(
        summary(zoe_sees),
        [(
            2,
            vec!["zoe".into(), "bob".into()],
            vec!["zoe's own".into()]
        )]
    );
    let ana_sees = read(TakenPartIn(&ana.user)).await.unwrap().unwrap();
    assert_eq!(
        summary(ana_sees),
        [(
            1,
            vec!["ana".into(), "bob".into()],
            vec!["ana's secret".into()]
        )]
    );
    let bob_took_part = read(TakenPartIn(&bob.user)).await.unwrap().unwrap();
    assert_eq!(bob_took_part.len(), 2);
    assert_eq!(read(All).await.unwrap().unwrap().len(), 2);
    let stranger = user("eve");
    assert!(read(TakenPartIn(&stranger)).await.unwrap().is_none());
    projector.stop().await;
}

async fn joins_leaves_and_segments_are_published_in_log_order(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let mut updates = projector.subscribe();
    let ana = person("acme", "ana", Role::Customer);
    let bob = person("acme", "bob", Role::Agent);
    world.call(&ana, "r", join()).await;
    world.call(&bob, "r", join()).await;
    world.say(&bob, "r", "hello").await;
    world
        .call(&bob, "r", CallAction::Leave(LeaveReason::Disconnected))
        .await;
    world
        .call(&ana, "r", CallAction::Leave(LeaveReason::Left))
        .await;
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let update = next(&mut updates).await;
        if let Change::TranscriptSegmentRecorded(s) = &update.change {
            // Published after commit: the read model already has it.
            let sessions = calls::transcript(world.log.db(), &s.tenant, &s.room_name, All)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(sessions[0].segments.as_slice(), std::slice::from_ref(s));
        }
        seen.push(update);
    }
    assert!(seen.windows(2).all(|w| w[0].position < w[1].position));
    let kinds: Vec<String> = seen
        .iter()
        .map(|u| match &u.change {
            Change::CallParticipantJoined {
                user_id, session, ..
            } => format!("joined {user_id} {session}"),
            Change::CallParticipantLeft {
                user_id, reason, ..
            } => format!("left {user_id} {reason}"),
            Change::TranscriptSegmentRecorded(s) => format!("said {}", s.text),
            other => format!("unexpected {other:?}"),
        })
        .collect();
    // Starting and ending a call are not published: no client hears them.
    assert_eq!(
        kinds,
        [
            "joined ana 1",
            "joined bob 1",
            "said hello",
            "left bob disconnected",
            "left ana left"
        ]
    );
    assert_eq!(seen[1].origin_socket.as_deref(), Some("socket-of-bob"));
    projector.stop().await;
}

async fn call_read_models_never_mix_tenants(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let ana = person("acme", "ana", Role::Customer);
    let gus = person("globex", "gus", Role::Customer);
    // The same room name in two tenants.
    world.call(&ana, "shared", join()).await;
    world.call(&gus, "shared", join()).await;
    world.say(&ana, "shared", "acme secret").await;
    world.say(&gus, "shared", "globex secret").await;
    world.caught_up(&projector).await;
    let db = world.log.db();
    for (name, user, secret) in [
        ("acme", "ana", "acme secret"),
        ("globex", "gus", "globex secret"),
    ] {
        let sessions = calls::transcript(db, &tenant_id(name), &room("shared"), All)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sessions.len(), 1);
        let texts: Vec<&str> = sessions[0]
            .segments
            .iter()
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(texts, [secret]);
        let who: Vec<&str> = sessions[0]
            .participants
            .iter()
            .map(|p| p.user_id.as_str())
            .collect();
        assert_eq!(who, [user]);
    }
    let ana_id = user("ana");
    let mine = calls::transcript(
        db,
        &tenant_id("acme"),
        &room("shared"),
        TakenPartIn(&ana_id),
    )
    .await
    .unwrap();
    assert_eq!(mine.map(|s| s.len()), Some(1));
    for (name, raw) in [("globex", "shared"), ("acme", "other")] {
        let none = calls::transcript(db, &tenant_id(name), &room(raw), TakenPartIn(&ana_id))
            .await
            .unwrap();
        assert!(none.is_none(), "{name} {raw}");
    }
    projector.stop().await;
}

async fn swarm_steps_are_projected_in_sequence_order_and_read_in_pages(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let runtime = person("acme", "runtime", Role::Service);
    for n in 1..=7 {
        world
            .step(&runtime, "swarm_1", json!({ "n": n, "agent": "planner" }))
            .await;
    }
    world.caught_up(&projector).await;
    let (db, acme) = (world.log.db(), tenant_id("acme"));
    let session = SwarmSessionId::parse("swarm_1").unwrap();
    let mut after = 0;
    let mut got = Vec::new();
    loop {
        let page = swarm_steps::steps_after(db, &acme, &session, after, 3)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = last.sequence;
        got.extend(page);
    }
    let sequences: Vec<u64> = got.iter().map(|s| s.sequence).collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5, 6, 7]);
    let fifth = &got[4];
    assert_eq!(fifth.step, json!({ "n": 5, "agent": "planner" }));
    assert_eq!(fifth.posted_by.as_str(), "runtime");
    assert_eq!(fifth.at, t(4));
    assert_eq!(fifth.session_id, session);
    assert!(got.windows(2).all(|w| w[0].position < w[1].position));
    projector.stop().await;
}

async fn swarm_steps_are_published_and_never_mix_tenants_or_sessions(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let mut updates = projector.subscribe();
    let acme = person("acme", "runtime", Role::Service);
    let globex = person("globex", "runtime", Role::Service);
    world.step(&acme, "s1", json!({ "who": "acme s1" })).await;
    world
        .step(&globex, "s1", json!({ "who": "globex s1" }))
        .await;
    world.step(&acme, "s2", json!({ "who": "acme s2" })).await;
    world
        .step(&acme, "s1", json!({ "who": "acme s1 again" }))
        .await;
    let mut published = Vec::new();
    while published.len() < 4 {
        if let Change::SwarmStepRecorded(s) = &next(&mut updates).await.change {
            published.push((s.tenant.to_string(), s.session_id.to_string(), s.sequence));
        }
    }
    let expected = [
        ("acme", "s1", 1),
        ("globex", "s1", 1),
        ("acme", "s2", 1),
        ("acme", "s1", 2),
    ]
    .map(|(t, s, n)| (t.to_owned(), s.to_owned(), n));
    assert_eq!(published, expected);
    world.caught_up(&projector).await;
    let db = world.log.db();
    for (t, s, expected) in [
        ("acme", "s1", vec!["acme s1", "acme s1 again"]),
        ("globex", "s1", vec!["globex s1"]),
        ("acme", "s2", vec!["acme s2"]),
        ("globex", "s2", vec![]),
    ] {
        let steps = swarm_steps::steps_after(
            db,
            &tenant_id(t),
            &SwarmSessionId::parse(s).unwrap(),
            0,
            100,
        )
        .await
        .unwrap();
        let who: Vec<&str> = steps
            .iter()
            .map(|x| x.step["who"].as_str().unwrap())
            .collect();
        assert_eq!(who, expected, "{t}/{s}");
    }
    projector.stop().await;
}
