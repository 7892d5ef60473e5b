//! buddy's `UserRole`, and how it maps onto token roles.

use domain::actor::Role;

use crate::error::WireError;

/// The seed's `UserRole`: `cx-customer`, `cx-agent`, `cx-supervisor`,
/// `robot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserRole {
    Customer,
    Agent,
    /// Supervisors and admins.
    Supervisor,
    /// A machine's suggestion: posted by staff (or by a service), shown to
    /// customers once staff share it.
    Robot,
}

impl UserRole {
    pub const ALL: [UserRole; 4] = [
        UserRole::Customer,
        UserRole::Agent,
        UserRole::Supervisor,
        UserRole::Robot,
    ];

    /// `field` names the payload field in the error.
    pub fn parse(field: &str, raw: &str) -> Result<Self, WireError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == raw)
            .ok_or_else(|| {
                WireError::validation(format!(
                    "invalid {field}: unknown role {raw:?} (cx-customer, cx-agent, cx-supervisor, robot)"
                ))
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Customer => "cx-customer",
            UserRole::Agent => "cx-agent",
            UserRole::Supervisor => "cx-supervisor",
            UserRole::Robot => "robot",
        }
    }

    /// How a token's role shows on the wire; analysts and auditors never
    /// take part, so they have none.
    pub fn of(role: Role) -> Option<Self> {
        match role {
            Role::Customer => Some(UserRole::Customer),
            Role::Agent => Some(UserRole::Agent),
            Role::Supervisor | Role::Admin => Some(UserRole::Supervisor),
            Role::Service => Some(UserRole::Robot),
            Role::Analyst | Role::Auditor => None,
        }
    }

    /// May a caller whose token says `role` speak as this role? Their own
    /// role, and for staff `robot` too.
    pub fn claimable_by(self, role: Role) -> bool {
        Self::of(role) == Some(self) || (self == UserRole::Robot && role.is_staff())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn roles_round_trip_through_their_wire_names_and_nothing_else_parses() {
        for role in UserRole::ALL {
            assert_eq!(UserRole::parse("userRole", role.as_str()).unwrap(), role);
        }
        for bad in ["customer", "cx-admin", "", "ROBOT"] {
            let error = UserRole::parse("userRole", bad).unwrap_err();
            assert_eq!(error.code, ErrorCode::ValidationError);
            assert!(error.message.contains("userRole"), "{}", error.message);
        }
    }

    #[test]
    fn admins_show_as_supervisors_and_analysts_have_no_role() {
        assert_eq!(UserRole::of(Role::Admin), Some(UserRole::Supervisor));
        assert_eq!(UserRole::of(Role::Supervisor), Some(UserRole::Supervisor));
        assert_eq!(UserRole::of(Role::Analyst), None);
        assert_eq!(UserRole::of(Role::Auditor), None);
    }

    #[test]
    fn a_caller_speaks_as_their_own_role_and_staff_also_as_robot() {
        assert!(UserRole::Customer.claimable_by(Role::Customer));
        assert!(!UserRole::Agent.claimable_by(Role::Customer));
        assert!(!UserRole::Supervisor.claimable_by(Role::Agent));
        assert!(UserRole::Supervisor.claimable_by(Role::Admin));
        for staff in [Role::Agent, Role::Supervisor, Role::Admin] {
            assert!(UserRole::Robot.claimable_by(staff), "{staff}");
        }
        assert!(!UserRole::Robot.claimable_by(Role::Customer));
        assert!(!UserRole::Customer.claimable_by(Role::Analyst));
    }
}
