//! Connecting to `/helpdesk`, and the router of its events.

use domain::DomainError;
use domain::access_key::{KeyKind, PresentedKey, unknown_key};
use domain::ids::SessionId;
use futures::FutureExt;
use projections::access_keys;
use serde_json::{Value, json};
use socketioxide::extract::{AckSender, Event as EventName, SocketRef, State, TryData};
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Credential, Event, dispatch, envelope};
use crate::auth::AuthError;
use crate::error::WireError;
use crate::socket::{MAX_EVENT_BYTES, RateLimit};
use crate::state::AppState;

/// This dialect's state of a socket: who it speaks for, and the session it
/// serves once named. Shared by its concurrent events.
#[derive(Clone)]
pub struct HelpdeskSocket(pub(super) Arc<Mutex<SocketState>>);

pub(super) struct SocketState {
    pub credential: Credential,
    pub session: Option<SessionId>,
}

/// A refused connection: Socket.IO sends `connect_error` with this as its
/// message, the envelope as JSON text.
#[derive(Debug)]
pub struct Refusal {
    status: u16,
    message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = envelope(self.status, "", &self.message, json!({}));
        write!(f, "{body}")
    }
}

fn refuse(status: u16, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

/// The connect middleware: authenticate, or refuse with 400 or 401.
pub async fn check(
    socket: SocketRef,
    TryData(handshake): TryData<Value>,
    State(state): State<AppState>,
) -> Result<(), Refusal> {
    let handshake = handshake.unwrap_or(Value::Null);
    let credential = match presented(socket.req_parts().uri.query(), &handshake)? {
        Presented::ApiKey(key) => Credential::ApiKey(api_key(&state, &key).await?),
        Presented::Jwt(token) => {
            let actor = state
                .auth
                .verify(&token)
                .map_err(|e: AuthError| refuse(401, e.to_string()))?;
            Credential::Token(actor)
        }
    };
    socket
        .extensions
        .insert(super::HelpdeskSocket::new(credential));
    Ok(())
}

/// The credential a connection presents, as its query string and
/// handshake say (no IO).
#[derive(Debug)]
pub enum Presented {
    /// `?token_source=api&token=API_KEY`
    ApiKey(String),
    /// A JWT: `auth.token`, else `?token=` (with `token_source=jwt` or none).
    Jwt(String),
}

/// Read the credential a connection presents, or refuse it with 400.
pub fn presented(query: Option<&str>, handshake: &Value) -> Result<Presented, Refusal> {
    let query: Vec<(String, String)> = query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let handshake_token = handshake
        .get("token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    match param("token_source").as_deref() {
        Some("api") => {
            let key = param("token").ok_or_else(|| refuse(400, "token is required"))?;
            Ok(Presented::ApiKey(key))
        }
        None | Some("jwt") => {
            let token = handshake_token.or_else(|| param("token")).ok_or_else(|| {
                refuse(
                    400,
                    "a token is required (token_source=api&token=API_KEY, or a JWT)",
                )
            })?;
            Ok(Presented::Jwt(token))
        }
        Some(other) => Err(refuse(
            400,
            format!("token_source {other:?} is not \"api\" or \"jwt\""),
        )),
    }
}

/// The tenant of a valid, unrevoked API key. Errors never repeat the key.
async fn api_key(state: &AppState, raw: &str) -> Result<domain::ids::TenantId, Refusal> {
    let key = PresentedKey::parse(raw).map_err(|_| refuse(401, "invalid API key"))?;
    // A key issued or revoked just before must count at once.
    state.read_your_writes(access_keys::NAME).await;
    let found = access_keys::find(state.log.db(), key.key_id())
        .await
        .map_err(|error| {
            tracing::error!(%error, "helpdesk: cannot read keys");
            refuse(500, "the keys cannot be checked just now")
        })?;
    let Some(found) = found else {
        return Err(refuse(401, unknown_key().to_string()));
    };
    let record = found.record();
    record.verify(&key).map_err(|e| match e {
        DomainError::Forbidden(reason) => refuse(401, reason),
        other => refuse(401, other.to_string()),
    })?;
    if record.kind != KeyKind::Api {
        return Err(refuse(401, "this key is not an API key"));
    }
    Ok(found.tenant)
}

pub async fn on_connect(socket: SocketRef, State(state): State<AppState>) {
    let Some(hd) = socket.extensions.get::<HelpdeskSocket>() else {
        let _ = socket.disconnect();
        return;
    };
    socket.join(socket.id.to_string());
    socket.extensions.insert(RateLimit::new(
        state.config.rate_limit_events,
        Duration::from_secs(state.config.rate_limit_window_secs),
    ));
    tracing::debug!(socket = %socket.id, tenant = %hd.tenant(), "helpdesk connected");
    socket.on_fallback(on_event);
    let _ = socket.emit(
        "connected",
        &envelope(200, &socket.id.to_string(), "Connected", json!({})),
    );
}

async fn on_event(
    socket: SocketRef,
    EventName(name): EventName,
    TryData(data): TryData<Value>,
    ack: AckSender,
    State(state): State<AppState>,
) {
    let (Some(hd), Some(limit)) = (
        socket.extensions.get::<HelpdeskSocket>(),
        socket.extensions.get::<RateLimit>(),
    ) else {
        return;
    };
    let data = data.unwrap_or(Value::Null);
    let size = data.to_string().len();
    let event = Event {
        state,
        socket,
        name,
        data,
        ack: Mutex::new(Some(ack)),
        hd,
    };
    let outcome = if let Err(retry_after) = limit.check(Instant::now()) {
        Err(WireError::rate_limited(
            event.state.config.rate_limit_events,
            event.state.config.rate_limit_window_secs,
            retry_after,
        ))
    } else if size > MAX_EVENT_BYTES {
        Err(WireError::new(
            "PAYLOAD_TOO_LARGE",
            format!("event payloads are limited to {MAX_EVENT_BYTES} bytes"),
        ))
    } else if let Err(error) = super::check_payload(&event.data) {
        Err(error)
    } else {
        match AssertUnwindSafe(dispatch(&event)).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(_) => Err(WireError::internal(&format!(
                "handler for {:?} panicked",
                event.name
            ))),
        }
    };
    if let Err(error) = outcome {
        event.fail(&error);
    }
}
