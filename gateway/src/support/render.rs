//! Support read models as JSON, in the chatbot seed's camelCase shapes.
//!
//! Defined in the `wire` crate, so that the replay tool prints the same
//! shapes without linking the gateway; re-exported here.

pub use wire::support::*;
