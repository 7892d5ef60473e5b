//! What projections tell the gateway after each committed batch.

use chrono::{DateTime, Utc};
use domain::Room;
use domain::actor::Role;
use domain::call::{LeaveReason, RoomName};
use domain::conversation::{ChannelChangeSet, ChannelInfo};
use domain::ids::{MessageId, TenantId, UserId};
use domain::presence::{PresenceReason, PresenceStatus};
use serde_json::Value;
use store::{Position, RecordedEvent};

// The views only: `update` depends on no projection.
use crate::views::call::SegmentView;
use crate::views::message::{MessageView, PostedMessage};
use crate::views::support::{QueueEntry, SupportChange, SupportView};
use crate::views::swarm::SwarmStepView;

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
    /// A conversation or channel was opened (created).
    Opened {
        room: Room,
        opened_by: UserId,
        /// The opener's role (the opener is its first participant).
        opened_by_role: Role,
        at: DateTime<Utc>,
    },
    MessagePosted(PostedMessage),
    MessageEdited {
        room: Room,
        message_id: MessageId,
        content: String,
        metadata: Option<Value>,
        edited_by: UserId,
        edited_by_name: String,
        at: DateTime<Utc>,
    },
    MessageDeleted {
        room: Room,
        message_id: MessageId,
        deleted_by: UserId,
        deleted_by_name: String,
        at: DateTime<Utc>,
    },
    Reaction {
        room: Room,
        message_id: MessageId,
        emoji: String,
        user_id: UserId,
        user_name: String,
        added: bool,
        at: DateTime<Utc>,
    },
    MessagesRead {
        room: Room,
        user_id: UserId,
        user_name: String,
        message_ids: Vec<MessageId>,
        at: DateTime<Utc>,
    },
    ParticipantJoined {
        room: Room,
        user_id: UserId,
        user_name: String,
        role: Role,
        at: DateTime<Utc>,
    },
    ParticipantLeft {
        room: Room,
        user_id: UserId,
        user_name: String,
        /// `None` for leaves recorded before events carried it.
        role: Option<Role>,
        at: DateTime<Utc>,
    },
    Typing {
        room: Room,
        user_id: UserId,
        user_name: String,
        started: bool,
        /// `None` for signals recorded before roles were kept.
        role: Option<Role>,
        at: DateTime<Utc>,
    },
    ChannelUpdated {
        room: Room,
        changes: ChannelChangeSet,
        channel: ChannelInfo,
        updated_by: UserId,
        updated_by_name: String,
        at: DateTime<Utc>,
    },
    /// A user's status (or notes) changed; heartbeats are not published.
    PresenceChanged {
        tenant: TenantId,
        user_id: UserId,
        user_name: String,
        status: PresenceStatus,
        custom_status: Option<String>,
        status_text: Option<String>,
        reason: PresenceReason,
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
    /// A support conversation's status, agent, rating or metadata changed;
    /// `view` is the conversation after the change.
    Support {
        view: Box<SupportView>,
        change: SupportChange,
        at: DateTime<Utc>,
        /// The tenant's queue once the batch was applied, first in line
        /// first.
        queue: Vec<QueueEntry>,
    },
    /// A tenant's queue moved (someone joined, left or was served): every
    /// waiting conversation with its position, first in line first.
    QueueMoved {
        tenant: TenantId,
        queue: Vec<QueueEntry>,
    },
    /// A robot's message was shared: customers see it from now on.
    MessageShared(MessageView),
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
