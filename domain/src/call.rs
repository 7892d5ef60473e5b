//! The `Call` aggregate: who is in a call room, and what was said there.
//!
//! One aggregate per call room, stream `call/{tenant}/{roomName}`. Rules:
//! - callers whose role may take part ([`Role::may_participate`]) may join;
//!   joining twice changes nothing;
//! - a call room belongs to what its name names in the tenant when its
//!   first call starts: a conversation, else a channel, else nothing (a
//!   standalone room); that [`Venue`] is recorded and never changes, so a
//!   conversation opened later under a standalone room's name does not make
//!   it that conversation's call;
//! - staff (agent, supervisor, admin) may join any call room of their
//!   tenant; a customer only the call of a conversation they take part in,
//!   or of a channel they are a member of, and never a standalone room: a
//!   room's membership is its conversation's or channel's, and a room that
//!   belongs to nothing has no members to admit a customer by (anyone who
//!   guessed its name would otherwise hear another customer's call);
//! - only current participants may add transcript segments;
//! - leaving when not in the call changes nothing;
//! - when the last participant leaves, the call ends;
//! - a join after the end starts the room's next session: sessions are
//!   numbered 1, 2, 3… and every event names its session, so the
//!   transcripts of two sessions of one room never mix.
//!
//! Participation is per user, not per connection: a user in the call from
//! two devices is one participant, and either device leaving ends it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::actor::{Actor, Role};
use crate::ids::{TenantId, UserId, parse_key};
use crate::{DomainError, Timestamp};

#[cfg(test)]
mod tests;

/// Schema version of every call event; bump per type with an upcaster.
pub const SCHEMA_VERSION: u32 = 1;

/// Every stream of this aggregate starts with this.
pub const STREAM_PREFIX: &str = "call/";

/// The name of a call room (the seed's `roomName`): 1 to 128 letters,
/// digits and `_ - . @`, so it fits into room and stream names unambiguously.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

impl RoomName {
    pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw = raw.into();
        parse_key("roomName", &raw)?;
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoomName {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<RoomName> for String {
    fn from(name: RoomName) -> String {
        name.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a participant left: they said so, or their connection went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaveReason {
    Left,
    Disconnected,
}

impl LeaveReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LeaveReason::Left => "left",
            LeaveReason::Disconnected => "disconnected",
        }
    }
}

impl FromStr for LeaveReason {
    type Err = DomainError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "left" => Ok(LeaveReason::Left),
            "disconnected" => Ok(LeaveReason::Disconnected),
            other => Err(DomainError::invalid(
                "reason",
                format!("unknown leave reason {other:?} (left, disconnected)"),
            )),
        }
    }
}

impl fmt::Display for LeaveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of live transcription: who spoke (at most 200 characters, no
/// control characters; may be empty when the recognizer cannot tell), what
/// was said (1 to 10,000 characters, not blank, no control characters but
/// tab and line breaks), whether the recognizer will still revise it, and
/// how sure it is (0 to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptSegment {
    speaker: String,
    text: String,
    is_final: bool,
    confidence: Option<f64>,
}

impl TranscriptSegment {
    pub const MAX_SPEAKER_CHARS: usize = 200;
    pub const MAX_TEXT_CHARS: usize = 10_000;

    pub fn parse(
        speaker: impl Into<String>,
        text: impl Into<String>,
        is_final: bool,
        confidence: Option<f64>,
    ) -> Result<Self, DomainError> {
        let (speaker, text) = (speaker.into(), text.into());
        if speaker.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "segment.speaker",
                "must not contain control characters",
            ));
        }
        if speaker.chars().nth(Self::MAX_SPEAKER_CHARS).is_some() {
            return Err(DomainError::invalid(
                "segment.speaker",
                format!("must be at most {} characters", Self::MAX_SPEAKER_CHARS),
            ));
        }
        if text.trim().is_empty() {
            return Err(DomainError::invalid(
                "segment.text",
                "must not be empty or blank",
            ));
        }
        // NUL in particular cannot be stored in a PostgreSQL text column.
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(DomainError::invalid(
                "segment.text",
                "must not contain control characters other than tab and line breaks",
            ));
        }
        if text.chars().nth(Self::MAX_TEXT_CHARS).is_some() {
            return Err(DomainError::invalid(
                "segment.text",
                format!("must be at most {} characters", Self::MAX_TEXT_CHARS),
            ));
        }
        if let Some(c) = confidence
            && !(0.0..=1.0).contains(&c)
        {
            return Err(DomainError::invalid(
                "segment.confidence",
                format!("must be between 0 and 1 (got {c})"),
            ));
        }
        Ok(Self {
            speaker,
            text,
            is_final,
            confidence,
        })
    }

    pub fn speaker(&self) -> &str {
        &self.speaker
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_final(&self) -> bool {
        self.is_final
    }

    pub fn confidence(&self) -> Option<f64> {
        self.confidence
    }
}

/// What a call room belongs to (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Venue {
    /// The conversation whose id is the room's name.
    Conversation,
    /// The channel whose id is the room's name.
    Channel,
    /// Neither: a room of its own, for staff.
    Standalone,
}

/// What the caller's tenant has under a room's name, and whether the caller
/// takes part in it: facts the gateway looks up when someone asks to join
/// (the aggregate does no IO). `None`: there is no such conversation
/// (channel); `Some(true)`: there is, and the caller is one of its
/// participants (members).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Membership {
    pub conversation: Option<bool>,
    pub channel: Option<bool>,
}

impl Membership {
    /// The venue a room named so would belong to if its first call started
    /// now: a conversation first (a support conversation's call is the
    /// stricter case when a channel shares its id).
    pub fn venue(self) -> Venue {
        if self.conversation.is_some() {
            Venue::Conversation
        } else if self.channel.is_some() {
            Venue::Channel
        } else {
            Venue::Standalone
        }
    }

    /// Does the caller take part in `venue`?
    pub fn takes_part_in(self, venue: Venue) -> bool {
        match venue {
            Venue::Conversation => self.conversation == Some(true),
            Venue::Channel => self.channel == Some(true),
            Venue::Standalone => false,
        }
    }
}

/// One command: who asks, when, of which call room, to do what.
#[derive(Debug, Clone, PartialEq)]
pub struct CallCommand {
    pub room: RoomName,
    pub actor: Actor,
    pub at: Timestamp,
    pub action: CallAction,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CallAction {
    /// Take part; the first join (of the room, or after it ended) starts a
    /// session. Carries the caller's membership of what the room's name
    /// names, for the rule on customers.
    Join(Membership),
    /// Stop taking part.
    Leave(LeaveReason),
    /// Add a segment to the transcript of the running session.
    Transcribe(TranscriptSegment),
}

/// What happened in a call room. Past tense, stable names, versioned; every
/// event names its tenant, room and session. Free text stays plain strings,
/// so an event loads forever even if later releases tighten the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CallEvent {
    CallStarted(CallStarted),
    CallParticipantJoined(CallParticipantJoined),
    CallParticipantLeft(CallParticipantLeft),
    TranscriptSegmentRecorded(TranscriptSegmentRecorded),
    CallEnded(CallEnded),
}

impl CallEvent {
    /// The stable name stored as `event_type`; equal to the serde tag.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CallStarted(_) => "CallStarted",
            Self::CallParticipantJoined(_) => "CallParticipantJoined",
            Self::CallParticipantLeft(_) => "CallParticipantLeft",
            Self::TranscriptSegmentRecorded(_) => "TranscriptSegmentRecorded",
            Self::CallEnded(_) => "CallEnded",
        }
    }

    pub fn tenant(&self) -> &TenantId {
        match self {
            Self::CallStarted(e) => &e.tenant,
            Self::CallParticipantJoined(e) => &e.tenant,
            Self::CallParticipantLeft(e) => &e.tenant,
            Self::TranscriptSegmentRecorded(e) => &e.tenant,
            Self::CallEnded(e) => &e.tenant,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallStarted {
    pub tenant: TenantId,
    pub room_name: RoomName,
    /// 1 for the room's first call, then one more per restart.
    pub session: u64,
    pub started_by: UserId,
    /// What the room belongs to (the same in every session). Absent in
    /// events recorded before rooms had one: such a room follows what its
    /// name names at each join until its next session records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue: Option<Venue>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallParticipantJoined {
    pub tenant: TenantId,
    pub room_name: RoomName,
    pub session: u64,
    pub user_id: UserId,
    pub user_name: String,
    pub role: Role,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallParticipantLeft {
    pub tenant: TenantId,
    pub room_name: RoomName,
    pub session: u64,
    pub user_id: UserId,
    pub user_name: String,
    pub reason: LeaveReason,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptSegmentRecorded {
    pub tenant: TenantId,
    pub room_name: RoomName,
    pub session: u64,
    /// The participant who sent the segment (not necessarily the speaker).
    pub user_id: UserId,
    pub user_name: String,
    pub speaker: String,
    pub text: String,
    pub is_final: bool,
    pub confidence: Option<f64>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEnded {
    pub tenant: TenantId,
    pub room_name: RoomName,
    pub session: u64,
    pub at: Timestamp,
}

/// The decision state of one call room: small (no transcript), so caching
/// and snapshotting it stays cheap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Call {
    room: Option<Room>,
    /// The running session, or the last one once it ended (0: never started).
    session: u64,
    active: bool,
    participants: BTreeSet<UserId>,
    /// Recorded by the room's first session (see [`CallStarted::venue`]);
    /// `None` for rooms from before venues (and snapshots of them).
    #[serde(default)]
    venue: Option<Venue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Room {
    tenant: TenantId,
    name: RoomName,
}

impl Call {
    /// The event-log stream of a call room. `/` cannot occur in either
    /// part, so different (tenant, room) pairs never share a stream.
    pub fn stream_id(tenant: &TenantId, room: &RoomName) -> String {
        format!("{STREAM_PREFIX}{tenant}/{room}")
    }

    /// Does this stream hold a call room's events?
    pub fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The running session, or the last one (0 when the room never had a call).
    pub fn session(&self) -> u64 {
        self.session
    }

    pub fn is_participant(&self, user: &UserId) -> bool {
        self.participants.contains(user)
    }

    /// What the room belongs to, once a session recorded it.
    pub fn venue(&self) -> Option<Venue> {
        self.venue
    }

    /// Decide what happens. Pure: no clock, no IO; refusals produce no events.
    pub fn handle(&self, cmd: CallCommand) -> Result<Vec<CallEvent>, DomainError> {
        let CallCommand {
            room,
            actor,
            at,
            action,
        } = cmd;
        // Streams are per tenant, so this only guards against a caller bug;
        // answer as if the room did not exist rather than leak it.
        if let Some(known) = &self.room
            && (known.tenant != actor.tenant || known.name != room)
        {
            return Err(DomainError::NotFound(format!("call room {room}")));
        }
        let tenant = actor.tenant.clone();
        match action {
            CallAction::Join(membership) => {
                if !actor.role.may_participate() {
                    return Err(DomainError::Forbidden(format!(
                        "the {} role cannot take part in calls",
                        actor.role
                    )));
                }
                let venue = self.venue.unwrap_or_else(|| membership.venue());
                // One answer for every refusal, so that it tells nothing
                // about another customer's conversation of that name.
                if actor.role == Role::Customer && !membership.takes_part_in(venue) {
                    return Err(DomainError::Forbidden(
                        "customers may join only the call of a conversation or channel they take part in"
                            .into(),
                    ));
                }
                if self.is_participant(&actor.user) {
                    return Ok(vec![]);
                }
                let mut events = Vec::with_capacity(2);
                let session = if self.active {
                    self.session
                } else {
                    let next = self.session + 1;
                    events.push(CallEvent::CallStarted(CallStarted {
                        tenant: tenant.clone(),
                        room_name: room.clone(),
                        session: next,
                        started_by: actor.user.clone(),
                        venue: Some(venue),
                        at,
                    }));
                    next
                };
                events.push(CallEvent::CallParticipantJoined(CallParticipantJoined {
                    tenant,
                    room_name: room,
                    session,
                    user_id: actor.user.clone(),
                    user_name: actor.display_name().to_owned(),
                    role: actor.role,
                    at,
                }));
                Ok(events)
            }
            CallAction::Leave(reason) => {
                if !self.is_participant(&actor.user) {
                    return Ok(vec![]);
                }
                let mut events = vec![CallEvent::CallParticipantLeft(CallParticipantLeft {
                    tenant: tenant.clone(),
                    room_name: room.clone(),
                    session: self.session,
                    user_id: actor.user.clone(),
                    user_name: actor.display_name().to_owned(),
                    reason,
                    at,
                })];
                if self.participants.len() == 1 {
                    events.push(CallEvent::CallEnded(CallEnded {
                        tenant,
                        room_name: room,
                        session: self.session,
                        at,
                    }));
                }
                Ok(events)
            }
            CallAction::Transcribe(segment) => {
                if !self.is_participant(&actor.user) {
                    return Err(DomainError::Forbidden(
                        "only participants of the call may send its transcription".into(),
                    ));
                }
                Ok(vec![CallEvent::TranscriptSegmentRecorded(
                    TranscriptSegmentRecorded {
                        tenant,
                        room_name: room,
                        session: self.session,
                        user_id: actor.user.clone(),
                        user_name: actor.display_name().to_owned(),
                        speaker: segment.speaker,
                        text: segment.text,
                        is_final: segment.is_final,
                        confidence: segment.confidence,
                        at,
                    },
                )])
            }
        }
    }

    /// Evolve the state. Never fails: an event that was recorded happened.
    pub fn apply(&mut self, event: CallEvent) {
        match event {
            CallEvent::CallStarted(e) => {
                self.room = Some(Room {
                    tenant: e.tenant,
                    name: e.room_name,
                });
                self.session = e.session;
                self.active = true;
                self.participants.clear();
                // The first venue recorded stays (see the module rules).
                self.venue = self.venue.or(e.venue);
            }
            CallEvent::CallParticipantJoined(e) => {
                self.participants.insert(e.user_id);
            }
            CallEvent::CallParticipantLeft(e) => {
                self.participants.remove(&e.user_id);
            }
            CallEvent::TranscriptSegmentRecorded(_) => {}
            CallEvent::CallEnded(_) => {
                self.active = false;
                self.participants.clear();
            }
        }
    }
}

// cqrs-es glue (see [`crate::cqrs`]).
crate::cqrs::pure_aggregate!(Call, "call", CallCommand, CallEvent, SCHEMA_VERSION);
