//! The `SwarmSession` aggregate: the steps an agent swarm reports, numbered.
//!
//! One aggregate per session, stream `swarm/{tenant}/{sessionId}`. Rules:
//! - staff (agent, supervisor, admin) and machine callers (`service`) may
//!   record steps; customers, analysts and auditors may not;
//! - a step is any JSON object of at most 64 KiB (serialized): its shape
//!   belongs to the agent runtime, Parley only numbers and relays it;
//! - steps are numbered 1, 2, 3… per session, in the order they were recorded.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

use crate::actor::{Actor, Role};
use crate::ids::{TenantId, UserId, parse_key};
use crate::{DomainError, Timestamp};

/// Schema version of every swarm event; bump per type with an upcaster.
pub const SCHEMA_VERSION: u32 = 1;

/// Every stream of this aggregate starts with this.
pub const STREAM_PREFIX: &str = "swarm/";

/// A swarm session (the seed's `sessionId`, e.g. `swarm_9a8b7c6d-…`): 1 to
/// 128 letters, digits and `_ - . @`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SwarmSessionId(String);

impl SwarmSessionId {
    pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw = raw.into();
        parse_key("sessionId", &raw)?;
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SwarmSessionId {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<SwarmSessionId> for String {
    fn from(id: SwarmSessionId) -> String {
        id.0
    }
}

impl fmt::Display for SwarmSessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One step as the agent runtime reports it: a JSON object of at most
/// [`SwarmStep::MAX_BYTES`] when serialized.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmStep(Map<String, Value>);

impl SwarmStep {
    pub const MAX_BYTES: usize = 64 * 1024;

    pub fn parse(raw: Value) -> Result<Self, DomainError> {
        let Value::Object(map) = raw else {
            return Err(DomainError::invalid(
                "step",
                format!("must be a JSON object, not {}", kind(&raw)),
            ));
        };
        let size = serde_json::to_string(&map).map_or(usize::MAX, |s| s.len());
        if size > Self::MAX_BYTES {
            return Err(DomainError::invalid(
                "step",
                format!(
                    "must be at most {} bytes as JSON ({size} given)",
                    Self::MAX_BYTES
                ),
            ));
        }
        Ok(Self(map))
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One command: who asks, when, of which session, to do what.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmCommand {
    pub session: SwarmSessionId,
    pub actor: Actor,
    pub at: Timestamp,
    pub action: SwarmAction,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SwarmAction {
    /// Record the next step of the session.
    RecordStep(SwarmStep),
}

/// What happened to a swarm session. Past tense, stable names, versioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SwarmEvent {
    SwarmStepRecorded(SwarmStepRecorded),
}

impl SwarmEvent {
    /// The stable name stored as `event_type`; equal to the serde tag.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SwarmStepRecorded(_) => "SwarmStepRecorded",
        }
    }

    pub fn tenant(&self) -> &TenantId {
        match self {
            Self::SwarmStepRecorded(e) => &e.tenant,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwarmStepRecorded {
    pub tenant: TenantId,
    pub session_id: SwarmSessionId,
    /// 1 for the session's first step, then one more per step.
    pub sequence: u64,
    /// The step exactly as posted (a JSON object).
    pub step: Value,
    pub posted_by: UserId,
    pub at: Timestamp,
}

/// The decision state of one session: only how many steps it has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SwarmSession {
    owner: Option<(TenantId, SwarmSessionId)>,
    steps: u64,
}

impl SwarmSession {
    /// The event-log stream of a session. `/` cannot occur in either part,
    /// so different (tenant, session) pairs never share a stream.
    pub fn stream_id(tenant: &TenantId, session: &SwarmSessionId) -> String {
        format!("{STREAM_PREFIX}{tenant}/{session}")
    }

    /// Does this stream hold a swarm session's events?
    pub fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }

    /// Steps recorded so far (the sequence of the last one).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Who may post steps: staff, and machines reporting agent work.
    pub fn may_post(role: Role) -> bool {
        role.is_staff() || role == Role::Service
    }

    /// Decide what happens. Pure: no clock, no IO; refusals produce no events.
    pub fn handle(&self, cmd: SwarmCommand) -> Result<Vec<SwarmEvent>, DomainError> {
        let SwarmCommand {
            session,
            actor,
            at,
            action,
        } = cmd;
        // Streams are per tenant, so this only guards against a caller bug.
        if let Some((tenant, id)) = &self.owner
            && (*tenant != actor.tenant || *id != session)
        {
            return Err(DomainError::NotFound(format!("swarm session {session}")));
        }
        match action {
            SwarmAction::RecordStep(step) => {
                if !Self::may_post(actor.role) {
                    return Err(DomainError::Forbidden(format!(
                        "the {} role cannot post swarm steps (staff and services can)",
                        actor.role
                    )));
                }
                Ok(vec![SwarmEvent::SwarmStepRecorded(SwarmStepRecorded {
                    tenant: actor.tenant.clone(),
                    session_id: session,
                    sequence: self.steps + 1,
                    step: step.into_value(),
                    posted_by: actor.user.clone(),
                    at,
                })])
            }
        }
    }

    /// Evolve the state. Never fails: an event that was recorded happened.
    pub fn apply(&mut self, event: SwarmEvent) {
        match event {
            SwarmEvent::SwarmStepRecorded(e) => {
                self.owner = Some((e.tenant, e.session_id));
                self.steps = e.sequence;
            }
        }
    }
}

// cqrs-es glue (see [`crate::cqrs`]).
crate::cqrs::pure_aggregate!(
    SwarmSession,
    "swarm_session",
    SwarmCommand,
    SwarmEvent,
    SCHEMA_VERSION
);

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;
    use serde_json::json;

    use super::*;
    use crate::testing::{actor, at, tenant};

    type SwarmTest = TestFramework<SwarmSession>;

    fn session() -> SwarmSessionId {
        SwarmSessionId::parse("swarm_9a8b7c6d").unwrap()
    }

    fn post(who: &Actor, second: u32, step: Value) -> SwarmCommand {
        SwarmCommand {
            session: session(),
            actor: who.clone(),
            at: at(second),
            action: SwarmAction::RecordStep(SwarmStep::parse(step).unwrap()),
        }
    }

    fn recorded(who: &Actor, sequence: u64, second: u32, step: Value) -> SwarmEvent {
        SwarmEvent::SwarmStepRecorded(SwarmStepRecorded {
            tenant: who.tenant.clone(),
            session_id: session(),
            sequence,
            step,
            posted_by: who.user.clone(),
            at: at(second),
        })
    }

    fn runtime() -> Actor {
        actor("agent-runtime", Role::Service)
    }

    #[test]
    fn the_first_step_of_a_session_is_number_one() {
        let step = json!({ "agent": "planner", "status": "done" });
        SwarmTest::with(())
            .given_no_previous_events()
            .when(post(&runtime(), 0, step.clone()))
            .then_expect_events(vec![recorded(&runtime(), 1, 0, step)]);
    }

    #[test]
    fn each_step_gets_the_next_number() {
        SwarmTest::with(())
            .given(vec![
                recorded(&runtime(), 1, 0, json!({ "n": 1 })),
                recorded(&runtime(), 2, 1, json!({ "n": 2 })),
            ])
            .when(post(&runtime(), 2, json!({ "n": 3 })))
            .then_expect_events(vec![recorded(&runtime(), 3, 2, json!({ "n": 3 }))]);
    }

    #[test]
    fn staff_and_services_may_post_and_nobody_else() {
        for role in [Role::Agent, Role::Supervisor, Role::Admin, Role::Service] {
            let poster = actor("poster", role);
            SwarmTest::with(())
                .given_no_previous_events()
                .when(post(&poster, 0, json!({})))
                .then_expect_events(vec![recorded(&poster, 1, 0, json!({}))]);
        }
        for role in [Role::Customer, Role::Analyst, Role::Auditor] {
            SwarmTest::with(())
                .given_no_previous_events()
                .when(post(&actor("someone", role), 0, json!({})))
                .then_expect_error(DomainError::Forbidden(format!(
                    "the {role} role cannot post swarm steps (staff and services can)"
                )));
        }
    }

    #[test]
    fn a_session_of_another_tenant_is_not_found() {
        let mut foreign = runtime();
        foreign.tenant = TenantId::parse("globex").unwrap();
        SwarmTest::with(())
            .given(vec![recorded(&runtime(), 1, 0, json!({}))])
            .when(post(&foreign, 1, json!({})))
            .then_expect_error(DomainError::NotFound("swarm session swarm_9a8b7c6d".into()));
    }

    #[test]
    fn steps_must_be_objects_of_at_most_64_kib() {
        for raw in [
            json!(null),
            json!([1]),
            json!("step"),
            json!(3),
            json!(true),
        ] {
            let refused = SwarmStep::parse(raw.clone());
            assert!(
                matches!(refused, Err(DomainError::Invalid { field: "step", .. })),
                "{raw} should be refused"
            );
        }
        // `{"k":"…"}` is 8 bytes of JSON around the string.
        let fits = json!({ "k": "x".repeat(SwarmStep::MAX_BYTES - 8) });
        assert_eq!(
            serde_json::to_string(&fits).unwrap().len(),
            SwarmStep::MAX_BYTES
        );
        assert!(SwarmStep::parse(fits).is_ok());
        let over = json!({ "k": "x".repeat(SwarmStep::MAX_BYTES - 7) });
        assert!(SwarmStep::parse(over).is_err());
        let step = SwarmStep::parse(json!({ "a": [1, { "b": null }] })).unwrap();
        assert_eq!(step.as_map().len(), 1);
        assert_eq!(step.into_value(), json!({ "a": [1, { "b": null }] }));
    }

    #[test]
    fn session_ids_refuse_separators() {
        assert!(SwarmSessionId::parse("swarm_9a8b7c6d-1234").is_ok());
        for raw in ["", "a:b", "a/b", "a b", &"x".repeat(129)] {
            assert!(SwarmSessionId::parse(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn streams_names_and_state() {
        let acme = tenant();
        assert_eq!(
            SwarmSession::stream_id(&acme, &session()),
            "swarm/acme/swarm_9a8b7c6d"
        );
        assert!(SwarmSession::owns_stream("swarm/acme/x"));
        assert!(!SwarmSession::owns_stream("call/acme/x"));
        let event = recorded(&runtime(), 1, 0, json!({}));
        assert!(
            serde_json::to_value(&event)
                .unwrap()
                .get(event.name())
                .is_some()
        );
        assert_eq!(event.tenant(), &acme);
        let mut state = SwarmSession::default();
        state.apply(event);
        assert_eq!(state.steps(), 1);
    }
}
