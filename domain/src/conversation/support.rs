//! The support life of a conversation: its status, who handles it, how it
//! ended and how the customer rated it (the chatbot seed's
//! `ConversationStatus`, `IConversation` timestamps and metrics).
//!
//! ```text
//! new ──first customer message──▶ active (ai when opened for support)
//! new | active | ai ──escalate──▶ queued ──claim / agent joins / auto──▶ agent
//! agent ──escalate (its agent or staff)──▶ escalated ──supervisor claims──▶ agent
//! any but ended/closed ──end──▶ ended ──close (staff)──▶ closed
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::DomainError;
use crate::Timestamp;
use crate::ids::{ChatbotId, SessionId, UserId};

/// The chatbot seed's `ConversationStatus`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Opened, nothing said yet.
    #[default]
    New,
    /// The customer spoke; no chatbot, no agent.
    Active,
    /// The customer spoke in a support conversation; the assistant handles it.
    Ai,
    /// Waiting for an agent.
    Queued,
    /// An agent handles it.
    Agent,
    /// Its agent handed it up: waiting for a supervisor.
    Escalated,
    Ended,
    /// Ended and wrapped up by staff.
    Closed,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::New,
        Status::Active,
        Status::Ai,
        Status::Queued,
        Status::Agent,
        Status::Escalated,
        Status::Ended,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Active => "active",
            Status::Ai => "ai",
            Status::Queued => "queued",
            Status::Agent => "agent",
            Status::Escalated => "escalated",
            Status::Ended => "ended",
            Status::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                DomainError::invalid(
                    "status",
                    format!(
                        "unknown status {raw:?} (new, active, ai, queued, agent, escalated, ended, closed)"
                    ),
                )
            })
    }

    /// Ended or closed: nothing more happens in it.
    pub fn is_over(self) -> bool {
        matches!(self, Status::Ended | Status::Closed)
    }

    /// Waiting in the queue for a human.
    pub fn is_waiting(self) -> bool {
        matches!(self, Status::Queued | Status::Escalated)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a conversation ended (the seed's `conversation-ended` reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    UserEnded,
    AgentEnded,
    Timeout,
    Resolved,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::UserEnded => "user_ended",
            EndReason::AgentEnded => "agent_ended",
            EndReason::Timeout => "timeout",
            EndReason::Resolved => "resolved",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        Ok(match raw {
            "user_ended" => EndReason::UserEnded,
            "agent_ended" => EndReason::AgentEnded,
            "timeout" => EndReason::Timeout,
            "resolved" => EndReason::Resolved,
            other => {
                return Err(DomainError::invalid(
                    "reason",
                    format!(
                        "unknown reason {other:?} (user_ended, agent_ended, timeout, resolved)"
                    ),
                ));
            }
        })
    }
}

/// The customer's verdict: the chatbot seed's `good` or `bad`, or the
/// helpdesk seed's 1 to 5 stars. Stored as its wire text (`"good"`, `"4"`),
/// so ratings recorded before stars existed load unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Rating {
    Good,
    Bad,
    /// 1 to 5 (parsed: never out of range).
    Stars(u8),
}

impl Rating {
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Good => "good",
            Rating::Bad => "bad",
            Rating::Stars(n) => ["1", "2", "3", "4", "5"][usize::from(n.clamp(1, 5)) - 1],
        }
    }

    /// The chatbot seed's verdict: `good` or `bad`.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw {
            "good" => Ok(Rating::Good),
            "bad" => Ok(Rating::Bad),
            other => Err(DomainError::invalid(
                "rating",
                format!("must be \"good\" or \"bad\", not {other:?}"),
            )),
        }
    }

    /// The helpdesk seed's stars: `"1"` to `"5"`.
    pub fn parse_stars(raw: &str) -> Result<Self, DomainError> {
        match raw {
            "1" | "2" | "3" | "4" | "5" => Ok(Rating::Stars(raw.as_bytes()[0] - b'0')),
            other => Err(DomainError::invalid(
                "rating",
                format!("must be \"1\" to \"5\", not {other:?}"),
            )),
        }
    }

    /// Either form, as stored.
    pub fn from_stored(raw: &str) -> Result<Self, DomainError> {
        Self::parse(raw).or_else(|_| Self::parse_stars(raw))
    }

    /// Counts as a satisfied customer (CSAT): good, or 4 and 5 stars.
    pub fn is_satisfied(self) -> bool {
        match self {
            Rating::Good => true,
            Rating::Bad => false,
            Rating::Stars(n) => n >= 4,
        }
    }
}

impl TryFrom<String> for Rating {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, DomainError> {
        Self::from_stored(&raw)
    }
}

impl From<Rating> for String {
    fn from(rating: Rating) -> String {
        rating.as_str().to_owned()
    }
}

/// A short free text from a person: a rating's comment, an escalation's
/// reason. At most 2,000 characters, no control characters other than line
/// breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remark(String);

impl Remark {
    pub const MAX_CHARS: usize = 2_000;

    pub fn parse(field: &'static str, raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw = raw.into();
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::invalid(
                field,
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(DomainError::invalid(
                field,
                "must not contain control characters",
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Remark> for String {
    fn from(c: Remark) -> String {
        c.0
    }
}

/// What a widget tells about the visitor when it opens a conversation (the
/// seed's `IConversation.metadata`, with the chatbot and session).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chatbot_id: Option<ChatbotId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
}

impl SupportDetails {
    /// The longest user agent, address or referrer kept; longer ones are cut
    /// (they are informational, and come from headers).
    pub const MAX_FIELD_CHARS: usize = 512;

    /// Clip a header-borne value to something safe to store.
    pub fn clip(raw: &str) -> Option<String> {
        let clean: String = raw
            .chars()
            .filter(|c| !c.is_control())
            .take(Self::MAX_FIELD_CHARS)
            .collect();
        (!clean.is_empty()).then_some(clean)
    }
}

/// How an agent came to handle a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Assignment {
    /// The agent claimed it.
    Claimed,
    /// The agent joined it while it waited.
    Joined,
    /// Auto-assignment picked the agent.
    Auto,
    /// A supervisor or admin assigned it.
    Assigned,
}

/// The kind of a posted message (buddy's `MessageType`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    #[default]
    Text,
    /// A notice by staff or the system.
    System,
    /// A robot's suggestion, seen by staff only until shared.
    Robot,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::System => "system",
            MessageKind::Robot => "robot",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw {
            "text" => Ok(MessageKind::Text),
            "system" => Ok(MessageKind::System),
            "robot" => Ok(MessageKind::Robot),
            other => Err(DomainError::invalid(
                "type",
                format!("unknown message type {other:?} (text, system, robot)"),
            )),
        }
    }
}

/// The support facts later decisions need.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct SupportState {
    pub status: Status,
    /// Opened for support (with [`SupportDetails`]): handled by the
    /// assistant first. (The name is kept: snapshots carry it.)
    pub chatbot: bool,
    pub opened_at: Option<Timestamp>,
    pub last_activity: Option<Timestamp>,
    pub queued_at: Option<Timestamp>,
    pub agent: Option<UserId>,
    pub agent_name: Option<String>,
    pub assigned_at: Option<Timestamp>,
    /// Has staff answered yet (for the first response time)?
    pub answered: bool,
    pub rating: Option<(Rating, Option<String>)>,
    /// The merged metadata's per-key sizes (no serde default: older
    /// snapshots are replayed, so that the sizes come from the events).
    pub metadata: super::metadata::MetadataSizes,
}

/// Whole seconds from `from` to `to`, never negative.
pub(super) fn seconds(from: Timestamp, to: Timestamp) -> i64 {
    (to - from).num_seconds().max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_wire_names() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()).unwrap(), status);
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        assert!(Status::parse("open").is_err());
    }

    #[test]
    fn end_reasons_and_ratings_parse_only_the_seeds_values() {
        assert_eq!(
            EndReason::parse("user_ended").unwrap(),
            EndReason::UserEnded
        );
        assert_eq!(
            serde_json::to_value(EndReason::AgentEnded).unwrap(),
            "agent_ended"
        );
        assert!(EndReason::parse("bored").is_err());
        assert_eq!(Rating::parse("bad").unwrap(), Rating::Bad);
        assert!(Rating::parse("meh").is_err());
        assert!(Rating::parse("5").is_err(), "the chatbot seed has no stars");
        assert_eq!(Rating::parse_stars("4").unwrap(), Rating::Stars(4));
        assert!(Rating::parse_stars("0").is_err() && Rating::parse_stars("6").is_err());
        for rating in [
            Rating::Good,
            Rating::Bad,
            Rating::Stars(1),
            Rating::Stars(5),
        ] {
            let json = serde_json::to_string(&rating).unwrap();
            assert_eq!(
                serde_json::from_str::<Rating>(&json).unwrap(),
                rating,
                "{json}"
            );
        }
        assert_eq!(serde_json::to_string(&Rating::Good).unwrap(), "\"good\"");
        assert!(Rating::Stars(4).is_satisfied() && !Rating::Stars(3).is_satisfied());
    }

    #[test]
    fn a_comment_is_bounded_and_free_of_control_characters() {
        assert!(Remark::parse("comment", "great\nthanks").is_ok());
        assert!(Remark::parse("comment", "x".repeat(2_001)).is_err());
        assert!(Remark::parse("reason", "a\u{0}b").is_err());
    }

    #[test]
    fn header_values_are_clipped_and_cleaned() {
        assert_eq!(
            SupportDetails::clip("Mozilla\u{7}/5.0").unwrap(),
            "Mozilla/5.0"
        );
        assert_eq!(
            SupportDetails::clip(&"a".repeat(600)).unwrap().len(),
            SupportDetails::MAX_FIELD_CHARS
        );
        assert_eq!(SupportDetails::clip("\u{1}"), None);
    }

    #[test]
    fn message_kinds_parse_buddys_types() {
        assert_eq!(MessageKind::parse("robot").unwrap(), MessageKind::Robot);
        assert!(MessageKind::parse("image").is_err());
    }
}

/// Properties of the support parsers, over generated inputs.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_remark_is_bounded_in_characters_and_kept_as_given(c in any::<char>(), n in 1990usize..2010) {
            let raw: String = std::iter::repeat_n(c, n).collect();
            let allowed = !c.is_control() || matches!(c, '\n' | '\r' | '\t');
            let outcome = Remark::parse("comment", raw.clone());
            prop_assert_eq!(outcome.is_ok(), allowed && n <= Remark::MAX_CHARS);
            if let Ok(remark) = outcome {
                prop_assert_eq!(remark.as_str(), raw.as_str());
            }
        }

        #[test]
        fn ratings_round_trip_through_their_wire_names(raw in "\\PC{0,6}|[1-5]|good|bad") {
            for parsed in [Rating::parse(&raw), Rating::parse_stars(&raw)].into_iter().flatten() {
                prop_assert_eq!(parsed.as_str(), raw.as_str());
                prop_assert_eq!(Rating::from_stored(parsed.as_str()).unwrap(), parsed);
            }
        }
    }
}
