//! `typing:start` / `typing:stop` `{conversationId, customerId, …}`: the
//! others in the room hear it through the projection. The seed's `userId`
//! and `userName` fields are ignored: the token says who is typing.

use domain::conversation::Action;

use super::run_on_conversation;
use crate::error::WireError;
use crate::socket::Call;

pub async fn handle(call: &Call, started: bool) -> Result<(), WireError> {
    let (name, action) = if started {
        ("typing:start", Action::StartTyping)
    } else {
        ("typing:stop", Action::StopTyping)
    };
    run_on_conversation(call, name, action).await.map(|_| ())
}
