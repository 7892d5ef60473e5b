//! The `Presence` aggregate: one per user and tenant, saying whether the
//! user is online, away, busy or offline, and in their own words why.
//!
//! Rules:
//! - a user sets their status (with an optional custom status and status
//!   text) whenever they like; every such update is recorded, even one that
//!   repeats the last (it is the user's explicit word, and others are told);
//! - a heartbeat is recorded as activity and never changes the status;
//! - a connecting socket brings a user who is offline (or was never seen)
//!   online; a user who is already online, away or busy stays as they are;
//! - the server expires a user it has not heard from: they become offline,
//!   unless they already are (then nothing is recorded);
//! - only `SetStatus` changes the custom status and status text: connecting
//!   and timing out keep them, as the user wrote them.
//!
//! The stream is `presence/{tenant}/{user}`. Tenant ids cannot contain `/`,
//! so the first `/` after the prefix ends the tenant and different
//! (tenant, user) pairs never share a stream, even though user ids may
//! contain `/`.

mod cqrs;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::ids::{TenantId, UserId};
use crate::{DomainError, Timestamp};

/// Every stream of this aggregate starts with this.
pub const STREAM_PREFIX: &str = "presence/";

/// Schema version of every presence event type; bump per type with an upcaster.
pub const SCHEMA_VERSION: u32 = 1;

// ---- values ----

/// What a user shows to their organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PresenceStatus {
    Online,
    Away,
    Busy,
    Offline,
}

impl PresenceStatus {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        Ok(match raw {
            "online" => Self::Online,
            "away" => Self::Away,
            "busy" => Self::Busy,
            "offline" => Self::Offline,
            other => {
                return Err(DomainError::invalid(
                    "status",
                    format!("unknown status {other:?} (online, away, busy, offline)"),
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Away => "away",
            Self::Busy => "busy",
            Self::Offline => "offline",
        }
    }
}

impl FromStr for PresenceStatus {
    type Err = DomainError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl fmt::Display for PresenceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a status changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PresenceReason {
    /// The user set it.
    Manual,
    /// A socket of the user connected.
    Connected,
    /// The server stopped hearing from the user.
    Timeout,
}

impl PresenceReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Connected => "connected",
            Self::Timeout => "timeout",
        }
    }
}

impl FromStr for PresenceReason {
    type Err = DomainError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ok(match raw {
            "manual" => Self::Manual,
            "connected" => Self::Connected,
            "timeout" => Self::Timeout,
            other => {
                return Err(DomainError::invalid(
                    "reason",
                    format!("unknown presence reason {other:?}"),
                ));
            }
        })
    }
}

/// Free text a user attaches to their status: bounded, one line, no control
/// characters, trimmed. Blank means "none" (see `parse_optional`).
fn parse_note(field: &'static str, raw: String, max_chars: usize) -> Result<String, DomainError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(DomainError::invalid(field, "must not be blank"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    // Characters, not bytes: emoji count as one, as users expect.
    if trimmed.chars().nth(max_chars).is_some() {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

macro_rules! note {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
                parse_note($field, raw.into(), Self::MAX_CHARS).map(Self)
            }

            /// Absent, `null` or blank: none (an update without it clears it).
            pub fn parse_optional(raw: Option<String>) -> Result<Option<Self>, DomainError> {
                match raw {
                    Some(raw) if !raw.trim().is_empty() => Self::parse(raw).map(Some),
                    _ => Ok(None),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(note: $name) -> String {
                note.0
            }
        }
    };
}

note!(
    /// A short custom status ("In a meeting"): at most 100 characters.
    CustomStatus,
    "customStatus",
    100
);
note!(
    /// A longer status text ("Back at 3pm"): at most 280 characters.
    StatusText,
    "statusText",
    280
);

// ---- commands ----

/// One command about one user's presence. The user and their name come from
/// the caller's token (or, for `Expire`, from what the server knows).
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceCommand {
    pub tenant: TenantId,
    pub user: UserId,
    pub user_name: String,
    pub at: Timestamp,
    pub action: PresenceAction,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PresenceAction {
    /// The user sets their status; absent notes are cleared.
    SetStatus {
        status: PresenceStatus,
        custom_status: Option<CustomStatus>,
        status_text: Option<StatusText>,
    },
    /// The user's client says it is still there.
    Heartbeat,
    /// A socket of the user connected.
    Connected,
    /// The server decided the user timed out.
    Expire,
}

// ---- events ----

/// What happened to a user's presence. Past tense, stable names, versioned;
/// each carries the whole current presence, so projections only copy fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PresenceEvent {
    PresenceChanged(PresenceChanged),
    PresenceHeartbeatReceived(PresenceHeartbeatReceived),
}

impl PresenceEvent {
    /// The stable name stored as `event_type`; equal to the serde tag.
    pub fn name(&self) -> &'static str {
        match self {
            Self::PresenceChanged(_) => "PresenceChanged",
            Self::PresenceHeartbeatReceived(_) => "PresenceHeartbeatReceived",
        }
    }

    pub fn tenant(&self) -> &TenantId {
        match self {
            Self::PresenceChanged(e) => &e.tenant,
            Self::PresenceHeartbeatReceived(e) => &e.tenant,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceChanged {
    pub tenant: TenantId,
    pub user_id: UserId,
    pub user_name: String,
    pub status: PresenceStatus,
    pub custom_status: Option<String>,
    pub status_text: Option<String>,
    pub reason: PresenceReason,
    pub at: Timestamp,
}

/// Activity: the presence is unchanged and repeated here as it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceHeartbeatReceived {
    pub tenant: TenantId,
    pub user_id: UserId,
    pub user_name: String,
    pub status: PresenceStatus,
    pub custom_status: Option<String>,
    pub status_text: Option<String>,
    pub at: Timestamp,
}

// ---- the aggregate ----

/// The decision state of one user's presence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    owner: Option<Owner>,
    /// `None` until the first change: never seen.
    status: Option<PresenceStatus>,
    custom_status: Option<String>,
    status_text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Owner {
    tenant: TenantId,
    user: UserId,
}

impl Presence {
    /// The event-log stream of a user's presence (see the module docs for
    /// why it cannot collide).
    pub fn stream_id(tenant: &TenantId, user: &UserId) -> String {
        format!("{STREAM_PREFIX}{tenant}/{user}")
    }

    /// Does this stream hold a user's presence events?
    pub fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }

    /// The current status; `None` if the user was never seen.
    pub fn status(&self) -> Option<PresenceStatus> {
        self.status
    }

    /// Decide what happens. Pure: no clock, no IO; refusals produce no events.
    pub fn handle(&self, cmd: PresenceCommand) -> Result<Vec<PresenceEvent>, DomainError> {
        let PresenceCommand {
            tenant,
            user,
            user_name,
            at,
            action,
        } = cmd;
        // Streams are per (tenant, user), so this only guards against a
        // caller bug; answer as if there were nothing rather than leak it.
        if let Some(owner) = &self.owner
            && (owner.tenant != tenant || owner.user != user)
        {
            return Err(DomainError::NotFound(format!("presence of {user}")));
        }
        let changed = |status, custom_status, status_text, reason| {
            PresenceEvent::PresenceChanged(PresenceChanged {
                tenant: tenant.clone(),
                user_id: user.clone(),
                user_name: user_name.clone(),
                status,
                custom_status,
                status_text,
                reason,
                at,
            })
        };
        let kept = || (self.custom_status.clone(), self.status_text.clone());
        Ok(match action {
            PresenceAction::SetStatus {
                status,
                custom_status,
                status_text,
            } => vec![changed(
                status,
                custom_status.map(Into::into),
                status_text.map(Into::into),
                PresenceReason::Manual,
            )],
            PresenceAction::Heartbeat => {
                let (custom_status, status_text) = kept();
                vec![PresenceEvent::PresenceHeartbeatReceived(
                    PresenceHeartbeatReceived {
                        tenant: tenant.clone(),
                        user_id: user.clone(),
                        user_name: user_name.clone(),
                        status: self.status.unwrap_or(PresenceStatus::Offline),
                        custom_status,
                        status_text,
                        at,
                    },
                )]
            }
            PresenceAction::Connected => match self.status {
                None | Some(PresenceStatus::Offline) => {
                    let (custom_status, status_text) = kept();
                    vec![changed(
                        PresenceStatus::Online,
                        custom_status,
                        status_text,
                        PresenceReason::Connected,
                    )]
                }
                Some(_) => vec![],
            },
            PresenceAction::Expire => match self.status {
                None | Some(PresenceStatus::Offline) => vec![],
                Some(_) => {
                    let (custom_status, status_text) = kept();
                    vec![changed(
                        PresenceStatus::Offline,
                        custom_status,
                        status_text,
                        PresenceReason::Timeout,
                    )]
                }
            },
        })
    }

    /// Evolve the state. Never fails: an event that was recorded happened.
    pub fn apply(&mut self, event: PresenceEvent) {
        match event {
            PresenceEvent::PresenceChanged(e) => {
                self.owner = Some(Owner {
                    tenant: e.tenant,
                    user: e.user_id,
                });
                self.status = Some(e.status);
                self.custom_status = e.custom_status;
                self.status_text = e.status_text;
            }
            PresenceEvent::PresenceHeartbeatReceived(e) => {
                if self.owner.is_none() {
                    self.owner = Some(Owner {
                        tenant: e.tenant,
                        user: e.user_id,
                    });
                }
            }
        }
    }
}
