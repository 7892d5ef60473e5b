//! The stream dialect (seed `003`): a plain WebSocket at `GET /` and
//! `GET /ws`, `?token=JWT`, JSON messages with a `type`.
//!
//! - on open: `connection {message, timestamp}`;
//! - `chat {content}`: the customer's message in their conversation; the
//!   assistant's answer streams back as `stream-start {messageId}`,
//!   `stream-token {messageId, token}`…, `stream-end {messageId}` (the end
//!   once the answer is recorded); an answer that fails ends with `error`
//!   and the notice that was recorded instead;
//! - `human-escalation {reason?}`: the conversation is queued as with
//!   `escalate`; `human-escalation-response {message}`;
//! - `ping` → `pong`;
//! - anything else (not JSON, no `type`, an unknown type, a bad field):
//!   `error {message}`, nothing written, the connection kept;
//! - past a rate limit (every message but `ping` counts): `error {code:
//!   "RATE_LIMITED", retryAfterMs}`. Past a connection cap the upgrade is
//!   refused with 429 and `TOO_MANY_CONNECTIONS` (see `limits`).
//!
//! Every message carries a `timestamp`. An agent's replies (after an
//! escalation) arrive like the assistant's, as one `stream-start`, one
//! `stream-token` with the whole text and `stream-end`, with `sender:
//! "agent"` and `senderName` added.
//!
//! The user's conversation is their latest open one opened through this
//! dialect (chatbot `stream`): it continues across reconnects, and a new
//! one is opened by the first `chat` after it ended. A connection that opens
//! while an answer is being written gets the text so far and then the rest.

mod chat;
mod connection;
mod escalate;
mod push;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use domain::actor::Role;
use std::net::SocketAddr;

use crate::dialect::{Dialect, Entry, Push};
use crate::dialects::{Decoded, decoded};
use crate::error::WireError;
use crate::http::Caller;
use crate::limits::Client;
use crate::state::AppState;
use projections::Update;

pub use connection::error as error_frame;

pub const DIALECT: &str = "stream";

/// The stream dialect's contract (see [`crate::dialect`]): a plain
/// WebSocket whose connections pick their pushes from [`push::render`].
pub struct Stream;

impl Dialect for Stream {
    fn name(&self) -> &'static str {
        DIALECT
    }

    fn entry(&self) -> Entry {
        Entry::WebSocket
    }

    fn render(&self, update: &Update, pushes: &mut Vec<Push>) {
        push::render(update, pushes);
    }
}

/// The chatbot id conversations of this dialect are opened with: it puts
/// them in AI handling.
pub const CHATBOT: &str = "stream";

/// Decode a client's text frame as the connection does, without IO (and
/// without its rate limit). For tests and fuzzing ([`crate::fuzzing`]);
/// the connection calls the same functions.
pub fn decode(text: &str) -> Result<Decoded, WireError> {
    let (kind, message) = connection::read(text)?;
    match kind.as_str() {
        "ping" => decoded(Ok(())),
        "chat" => decoded(chat::decode(&message)),
        "human-escalation" => decoded(escalate::decode(&message)),
        other => Err(connection::unsupported(other)),
    }
}

/// `GET /` and `GET /ws`: the WebSocket upgrade (anything else is 404).
pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    caller: Result<Caller, WireError>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return WireError::not_found("no such route").into_response();
    };
    let actor = match caller {
        Ok(Caller(actor)) => actor,
        Err(error) => return error.into_response(),
    };
    if actor.role != Role::Customer {
        return WireError::forbidden("the stream is a customer's chat: a customer token is needed")
            .into_response();
    }
    // The slot moves into the connection; an upgrade that never completes
    // drops it, and with it the counts.
    let ip = state.limits.client_ip_of(peer, &headers);
    let admitted = match state.limits.connect(Client::User(&actor), Some(ip)) {
        Ok(admitted) => admitted,
        Err(error) => return error.into_response(),
    };
    let client = connection::Peer::from_request(&headers, peer);
    upgrade
        .max_message_size(crate::socket::MAX_FRAME_BYTES)
        .on_upgrade(move |socket| connection::run(state, actor, client, admitted, socket))
}
