//! Limits that hold across reconnects, on top of the seed's per-socket
//! rate limit ([`crate::socket::RateLimit`]):
//!
//! - event budgets per user (a token's `sub` within its tenant), and for
//!   clients who connect with a widget or API key, per key and per client
//!   address (a visitor's id is new on every connection: worthless as a
//!   key);
//! - concurrent connections per user and per client address.
//!
//! Every connection of every dialect (Socket.IO `/` and `/helpdesk`, the
//! plain WebSocket stream) asks [`Limits::connect`] at its handshake and
//! gets an [`Allowance`] that each of its events must pass, and a
//! [`Slot`] it holds while it is open.

mod budget;
mod client_ip;
mod connections;

pub use budget::Budget;
pub use client_ip::{ClientIp, parse_trusted};
pub use connections::Slot;

use axum::http::request::Parts;
use domain::access_key::KeyId;
use domain::actor::Actor;
use domain::ids::{TenantId, UserId};
use ipnet::IpNet;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{ErrorCode, WireError};
use crate::socket::RateLimit;
use connections::{Connections, Full, Holder};

/// Every budget and cap of this node.
pub struct Limits {
    socket_events: u32,
    window: Duration,
    users: Budget<(TenantId, UserId)>,
    keys: Budget<KeyId>,
    ips: Budget<ClientIp>,
    connections: Connections,
    trusted_proxies: Vec<IpNet>,
}

/// Who a connection speaks for, as far as limits go.
pub enum Client<'a> {
    /// A token's user.
    User(&'a Actor),
    /// Whoever holds a widget or API key.
    Key(&'a KeyId),
}

impl Limits {
    pub fn from_config(config: &Config) -> Self {
        let window = Duration::from_secs(config.rate_limit_window_secs);
        fn budget<K>(events: u32, window: Duration, config: &Config) -> Budget<K>
        where
            K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
        {
            let events = NonZeroU32::new(events).unwrap_or(NonZeroU32::MIN);
            Budget::new(events, window, config.rate_limit_max_keys)
        }
        Self {
            socket_events: config.rate_limit_events,
            window,
            users: budget(config.user_rate_limit_events, window, config),
            keys: budget(config.key_rate_limit_events, window, config),
            ips: budget(config.ip_rate_limit_events, window, config),
            connections: Connections::new(
                config.max_connections_per_user,
                config.max_connections_per_ip,
            ),
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }

    /// The client address of a handshake, from the peer address axum
    /// recorded (`None` without one, which [`crate::serve`] always records).
    pub fn client_ip(&self, parts: &Parts) -> Option<ClientIp> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()?;
        Some(self.client_ip_of(peer.0, &parts.headers))
    }

    /// The client address of a request from `peer`.
    pub fn client_ip_of(&self, peer: SocketAddr, headers: &axum::http::HeaderMap) -> ClientIp {
        ClientIp::of(peer.ip(), headers, &self.trusted_proxies)
    }

    /// Admit a new connection of `client` from `ip`: its allowance, and
    /// the slot it holds while open. Refused with `TOO_MANY_CONNECTIONS`
    /// when the user or the address has as many connections as allowed.
    pub fn connect(
        &self,
        client: Client<'_>,
        ip: Option<ClientIp>,
    ) -> Result<(Allowance, Slot), WireError> {
        let mut holders = Vec::with_capacity(2);
        let charges = match client {
            Client::User(actor) => {
                let user = (actor.tenant.clone(), actor.user.clone());
                holders.push(Holder::User(user.0.clone(), user.1.clone()));
                Charges::User(user)
            }
            Client::Key(key) => Charges::Key {
                key: key.clone(),
                ip,
            },
        };
        holders.extend(ip.map(Holder::Ip));
        let slot = self.connections.take(holders).map_err(|full| {
            let message = match full {
                Full::User(cap) => {
                    format!("at most {cap} connections per user at once: close another one first")
                }
                Full::Ip(cap) => format!(
                    "at most {cap} connections per client address at once: close another one first"
                ),
            };
            WireError::new(ErrorCode::TooManyConnections, message)
        })?;
        let allowance = Allowance(Arc::new(AllowanceOf {
            socket: RateLimit::new(self.socket_events, self.window),
            charges,
        }));
        Ok((allowance, slot))
    }

    fn refused<K>(budget: &Budget<K>, per: &str, retry_after: Duration) -> WireError
    where
        K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    {
        let mut error = WireError::new(
            ErrorCode::RateLimited,
            format!(
                "at most {} events per {} s per {per}, across connections; this one was not applied",
                budget.events(),
                budget.window().as_secs()
            ),
        );
        // Rounded up: retrying after exactly this long must succeed.
        error.retry_after_ms = Some(retry_after.as_micros().div_ceil(1000) as u64);
        error
    }
}

/// What one connection's events are charged to. Cheap to clone.
#[derive(Clone)]
pub struct Allowance(Arc<AllowanceOf>);

struct AllowanceOf {
    /// The seed's limit, of this connection alone.
    socket: RateLimit,
    charges: Charges,
}

enum Charges {
    User((TenantId, UserId)),
    /// The client's own address first, so that one address spending fast
    /// is stopped before it eats the budget all the key's clients share.
    Key {
        key: KeyId,
        ip: Option<ClientIp>,
    },
}

impl Allowance {
    /// Count one event: `RATE_LIMITED` (with `retryAfterMs`) when a limit
    /// is spent; then nothing may be applied. An event refused by one limit
    /// still counts against those checked before it (narrowest first).
    pub fn admit(&self, limits: &Limits) -> Result<(), WireError> {
        self.0.socket.check(Instant::now()).map_err(|retry_after| {
            WireError::rate_limited(limits.socket_events, limits.window.as_secs(), retry_after)
        })?;
        match &self.0.charges {
            Charges::User(user) => limits
                .users
                .check(user)
                .map_err(|retry| Limits::refused(&limits.users, "user", retry)),
            Charges::Key { key, ip } => {
                if let Some(ip) = ip {
                    limits
                        .ips
                        .check(ip)
                        .map_err(|retry| Limits::refused(&limits.ips, "client address", retry))?;
                }
                limits
                    .keys
                    .check(key)
                    .map_err(|retry| Limits::refused(&limits.keys, "key", retry))
            }
        }
    }
}
