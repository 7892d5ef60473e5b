//! Connecting to `/helpdesk`, and the router of its events.

use domain::DomainError;
use domain::access_key::{KeyId, KeyKind, PresentedKey, unknown_key};
use domain::ids::SessionId;
use futures::FutureExt;
use projections::access_keys;
use serde_json::{Value, json};
use socketioxide::extract::{AckSender, Event as EventName, SocketRef, State, TryData};
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use super::{Credential, Request, dispatch, envelope};
use crate::auth::AuthError;
use crate::error::{ErrorCode, WireError};
use crate::limits::{Allowance, Client, Slot};
use crate::socket::{MAX_EVENT_BYTES, Payload, PayloadSize};
use crate::state::AppState;

/// This dialect's state of a socket: who it speaks for, and the session it
/// serves once named. Shared by its concurrent events.
#[derive(Clone)]
pub struct HelpdeskSocket(pub(super) Arc<Mutex<SocketState>>);

pub(super) struct SocketState {
    pub credential: Credential,
    pub session: Option<SessionId>,
}

/// A refused connection. socketioxide sends `connect_error` with this
/// error's text as the packet's payload, `{"message": text}`, and has no
/// way to add `data`. So the text is the whole payload, `{message, data}`
/// as JSON, and the workspace's patched Socket.IO parser (see
/// `vendor/socketioxide-parser-common`) writes such a text as that object:
/// socket.io-client v4 reads it as `err.message` (readable) and `err.data`
/// (the seed's envelope, `data: {code}`).
#[derive(Debug)]
pub struct Refusal {
    status: u16,
    message: String,
    code: Option<&'static str>,
}

impl Refusal {
    fn code(&self) -> &'static str {
        self.code.unwrap_or(match self.status {
            400 => "VALIDATION_ERROR",
            401 => "AUTH_ERROR",
            _ => "INTERNAL_ERROR",
        })
    }

    /// What `connect_error` carries: `{message, data: envelope}`.
    pub fn payload(&self) -> Value {
        let data = json!({ "code": self.code() });
        json!({
            "message": self.message,
            "data": envelope(self.status, "", &self.message, data),
        })
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.payload())
    }
}

fn refuse(status: u16, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
        code: None,
    }
}

/// The connect middleware: authenticate, or refuse with 400 or 401 (or
/// 429 past a connection cap).
pub async fn check(
    socket: SocketRef,
    TryData(handshake): TryData<Value>,
    State(state): State<AppState>,
) -> Result<(), Refusal> {
    let handshake = handshake.unwrap_or(Value::Null);
    // Counted once authenticated; the slot goes with the socket, however
    // the connection ends.
    let ip = state.limits.client_ip(socket.req_parts());
    let admit = |client: Client<'_>| {
        state.limits.connect(client, ip).map_err(|error| Refusal {
            status: 429,
            message: error.message,
            code: Some(error.code.as_str()),
        })
    };
    let (credential, (allowance, slot)) =
        match presented(socket.req_parts().uri.query(), &handshake)? {
            Presented::ApiKey(key) => {
                let (tenant, key_id) = api_key(&state, &key).await?;
                let admitted = admit(Client::Key(&key_id))?;
                (Credential::ApiKey(tenant), admitted)
            }
            Presented::Jwt(token) => {
                let actor = state
                    .auth
                    .verify(&token)
                    .map_err(|e: AuthError| refuse(401, e.to_string()))?;
                let admitted = admit(Client::User(&actor))?;
                (Credential::Token(actor), admitted)
            }
        };
    socket.extensions.insert(slot);
    socket.extensions.insert(allowance);
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
async fn api_key(state: &AppState, raw: &str) -> Result<(domain::ids::TenantId, KeyId), Refusal> {
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
    Ok((found.tenant, key.key_id().clone()))
}

pub async fn on_connect(socket: SocketRef) {
    let Some(hd) = socket.extensions.get::<HelpdeskSocket>() else {
        let _ = socket.disconnect();
        return;
    };
    socket.join(socket.id.to_string());
    tracing::debug!(socket = %socket.id, tenant = %hd.tenant(), "helpdesk connected");
    socket.on_fallback(on_event);
    // The connection counts go back at once (dropping the socket would
    // too, but tasks may hold it a while).
    socket.on_disconnect(release_slot);
    let _ = socket.emit(
        "connected",
        &envelope(200, &socket.id.to_string(), "Connected", json!({})),
    );
}

async fn release_slot(socket: SocketRef) {
    socket.extensions.remove::<Slot>();
}

async fn on_event(
    socket: SocketRef,
    EventName(name): EventName,
    PayloadSize(size): PayloadSize,
    Payload(data): Payload,
    ack: AckSender,
    State(state): State<AppState>,
) {
    let (Some(hd), Some(allowance)) = (
        socket.extensions.get::<HelpdeskSocket>(),
        socket.extensions.get::<Allowance>(),
    ) else {
        return;
    };
    let (data, unreadable) = match data {
        Ok(data) => (data, None),
        Err(error) => (Value::Null, Some(error)),
    };
    let event = Request {
        state,
        socket,
        name,
        data,
        ack: Mutex::new(Some(ack)),
        hd,
    };
    let outcome = if let Err(refused) = allowance.admit(&event.state.limits) {
        Err(refused)
    } else if size > MAX_EVENT_BYTES {
        Err(WireError::new(
            ErrorCode::PayloadTooLarge,
            format!("event payloads are limited to {MAX_EVENT_BYTES} bytes"),
        ))
    } else if let Some(error) = unreadable {
        Err(error)
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
