//! What projections tell the gateway after each committed batch.

use chrono::{DateTime, Utc};
use domain::actor::Role;
use domain::call::{LeaveReason, RoomName};
use domain::ids::{ConversationId, TenantId, UserId};
use store::{Position, RecordedEvent};

use crate::calls::SegmentView;
use crate::conversation_messages::MessageView;
use crate::swarm_steps::SwarmStepView;

/// One change, published only after the read models that reflect it are
/// committed: a client told of it can query it at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub position: Position,
    /// The socket whose command caused the change (left out of echoes).
    pub origin_socket: Option<String>,
    /// When the event was recorded (stale ephemeral signals can be dropped).
    pub recorded_at: DateTime<Utc>,
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    MessagePosted(MessageView),
    ParticipantJoined {
        tenant: TenantId,
        conversation_id: ConversationId,
        user_id: UserId,
        user_name: String,
        role: Role,
        at: DateTime<Utc>,
    },
    ParticipantLeft {
        tenant: TenantId,
        conversation_id: ConversationId,
        user_id: UserId,
        user_name: String,
        at: DateTime<Utc>,
    },
    Typing {
        tenant: TenantId,
        conversation_id: ConversationId,
        user_id: UserId,
        user_name: String,
        started: bool,
        at: DateTime<Utc>,
    },
    CallParticipantJoined {
        tenant: TenantId,
        room_name: RoomName,
        session: u64,
        user_id: UserId,
        user_name: String,
        at: DateTime<Utc>,
    },
    CallParticipantLeft {
        tenant: TenantId,
        room_name: RoomName,
        session: u64,
        user_id: UserId,
        user_name: String,
        reason: LeaveReason,
        at: DateTime<Utc>,
    },
    TranscriptSegmentRecorded(SegmentView),
    SwarmStepRecorded(SwarmStepView),
}

impl Update {
    pub(crate) fn from_event(event: &RecordedEvent, change: Change) -> Self {
        Self {
            position: event.position,
            origin_socket: event.meta("socket_id").map(str::to_owned),
            recorded_at: event.recorded_at,
            change,
        }
    }
}
