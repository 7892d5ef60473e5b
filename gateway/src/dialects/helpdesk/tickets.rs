//! A customer's conversations (tickets): whose a `ticket_chat_id` is, and
//! opening one within the session's limit. Shared by the events.

use domain::actor::Actor;
use domain::conversation::{Action, SupportDetails};
use domain::ids::{ChatbotId, ConversationId, SessionId};
use projections::support::{self, SupportView};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use uuid::Uuid;

use super::{CHATBOT, MAX_OPEN, Request, session_id};
use crate::error::WireError;

/// A `ticket_chat_id` (no IO).
pub(super) fn ticket_id(raw: &str) -> Result<ConversationId, WireError> {
    ConversationId::parse(raw)
        .map_err(|e| WireError::validation(format!("invalid ticket_chat_id: {e}")))
}

/// The session an event names, if it names one (else it is the socket's);
/// as [`Request::bound_or_named`] reads it (no IO).
pub(super) fn named_session(data: &Value) -> Result<Option<SessionId>, WireError> {
    match data.get("session_id") {
        Some(Value::String(_)) => session_id(data).map(Some),
        _ => Ok(None),
    }
}

/// The one answer for a conversation that is not the socket's, whether it
/// is another customer's, another tenant's or nobody's.
pub(super) fn unknown(raw: &str) -> WireError {
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
pub async fn ticket(req: &Request, raw: &str) -> Result<Ticket, WireError> {
    let id = ticket_id(raw)?;
    let named = req.named_or_bound()?;
    req.state.read_your_writes(support::NAME).await;
    let view = support::get(req.state.log.db(), &req.hd.tenant(), &id)
        .await?
        .ok_or_else(|| unknown(raw))?;
    let Some(opened_under) = view.session_id.clone() else {
        return Err(unknown(raw));
    };
    let (session, customer) = match named.clone() {
        Some(named) => named,
        None => {
            let customer = req.hd.customer(&opened_under)?;
            (opened_under.clone(), customer)
        }
    };
    if session != opened_under || customer.user != view.user_id {
        return Err(unknown(raw));
    }
    if named.is_none() {
        req.hd.bind(&session)?;
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
pub(super) static OPENING: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

/// Open a conversation for the session, unless it has [`MAX_OPEN`] open.
pub(super) async fn open(
    req: &Request,
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
        req.state.read_your_writes(support::NAME).await;
        let open =
            support::open_for_customer(req.state.log.db(), &actor.tenant, session, &actor.user)
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
            user_agent: header(req, "user-agent"),
            ip_address: header(req, "x-forwarded-for")
                .and_then(|l| l.split(',').next().map(|ip| ip.trim().to_owned())),
            referrer: None,
        };
        req.state.commands.on_conversation(&req.origin_as(actor), "open", &req.room(&id), Action::Start(details), None).await?;
        // Counted from now on.
        req.state.read_your_writes(support::NAME).await;
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

pub(super) fn header(req: &Request, name: &str) -> Option<String> {
    req.socket
        .req_parts()
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(SupportDetails::clip)
}
