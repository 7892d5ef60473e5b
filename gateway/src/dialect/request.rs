//! One inbound event being handled: [`Request`].

use domain::actor::Actor;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use socketioxide::extract::{AckSender, SocketRef};
use std::sync::{Arc, Mutex};

use crate::commands::Origin;
use crate::error::WireError;
use crate::state::AppState;

/// The authenticated caller of a socket, set once on connect.
#[derive(Clone)]
pub struct Session(pub Arc<Actor>);

/// One inbound event of a Socket.IO dialect being handled: who sent it,
/// on which socket, and how to answer.
pub struct Request {
    pub state: AppState,
    pub socket: SocketRef,
    pub actor: Arc<Actor>,
    pub event: String,
    pub data: Value,
    ack: Mutex<Option<AckSender>>,
}

/// What decoding an event needs, and nothing that does IO: its name, its
/// payload and who sent it. The dialects' `decode` functions take this, so
/// that the handlers and the fuzz targets (see [`crate::fuzzing`]) decode
/// with the same code, and no socket is needed to test it.
#[derive(Clone, Copy)]
pub struct Inbound<'a> {
    pub event: &'a str,
    pub data: &'a Value,
    pub actor: &'a Actor,
}

impl Inbound<'_> {
    /// Decode the payload. Unknown fields are ignored; missing or mistyped
    /// ones are a `VALIDATION_ERROR` naming the event and the problem.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, WireError> {
        // An event sent without a payload decodes as an empty object.
        let empty = Value::Object(Default::default());
        let data = match self.data {
            Value::Null => &empty,
            other => other,
        };
        // Deserialize from the borrowed value: no copy of the payload.
        T::deserialize(data).map_err(|e| {
            WireError::validation(format!("{} payload is not valid", self.event))
                .with_details(format!("{}: {e}", self.event))
        })
    }
}

impl Request {
    pub fn new(
        state: AppState,
        socket: SocketRef,
        session: Session,
        event: String,
        data: Value,
        ack: AckSender,
    ) -> Self {
        Self {
            state,
            socket,
            actor: session.0,
            event,
            data,
            ack: Mutex::new(Some(ack)),
        }
    }

    /// Forget the ack sender when the client gave no callback, so that
    /// [`Request::respond`] knows to send an event instead.
    pub fn ack_requested(self, requested: bool) -> Self {
        if !requested && let Ok(mut ack) = self.ack.lock() {
            ack.take();
        }
        self
    }

    /// Decode the payload (see [`Inbound::parse`]).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, WireError> {
        self.inbound().parse()
    }

    /// The event as its pure decoding step sees it.
    pub fn inbound(&self) -> Inbound<'_> {
        Inbound {
            event: &self.event,
            data: &self.data,
            actor: &self.actor,
        }
    }

    /// Who runs a command for this request: its caller, on its socket.
    pub fn origin(&self, dialect: &'static str) -> Origin<'_> {
        self.origin_as(dialect, &self.actor)
    }

    /// As [`Request::origin`], for `actor` (the caller's widget identity).
    pub fn origin_as<'a>(&'a self, dialect: &'static str, actor: &'a Actor) -> Origin<'a> {
        Origin {
            actor,
            dialect,
            socket_id: Some(self.socket.id.to_string()),
        }
    }

    /// Send `event` to the caller, and answer its ack callback (if it gave
    /// one) with the same payload.
    pub fn reply(&self, event: &str, payload: &impl Serialize) {
        self.emit(event, payload);
        self.answer(payload);
    }

    /// Send `event` to the caller only (a step of a longer answer).
    pub fn emit(&self, event: &str, payload: &impl Serialize) {
        if let Err(error) = self.socket.emit(event, payload) {
            tracing::debug!(socket = %self.socket.id, %error, event, "reply not delivered");
        }
    }

    /// Answer only the ack callback, if the caller gave one.
    pub fn answer(&self, payload: &impl Serialize) {
        let ack = self.ack.lock().ok().and_then(|mut a| a.take());
        if let Some(ack) = ack {
            let _ = ack.send(payload);
        }
    }

    /// Answer the ack callback if the caller gave one; otherwise send
    /// `event` to the caller (for queries whose seed names no answer event).
    pub fn respond(&self, event: &str, ack: &impl Serialize, otherwise: &impl Serialize) {
        let ack_sender = self.ack.lock().ok().and_then(|mut a| a.take());
        match ack_sender {
            Some(sender) => {
                let _ = sender.send(ack);
            }
            None => {
                if let Err(error) = self.socket.emit(event, otherwise) {
                    tracing::debug!(socket = %self.socket.id, %error, event, "reply not delivered");
                }
            }
        }
    }

    /// Tell the caller (and only the caller) what went wrong.
    pub fn fail(&self, error: WireError) {
        tracing::debug!(socket = %self.socket.id, event = %self.event, code = %error.code, "refused");
        let _ = self.socket.emit("error", &error);
        self.answer(&serde_json::json!({ "error": error }));
    }
}
