//! The `SupportSettings` aggregate: how a tenant's support runs (today,
//! auto-assignment).
//!
//! One aggregate per tenant, stream `support_settings/{tenant}`. Rules:
//! - only admins change settings;
//! - auto-assignment is off, or on with each agent handling at most 1 to 50
//!   conversations at once ([`MaxConcurrent`]); turning it on without a
//!   limit keeps the limit set before (5 if none was);
//! - setting what is already set changes nothing.

use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Role};
use crate::ids::{TenantId, UserId};
use crate::policy::AutoAssignment;
use crate::{DomainError, Timestamp};

/// Schema version of every settings event; bump per type with an upcaster.
pub const SCHEMA_VERSION: u32 = 1;

/// Every stream of this aggregate starts with this.
pub const STREAM_PREFIX: &str = "support_settings/";

/// How many conversations one agent handles at once under auto-assignment:
/// 1 to 50.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxConcurrent(u32);

impl MaxConcurrent {
    pub const MIN: u32 = 1;
    pub const MAX: u32 = 50;
    /// The limit when auto-assignment is turned on without one.
    pub const DEFAULT: MaxConcurrent = MaxConcurrent(5);

    pub fn parse(raw: i64) -> Result<Self, DomainError> {
        match u32::try_from(raw) {
            Ok(n) if (Self::MIN..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(DomainError::invalid(
                "maxConcurrent",
                format!(
                    "must be a whole number from {} to {} (got {raw})",
                    Self::MIN,
                    Self::MAX
                ),
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// One command: who asks, when, to do what (to the caller's tenant).
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsCommand {
    pub actor: Actor,
    pub at: Timestamp,
    pub action: SettingsAction,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SettingsAction {
    /// Turn auto-assignment on or off; `None` keeps the current limit.
    SetAutoAssignment {
        enabled: bool,
        max_concurrent: Option<MaxConcurrent>,
    },
}

/// What happened to a tenant's settings. Past tense, stable names, versioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SettingsEvent {
    AutoAssignmentChanged(AutoAssignmentChanged),
}

impl SettingsEvent {
    /// The stable name stored as `event_type`; equal to the serde tag.
    pub fn name(&self) -> &'static str {
        match self {
            Self::AutoAssignmentChanged(_) => "AutoAssignmentChanged",
        }
    }

    pub fn tenant(&self) -> &TenantId {
        match self {
            Self::AutoAssignmentChanged(e) => &e.tenant,
        }
    }
}

/// Auto-assignment as it now stands; the limit is kept while it is off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoAssignmentChanged {
    pub tenant: TenantId,
    pub enabled: bool,
    pub max_concurrent: u32,
    pub changed_by: UserId,
    pub changed_by_name: String,
    pub at: Timestamp,
}

/// A tenant's support settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SupportSettings {
    tenant: Option<TenantId>,
    auto_assign: bool,
    /// Unset until first changed: [`MaxConcurrent::DEFAULT`].
    max_concurrent: Option<u32>,
}

impl SupportSettings {
    /// The event-log stream of a tenant's settings.
    pub fn stream_id(tenant: &TenantId) -> String {
        format!("{STREAM_PREFIX}{tenant}")
    }

    /// Does this stream hold a tenant's settings?
    pub fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }

    /// The auto-assignment policy's setting.
    pub fn auto_assignment(&self) -> AutoAssignment {
        if self.auto_assign {
            AutoAssignment::MaxConcurrent(self.max_concurrent())
        } else {
            AutoAssignment::Off
        }
    }

    /// The per-agent limit, also while auto-assignment is off.
    pub fn max_concurrent(&self) -> u32 {
        self.max_concurrent.unwrap_or(MaxConcurrent::DEFAULT.get())
    }

    /// Decide what happens. Pure: no clock, no IO; refusals produce no events.
    pub fn handle(&self, cmd: SettingsCommand) -> Result<Vec<SettingsEvent>, DomainError> {
        let SettingsCommand { actor, at, action } = cmd;
        // Streams are per tenant, so this only guards against a caller bug.
        if self.tenant.as_ref().is_some_and(|t| *t != actor.tenant) {
            return Err(DomainError::NotFound(format!(
                "support settings of {}",
                actor.tenant
            )));
        }
        if actor.role != Role::Admin {
            return Err(DomainError::Forbidden(
                "only admins change support settings".into(),
            ));
        }
        match action {
            SettingsAction::SetAutoAssignment {
                enabled,
                max_concurrent,
            } => {
                let max = max_concurrent.map_or(self.max_concurrent(), MaxConcurrent::get);
                if enabled == self.auto_assign && max == self.max_concurrent() {
                    return Ok(vec![]);
                }
                Ok(vec![SettingsEvent::AutoAssignmentChanged(
                    AutoAssignmentChanged {
                        tenant: actor.tenant.clone(),
                        enabled,
                        max_concurrent: max,
                        changed_by: actor.user.clone(),
                        changed_by_name: actor.display_name().to_owned(),
                        at,
                    },
                )])
            }
        }
    }

    /// Evolve the state. Never fails: an event that was recorded happened.
    pub fn apply(&mut self, event: SettingsEvent) {
        match event {
            SettingsEvent::AutoAssignmentChanged(e) => {
                self.tenant = Some(e.tenant);
                self.auto_assign = e.enabled;
                self.max_concurrent = Some(e.max_concurrent);
            }
        }
    }
}

// cqrs-es glue (see [`crate::cqrs`]).
crate::cqrs::pure_aggregate!(
    SupportSettings,
    "support_settings",
    SettingsCommand,
    SettingsEvent,
    SCHEMA_VERSION
);

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::testing::{actor, at, tenant};

    type SettingsTest = TestFramework<SupportSettings>;

    fn admin() -> Actor {
        actor("ada", Role::Admin)
    }

    fn set(who: &Actor, second: u32, enabled: bool, max: Option<i64>) -> SettingsCommand {
        SettingsCommand {
            actor: who.clone(),
            at: at(second),
            action: SettingsAction::SetAutoAssignment {
                enabled,
                max_concurrent: max.map(|n| MaxConcurrent::parse(n).unwrap()),
            },
        }
    }

    fn changed(second: u32, enabled: bool, max: u32) -> SettingsEvent {
        SettingsEvent::AutoAssignmentChanged(AutoAssignmentChanged {
            tenant: tenant(),
            enabled,
            max_concurrent: max,
            changed_by: UserId::parse("ada").unwrap(),
            changed_by_name: "ada name".into(),
            at: at(second),
        })
    }

    #[test]
    fn an_admin_turns_auto_assignment_on_with_a_limit() {
        SettingsTest::with(())
            .given_no_previous_events()
            .when(set(&admin(), 0, true, Some(3)))
            .then_expect_events(vec![changed(0, true, 3)]);
    }

    #[test]
    fn turning_it_on_without_a_limit_keeps_the_last_one_or_the_default() {
        SettingsTest::with(())
            .given_no_previous_events()
            .when(set(&admin(), 0, true, None))
            .then_expect_events(vec![changed(0, true, 5)]);
        SettingsTest::with(())
            .given(vec![changed(0, true, 2), changed(1, false, 2)])
            .when(set(&admin(), 2, true, None))
            .then_expect_events(vec![changed(2, true, 2)]);
    }

    #[test]
    fn setting_what_is_set_changes_nothing() {
        SettingsTest::with(())
            .given_no_previous_events()
            .when(set(&admin(), 0, false, None))
            .then_expect_events(vec![]);
        SettingsTest::with(())
            .given(vec![changed(0, true, 3)])
            .when(set(&admin(), 1, true, Some(3)))
            .then_expect_events(vec![]);
        SettingsTest::with(())
            .given(vec![changed(0, true, 3)])
            .when(set(&admin(), 1, true, Some(4)))
            .then_expect_events(vec![changed(1, true, 4)]);
    }

    #[test]
    fn only_admins_change_settings() {
        for role in [
            Role::Customer,
            Role::Agent,
            Role::Supervisor,
            Role::Analyst,
            Role::Auditor,
            Role::Service,
        ] {
            SettingsTest::with(())
                .given_no_previous_events()
                .when(set(&actor("someone", role), 0, true, Some(2)))
                .then_expect_error(DomainError::Forbidden(
                    "only admins change support settings".into(),
                ));
        }
    }

    #[test]
    fn another_tenants_settings_are_not_found() {
        let mut foreign = admin();
        foreign.tenant = TenantId::parse("globex").unwrap();
        SettingsTest::with(())
            .given(vec![changed(0, true, 3)])
            .when(set(&foreign, 1, false, None))
            .then_expect_error(DomainError::NotFound("support settings of globex".into()));
    }

    #[test]
    fn the_limit_is_one_to_fifty() {
        assert_eq!(MaxConcurrent::parse(1).unwrap().get(), 1);
        assert_eq!(MaxConcurrent::parse(50).unwrap().get(), 50);
        for bad in [0, 51, -1, i64::from(u32::MAX) + 1] {
            assert!(
                matches!(
                    MaxConcurrent::parse(bad),
                    Err(DomainError::Invalid {
                        field: "maxConcurrent",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_state_tells_the_policy_its_setting() {
        let mut settings = SupportSettings::default();
        assert_eq!(settings.auto_assignment(), AutoAssignment::Off);
        assert_eq!(settings.max_concurrent(), 5);
        settings.apply(changed(0, true, 7));
        assert_eq!(settings.auto_assignment(), AutoAssignment::MaxConcurrent(7));
        settings.apply(changed(1, false, 7));
        assert_eq!(settings.auto_assignment(), AutoAssignment::Off);
        assert_eq!(settings.max_concurrent(), 7);
        assert_eq!(
            SupportSettings::stream_id(&tenant()),
            "support_settings/acme"
        );
        assert!(SupportSettings::owns_stream("support_settings/acme"));
        let event = changed(0, true, 7);
        assert!(
            serde_json::to_value(&event)
                .unwrap()
                .get(event.name())
                .is_some()
        );
        assert_eq!(event.tenant().as_str(), "acme");
    }
}
