//! Socket.IO: namespace `/` with its authentication on connect (a token, or
//! a widget key: see `widget`), one router for the events of every dialect
//! there, and a clean-up when a socket goes away; the namespaces dialects
//! bring of their own. It knows dialects only by their contract
//! ([`crate::dialect`]).

pub(crate) mod rate_limit;
mod widget;

pub use rate_limit::RateLimit;
pub use widget::{Widget, widget};

use futures::FutureExt;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, SocketRef, State, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts};
use socketioxide::socket::Socket;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use crate::auth::{self, AuthError};
use crate::dialect::{Admitted, Dialect, Entry, ROOT, Request, Session};
use crate::error::{ErrorCode, WireError};
use crate::limits::{Allowance, Client, Slot};
use crate::state::AppState;
use crate::wire_time;

/// Largest event payload a handler accepts; larger ones get
/// `PAYLOAD_TOO_LARGE` and change nothing (the seed's 1e6 bytes).
pub const MAX_EVENT_BYTES: usize = 1_000_000;
/// Largest frame the transport reads at all. Between the two limits a client
/// gets a clear error and keeps its connection; beyond this one the
/// transport closes it (memory must stay bounded).
pub const MAX_FRAME_BYTES: usize = 4 << 20;

pub fn register(io: &SocketIo, dialects: &[Box<dyn Dialect>]) {
    io.ns(ROOT, on_connect.with(widget::check));
    for dialect in dialects {
        if let Entry::Namespace { register, .. } = dialect.entry() {
            register(io);
        }
    }
}

/// The dialects sharing namespace `/`, in dispatch order.
fn on_root(state: &AppState) -> impl Iterator<Item = &dyn Dialect> {
    state
        .dialects
        .iter()
        .map(|d| d.as_ref())
        .filter(|d| matches!(d.entry(), Entry::Root))
}

async fn on_connect(
    socket: SocketRef,
    TryData(handshake): TryData<Value>,
    State(state): State<AppState>,
) {
    let handshake = handshake.unwrap_or(Value::Null);
    let authenticated = match (token(&socket, &handshake), widget::take_outcome(&socket)) {
        (Some(token), _) => state
            .auth
            .verify(&token)
            .map(|actor| (actor, None))
            .map_err(|e| WireError::new(e.code(), e.to_string())),
        (None, Some(widget)) => widget.map(|(actor, widget)| (actor, Some(widget))),
        (None, None) => Err(WireError::new(
            AuthError::Missing.code(),
            AuthError::Missing.to_string(),
        )),
    };
    // Counted once authenticated: refused handshakes hold no slot.
    let admitted = authenticated.and_then(|(actor, widget)| {
        let ip = state.limits.client_ip(socket.req_parts());
        let client = match &widget {
            Some(widget) => Client::Key(&widget.key_id),
            None => Client::User(&actor),
        };
        let (allowance, slot) = state.limits.connect(client, ip)?;
        Ok((actor, widget, allowance, slot))
    });
    let (actor, widget, allowance, slot) = match admitted {
        Ok(admitted) => admitted,
        Err(error) => {
            tracing::info!(socket = %socket.id, code = %error.code, "connection refused");
            let _ = socket.emit("error", &error);
            let _ = socket.disconnect();
            return;
        }
    };
    tracing::debug!(socket = %socket.id, user = %actor.user, tenant = %actor.tenant, "connected");
    // As socket.io does in JS: each socket is alone in a room named by its
    // id, which is how pushes leave the sender out of its own echoes.
    socket.join(socket.id.to_string());
    // Organisation-wide events (presence), and for staff the activity feed;
    // not for anonymous widget visitors.
    let is_visitor = widget.is_some();
    if let Some(widget) = widget {
        tracing::debug!(socket = %socket.id, chatbot = %widget.chatbot_id, key = %widget.key_id.prefix(), "widget visitor");
        // Before the session: whoever sees a session sees the widget.
        socket.extensions.insert(widget);
    }
    for dialect in on_root(&state) {
        dialect.connected(Admitted {
            socket: &socket,
            actor: &actor,
            visitor: is_visitor,
        });
    }
    socket.extensions.insert(slot);
    socket.extensions.insert(allowance);
    let actor = Arc::new(actor);
    socket.extensions.insert(Session(actor.clone()));
    socket.on_fallback(on_event);
    // Before anything that waits: a socket may go while it connects.
    socket.on_disconnect(on_disconnect);
    // Greet only once the user's presence is recorded: a client told it is
    // connected is online, and the log holds no write still to come from
    // its connect. Anonymous widget visitors have no presence (and their
    // clean-up copes with that).
    if !is_visitor {
        crate::presence::socket_connected(&socket, &state, &actor).await;
    }
    // Auto-assignment may give a connected agent queued conversations.
    crate::policies::staff_connected(&state, &actor);
    let _ = socket.emit(
        "connected",
        &json!({
            "message": "Connected to Parley",
            "socketId": socket.id.to_string(),
            "userId": actor.user.as_str(),
            "tenantId": actor.tenant.as_str(),
            "organizationId": actor.tenant.as_str(),
            "timestamp": wire_time(chrono::Utc::now()),
        }),
    );
}

/// The socket is gone: clean up after it. Counted as work in flight from
/// the moment of the disconnect, so that shutdown waits for the clean-up
/// before closing the log.
fn on_disconnect(
    socket: SocketRef,
    State(state): State<AppState>,
) -> impl Future<Output = ()> + Send {
    let in_flight = state.commands.inflight().token();
    // The connection counts go back at once (dropping the socket would
    // too, but tasks may hold it a while).
    socket.extensions.remove::<Slot>();
    async move {
        clean_up(&state, &socket).await;
        drop(in_flight);
    }
}

/// What each feature does when a socket goes away, one call per feature.
/// Must be harmless when run twice for one socket (see [`clean_up_all`]).
async fn clean_up(state: &AppState, socket: &SocketRef) {
    let Some(Session(actor)) = socket.extensions.get::<Session>() else {
        return;
    };
    crate::presence::socket_disconnected(state, socket);
    for dialect in on_root(state) {
        dialect.disconnected(state, socket, &actor).await;
    }
}

/// Clean up after every connected socket, before the server closes them:
/// socketioxide runs no disconnect handlers for the sockets it closes on
/// shutdown, and clients must not stay in calls across a restart.
pub async fn clean_up_all(io: &SocketIo, state: &AppState) {
    let sockets = io.sockets();
    futures::future::join_all(sockets.iter().map(|socket| clean_up(state, socket))).await;
}

/// The token from `auth.token`, `Authorization: Bearer`, or `?token=`.
fn token(socket: &SocketRef, handshake: &Value) -> Option<String> {
    if let Some(token) = handshake
        .get("token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        return Some(token.to_owned());
    }
    let parts = socket.req_parts();
    if let Some(token) = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(auth::bearer)
    {
        return Some(token.to_owned());
    }
    parts.uri.query().and_then(auth::query_token)
}

/// Every inbound event lands here.
async fn on_event(
    socket: SocketRef,
    Event(event): Event,
    PayloadSize(size): PayloadSize,
    Payload(data): Payload,
    ack: AckSender,
    AckRequested(ack_requested): AckRequested,
    State(state): State<AppState>,
) {
    let (Some(session), Some(allowance)) = (
        socket.extensions.get::<Session>(),
        socket.extensions.get::<Allowance>(),
    ) else {
        return;
    };
    let admitted = allowance.admit(&state.limits);
    let (data, unreadable) = match data {
        Ok(data) => (data, None),
        Err(error) => (Value::Null, Some(error)),
    };
    let call =
        Request::new(state.clone(), socket, session, event, data, ack).ack_requested(ack_requested);
    let outcome = if let Err(refused) = admitted {
        Err(refused)
    } else if size > MAX_EVENT_BYTES {
        Err(WireError::new(
            ErrorCode::PayloadTooLarge,
            format!("event payloads are limited to {MAX_EVENT_BYTES} bytes; this one has {size}"),
        ))
    } else if let Some(error) = unreadable {
        Err(error)
    } else {
        // A bug in a handler must not take the connection down silently.
        match AssertUnwindSafe(dispatch(&state, &call))
            .catch_unwind()
            .await
        {
            Ok(outcome) => outcome,
            Err(_) => Err(WireError::internal(&format!(
                "handler for {:?} panicked",
                call.event
            ))),
        }
    };
    if let Err(error) = outcome {
        call.fail(error);
    }
}

/// Route an event of namespace `/` to the dialect that owns its name.
async fn dispatch(state: &AppState, req: &Request) -> Result<(), WireError> {
    for dialect in on_root(state) {
        if let Some(outcome) = dialect.dispatch(req).await {
            return outcome;
        }
    }
    Err(WireError::new(
        ErrorCode::UnknownEvent,
        format!("no handler for event {:?}", req.event),
    ))
}

/// Did the client give an ack callback? (`AckSender` cannot say.)
struct AckRequested(bool);

impl<A: Adapter> FromMessageParts<A> for AckRequested {
    type Error = Infallible;

    fn from_message_parts(
        _: &Arc<Socket<A>>,
        _: &mut socketioxide::handler::Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(AckRequested(ack_id.is_some()))
    }
}

/// An event's payload, decoded: `Null` when the event has none, and a
/// `VALIDATION_ERROR` when it is not JSON text (a lone surrogate escape,
/// say), rather than a payload silently taken for a missing one.
pub(crate) struct Payload(pub Result<Value, WireError>);

impl<A: Adapter> FromMessageParts<A> for Payload {
    type Error = Infallible;

    fn from_message_parts(
        socket: &Arc<Socket<A>>,
        value: &mut socketioxide::handler::Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let decoded = match TryData::<Value>::from_message_parts(socket, value, ack_id) {
            Ok(TryData(decoded)) => decoded,
            Err(never) => match never {},
        };
        let error = match decoded {
            Ok(payload) => return Ok(Payload(Ok(payload))),
            Err(error) => error,
        };
        // Only on failure, so the common case parses once: an event with no
        // payload fails too ("first element not found") but is JSON text.
        use socketioxide::handler::Value as Raw;
        let readable = match value {
            // Decoded in full: skipping a string does not check its escapes.
            Raw::Str(text, _) => serde_json::from_str::<Value>(text.as_str()).is_ok(),
            Raw::Bytes(_) => true,
        };
        Ok(Payload(if readable {
            Ok(Value::Null)
        } else {
            Err(WireError::validation(format!(
                "the payload is not valid JSON text: {error}"
            )))
        }))
    }
}

/// The raw size of an event's payload, measured before decoding.
pub(crate) struct PayloadSize(pub usize);

impl<A: Adapter> FromMessageParts<A> for PayloadSize {
    type Error = Infallible;

    fn from_message_parts(
        _: &Arc<Socket<A>>,
        value: &mut socketioxide::handler::Value,
        _: &Option<i64>,
    ) -> Result<Self, Infallible> {
        use socketioxide::handler::Value as Raw;
        Ok(PayloadSize(match value {
            Raw::Str(text, binaries) => {
                text.len() + binaries.iter().flatten().map(|b| b.len()).sum::<usize>()
            }
            Raw::Bytes(bytes) => bytes.len(),
        }))
    }
}
