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
use crate::socket::{Call, Inbound};
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

/// Decode an inbound event of namespace `/` as its handler does, without
/// IO: `None` when no dialect owns its name (see [`crate::fuzzing`]).
pub fn decode(input: &Inbound) -> Option<Result<Decoded, WireError>> {
    lvng::decode(input)
        .or_else(|| buddy::decode(input))
        .or_else(|| chatbot::decode(input))
}

/// What the pure decoding step of an event gives its handler, whatever the
/// event: tests and fuzz targets only print it.
pub type Decoded = Box<dyn std::fmt::Debug>;

fn decoded<T: std::fmt::Debug + 'static>(
    outcome: Result<T, WireError>,
) -> Result<Decoded, WireError> {
    outcome.map(|value| Box::new(value) as Decoded)
}

/// Render one update for every dialect's listeners.
pub async fn push(io: &SocketIo, state: &AppState, update: &Update) {
    lvng::push(io, update).await;
    buddy::push(io, state, update).await;
    chatbot::push(io, state, update).await;
    helpdesk::push(io, state, update).await;
}
