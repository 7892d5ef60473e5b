//! The support workflow's decisions and state changes (see [`super::support`]
//! for the statuses and their transitions).
//!
//! Rules:
//! - customers and staff who may write to a conversation may escalate it;
//!   from `new`, `active` or `ai` it is `queued`; its agent (or other staff)
//!   may escalate an `agent` conversation to supervisors (`escalated`);
//!   escalating a waiting conversation again changes nothing;
//! - staff claim a conversation that is not over and not someone else's;
//!   an `escalated` one only supervisors and admins may take; an agent
//!   joining a `queued` conversation (a supervisor or admin, an `escalated`
//!   one) takes it as if claiming;
//! - auto-assignment (a service) and supervisors or admins assign `queued`
//!   conversations to staff;
//! - customers end with `user_ended`, staff with `agent_ended` or `resolved`,
//!   the idle policy (a service) with `timeout`, and only if nothing happened
//!   since the activity it saw; ending twice is refused;
//! - staff close ended conversations;
//! - a customer who took part rates a conversation with at least one
//!   message, and may change their rating;
//! - those who may write update metadata, which stays within
//!   [`MAX_METADATA_KEYS`] keys and [`MAX_METADATA_BYTES`] merged (an update
//!   past either is refused unless it does not grow what is past); staff
//!   share robot messages.

use super::*;

impl Conversation {
    pub(super) fn handle_support(
        &self,
        place: &Place<'_>,
        actor: &Actor,
        action: Action,
    ) -> Result<Vec<ConversationEvent>, DomainError> {
        let status = self.support.status;
        let tenant = place.tenant.clone();
        let conversation_id = place.id.clone();
        let at = place.at;
        match action {
            Action::Escalate { reason } => {
                self.ensure_may_write(actor)?;
                let next = match status {
                    Status::New | Status::Active | Status::Ai => Status::Queued,
                    Status::Agent => {
                        if !actor.role.is_staff() {
                            return Err(DomainError::Forbidden(
                                "only staff may escalate a conversation an agent handles".into(),
                            ));
                        }
                        Status::Escalated
                    }
                    Status::Queued | Status::Escalated => return Ok(vec![]),
                    Status::Ended | Status::Closed => return Err(over(status, "escalated")),
                };
                Ok(vec![ConversationEvent::ConversationEscalated(
                    ConversationEscalated {
                        tenant,
                        conversation_id,
                        status: next,
                        previous_status: status,
                        reason: reason.map(Into::into),
                        escalated_by: actor.user.clone(),
                        escalated_by_name: actor.display_name().to_owned(),
                        escalated_by_role: actor.role,
                        at,
                    },
                )])
            }
            Action::Claim => {
                if !actor.role.is_staff() {
                    return Err(DomainError::Forbidden(
                        "only staff may claim conversations".into(),
                    ));
                }
                if status.is_over() {
                    return Err(over(status, "claimed"));
                }
                if status == Status::Agent {
                    return match &self.support.agent {
                        Some(agent) if *agent == actor.user => Ok(vec![]),
                        _ => Err(DomainError::InvalidState(format!(
                            "already assigned to {}",
                            self.support
                                .agent_name
                                .as_deref()
                                .unwrap_or("another agent")
                        ))),
                    };
                }
                if status == Status::Escalated && actor.role == Role::Agent {
                    return Err(DomainError::Forbidden(
                        "an escalated conversation is for supervisors and admins".into(),
                    ));
                }
                Ok(self.take(place, actor, Assignment::Claimed, None))
            }
            Action::Assign { agent, name, role } => {
                if !matches!(actor.role, Role::Service | Role::Supervisor | Role::Admin) {
                    return Err(DomainError::Forbidden(
                        "only supervisors, admins and auto-assignment assign conversations".into(),
                    ));
                }
                if !role.is_staff() {
                    return Err(DomainError::invalid(
                        "agentId",
                        format!("the {role} role cannot handle conversations"),
                    ));
                }
                if status != Status::Queued {
                    return Err(DomainError::InvalidState(format!(
                        "only queued conversations are assigned; this one is {status}"
                    )));
                }
                let how = if actor.role == Role::Service {
                    Assignment::Auto
                } else {
                    Assignment::Assigned
                };
                let agent = Actor {
                    user: agent,
                    tenant: tenant.clone(),
                    role,
                    name,
                };
                Ok(self.take(place, &agent, how, Some(actor.user.clone())))
            }
            Action::End { reason, idle_since } => {
                if status.is_over() {
                    return Err(over(status, "ended"));
                }
                match reason {
                    EndReason::Timeout => {
                        if actor.role != Role::Service {
                            return Err(DomainError::Forbidden(
                                "only the idle policy ends conversations for a timeout".into(),
                            ));
                        }
                        let Some(idle_since) = idle_since else {
                            return Err(DomainError::invalid(
                                "idleSince",
                                "a timeout names the last activity it saw",
                            ));
                        };
                        if self
                            .support
                            .last_activity
                            .is_some_and(|last| last > idle_since)
                        {
                            return Err(DomainError::InvalidState(
                                "the conversation was active since".into(),
                            ));
                        }
                    }
                    EndReason::UserEnded => {
                        if actor.role != Role::Customer {
                            return Err(DomainError::invalid(
                                "reason",
                                "user_ended is the customer's reason",
                            ));
                        }
                        self.ensure_may_write(actor)?;
                    }
                    EndReason::AgentEnded | EndReason::Resolved => {
                        if !actor.role.is_staff() {
                            return Err(DomainError::Forbidden(
                                "only staff end a conversation as agent_ended or resolved".into(),
                            ));
                        }
                    }
                }
                let handle_time_seconds = self.support.assigned_at.map(|from| seconds(from, at));
                let duration_seconds = self.support.opened_at.map_or(0, |from| seconds(from, at));
                Ok(vec![ConversationEvent::ConversationEnded(
                    ConversationEnded {
                        tenant,
                        conversation_id,
                        reason,
                        previous_status: status,
                        ended_by: actor.user.clone(),
                        ended_by_name: actor.display_name().to_owned(),
                        ended_by_role: actor.role,
                        agent_id: self.support.agent.clone(),
                        handle_time_seconds,
                        duration_seconds,
                        at,
                    },
                )])
            }
            Action::Close => {
                if !actor.role.is_staff() {
                    return Err(DomainError::Forbidden(
                        "only staff close conversations".into(),
                    ));
                }
                match status {
                    Status::Closed => Ok(vec![]),
                    Status::Ended => Ok(vec![ConversationEvent::ConversationClosed(
                        ConversationClosed {
                            tenant,
                            conversation_id,
                            closed_by: actor.user.clone(),
                            closed_by_name: actor.display_name().to_owned(),
                            at,
                        },
                    )]),
                    _ => Err(DomainError::InvalidState(format!(
                        "only ended conversations are closed; this one is {status}"
                    ))),
                }
            }
            Action::Rate { rating, comment } => {
                if actor.role != Role::Customer || !self.admitted.contains(&actor.user) {
                    return Err(DomainError::Forbidden(
                        "only the conversation's customer rates it".into(),
                    ));
                }
                if self.message_count == 0 {
                    return Err(DomainError::InvalidState(
                        "there is nothing to rate: no message was sent".into(),
                    ));
                }
                let comment: Option<String> = comment.map(Into::into);
                if self.support.rating.as_ref() == Some(&(rating, comment.clone())) {
                    return Ok(vec![]);
                }
                Ok(vec![ConversationEvent::ConversationRated(
                    ConversationRated {
                        tenant,
                        conversation_id,
                        rating,
                        comment,
                        rated_by: actor.user.clone(),
                        agent_id: self.support.agent.clone(),
                        at,
                    },
                )])
            }
            Action::UpdateMetadata(changes) => {
                self.ensure_may_write(actor)?;
                if changes.as_map().is_empty() {
                    return Ok(vec![]);
                }
                let before = &self.support.metadata;
                let after = before.merged(changes.as_map());
                if after.keys() > MAX_METADATA_KEYS && after.keys() > before.keys() {
                    return Err(DomainError::invalid(
                        "metadata",
                        format!(
                            "merged, the conversation's metadata would have {} keys; at most {MAX_METADATA_KEYS} are allowed (set a key to null to remove it)",
                            after.keys()
                        ),
                    ));
                }
                if after.bytes() > MAX_METADATA_BYTES && after.bytes() > before.bytes() {
                    return Err(DomainError::invalid(
                        "metadata",
                        format!(
                            "merged, the conversation's metadata would be {} bytes of JSON; at most {MAX_METADATA_BYTES} are allowed (set a key to null to remove it)",
                            after.bytes()
                        ),
                    ));
                }
                Ok(vec![ConversationEvent::ConversationMetadataUpdated(
                    ConversationMetadataUpdated {
                        tenant,
                        conversation_id,
                        changes: changes.into(),
                        updated_by: actor.user.clone(),
                        at,
                    },
                )])
            }
            Action::ShareMessage { id } => {
                if !actor.role.is_staff() {
                    return Err(DomainError::Forbidden(
                        "only staff share robot messages".into(),
                    ));
                }
                if !self.live_message(&id)?.hidden {
                    return Ok(vec![]);
                }
                Ok(vec![ConversationEvent::MessageShared(MessageShared {
                    tenant,
                    conversation_id,
                    message_id: id,
                    shared_by: actor.user.clone(),
                    shared_by_name: actor.display_name().to_owned(),
                    at,
                })])
            }
            other => Err(DomainError::InvalidState(format!(
                "{other:?} is not a support action"
            ))),
        }
    }

    /// An agent joining a `queued` conversation (a supervisor or admin, an
    /// `escalated` one) takes it.
    pub(super) fn take_on_join(&self, place: &Place<'_>, actor: &Actor) -> Vec<ConversationEvent> {
        let takes = match self.support.status {
            Status::Queued => actor.role == Role::Agent,
            Status::Escalated => matches!(actor.role, Role::Supervisor | Role::Admin),
            _ => false,
        };
        if place.kind != Kind::Conversation || !takes {
            return vec![];
        }
        // Only the assignment: the caller records the join itself.
        self.take(place, actor, Assignment::Joined, None)
            .into_iter()
            .filter(|e| matches!(e, ConversationEvent::AgentAssigned(_)))
            .collect()
    }

    /// `agent` now handles the conversation: it joins if it is not in it.
    fn take(
        &self,
        place: &Place<'_>,
        agent: &Actor,
        how: Assignment,
        assigned_by: Option<UserId>,
    ) -> Vec<ConversationEvent> {
        let mut events = Vec::with_capacity(2);
        if !self.is_member(&agent.user) {
            events.push(place.joined(agent, assigned_by.clone()));
        }
        let queued_at = self
            .support
            .queued_at
            .filter(|_| self.support.status.is_waiting());
        events.push(ConversationEvent::AgentAssigned(AgentAssigned {
            tenant: place.tenant.clone(),
            conversation_id: place.id.clone(),
            agent_id: agent.user.clone(),
            agent_name: agent.display_name().to_owned(),
            agent_role: agent.role,
            how,
            assigned_by,
            previous_status: self.support.status,
            previous_agent: self.support.agent.clone(),
            queued_at,
            queue_time_seconds: queued_at.map(|from| seconds(from, place.at)),
            at: place.at,
        }));
        events
    }

    pub(super) fn apply_support(&mut self, event: ConversationEvent) {
        let support = &mut self.support;
        match event {
            ConversationEvent::ConversationActivated(e) => {
                support.status = e.status;
                support.last_activity = Some(e.at);
            }
            ConversationEvent::ConversationEscalated(e) => {
                support.status = e.status;
                support.queued_at = Some(e.at);
                support.last_activity = Some(e.at);
            }
            ConversationEvent::AgentAssigned(e) => {
                support.status = Status::Agent;
                support.agent = Some(e.agent_id);
                support.agent_name = Some(e.agent_name);
                support.assigned_at = Some(e.at);
                support.last_activity = Some(e.at);
            }
            ConversationEvent::ConversationEnded(e) => {
                support.status = Status::Ended;
                support.last_activity = Some(e.at);
            }
            ConversationEvent::ConversationClosed(_) => support.status = Status::Closed,
            ConversationEvent::ConversationRated(e) => {
                support.rating = Some((e.rating, e.comment));
            }
            ConversationEvent::MessageShared(e) => {
                if let Some(message) = self.messages.get_mut(&e.message_id) {
                    message.hidden = false;
                }
            }
            ConversationEvent::ConversationMetadataUpdated(e) => support.metadata.apply(&e.changes),
            _ => {}
        }
    }
}

fn over(status: Status, verb: &str) -> DomainError {
    DomainError::InvalidState(format!(
        "the conversation has {status} and cannot be {verb}"
    ))
}
