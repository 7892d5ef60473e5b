//! Wire dialects: the only code that knows event names and payload shapes.
//! Each implements the contract of [`crate::dialect`]: where its clients
//! connect, what a socket joins when admitted, its dispatch table, its
//! clean-up, and its renderer of projection changes into pushes.
//!
//! `lvng`, `buddy` and `chatbot` share Socket.IO namespace `/`; `helpdesk`
//! has `/helpdesk` (its own handshake and router); `stream` is a plain
//! WebSocket whose connections pick their own pushes.
//!
//! Every dialect has one layout: `<dialect>/mod.rs` (the contract, rooms,
//! dispatch table), one file per inbound event, `push.rs` (what it sends
//! for each change: a pure function of the change).
//!
//! **To add an event** to a dialect: a file `<dialect>/<event>.rs` with a
//! pure `decode(&Inbound)` and a `handle(&Request)` that runs a command
//! through `req.state.commands` or queries a read model; a line in the
//! dialect's `dispatch` and `decode` tables; if it changes state that
//! others must hear, a case in `push.rs` for the projection change.
//!
//! **To add a dialect**: a module implementing [`Dialect`], listed in
//! [`all`]; a namespace of its own comes with its `Entry::Namespace`
//! registration, a WebSocket with its route in `crate::http`.

pub mod buddy;
pub mod chatbot;
pub mod helpdesk;
pub mod lvng;
pub mod stream;

use std::sync::Arc;

use crate::dialect::{Dialect, Dialects, Inbound};
use crate::error::WireError;

/// The five dialects the server speaks. On namespace `/` an event goes to
/// the first that owns its name, in this order.
pub fn all() -> Dialects {
    let all: Vec<Box<dyn Dialect>> = vec![
        Box::new(lvng::Lvng),
        Box::new(buddy::Buddy),
        Box::new(chatbot::Chatbot),
        Box::new(helpdesk::Helpdesk),
        Box::new(stream::Stream),
    ];
    Arc::from(all)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Entry;

    #[test]
    fn the_five_dialects_are_listed_once_each_with_where_they_connect() {
        let dialects = all();
        let names: Vec<&str> = dialects.iter().map(|d| d.name()).collect();
        assert_eq!(names, ["lvng", "buddy", "chatbot", "helpdesk", "stream"]);
        let entries: Vec<String> = dialects
            .iter()
            .map(|d| match d.entry() {
                Entry::Root => "/".to_owned(),
                Entry::Namespace { path, .. } => path.to_owned(),
                Entry::WebSocket => "websocket".to_owned(),
            })
            .collect();
        assert_eq!(entries, ["/", "/", "/", "/helpdesk", "websocket"]);
    }
}
