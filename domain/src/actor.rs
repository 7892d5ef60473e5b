//! The authenticated caller of a command.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::DomainError;
use crate::ids::{TenantId, UserId};

/// What a caller is to its tenant (the token's `role` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Agent,
    Supervisor,
    Admin,
    Analyst,
    Auditor,
    /// A machine caller (an agent runtime posting swarm steps): never a
    /// participant.
    Service,
}

impl Role {
    /// Staff may join and write to any conversation of their own tenant.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Agent | Role::Supervisor | Role::Admin)
    }

    /// May take part in conversations, channels and calls. Analysts and
    /// auditors read the log and services post machine output: none of
    /// them takes part.
    pub fn may_participate(self) -> bool {
        !matches!(self, Role::Analyst | Role::Auditor | Role::Service)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::Service => "service",
        }
    }
}

impl FromStr for Role {
    type Err = DomainError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ok(match raw {
            "customer" => Role::Customer,
            "agent" => Role::Agent,
            "supervisor" => Role::Supervisor,
            "admin" => Role::Admin,
            "analyst" => Role::Analyst,
            "auditor" => Role::Auditor,
            "service" => Role::Service,
            other => {
                return Err(DomainError::invalid(
                    "role",
                    format!(
                        "unknown role {other:?} (customer, agent, supervisor, admin, analyst, auditor, service)"
                    ),
                ));
            }
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is acting, for which tenant, in which role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user: UserId,
    pub tenant: TenantId,
    pub role: Role,
    /// Display name; the user id stands in when the token has none.
    pub name: Option<String>,
}

impl Actor {
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.user.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_agents_supervisors_and_admins_are_staff() {
        let staff: Vec<Role> = [
            Role::Customer,
            Role::Agent,
            Role::Supervisor,
            Role::Admin,
            Role::Analyst,
            Role::Auditor,
            Role::Service,
        ]
        .into_iter()
        .filter(|r| r.is_staff())
        .collect();
        assert_eq!(staff, vec![Role::Agent, Role::Supervisor, Role::Admin]);
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [Role::Customer, Role::Agent, Role::Auditor, Role::Service] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
    }
}
