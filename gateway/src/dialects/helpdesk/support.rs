//! `support {message, session_id?, ticket_chat_id?, …}`: the customer's
//! message, opening a conversation when it names none; answered with
//! `support_echo`.

use domain::conversation::{Action, NewMessage};
use domain::ids::MessageId;
use domain::message::{MessageBody, MessageMetadata};
use serde_json::{Value, json};

use super::tickets::{open, ticket};
use super::{Request, optional_text, text};
use crate::error::{ErrorCode, WireError};

/// A `support` message, decoded and checked as far as it can be without
/// reading anything.
#[derive(Debug)]
pub(super) struct SupportRequest {
    body: MessageBody,
    attachment: bool,
    metadata: Option<Value>,
    ticket: Option<String>,
}

/// The message of a `support` event, after its session (no IO).
pub(super) fn support_request(data: &Value) -> Result<SupportRequest, WireError> {
    let text = text(data, "message")?;
    let attachment = match data.get("attachment") {
        Some(Value::Bool(b)) => *b,
        None | Some(Value::Null) => false,
        Some(_) => return Err(WireError::validation("attachment must be true or false")),
    };
    let metadata = data.get("attachment_metadata").filter(|v| !v.is_null());
    if attachment && !matches!(metadata, Some(Value::Object(_) | Value::Array(_))) {
        return Err(WireError::validation(
            "attachment_metadata (an object or array) is required when attachment is true",
        ));
    }
    let body = MessageBody::parse(text).map_err(WireError::from)?;
    let ticket = optional_text(data, "ticket_chat_id")?;
    Ok(SupportRequest {
        body,
        attachment,
        metadata: metadata.cloned(),
        ticket,
    })
}

pub async fn support(req: &Request) -> Result<(), WireError> {
    let (session, actor) = req.session()?;
    let SupportRequest {
        body,
        attachment,
        metadata,
        ticket: named,
    } = support_request(&req.data)?;
    let id = match named {
        Some(raw) => {
            let view = ticket(req, &raw).await?.view;
            if view.status.is_over() {
                return Err(WireError::new(
                    ErrorCode::InvalidState,
                    format!("conversation {raw} is {}: start a new one", view.status),
                ));
            }
            view.room.id
        }
        None => open(req, &session, &actor).await?,
    };
    // Attachment details are kept with the message, as the client sent them.
    let metadata = match (attachment, metadata) {
        (true, Some(details)) => Some(
            MessageMetadata::parse(json!({ "attachment_metadata": details }))
                .map_err(WireError::from)?,
        ),
        _ => None,
    };
    let message = NewMessage {
        metadata,
        ..NewMessage::text(MessageId::generate(), body)
    };
    req.state
        .commands
        .on_conversation(
            &req.origin_as(&actor),
            "support",
            &req.room(&id),
            Action::PostMessage(message),
            None,
        )
        .await?;
    req.answer_as(
        "support_echo",
        "support_echo",
        json!({ "ticket_chat_id": id.as_str() }),
    );
    Ok(())
}
