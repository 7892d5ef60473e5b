//! What a call session, its participants and its transcript look like to
//! readers and in updates: plain values, no projection code.

use chrono::{DateTime, Utc};
use domain::actor::Role;
use domain::call::{LeaveReason, RoomName};
use domain::ids::{TenantId, UserId};
use store::Position;

/// One transcript segment, as queries and updates present it.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentView {
    pub tenant: TenantId,
    pub room_name: RoomName,
    pub session: u64,
    pub position: Position,
    /// The participant who sent it.
    pub user_id: UserId,
    pub user_name: String,
    pub speaker: String,
    pub text: String,
    pub is_final: bool,
    pub confidence: Option<f64>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    Active,
    Ended,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Active => "active",
            CallStatus::Ended => "ended",
        }
    }
}

/// Someone who took part in a session (and may have left it).
#[derive(Debug, Clone, PartialEq)]
pub struct CallParticipantView {
    pub user_id: UserId,
    pub user_name: String,
    pub role: Role,
    /// When they first joined this session.
    pub joined_at: DateTime<Utc>,
    /// When they last left, unless they are still in the call.
    pub left_at: Option<DateTime<Utc>>,
    pub leave_reason: Option<LeaveReason>,
}

/// One session of a call room, with its participants and its transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSessionView {
    pub session: u64,
    pub status: CallStatus,
    pub started_by: UserId,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// In the order they first joined.
    pub participants: Vec<CallParticipantView>,
    /// In the order they were recorded.
    pub segments: Vec<SegmentView>,
}
