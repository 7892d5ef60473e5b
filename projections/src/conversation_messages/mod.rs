//! Messages per conversation or channel, in log order: history, rejoin,
//! paging, and what changed since a cursor; and each reader's read marker.
//!
//! The projection also turns membership, typing, read and channel events
//! into updates, so that everything a room hears comes from one projection,
//! in log order.
//!
//! # Layout
//! - `projection`: [`ConversationMessages`], which writes messages and read
//!   markers and publishes what rooms hear.
//! - `queries`: pages, changes since a cursor, counts, one message, read
//!   markers.
//! - `row`: a row as a [`MessageView`], and the `WHERE` of one room.
//! - The view types ([`MessageView`], [`PostedMessage`], ...) live in
//!   [`crate::views::message`], which `update` can name without depending on
//!   this projection; they are re-exported here.

mod projection;
mod queries;
mod row;

pub use crate::views::message::{Deletion, MessageView, PostedMessage, ReactionView, Reactor};
pub use projection::ConversationMessages;
pub use queries::{
    Cursor, MessagePage, Since, Visibility, changed_since, count, find, last_read, page,
    page_by_offset, position_of,
};

pub const NAME: &str = "conversation_messages";
