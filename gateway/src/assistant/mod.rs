//! The assistant on the gateway: answers customers while their
//! conversation is in AI handling, streaming tokens to the dialects that
//! take streams and recording each finished answer with its provenance.
//!
//! - [`replies`]: [`Replies`], the answers being written on this node.

pub mod replies;

pub use replies::{InProgress, Replies, ReplyEvent, ReplyKey};

/// What the dialects share of the assistant.
#[derive(Default)]
pub struct Assistant {
    pub replies: Replies,
}
