//! `typing:start` / `typing:stop` `{channelId | conversationId, customerId,
//! …}`: the others in the room hear it through the projection. The seed's
//! `userId` and `userName` fields are ignored: the token says who is typing.

use domain::conversation::Action;
use projections::Room;

use super::{Target, run};
use crate::error::WireError;
use crate::socket::{Call, Inbound};

/// The conversation or channel the payload names (no IO).
pub(super) fn decode(input: &Inbound) -> Result<Room, WireError> {
    input.parse::<Target>()?.resolve(input)
}

pub async fn handle(call: &Call, started: bool) -> Result<(), WireError> {
    let room = decode(&call.inbound())?;
    let (name, action) = if started {
        ("typing:start", Action::StartTyping)
    } else {
        ("typing:stop", Action::StopTyping)
    };
    run(call, name, &room, action, None).await
}
