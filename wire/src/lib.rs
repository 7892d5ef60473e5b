//! Parley's wire shapes that more than the gateway needs: how times are
//! written, and the support read models as JSON.
//!
//! The gateway sends these shapes to clients; the `replay` tool prints the
//! same ones for the past. Keeping them here lets the tool show exactly what
//! the server showed without linking the server (HTTP, Socket.IO, its
//! runtime). Pure functions from read-model values to JSON: no IO.
//!
//! # Layout
//! - [`wire_time`]: times on the wire.
//! - [`support`]: support conversations, the queue and metrics in the
//!   chatbot seed's camelCase shapes.

pub mod support;
mod time;

pub use time::wire_time;
