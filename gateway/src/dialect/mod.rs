//! The contract every wire dialect implements, and all that the socket
//! layer knows of dialects.
//!
//! A dialect says where its clients connect ([`Entry`]), sets up a socket
//! once its caller is admitted ([`Dialect::connected`]), handles the events
//! it owns ([`Dialect::dispatch`]), cleans up after a socket
//! ([`Dialect::disconnected`]), and renders each projection change into
//! [`Push`]es ([`Dialect::render`]): a pure function of the change, so a
//! push can be rendered once and sent by whichever node holds its rooms.
//!
//! # Layout
//! - `request`: [`Request`], one inbound event being handled, and
//!   [`Inbound`], what its pure decoding step sees.
//! - `push`: [`Push`], one outbound event and its audience.

mod push;
mod request;

pub use push::{Push, Stamp};
pub use request::{Inbound, Request, Session};

use async_trait::async_trait;
use domain::actor::Actor;
use projections::Update;
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use std::sync::Arc;

use crate::error::WireError;
use crate::state::AppState;

/// The socket layer's namespace `/`, shared by the dialects whose
/// [`Entry`] is [`Entry::Root`].
pub const ROOT: &str = "/";

/// Where a dialect's clients connect.
pub enum Entry {
    /// Socket.IO namespace `/`, shared with the other dialects there, with
    /// its handshake (a token or a widget key).
    Root,
    /// A Socket.IO namespace of its own, with its own handshake, set up by
    /// `register`.
    Namespace {
        path: &'static str,
        register: fn(&SocketIo),
    },
    /// A plain WebSocket, mounted by the HTTP router; its connections take
    /// their pushes from [`Dialect::render`] themselves.
    WebSocket,
}

/// Who a socket of namespace `/` belongs to, once admitted.
pub struct Admitted<'a> {
    pub socket: &'a SocketRef,
    pub actor: &'a Actor,
    /// An anonymous widget visitor (no presence, no organisation rooms).
    pub visitor: bool,
}

#[async_trait]
pub trait Dialect: Send + Sync + 'static {
    /// Recorded with every command it runs (the `dialect` metadata).
    fn name(&self) -> &'static str;

    fn entry(&self) -> Entry;

    /// A socket of namespace `/` was admitted: join the rooms it hears
    /// from the start and set up this dialect's state of it.
    fn connected(&self, _socket: Admitted<'_>) {}

    /// Handle `request` if it is one of this dialect's events; `None` when
    /// it is not.
    async fn dispatch(&self, _request: &Request) -> Option<Result<(), WireError>> {
        None
    }

    /// A socket of namespace `/` went away (may run twice for one socket).
    async fn disconnected(&self, _state: &AppState, _socket: &SocketRef, _actor: &Actor) {}

    /// What this dialect sends for one change. No IO: everything needed is
    /// in the update.
    fn render(&self, update: &Update, pushes: &mut Vec<Push>);
}

/// Every dialect the server speaks (see `crate::dialects::all`).
pub type Dialects = Arc<[Box<dyn Dialect>]>;

/// Everything the Socket.IO dialects send for one change (a WebSocket
/// dialect's connections render their own).
pub fn render(dialects: &[Box<dyn Dialect>], update: &Update) -> Vec<Push> {
    let mut pushes = Vec::new();
    for dialect in dialects {
        if !matches!(dialect.entry(), Entry::WebSocket) {
            dialect.render(update, &mut pushes);
        }
    }
    pushes
}
