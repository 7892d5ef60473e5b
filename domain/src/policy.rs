//! Policies: decisions that turn what happened into the next command. Pure,
//! like the aggregates: the caller supplies the facts (who is online, how
//! busy, what time it is) and runs the command the policy returns; the
//! aggregate still has the last word (a conversation claimed meanwhile
//! refuses the assignment).

use std::time::Duration;

use crate::Timestamp;
use crate::actor::{Actor, Role};
use crate::conversation::{Action, ConversationCommand, EndReason, Kind, Status};
use crate::ids::{ConversationId, TenantId, UserId};

/// The user id under which policies act.
pub const SYSTEM_USER: &str = "parley-system";

/// The actor of a policy's commands: a service of the tenant.
pub fn system_actor(tenant: &TenantId) -> Actor {
    Actor {
        user: UserId::parse(SYSTEM_USER).expect("a valid user id"),
        tenant: tenant.clone(),
        role: Role::Service,
        name: Some("Parley".into()),
    }
}

/// A tenant's auto-assignment setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoAssignment {
    #[default]
    Off,
    /// Assign queued conversations to online agents, each handling at most
    /// this many at once.
    MaxConcurrent(u32),
}

/// An online agent and how many conversations it handles now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLoad {
    pub agent: UserId,
    pub name: Option<String>,
    pub role: Role,
    pub active: u32,
}

/// The agent with the most free capacity, if any has some. Ties go to the
/// smallest user id, so the choice is the same on every node.
pub fn pick_agent(setting: AutoAssignment, online: &[AgentLoad]) -> Option<&AgentLoad> {
    let AutoAssignment::MaxConcurrent(max) = setting else {
        return None;
    };
    online
        .iter()
        .filter(|a| a.role.is_staff() && a.active < max)
        .min_by(|a, b| a.active.cmp(&b.active).then_with(|| a.agent.cmp(&b.agent)))
}

/// Give a queued conversation to `agent`.
pub fn assign(
    tenant: &TenantId,
    conversation: &ConversationId,
    agent: &AgentLoad,
    at: Timestamp,
) -> ConversationCommand {
    ConversationCommand {
        kind: Kind::Conversation,
        conversation: conversation.clone(),
        actor: system_actor(tenant),
        at,
        action: Action::Assign {
            agent: agent.agent.clone(),
            name: agent.name.clone(),
            role: agent.role,
        },
    }
}

/// End a conversation idle for `timeout` or longer, if it is not over. The
/// command names the activity seen, so that the aggregate refuses it when
/// something happened meanwhile.
pub fn end_if_idle(
    tenant: &TenantId,
    conversation: &ConversationId,
    status: Status,
    last_activity: Timestamp,
    now: Timestamp,
    timeout: Duration,
) -> Option<ConversationCommand> {
    let idle = (now - last_activity).to_std().ok()?;
    (!status.is_over() && idle >= timeout).then(|| ConversationCommand {
        kind: Kind::Conversation,
        conversation: conversation.clone(),
        actor: system_actor(tenant),
        at: now,
        action: Action::End {
            reason: EndReason::Timeout,
            idle_since: Some(last_activity),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn load(agent: &str, active: u32) -> AgentLoad {
        AgentLoad {
            agent: UserId::parse(agent).unwrap(),
            name: None,
            role: Role::Agent,
            active,
        }
    }

    #[test]
    fn auto_assignment_off_picks_no_one() {
        assert_eq!(pick_agent(AutoAssignment::Off, &[load("a", 0)]), None);
    }

    #[test]
    fn the_agent_with_the_most_free_capacity_is_picked() {
        let online = [load("a", 2), load("b", 0), load("c", 1)];
        let picked = pick_agent(AutoAssignment::MaxConcurrent(3), &online).unwrap();
        assert_eq!(picked.agent.as_str(), "b");
    }

    #[test]
    fn full_agents_are_not_picked_and_ties_go_to_the_smallest_id() {
        let online = [load("z", 1), load("y", 3), load("x", 1)];
        let picked = pick_agent(AutoAssignment::MaxConcurrent(3), &online).unwrap();
        assert_eq!(picked.agent.as_str(), "x");
        assert_eq!(
            pick_agent(AutoAssignment::MaxConcurrent(1), &online),
            None,
            "everyone is at capacity"
        );
    }

    #[test]
    fn customers_are_never_picked() {
        let mut customer = load("cus", 0);
        customer.role = Role::Customer;
        assert_eq!(
            pick_agent(AutoAssignment::MaxConcurrent(5), &[customer]),
            None
        );
    }

    #[test]
    fn a_conversation_idle_for_the_timeout_is_ended_and_names_the_activity_it_saw() {
        let tenant = testing::tenant();
        let conv = ConversationId::parse("c1").unwrap();
        let last = testing::at(0);
        let timeout = Duration::from_secs(300);
        let early = last + chrono::Duration::seconds(299);
        assert_eq!(
            end_if_idle(&tenant, &conv, Status::Agent, last, early, timeout),
            None
        );
        let late = last + chrono::Duration::seconds(300);
        let command = end_if_idle(&tenant, &conv, Status::Agent, last, late, timeout).unwrap();
        assert_eq!(
            command.action,
            Action::End {
                reason: EndReason::Timeout,
                idle_since: Some(last)
            }
        );
        assert_eq!(command.actor.role, Role::Service);
        assert_eq!(
            end_if_idle(&tenant, &conv, Status::Ended, last, late, timeout),
            None,
            "an ended conversation is left alone"
        );
    }
}
