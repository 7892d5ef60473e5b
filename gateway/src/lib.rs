//! Parley's gateway: Socket.IO and HTTP on one port.
//!
//! Every inbound socket event is decoded by its dialect into a domain command
//! (run by [`commands::Commands`] onto the event log) or a query (read from
//! the read models). Projection updates come back as changes, which each
//! dialect renders into pushes to rooms ([`dialect::Dialect::render`]); see
//! ARCHITECTURE.md for one command's way from socket to push. Clients are
//! told what went wrong with an `error` event `{code, message, details?}`;
//! internals stay in the logs.
//!
//! # Layout
//! - [`app`]: [`serve`], start-up and orderly shutdown.
//! - [`assistant`]: the assistant's answers (policy, streaming, provenance).
//! - [`config`]: [`Config`], from the environment.
//! - [`auth`]: JWT verification and credential extraction.
//! - [`socket`]: connect and authenticate, then route every event; knows
//!   dialects only by their contract.
//! - [`dialect`]: the contract every dialect implements, the inbound
//!   [`dialect::Request`] and the outbound [`dialect::Push`].
//! - [`dialects`]: the five dialects (`lvng`, `buddy`, `chatbot`,
//!   `helpdesk`, `stream`), one module each.
//! - [`commands`]: the command service: every aggregate's framework, one way
//!   to run a command (metadata, retries, in-flight tracking).
//! - [`presence`]: sockets per user on this node, and the reaper that times users out.
//! - [`http`]: `/healthz` and the REST API.
//! - [`limits`]: budgets and connection caps that hold across reconnects.
//! - [`policies`]: the support policies the server runs on its own
//!   (auto-assignment, idle timeout) and tenants' support settings.
//! - [`error`]: [`GatewayError`] and the client-facing [`WireError`].
//! - [`fuzzing`]: what the fuzz targets feed the decoders, and their
//!   invariants.

pub mod app;
pub mod assistant;
pub mod auth;
pub mod commands;
pub mod config;
pub mod dialect;
pub mod dialects;
pub mod error;
pub mod fuzzing;
pub mod http;
pub mod limits;
pub mod policies;
pub mod presence;
pub mod socket;
pub mod state;

pub use app::serve;
pub use config::Config;
pub use error::{GatewayError, WireError};

/// Times on the wire (defined in the `wire` crate, which the replay tool
/// shares without linking the gateway).
pub use wire::wire_time;
