//! [`Room`]: the address of a conversation or channel.
//!
//! It lives here, not with the read models, because the write path names
//! conversations the same way: a command's target, an event's place and a
//! read model's key are one value.

use crate::conversation::{ConversationEvent, Kind};
use crate::ids::{ConversationId, TenantId};

/// A conversation or channel: its tenant, its kind and its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Room {
    pub tenant: TenantId,
    pub kind: Kind,
    pub id: ConversationId,
}

impl Room {
    pub fn new(tenant: TenantId, kind: Kind, id: ConversationId) -> Self {
        Self { tenant, kind, id }
    }

    /// The conversation or channel the event belongs to.
    pub fn of(event: &ConversationEvent) -> Self {
        let (tenant, kind, id) = event.place();
        Self::new(tenant.clone(), kind, id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::Role;
    use crate::conversation::{ConversationActivated, ConversationOpened, Status};
    use crate::ids::UserId;
    use crate::testing::{at, tenant};

    fn opened(kind: Kind, id: &str) -> ConversationEvent {
        ConversationEvent::ConversationOpened(ConversationOpened {
            tenant: tenant(),
            kind,
            conversation_id: ConversationId::parse(id).unwrap(),
            opened_by: UserId::parse("alice").unwrap(),
            opened_by_role: Role::Customer,
            channel: None,
            support: None,
            at: at(0),
        })
    }

    #[test]
    fn an_event_is_addressed_by_its_tenant_kind_and_id() {
        let room = Room::of(&opened(Kind::Channel, "general"));
        assert_eq!(
            room,
            Room::new(
                tenant(),
                Kind::Channel,
                ConversationId::parse("general").unwrap()
            )
        );
    }

    #[test]
    fn a_channel_and_a_conversation_with_one_id_are_two_rooms() {
        assert_ne!(
            Room::of(&opened(Kind::Channel, "c-1")),
            Room::of(&opened(Kind::Conversation, "c-1"))
        );
    }

    #[test]
    fn support_workflow_events_belong_to_conversations() {
        let event = ConversationEvent::ConversationActivated(ConversationActivated {
            tenant: tenant(),
            conversation_id: ConversationId::parse("c-1").unwrap(),
            status: Status::Active,
            at: at(1),
        });
        assert_eq!(Room::of(&event).kind, Kind::Conversation);
    }
}
