//! The customer's rooms and conversations: `enter_customer_support`,
//! `enter_support`, `leave_support`, `support`, `mark_conversation_read`,
//! `close_support`, `review_support`.

use domain::actor::Actor;
use domain::conversation::{Action, EndReason, Kind, NewMessage, Rating, Remark, SupportDetails};
use domain::ids::{ChatbotId, ConversationId, MessageId, SessionId};
use domain::message::{MessageBody, MessageMetadata};
use projections::Room;
use projections::conversation_messages::{self, Cursor, Visibility};
use projections::support::{self, SupportView};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use uuid::Uuid;

use super::{CHATBOT, Event, MAX_OPEN, conversation_room, optional_text, session_id, text};
use crate::error::WireError;
use crate::wire_time;

/// What a customer is told when their conversation is closed.
const CLOSED: &str = "Thank you for using our support. Your conversation has been closed.";

pub async fn enter_customer(event: &Event) -> Result<(), WireError> {
    event.session()?;
    event.answer("Joined customer support room", json!({}));
    Ok(())
}

pub async fn enter(event: &Event) -> Result<(), WireError> {
    let raw = event.text("ticket_chat_id")?;
    let view = match event.hd.staff() {
        // Staff may follow any conversation of their tenant.
        Some(staff) => {
            let id = ticket_id(&raw)?;
            event.state.read_your_writes(support::NAME).await;
            support::get(event.state.log.db(), &staff.tenant, &id)
                .await?
                .ok_or_else(|| unknown(&raw))?
        }
        None => ticket(event, &raw).await?.view,
    };
    event
        .socket
        .join(conversation_room(&view.room.tenant, &view.room.id));
    event.answer("Joined support room", json!({}));
    Ok(())
}

pub async fn leave(event: &Event) -> Result<(), WireError> {
    let id = ticket_id(&event.text("ticket_chat_id")?)?;
    event
        .socket
        .leave(conversation_room(&event.hd.tenant(), &id));
    event.answer("Left support room", json!({}));
    Ok(())
}

/// A `ticket_chat_id` (no IO).
pub(super) fn ticket_id(raw: &str) -> Result<ConversationId, WireError> {
    ConversationId::parse(raw)
        .map_err(|e| WireError::validation(format!("invalid ticket_chat_id: {e}")))
}

/// The session an event names, if it names one (else it is the socket's);
/// as [`Event::bound_or_named`] reads it (no IO).
pub(super) fn named_session(data: &Value) -> Result<Option<SessionId>, WireError> {
    match data.get("session_id") {
        Some(Value::String(_)) => session_id(data).map(Some),
        _ => Ok(None),
    }
}

/// The one answer for a conversation that is not the socket's, whether it
/// is another customer's, another tenant's or nobody's.
fn unknown(raw: &str) -> WireError {
    WireError::not_found(format!("no conversation {raw} for this session"))
}

/// The conversation `raw` and the customer acting on it, if it is the
/// socket's customer's: opened under the session the event names or the
/// socket serves, by the user that session is (see the module's comment
/// on ownership). A socket that has named no session yet takes the
/// conversation's, if its customer owns it: the seed's clients may send
/// `enter_support` first (socket.io-client sends emits buffered while
/// connecting before its `connect` handler names the session, and events
/// run concurrently). Whose it is is settled before its state counts for
/// anything, and every refusal is the same: another's conversation cannot
/// be told from one that does not exist.
pub async fn ticket(event: &Event, raw: &str) -> Result<Ticket, WireError> {
    let id = ticket_id(raw)?;
    let named = event.named_or_bound()?;
    event.state.read_your_writes(support::NAME).await;
    let view = support::get(event.state.log.db(), &event.hd.tenant(), &id)
        .await?
        .ok_or_else(|| unknown(raw))?;
    let Some(opened_under) = view.session_id.clone() else {
        return Err(unknown(raw));
    };
    let (session, customer) = match named.clone() {
        Some(named) => named,
        None => {
            let customer = event.hd.customer(&opened_under)?;
            (opened_under.clone(), customer)
        }
    };
    if session != opened_under || customer.user != view.user_id {
        return Err(unknown(raw));
    }
    if named.is_none() {
        event.hd.bind(&session)?;
    }
    Ok(Ticket {
        view,
        session,
        customer,
    })
}

/// A conversation of the socket's customer.
pub struct Ticket {
    pub view: SupportView,
    pub session: SessionId,
    pub customer: Actor,
}

/// One lock per (tenant, session, owner): counting open conversations and
/// opening one happen as one step on this node.
static OPENING: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

/// Open a conversation for the session, unless it has [`MAX_OPEN`] open.
pub(super) async fn open(
    event: &Event,
    session: &SessionId,
    actor: &Actor,
) -> Result<ConversationId, WireError> {
    let key = format!("{}\n{session}\n{}", actor.tenant, actor.user);
    let lock = OPENING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key.clone())
        .or_default()
        .clone();
    let outcome = async {
        let _turn = lock.lock().await;
        event.state.read_your_writes(support::NAME).await;
        let open =
            support::open_for_customer(event.state.log.db(), &actor.tenant, session, &actor.user)
                .await?;
        if open >= MAX_OPEN {
            return Err(WireError::validation(format!(
                "this session has {open} open conversations, the most allowed: close one (close_support) first"
            )));
        }
        let id = ConversationId::parse(format!("hd-{}", Uuid::now_v7().simple()))?;
        let details = SupportDetails {
            chatbot_id: Some(ChatbotId::parse(CHATBOT)?),
            session_id: Some(session.clone()),
            user_agent: header(event, "user-agent"),
            ip_address: header(event, "x-forwarded-for")
                .and_then(|l| l.split(',').next().map(|ip| ip.trim().to_owned())),
            referrer: None,
        };
        event.state.commands.on_conversation(&event.origin_as(actor), "open", &event.room(&id), Action::Start(details), None).await?;
        // Counted from now on.
        event.state.read_your_writes(support::NAME).await;
        Ok(id)
    }
    .await;
    // Forget the lock once nobody else holds it.
    let mut locks = OPENING.lock().unwrap_or_else(PoisonError::into_inner);
    if locks.get(&key).is_some_and(|l| Arc::strong_count(l) <= 2) {
        locks.remove(&key);
    }
    outcome
}

fn header(event: &Event, name: &str) -> Option<String> {
    event
        .socket
        .req_parts()
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(SupportDetails::clip)
}

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

pub async fn support(event: &Event) -> Result<(), WireError> {
    let (session, actor) = event.session()?;
    let SupportRequest {
        body,
        attachment,
        metadata,
        ticket: named,
    } = support_request(&event.data)?;
    let id = match named {
        Some(raw) => {
            let view = ticket(event, &raw).await?.view;
            if view.status.is_over() {
                return Err(WireError::new(
                    "INVALID_STATE",
                    format!("conversation {raw} is {}: start a new one", view.status),
                ));
            }
            view.room.id
        }
        None => open(event, &session, &actor).await?,
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
    event
        .state
        .commands
        .on_conversation(
            &event.origin_as(&actor),
            "support",
            &event.room(&id),
            Action::PostMessage(message),
            None,
        )
        .await?;
    event.answer_as(
        "support_echo",
        "support_echo",
        json!({ "ticket_chat_id": id.as_str() }),
    );
    Ok(())
}

pub async fn mark_read(event: &Event) -> Result<(), WireError> {
    let Ticket {
        view,
        customer: actor,
        ..
    } = ticket(event, &event.text("ticket_chat_id")?).await?;
    entity(&event.data)?;
    let room = Room::new(
        view.room.tenant.clone(),
        Kind::Conversation,
        view.room.id.clone(),
    );
    event
        .state
        .read_your_writes(conversation_messages::NAME)
        .await;
    let latest = conversation_messages::page(
        event.state.log.db(),
        &room,
        Visibility::Everyone,
        &Cursor::Latest,
        1,
    )
    .await?;
    if let Some(last) = latest.messages.last() {
        event
            .state
            .commands
            .on_conversation(
                &event.origin_as(&actor),
                "mark_conversation_read",
                &event.room(&room.id),
                Action::MarkRead {
                    ids: vec![last.message_id.clone()],
                },
                None,
            )
            .await?;
    }
    event.answer("Marked as read", json!({}));
    Ok(())
}

/// A read mark's `entity`: this side marks as the customer (no IO).
pub(super) fn entity(data: &Value) -> Result<(), WireError> {
    if text(data, "entity")? != "customer" {
        return Err(WireError::validation(
            "entity must be \"customer\" on a customer-side connection",
        ));
    }
    Ok(())
}

pub async fn close(event: &Event) -> Result<(), WireError> {
    let Ticket {
        view,
        customer: actor,
        ..
    } = ticket(event, &event.text("ticket_chat_id")?).await?;
    event
        .state
        .commands
        .on_conversation(
            &event.origin_as(&actor),
            "close_support",
            &event.room(&view.room.id),
            Action::End {
                reason: EndReason::UserEnded,
                idle_since: None,
            },
            None,
        )
        .await?;
    let now = wire_time(chrono::Utc::now());
    event.answer(
        "Support conversation closed",
        json!({
            "message": CLOSED,
            "ticket_chat_id": view.room.id.as_str(),
            "sender": "sate",
            "attachment": false,
            "attachment_metadata": null,
            "close_support": true,
            "closed_support": true,
            "date_created": now,
            "date_updated": now,
        }),
    );
    Ok(())
}

pub async fn review(event: &Event) -> Result<(), WireError> {
    let Ticket {
        view,
        customer: actor,
        ..
    } = ticket(event, &event.text("ticket_chat_id")?).await?;
    let (rating, review, comment) = review_request(&event.data)?;
    event
        .state
        .commands
        .on_conversation(
            &event.origin_as(&actor),
            "review_support",
            &event.room(&view.room.id),
            Action::Rate { rating, comment },
            None,
        )
        .await?;
    event.answer(
        "Review noted",
        json!({
            "rating": rating.as_str(),
            "review": review,
            "ticket_chat_id": view.room.id.as_str(),
        }),
    );
    Ok(())
}

/// A review: its stars, its text as sent, and that text as a remark (no
/// IO).
pub(super) fn review_request(
    data: &Value,
) -> Result<(Rating, Option<String>, Option<Remark>), WireError> {
    let raw = match data.get("rating") {
        Some(Value::String(s)) => s.clone(),
        // A number is what many clients send for "5".
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(WireError::validation("rating (\"1\" to \"5\") is required")),
    };
    let rating = Rating::parse_stars(&raw)?;
    let review = optional_text(data, "review")?;
    let comment = review
        .as_deref()
        .map(|r| Remark::parse("review", r))
        .transpose()?;
    Ok((rating, review, comment))
}
