//! `typing:start` / `typing:stop` `{channelId | conversationId, customerId,
//! …}`: the others in the room hear it through the projection. The seed's
//! `userId` and `userName` fields are ignored: the token says who is typing.

use domain::Room;
use domain::conversation::Action;

use super::{DIALECT, Target};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

/// The conversation or channel the payload names (no IO).
pub(super) fn decode(input: &Inbound) -> Result<Room, WireError> {
    input.parse::<Target>()?.resolve(input)
}

pub async fn handle(req: &Request, started: bool) -> Result<(), WireError> {
    let room = decode(&req.inbound())?;
    let (name, action) = if started {
        ("typing:start", Action::StartTyping)
    } else {
        ("typing:stop", Action::StopTyping)
    };
    req.state
        .commands
        .on_conversation(&req.origin(DIALECT), name, &room, action, None)
        .await
        .map(drop)
}
