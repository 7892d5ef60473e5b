//! The values read models present, to queries and in [`Update`](crate::Update)s.
//!
//! They depend on the domain and on nothing of the projections, so that
//! [`update`](crate::update) can name them without a cycle back to the
//! projection that produces them. Each projection re-exports its own.

pub mod call;
pub mod message;
pub mod support;
pub mod swarm;
