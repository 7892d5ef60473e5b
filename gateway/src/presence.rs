//! Presence on this node: how many sockets each user has here, when each
//! user was last heard from, and the reaper that times out users nobody
//! hears from any more.
//!
//! - A socket that connects counts for its user and runs `Connected` (an
//!   offline user comes online); one that disconnects only stops counting,
//!   and its disconnect is the user's last sign of life (so a page reload
//!   does not flap the user offline and back).
//! - Every `timeout / 4` the reaper expires each user with no socket here who
//!   was not heard from for `PARLEY_PRESENCE_TIMEOUT_SECS`: they become
//!   `offline` with reason `timeout`, and the org room is told (through the
//!   projection, like every change).
//! - At start-up, users the `presence` read model still shows as present but
//!   who have no socket here are adopted as if last heard from at start-up,
//!   so a crash or a restart never leaves anyone online for ever.
//!
//! The tracker is per node: with several gateway nodes, a user connected to
//! one node only is timed out by the others' start-up adoption. Sharing
//! socket counts between nodes (through the socket.io adapter, or a table)
//! is left for later.
//!
//! `Connected` and `Expire` of one user take turns (a per-user lane), and the
//! reaper checks again, in its turn, that the user still has no socket: a
//! user who reconnects while being expired is expired first and brought back
//! online after, never left offline while connected.

use domain::actor::{Actor, Role};
use domain::ids::{TenantId, UserId};
use domain::presence::{PresenceAction, PresenceCommand};
use socketioxide::extract::SocketRef;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::commands::{Command, Commands, Origin};
use crate::error::WireError;
use crate::state::AppState;

/// The `dialect` recorded for presence changes the server makes itself
/// (connects and timeouts are not any one dialect's events).
const SERVER: &str = "gateway";

type Key = (TenantId, UserId);

/// Connected sockets and last signs of life per user, on this node.
#[derive(Default)]
pub struct PresenceTracker {
    users: Mutex<HashMap<Key, Tracked>>,
}

struct Tracked {
    name: String,
    /// Known once the user connects here (not for users adopted at start-up).
    role: Option<Role>,
    sockets: usize,
    last_seen: Instant,
    /// `Connected` and `Expire` of this user run one at a time.
    lane: Arc<tokio::sync::Mutex<()>>,
}

impl Tracked {
    fn new(name: &str, now: Instant) -> Self {
        Self {
            name: name.to_owned(),
            role: None,
            sockets: 0,
            last_seen: now,
            lane: Arc::default(),
        }
    }

    fn is_stale(&self, now: Instant, timeout: Duration) -> bool {
        self.sockets == 0 && now.saturating_duration_since(self.last_seen) >= timeout
    }
}

impl PresenceTracker {
    /// Sockets `user` has on this node.
    pub fn sockets(&self, tenant: &TenantId, user: &UserId) -> usize {
        self.lock()
            .get(&(tenant.clone(), user.clone()))
            .map_or(0, |t| t.sockets)
    }

    /// A sign of life from a connected user (a heartbeat, an update).
    pub fn seen(&self, tenant: &TenantId, user: &UserId, now: Instant) {
        if let Some(tracked) = self.lock().get_mut(&(tenant.clone(), user.clone())) {
            tracked.last_seen = tracked.last_seen.max(now);
        }
    }

    /// Staff of `tenant` with a socket on this node (user, name, role), by
    /// user id: whom auto-assignment may pick.
    pub fn connected_staff(&self, tenant: &TenantId) -> Vec<(UserId, String, Role)> {
        let mut staff: Vec<_> = self
            .lock()
            .iter()
            .filter(|((t, _), tracked)| t == tenant && tracked.sockets > 0)
            .filter_map(|((_, user), tracked)| {
                let role = tracked.role.filter(|r| r.is_staff())?;
                Some((user.clone(), tracked.name.clone(), role))
            })
            .collect();
        staff.sort_by(|a, b| a.0.cmp(&b.0));
        staff
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Tracked>> {
        // A panic elsewhere while holding the lock leaves counts that are
        // still the best we have: keep going.
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Count a socket; the user's lane, for the `Connected` command.
    fn connect(&self, key: &Key, name: &str, now: Instant) -> Arc<tokio::sync::Mutex<()>> {
        let mut users = self.lock();
        let tracked = users
            .entry(key.clone())
            .or_insert_with(|| Tracked::new(name, now));
        tracked.sockets += 1;
        tracked.last_seen = tracked.last_seen.max(now);
        name.clone_into(&mut tracked.name);
        tracked.lane.clone()
    }

    /// [`Self::connect`], remembering the user's role.
    fn connect_as(
        &self,
        key: &Key,
        name: &str,
        role: Role,
        now: Instant,
    ) -> Arc<tokio::sync::Mutex<()>> {
        let lane = self.connect(key, name, now);
        if let Some(tracked) = self.lock().get_mut(key) {
            tracked.role = Some(role);
        }
        lane
    }

    fn disconnect(&self, key: &Key, now: Instant) {
        if let Some(tracked) = self.lock().get_mut(key) {
            tracked.sockets = tracked.sockets.saturating_sub(1);
            tracked.last_seen = tracked.last_seen.max(now);
        }
    }

    /// Track a user who has no socket here as last heard from `now`, unless
    /// already tracked.
    fn adopt(&self, key: Key, name: &str, now: Instant) {
        self.lock()
            .entry(key)
            .or_insert_with(|| Tracked::new(name, now));
    }

    /// Users to expire: no socket here, not heard from for `timeout`.
    fn stale(
        &self,
        now: Instant,
        timeout: Duration,
    ) -> Vec<(Key, String, Arc<tokio::sync::Mutex<()>>)> {
        self.lock()
            .iter()
            .filter(|(_, t)| t.is_stale(now, timeout))
            .map(|(key, t)| (key.clone(), t.name.clone(), t.lane.clone()))
            .collect()
    }

    fn is_stale(&self, key: &Key, now: Instant, timeout: Duration) -> bool {
        self.lock()
            .get(key)
            .is_some_and(|t| t.is_stale(now, timeout))
    }

    /// Stop tracking an expired user, unless they came back meanwhile.
    fn forget_if_stale(&self, key: &Key, now: Instant, timeout: Duration) {
        let mut users = self.lock();
        if users.get(key).is_some_and(|t| t.is_stale(now, timeout)) {
            users.remove(key);
        }
    }
}

/// Run a presence command for `user`, stamped by the server's clock.
/// Returns the command's time (what the events say).
pub async fn run(
    commands: &Commands,
    origin: &Origin<'_>,
    command: &'static str,
    tenant: &TenantId,
    user: &UserId,
    user_name: &str,
    action: PresenceAction,
) -> Result<domain::Timestamp, WireError> {
    let stream = domain::presence::Presence::stream_id(tenant, user);
    let command = Command {
        origin,
        name: command,
        stream: &stream,
        id: None,
        make: |at| PresenceCommand {
            tenant: tenant.clone(),
            user: user.clone(),
            user_name: user_name.to_owned(),
            at,
            action: action.clone(),
        },
    };
    Ok(commands.run(&commands.presences, command).await?.at)
}

/// Whether this socket is still counted among its user's sockets: exactly
/// one of [`socket_disconnected`] and the check in [`socket_connected`]
/// uncounts it (the socket may close before its connect is handled).
#[derive(Clone)]
struct Counted {
    key: (TenantId, UserId),
    flag: Arc<AtomicBool>,
}

/// An authenticated socket connected: count it, and bring its user online.
/// The socket's disconnect handler must call [`socket_disconnected`].
pub async fn socket_connected(socket: &SocketRef, state: &AppState, actor: &Actor) {
    let key = (actor.tenant.clone(), actor.user.clone());
    let tracker = &state.presence_tracker;
    let lane = tracker.connect_as(&key, actor.display_name(), actor.role, Instant::now());
    let counted = Arc::new(AtomicBool::new(true));
    socket.extensions.insert(Counted {
        key: key.clone(),
        flag: counted.clone(),
    });
    if !socket.connected() && counted.swap(false, Ordering::SeqCst) {
        tracker.disconnect(&key, Instant::now());
    }
    let _turn = lane.lock().await;
    let origin = Origin {
        actor,
        dialect: SERVER,
        socket_id: Some(socket.id.to_string()),
    };
    if let Err(error) = run(
        &state.commands,
        &origin,
        "connect",
        &actor.tenant,
        &actor.user,
        actor.display_name(),
        PresenceAction::Connected,
    )
    .await
    {
        tracing::warn!(user = %actor.user, tenant = %actor.tenant, code = %error.code, message = %error.message, "presence not updated on connect");
    }
}

/// A socket went away: uncount it (once), so that its user may time out.
pub fn socket_disconnected(state: &AppState, socket: &SocketRef) {
    if let Some(counted) = socket.extensions.get::<Counted>()
        && counted.flag.swap(false, Ordering::SeqCst)
    {
        state
            .presence_tracker
            .disconnect(&counted.key, Instant::now());
    }
}

/// The reaper's handle: stop it at shutdown.
pub struct Reaper {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Reaper {
    /// Start the reaper; `started` counts as everyone's last sign of life.
    pub fn start(state: AppState, started: Instant) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(reap(state, started, stopped));
        Self { stop, task }
    }

    /// Stop after the user being expired, if any.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "presence reaper failed");
        }
    }
}

async fn reap(state: AppState, started: Instant, mut stopped: watch::Receiver<bool>) {
    let timeout = state.config.presence_timeout();
    if !adopt_present_users(&state, started, &mut stopped).await {
        return;
    }
    let mut tick = tokio::time::interval((timeout / 4).max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        for (key, name, lane) in state.presence_tracker.stale(Instant::now(), timeout) {
            if *stopped.borrow() {
                return;
            }
            let _turn = lane.lock().await;
            // In our turn: a socket may have connected since the sweep.
            if !state
                .presence_tracker
                .is_stale(&key, Instant::now(), timeout)
            {
                continue;
            }
            if expire(&state, &key, &name).await {
                state
                    .presence_tracker
                    .forget_if_stale(&key, Instant::now(), timeout);
            }
        }
    }
}

/// Adopt everyone the read model shows as present. False if stopped first.
async fn adopt_present_users(
    state: &AppState,
    started: Instant,
    stopped: &mut watch::Receiver<bool>,
) -> bool {
    // The read model must reflect the log as it was at start-up, however
    // long catching up takes.
    let head = state.log.head();
    loop {
        tokio::select! {
            caught_up = state.projector.wait_for(
                projections::presence::NAME, head, Duration::from_secs(5)) => {
                if caught_up {
                    break;
                }
                tracing::info!("presence: waiting for the read model to catch up");
            }
            _ = stopped.changed() => return false,
        }
    }
    match projections::presence::present(state.log.db()).await {
        Ok(present) => {
            let adopted = present.len();
            for user in present {
                state
                    .presence_tracker
                    .adopt((user.tenant, user.user_id), &user.user_name, started);
            }
            tracing::debug!(adopted, "presence: users shown as present at start-up");
        }
        Err(error) => {
            tracing::error!(%error, "presence: cannot read who is present; they will not time out");
        }
    }
    true
}

/// Expire one user; false if that failed (the next sweep tries again).
async fn expire(state: &AppState, (tenant, user): &Key, name: &str) -> bool {
    let server = Actor {
        user: UserId::parse("parley").expect("a valid user id"),
        tenant: tenant.clone(),
        role: Role::Service,
        name: Some("Parley".to_owned()),
    };
    let origin = Origin {
        actor: &server,
        dialect: SERVER,
        socket_id: None,
    };
    match run(
        &state.commands,
        &origin,
        "presence:expire",
        tenant,
        user,
        name,
        PresenceAction::Expire,
    )
    .await
    {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(%user, %tenant, code = %error.code, message = %error.message, "presence: expiry failed; will retry");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(user: &str) -> Key {
        (
            TenantId::parse("acme").unwrap(),
            UserId::parse(user).unwrap(),
        )
    }

    const TIMEOUT: Duration = Duration::from_secs(60);

    #[test]
    fn a_user_with_a_socket_never_goes_stale() {
        let tracker = PresenceTracker::default();
        let start = Instant::now();
        tracker.connect(&key("ana"), "Ana", start);
        assert!(tracker.stale(start + TIMEOUT * 10, TIMEOUT).is_empty());
        assert_eq!(tracker.sockets(&key("ana").0, &key("ana").1), 1);
    }

    #[test]
    fn the_timeout_counts_from_the_last_disconnect_or_heartbeat() {
        let tracker = PresenceTracker::default();
        let start = Instant::now();
        tracker.connect(&key("ana"), "Ana", start);
        tracker.connect(&key("ana"), "Ana", start);
        tracker.disconnect(&key("ana"), start + Duration::from_secs(5));
        assert!(tracker.stale(start + TIMEOUT * 2, TIMEOUT).is_empty());
        tracker.disconnect(&key("ana"), start + Duration::from_secs(10));
        let gone = start + Duration::from_secs(10) + TIMEOUT;
        assert!(
            tracker
                .stale(gone - Duration::from_secs(1), TIMEOUT)
                .is_empty()
        );
        let stale = tracker.stale(gone, TIMEOUT);
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].0, key("ana"));
        assert_eq!(stale[0].1, "Ana");
    }

    #[test]
    fn adopted_users_are_stale_after_the_timeout_unless_they_connect() {
        let tracker = PresenceTracker::default();
        let start = Instant::now();
        tracker.adopt(key("ana"), "Ana", start);
        tracker.adopt(key("bob"), "Bob", start);
        tracker.connect(&key("bob"), "Bob", start + Duration::from_secs(1));
        let stale = tracker.stale(start + TIMEOUT, TIMEOUT);
        assert_eq!(
            stale.into_iter().map(|s| s.0).collect::<Vec<_>>(),
            [key("ana")]
        );
    }

    #[test]
    fn adopting_never_overrides_a_connected_user() {
        let tracker = PresenceTracker::default();
        let start = Instant::now();
        tracker.connect(&key("ana"), "Ana", start);
        tracker.adopt(key("ana"), "Ana", start);
        assert_eq!(tracker.sockets(&key("ana").0, &key("ana").1), 1);
    }

    #[test]
    fn an_expired_user_who_reconnected_is_not_forgotten() {
        let tracker = PresenceTracker::default();
        let start = Instant::now();
        tracker.adopt(key("ana"), "Ana", start);
        tracker.connect(&key("ana"), "Ana", start + TIMEOUT);
        tracker.forget_if_stale(&key("ana"), start + TIMEOUT * 2, TIMEOUT);
        assert_eq!(tracker.sockets(&key("ana").0, &key("ana").1), 1);
        tracker.disconnect(&key("ana"), start + TIMEOUT);
        tracker.forget_if_stale(&key("ana"), start + TIMEOUT * 2, TIMEOUT);
        assert!(tracker.lock().is_empty());
    }

    #[test]
    fn connected_staff_are_those_of_the_tenant_with_a_socket_here() {
        let tracker = PresenceTracker::default();
        let start = Instant::now();
        tracker.connect_as(&key("bob"), "Bob", Role::Agent, start);
        tracker.connect_as(&key("ana"), "Ana", Role::Customer, start);
        tracker.connect_as(&key("sue"), "Sue", Role::Supervisor, start);
        tracker.disconnect(&key("sue"), start);
        tracker.adopt(key("cyd"), "Cyd", start);
        let other = (
            TenantId::parse("globex").unwrap(),
            UserId::parse("eve").unwrap(),
        );
        tracker.connect_as(&other, "Eve", Role::Agent, start);
        assert_eq!(
            tracker.connected_staff(&key("bob").0),
            [(key("bob").1, "Bob".to_owned(), Role::Agent)]
        );
    }

    #[test]
    fn heartbeats_move_the_last_sign_of_life_forward_only() {
        let tracker = PresenceTracker::default();
        let start = Instant::now();
        tracker.connect(&key("ana"), "Ana", start + Duration::from_secs(30));
        tracker.seen(&key("ana").0, &key("ana").1, start);
        tracker.disconnect(&key("ana"), start);
        assert!(
            tracker
                .stale(
                    start + Duration::from_secs(30) + TIMEOUT - Duration::from_secs(1),
                    TIMEOUT
                )
                .is_empty()
        );
    }
}
