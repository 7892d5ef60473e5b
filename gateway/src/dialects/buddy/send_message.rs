//! `send_message` (`CreateMessageDto {conversationId, fromUserId, fromRole,
//! content, type?}`) → `new_message` (`Message`) to the room through the
//! projection; the ack gets the same `Message` once it is durable.
//!
//! A robot message (`fromRole: "robot"` or `type: "robot"`, staff only) is
//! hidden from customers: it reaches the conversation's staff room only,
//! with `isVisible: false`, until `share_robot_message`. `type: "system"`
//! is staff's too.

use domain::Room;
use domain::conversation::{Action, MessageKind, NewMessage};
use domain::ids::MessageId;
use domain::message::MessageBody;
use serde::Deserialize;

use super::{DIALECT, UserRole, conversation, ensure_caller, render};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateMessage {
    conversation_id: String,
    from_user_id: String,
    from_role: String,
    content: String,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The conversation, and the message with its kind, if the payload speaks
/// for the caller (no IO).
pub(super) fn decode(req: &Inbound) -> Result<(Room, MessageBody, MessageKind), WireError> {
    let request: CreateMessage = req.parse()?;
    let room = conversation(req, &request.conversation_id)?;
    let in_conversation = |e: WireError| e.in_conversation(room.id.as_str());
    let role = UserRole::parse("fromRole", &request.from_role).map_err(in_conversation)?;
    let kind = request
        .kind
        .as_deref()
        .map(MessageKind::parse)
        .transpose()
        .map_err(|e| in_conversation(e.into()))?;
    let body = MessageBody::parse(request.content).map_err(|e| in_conversation(e.into()))?;
    let kind = match (role, kind) {
        (UserRole::Robot, None | Some(MessageKind::Robot)) => MessageKind::Robot,
        (UserRole::Robot, Some(other)) => {
            return Err(in_conversation(WireError::validation(format!(
                "a robot's message is of type robot, not {}",
                other.as_str()
            ))));
        }
        (_, kind) => kind.unwrap_or_default(),
    };
    ensure_caller(req, &room, "fromUserId", &request.from_user_id)?;
    if !role.claimable_by(req.actor.role) {
        return Err(in_conversation(WireError::forbidden(format!(
            "fromRole {} does not match your role",
            role.as_str()
        ))));
    }
    Ok((room, body, kind))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let (room, body, kind) = decode(&req.inbound())?;
    let id = MessageId::generate();
    let content = body.as_str().to_owned();
    let message = NewMessage {
        id: id.clone(),
        body,
        optimistic_id: None,
        thread_id: None,
        mentions: Vec::new(),
        kind,
        provenance: None,
        metadata: None,
    };
    let at = req
        .state
        .commands
        .on_conversation(
            &req.origin(DIALECT),
            "send_message",
            &room,
            Action::PostMessage(message),
            None,
        )
        .await?
        .at;
    req.answer(
        &render::Message {
            id: id.as_str(),
            room: &room,
            from: &req.actor.user,
            role: req.actor.role,
            content: &content,
            kind: kind.as_str(),
            at,
            hidden: kind == MessageKind::Robot,
        }
        .render(),
    );
    Ok(())
}
