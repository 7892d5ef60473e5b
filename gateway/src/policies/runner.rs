//! The policy runner: the support policies (`domain::policy`) run on what
//! happens, started and stopped with the server.
//!
//! - Auto-assignment. A tenant is looked at when its queue moves or one of
//!   its conversations ends (projection updates), and when one of its staff
//!   connects. If its setting is on, each queued conversation, first in
//!   line first, goes to the connected staff member with the most free
//!   capacity (`policy::pick_agent`), counted from the `support` read model;
//!   staff who set themselves away or busy are left out. One pass at a time,
//!   so one node never gives an agent more than the limit; the aggregate
//!   refuses a conversation someone claimed meanwhile, which is fine.
//!   Each node assigns to the staff connected to it.
//! - Idle timeout. Every `min(timeout / 4, 30 s)` the conversations not
//!   over whose last activity is older than `PARLEY_IDLE_TIMEOUT_SECS` are
//!   ended with reason `timeout` (`policy::end_if_idle`); the command names
//!   the activity the scan saw, so one that was active since is left alone.

use chrono::Utc;
use domain::Room;
use domain::conversation::{ConversationCommand, Status};
use domain::ids::TenantId;
use domain::policy::{self, AgentLoad, AutoAssignment};
use domain::presence::PresenceStatus;
use projections::support::{self as read_model, SupportChange};
use projections::update::Change;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::SERVER;
use crate::commands::{Origin, Stamped};
use crate::error::{ErrorCode, WireError};
use crate::state::AppState;

/// Idle conversations ended per scan; the next scan takes the rest.
const IDLE_BATCH: u32 = 200;
/// The longest pause between two idle scans.
const IDLE_SCAN_MAX: Duration = Duration::from_secs(30);

/// The runner's handle: stop it at shutdown.
pub struct PolicyRunner {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl PolicyRunner {
    pub fn start(state: AppState) -> Self {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tasks.spawn(listen(state.clone(), stopped.clone()));
        if let Some(inbox) = state.nudges.take_inbox() {
            tasks.spawn(assign_loop(state.clone(), inbox, stopped.clone()));
        }
        if let Some(timeout) = state.config.idle_timeout() {
            tasks.spawn(idle_loop(state, timeout, stopped));
        }
        Self { stop, tasks }
    }

    /// Stop after the command in progress, if any.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while let Some(outcome) = self.tasks.join_next().await {
            if let Err(error) = outcome {
                tracing::error!(%error, "support policy runner failed");
            }
        }
    }
}

/// Turn projection updates into nudges.
async fn listen(state: AppState, mut stopped: watch::Receiver<bool>) {
    let mut updates = state.projector.subscribe();
    loop {
        let update = tokio::select! {
            update = updates.recv() => update,
            _ = stopped.changed() => return,
        };
        match update {
            Ok(update) => match &update.change {
                Change::QueueMoved { tenant, .. } => state.nudges.nudge(tenant),
                Change::Support {
                    view,
                    change: SupportChange::Ended { .. },
                    ..
                } => state.nudges.nudge(&view.room.tenant),
                _ => {}
            },
            Err(RecvError::Lagged(missed)) => {
                // A queue may have moved unseen: the next move or connect
                // catches up.
                tracing::warn!(missed, "support policies fell behind the projections");
            }
            Err(RecvError::Closed) => return,
        }
    }
}

async fn assign_loop(
    state: AppState,
    mut inbox: mpsc::UnboundedReceiver<TenantId>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let first = tokio::select! {
            tenant = inbox.recv() => tenant,
            _ = stopped.changed() => return,
        };
        let Some(first) = first else { return };
        // Every nudge so far is served by this round: one pass per tenant.
        let mut tenants = vec![first];
        while let Ok(tenant) = inbox.try_recv() {
            if !tenants.contains(&tenant) {
                tenants.push(tenant);
            }
        }
        for tenant in tenants {
            if *stopped.borrow() {
                return;
            }
            if let Err(error) = assign_queued(&state, &tenant).await {
                tracing::warn!(%tenant, code = %error.code, message = %error.message, "auto-assignment failed; the next nudge retries");
            }
        }
    }
}

/// One auto-assignment pass over `tenant`'s queue.
async fn assign_queued(state: &AppState, tenant: &TenantId) -> Result<(), WireError> {
    let setting = super::settings(state, tenant).await?.auto_assignment();
    if setting == AutoAssignment::Off {
        return Ok(());
    }
    let connected = state.presence_tracker.connected_staff(tenant);
    if connected.is_empty() {
        return Ok(());
    }
    // Counts and presence must reflect every assignment and status change
    // acknowledged so far (this pass's predecessors' included).
    state.read_your_writes(read_model::NAME).await;
    state.read_your_writes(projections::presence::NAME).await;
    let db = state.log.db();
    let presence = projections::presence::list(db, tenant).await?;
    let unavailable = |user: &domain::ids::UserId| {
        presence.iter().any(|p| {
            p.user_id == *user && matches!(p.status, PresenceStatus::Away | PresenceStatus::Busy)
        })
    };
    let mut online: Vec<AgentLoad> = connected
        .into_iter()
        .filter(|(user, _, _)| !unavailable(user))
        .map(|(agent, name, role)| AgentLoad {
            agent,
            name: Some(name),
            role,
            active: 0,
        })
        .collect();
    if online.is_empty() {
        return Ok(());
    }
    let counts = read_model::active_counts(db, tenant).await?;
    for load in &mut online {
        load.active = counts.get(&load.agent).copied().unwrap_or(0);
    }
    let queue = read_model::queue(db, tenant).await?;
    let system = policy::system_actor(tenant);
    let origin = Origin {
        actor: &system,
        dialect: SERVER,
        socket_id: None,
    };
    // Escalated conversations wait for a supervisor's choice.
    for entry in queue.iter().filter(|e| e.status == Status::Queued) {
        let Some(agent) = policy::pick_agent(setting, &online).cloned() else {
            break;
        };
        let command = policy::assign(tenant, &entry.conversation_id, &agent, Utc::now());
        let outcome = run(state, &origin, "support:auto-assign", command).await;
        match outcome {
            Ok(_) => {
                tracing::debug!(%tenant, conversation = %entry.conversation_id, agent = %agent.agent, "auto-assigned");
                if let Some(load) = online.iter_mut().find(|l| l.agent == agent.agent) {
                    load.active += 1;
                }
            }
            // Claimed (or ended) meanwhile: someone else was quicker.
            Err(error) if error.code == ErrorCode::InvalidState => {
                tracing::debug!(%tenant, conversation = %entry.conversation_id, message = %error.message, "not auto-assigned");
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

async fn idle_loop(state: AppState, timeout: Duration, mut stopped: watch::Receiver<bool>) {
    let period = (timeout / 4).clamp(Duration::from_millis(10), IDLE_SCAN_MAX);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        if let Err(error) = end_idle(&state, timeout, &stopped).await {
            tracing::warn!(code = %error.code, message = %error.message, "idle scan failed; the next one retries");
        }
    }
}

/// End every conversation idle for `timeout` (one batch).
async fn end_idle(
    state: &AppState,
    timeout: Duration,
    stopped: &watch::Receiver<bool>,
) -> Result<(), WireError> {
    let now = Utc::now();
    let span = chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
    let Some(before) = now.checked_sub_signed(span) else {
        return Ok(());
    };
    let idle = read_model::idle(state.log.db(), before, IDLE_BATCH).await?;
    for (tenant, conversation, status, last_activity) in idle {
        if *stopped.borrow() {
            return Ok(());
        }
        let Some(command) =
            policy::end_if_idle(&tenant, &conversation, status, last_activity, now, timeout)
        else {
            continue;
        };
        let system = policy::system_actor(&tenant);
        let origin = Origin {
            actor: &system,
            dialect: SERVER,
            socket_id: None,
        };
        let outcome = run(state, &origin, "support:idle-timeout", command).await;
        match outcome {
            Ok(_) => tracing::debug!(%tenant, %conversation, "ended after being idle"),
            // Active since the scan's view of it, or ended meanwhile.
            Err(error) if error.code == ErrorCode::InvalidState => {
                tracing::debug!(%tenant, %conversation, message = %error.message, "not ended for idling");
            }
            Err(error) => {
                tracing::warn!(%tenant, %conversation, code = %error.code, message = %error.message, "idle timeout not applied");
            }
        }
    }
    Ok(())
}

/// Run a policy's command as the system actor of `origin`: the command
/// service stamps it with its own time, like every other command.
async fn run(
    state: &AppState,
    origin: &Origin<'_>,
    name: &'static str,
    command: ConversationCommand,
) -> Result<Stamped, WireError> {
    let room = Room::new(
        origin.actor.tenant.clone(),
        command.kind,
        command.conversation,
    );
    state
        .commands
        .on_conversation(origin, name, &room, command.action, None)
        .await
}
