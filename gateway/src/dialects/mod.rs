//! Wire dialects: the only code that knows event names and payload shapes.
//! Each decodes inbound events into domain commands or queries, and renders
//! projection updates into its own outbound events and rooms.
//!
//! `lvng`, `buddy` and `chatbot` share Socket.IO namespace `/`; `helpdesk`
//! has `/helpdesk` (its own connect and router); `stream` is a plain
//! WebSocket whose connections follow the updates themselves.

pub mod buddy;
pub mod chatbot;
pub mod helpdesk;
pub mod lvng;
pub mod stream;

use projections::Update;
use socketioxide::SocketIo;

use crate::error::WireError;
use crate::socket::Call;
use crate::state::AppState;

/// Route an inbound event to the dialect that owns its name.
pub async fn dispatch(call: &Call) -> Result<(), WireError> {
    if let Some(outcome) = lvng::dispatch(call).await {
        return outcome;
    }
    if let Some(outcome) = buddy::dispatch(call).await {
        return outcome;
    }
    if let Some(outcome) = chatbot::dispatch(call).await {
        return outcome;
    }
    Err(WireError::new(
        "UNKNOWN_EVENT",
        format!("no handler for event {:?}", call.event),
    ))
}

/// Render one update for every dialect's listeners.
pub async fn push(io: &SocketIo, state: &AppState, update: &Update) {
    lvng::push(io, update).await;
    buddy::push(io, state, update).await;
    chatbot::push(io, state, update).await;
    helpdesk::push(io, state, update).await;
}
