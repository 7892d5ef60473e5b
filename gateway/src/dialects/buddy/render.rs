//! buddy's outbound payload shapes.

use chrono::{DateTime, Utc};
use domain::Room;
use domain::actor::Role;
use domain::conversation::MessageKind;
use domain::ids::UserId;
use projections::conversation_messages::MessageView;
use serde_json::{Value, json};

use super::UserRole;
use crate::wire_time;

/// A message as the seed's `Message` shows it: `{id, conversationId,
/// fromUserId, fromRole, content, type, timestamp, isVisible}`.
pub struct Message<'a> {
    pub id: &'a str,
    pub room: &'a Room,
    pub from: &'a UserId,
    pub role: Role,
    pub content: &'a str,
    pub kind: &'a str,
    pub at: DateTime<Utc>,
    pub hidden: bool,
}

impl Message<'_> {
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "conversationId": self.room.id.as_str(),
            "fromUserId": self.from.as_str(),
            "fromRole": from_role(self.role, self.kind),
            "content": self.content,
            "type": self.kind,
            "timestamp": wire_time(self.at),
            "isVisible": !self.hidden,
        })
    }
}

/// A message of the read model, in its current state (a deleted one has
/// empty content).
pub fn message(m: &MessageView) -> Value {
    Message {
        id: m.message_id.as_str(),
        room: &m.room,
        from: &m.author_id,
        role: m.author_role,
        content: &m.content,
        kind: &m.content_type,
        at: m.created_at,
        hidden: m.hidden,
    }
    .render()
}

/// A robot's message shows as `robot` whoever posted it; others as their
/// author's role.
fn from_role(role: Role, kind: &str) -> Option<&'static str> {
    if kind == MessageKind::Robot.as_str() {
        return Some(UserRole::Robot.as_str());
    }
    UserRole::of(role).map(UserRole::as_str)
}

/// The seed's `Participant`: `{userId, userRole, joinedAt}`.
pub fn participant(user: &UserId, role: Option<Role>, joined_at: Option<DateTime<Utc>>) -> Value {
    json!({
        "userId": user.as_str(),
        "userRole": role.and_then(UserRole::of).map(UserRole::as_str),
        "joinedAt": joined_at.map(wire_time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::conversation::Kind;
    use domain::ids::{ConversationId, TenantId};

    fn room() -> Room {
        Room::new(
            TenantId::parse("acme").unwrap(),
            Kind::Conversation,
            ConversationId::parse("c1").unwrap(),
        )
    }

    #[test]
    fn a_message_has_the_seeds_fields_and_robot_messages_show_as_robot() {
        let room = room();
        let agent = UserId::parse("bob").unwrap();
        let at = "2026-11-22T09:00:00.123Z".parse().unwrap();
        let text = Message {
            id: "msg_1",
            room: &room,
            from: &agent,
            role: Role::Agent,
            content: "hello",
            kind: "text",
            at,
            hidden: false,
        };
        assert_eq!(
            text.render(),
            json!({
                "id": "msg_1",
                "conversationId": "c1",
                "fromUserId": "bob",
                "fromRole": "cx-agent",
                "content": "hello",
                "type": "text",
                "timestamp": "2026-11-22T09:00:00.123Z",
                "isVisible": true,
            })
        );
        let robot = Message {
            kind: "robot",
            hidden: true,
            ..text
        }
        .render();
        assert_eq!(robot["fromRole"], "robot");
        assert_eq!(robot["isVisible"], false);
    }
}
