//! The helpdesk dialect (seed `004`) on namespace `/helpdesk`: a customer
//! of an integrator talks to SATE (the assistant) and, when one takes
//! over, to an agent; calls SATE by voice (LiveKit); closes and reviews.
//! Every answer is the seed's envelope `{status_code, sid, message, data}`,
//! errors too (status 400, 401, 403, 404, 409, 429, 500, 503 with `data:
//! {code}`), emitted on the event's own name and given to the ack callback
//! when there is one.
//!
//! Connecting: `?token_source=api&token=API_KEY` (an `api` key of
//! `POST /api/v1/keys`) or a JWT (`auth.token`, `?token=`). A refused
//! connection gets Socket.IO's `connect_error` whose `message` is readable
//! text and whose `data` (`err.data` in socket.io-client v4) is the
//! envelope `{status_code, sid: "", message, data: {code}}`: 401 for a bad,
//! revoked or widget key or token, 400 for a malformed request, 429 with
//! `data: {code: "TOO_MANY_CONNECTIONS"}` past a connection cap (see
//! `limits`). Connected, the socket hears `connected` with the envelope
//! `{status_code: 200, sid, message: "Connected", data: {}}`.
//!
//! The customer is the `session_id` of the events: with an API key, user
//! `hd-{session_id}`; with a JWT, the token's user. A socket serves one
//! session: the first it names (`enter_customer_support`, `support`,
//! `call_support`), or the session of the first conversation it names
//! (`enter_support` and the other events that name only a
//! `ticket_chat_id`); another later is 403.
//!
//! Sessions belong to their owner. The owner of a conversation is durable:
//! the support read model holds the session it was opened under and the
//! user who opened it (`hd-{session}` with an API key, the token's user
//! with a JWT), both from the event that opened it, on either store and
//! across restarts. A conversation is a socket's when both match the
//! socket's; anything else is answered as an unknown conversation would be.
//! Session names are scoped to their owner: a JWT customer naming a name
//! another customer uses gets a session of their own by that name (its
//! room is named by owner and session), so naming reveals nothing about
//! others and no one can take a name from its owner. Staff of the tenant
//! may `enter_support` any conversation of the tenant.
//!
//! Rooms: `helpdesk:{tenant}:customer:{session}:{user}` (the customer's
//! own: joined by `enter_customer_support` and by the first `support`) and
//! `helpdesk:{tenant}:conversation:{id}` (`enter_support`).
//!
//! At most [`MAX_OPEN`] open conversations per session (of its owner): the
//! check and the opening are serialized per session on this node (two
//! nodes could each let one more through at the same instant).

mod call_support;
mod close_call_support;
mod close_support;
mod connect;
mod enter_customer_support;
mod enter_support;
mod leave_support;
mod livekit;
mod mark_conversation_read;
mod push;
mod review_support;
mod support;
mod tickets;

pub use connect::{HelpdeskSocket, Presented, Refusal, check, on_connect, presented};

use domain::Room;
use domain::actor::{Actor, Role};
use domain::conversation::Kind;
use domain::ids::{ConversationId, SessionId, TenantId, UserId};
use serde_json::{Value, json};
use socketioxide::extract::{AckSender, SocketRef};
use std::sync::{Arc, Mutex, PoisonError};

use crate::commands::Origin;
use crate::dialect::{Dialect, Entry, Push};
use crate::dialects::{Decoded, decoded};
use crate::error::{ErrorCode, WireError};
use crate::state::AppState;
use projections::Update;
use socketioxide::SocketIo;
use socketioxide::handler::ConnectHandler;

pub const DIALECT: &str = "helpdesk";
pub const NAMESPACE: &str = "/helpdesk";

/// The helpdesk dialect's contract (see [`crate::dialect`]): a namespace
/// of its own, with its own handshake, router and envelopes.
pub struct Helpdesk;

impl Dialect for Helpdesk {
    fn name(&self) -> &'static str {
        DIALECT
    }

    fn entry(&self) -> Entry {
        Entry::Namespace {
            path: NAMESPACE,
            register,
        }
    }

    fn render(&self, update: &Update, pushes: &mut Vec<Push>) {
        push::render(update, pushes);
    }
}

fn register(io: &SocketIo) {
    io.ns(NAMESPACE, on_connect.with(check));
}
/// The chatbot id helpdesk conversations are opened with: SATE handles them.
pub const CHATBOT: &str = "sate";
/// Open conversations a session may have at once (the seed's).
pub const MAX_OPEN: u64 = 3;

/// The seed's envelope.
pub fn envelope(status: u16, sid: &str, message: &str, data: Value) -> Value {
    json!({ "status_code": status, "sid": sid, "message": message, "data": data })
}

/// The HTTP-like status of an error, and the envelope carrying it.
pub fn error_envelope(sid: &str, error: &WireError) -> Value {
    let status = error.code.helpdesk_status();
    let mut data = json!({ "code": error.code });
    if let Some(retry_after_ms) = error.retry_after_ms {
        data["retryAfterMs"] = json!(retry_after_ms);
    }
    envelope(status, sid, &error.message, data)
}

/// The room of `owner`'s session. Tenants and sessions cannot hold `:`
/// and the user comes last, so two different triples never share a room.
pub fn customer_room(tenant: &TenantId, session: &SessionId, owner: &UserId) -> String {
    format!("helpdesk:{tenant}:customer:{session}:{owner}")
}

pub fn conversation_room(tenant: &TenantId, id: &ConversationId) -> String {
    format!("helpdesk:{tenant}:conversation:{id}")
}

/// One inbound event of this namespace.
pub struct Request {
    pub state: AppState,
    pub socket: SocketRef,
    pub name: String,
    pub data: Value,
    pub ack: Mutex<Option<AckSender>>,
    pub hd: HelpdeskSocket,
}

impl Request {
    fn sid(&self) -> String {
        self.socket.id.to_string()
    }

    /// One of this tenant's conversations.
    pub fn room(&self, id: &ConversationId) -> Room {
        Room::new(self.hd.tenant(), Kind::Conversation, id.clone())
    }

    /// Who runs a command for this event: `actor` (the customer of the
    /// session, or the caller), on this socket.
    pub fn origin_as<'a>(&'a self, actor: &'a Actor) -> Origin<'a> {
        Origin {
            actor,
            dialect: DIALECT,
            socket_id: Some(self.sid()),
        }
    }

    /// Answer on the event's own name (and the ack, if asked).
    pub fn answer(&self, message: &str, data: Value) {
        self.answer_as(&self.name.clone(), message, data);
    }

    pub fn answer_as(&self, event: &str, message: &str, data: Value) {
        let body = envelope(200, &self.sid(), message, data);
        self.send(event, &body);
    }

    pub fn fail(&self, error: &WireError) {
        tracing::debug!(socket = %self.socket.id, event = %self.name, code = %error.code, message = %error.message, "helpdesk refused");
        let body = error_envelope(&self.sid(), error);
        self.send(&self.name.clone(), &body);
    }

    fn send(&self, event: &str, body: &Value) {
        if let Err(error) = self.socket.emit(event, body) {
            tracing::debug!(%error, event, "helpdesk answer not delivered");
        }
        let ack = self
            .ack
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(ack) = ack {
            let _ = ack.send(body);
        }
    }

    /// A string field, required.
    pub fn text(&self, field: &str) -> Result<String, WireError> {
        text(&self.data, field)
    }

    /// A string field that may be null or absent.
    pub fn optional_text(&self, field: &str) -> Result<Option<String>, WireError> {
        optional_text(&self.data, field)
    }

    /// The session the event names, bound to the socket (the first one
    /// named), and the customer it is; the socket joins the customer's room.
    pub fn session(&self) -> Result<(SessionId, Actor), WireError> {
        let session = session_id(&self.data)?;
        self.hd.bind(&session)?;
        let customer = self.hd.customer(&session)?;
        self.socket
            .join(customer_room(&customer.tenant, &session, &customer.user));
        Ok((session, customer))
    }

    /// The session the event names (binding it), or else the socket's, if
    /// either.
    pub fn named_or_bound(&self) -> Result<Option<(SessionId, Actor)>, WireError> {
        if let Some(Value::String(_)) = self.data.get("session_id") {
            return self.session().map(Some);
        }
        self.hd
            .session()
            .map(|session| Ok((session.clone(), self.hd.customer(&session)?)))
            .transpose()
    }
}

/// A string field of a payload, required.
pub fn text(data: &Value, field: &str) -> Result<String, WireError> {
    match data.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(WireError::validation(format!("{field} is required")))
        }
        Some(_) => Err(WireError::validation(format!("{field} must be a string"))),
    }
}

/// A string field of a payload that may be null, blank or absent.
pub fn optional_text(data: &Value, field: &str) -> Result<Option<String>, WireError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(WireError::validation(format!("{field} must be a string"))),
    }
}

/// The payload's `session_id`.
pub fn session_id(data: &Value) -> Result<SessionId, WireError> {
    SessionId::parse(text(data, "session_id")?)
        .map_err(|e| WireError::validation(format!("invalid session_id: {e}")))
}

/// Every event's payload is an object (or nothing).
pub fn check_payload(data: &Value) -> Result<(), WireError> {
    if !data.is_object() && !data.is_null() {
        return Err(WireError::validation("the payload must be a JSON object"));
    }
    Ok(())
}

/// Decode an event of this namespace as its handler does, without IO:
/// `None` when there is no such event. For tests and fuzzing
/// ([`crate::fuzzing`]); the handlers call the same functions, around
/// their reads and the session's binding. A session the event does not
/// name is the socket's (`None` here).
pub fn decode(name: &str, data: &Value) -> Option<Result<Decoded, WireError>> {
    use mark_conversation_read::entity;
    use review_support::review_request;
    use support::support_request;
    use tickets::{named_session, ticket_id};
    let ticket = || ticket_id(&text(data, "ticket_chat_id")?);
    let fields = match name {
        "enter_customer_support" => decoded(session_id(data)),
        "enter_support" | "close_support" | "close_call_support" => {
            decoded(named_session(data).and_then(|s| Ok((s, ticket()?))))
        }
        "leave_support" => decoded(ticket()),
        "support" => decoded(session_id(data).and_then(|s| Ok((s, support_request(data)?)))),
        "mark_conversation_read" => decoded(named_session(data).and_then(|s| {
            let id = ticket()?;
            entity(data)?;
            Ok((s, id))
        })),
        "review_support" => {
            decoded(named_session(data).and_then(|s| Ok((s, ticket()?, review_request(data)?))))
        }
        "call_support" => decoded(session_id(data).and_then(|s| {
            let id = optional_text(data, "ticket_chat_id")?
                .map(|raw| ticket_id(&raw))
                .transpose()?;
            Ok((s, id))
        })),
        _ => return None,
    };
    Some(check_payload(data).and(fields))
}

/// Who the socket speaks for.
#[derive(Debug, Clone)]
pub enum Credential {
    /// An integrator's API key of this tenant.
    ApiKey(TenantId),
    /// A signed-in customer.
    Token(Actor),
}

impl HelpdeskSocket {
    pub fn new(credential: Credential) -> Self {
        Self(Arc::new(Mutex::new(connect::SocketState {
            credential,
            session: None,
        })))
    }

    fn with<T>(&self, f: impl FnOnce(&mut connect::SocketState) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn tenant(&self) -> TenantId {
        self.with(|s| match &s.credential {
            Credential::ApiKey(tenant) => tenant.clone(),
            Credential::Token(actor) => actor.tenant.clone(),
        })
    }

    pub fn session(&self) -> Option<SessionId> {
        self.with(|s| s.session.clone())
    }

    /// The signed-in staff member the socket speaks for, if it is one.
    pub fn staff(&self) -> Option<Actor> {
        self.with(|s| match &s.credential {
            Credential::Token(actor) if actor.role.is_staff() => Some(actor.clone()),
            _ => None,
        })
    }

    fn bind(&self, session: &SessionId) -> Result<(), WireError> {
        self.with(|s| match &s.session {
            None => {
                s.session = Some(session.clone());
                Ok(())
            }
            Some(bound) if bound == session => Ok(()),
            Some(_) => Err(WireError::forbidden(
                "this connection serves another session_id: connect again for this one",
            )),
        })
    }

    /// The customer a session is.
    fn customer(&self, session: &SessionId) -> Result<Actor, WireError> {
        self.with(|s| match &s.credential {
            Credential::Token(actor) => Ok(actor.clone()),
            Credential::ApiKey(tenant) => Ok(Actor {
                user: UserId::parse(format!("hd-{session}"))
                    .map_err(|e| WireError::validation(format!("invalid session_id: {e}")))?,
                tenant: tenant.clone(),
                role: Role::Customer,
                name: None,
            }),
        })
    }
}

/// Route one event.
pub async fn dispatch(req: &Request) -> Result<(), WireError> {
    match req.name.as_str() {
        "enter_customer_support" => enter_customer_support::enter_customer(req).await,
        "enter_support" => enter_support::enter(req).await,
        "leave_support" => leave_support::leave(req).await,
        "support" => support::support(req).await,
        "mark_conversation_read" => mark_conversation_read::mark_read(req).await,
        "close_support" => close_support::close(req).await,
        "review_support" => review_support::review(req).await,
        "call_support" => call_support::call(req).await,
        "close_call_support" => close_call_support::close(req).await,
        other => Err(WireError::new(
            ErrorCode::ValidationError,
            format!("no helpdesk event {other:?}"),
        )),
    }
}
