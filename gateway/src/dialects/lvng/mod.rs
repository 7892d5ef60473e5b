//! The lvng dialect (seed `002`): `conversation:*`, `message:*`, `typing:*`
//! on namespace `/`, rooms `customer:{customerId}:conversation:{id}`.

mod conversation_join;
mod conversation_leave;
mod conversation_rejoin;
mod message_send;
mod push;
mod render;
mod typing;

pub use push::push;

use domain::ids::{ConversationId, TenantId};

use crate::error::WireError;
use crate::socket::Call;

pub const DIALECT: &str = "lvng";

/// `None` when the event is not one of this dialect's.
pub async fn dispatch(call: &Call) -> Option<Result<(), WireError>> {
    Some(match call.event.as_str() {
        "conversation:join" => conversation_join::handle(call).await,
        "conversation:leave" => conversation_leave::handle(call).await,
        "conversation:rejoin" => conversation_rejoin::handle(call).await,
        "message:send" => message_send::handle(call).await,
        "typing:start" => typing::handle(call, true).await,
        "typing:stop" => typing::handle(call, false).await,
        _ => return None,
    })
}

/// The room of a conversation. Tenant ids cannot contain `:`, so no two
/// (tenant, conversation) pairs share a room.
pub fn conversation_room(tenant: &TenantId, conversation: &ConversationId) -> String {
    format!("customer:{tenant}:conversation:{conversation}")
}

/// Resolve `{conversationId, customerId}`: the conversation must be named,
/// and `customerId`, when given, must be the caller's own tenant.
fn conversation_of(
    call: &Call,
    conversation_id: Option<&str>,
    customer_id: Option<&str>,
) -> Result<ConversationId, WireError> {
    let Some(raw) = conversation_id else {
        return Err(WireError::validation("conversationId is required")
            .with_details(format!("{}: missing field `conversationId`", call.event)));
    };
    let conversation = ConversationId::parse(raw).map_err(WireError::from)?;
    if let Some(customer) = customer_id
        && customer != call.actor.tenant.as_str()
    {
        return Err(
            WireError::forbidden("customerId does not match your tenant")
                .in_conversation(conversation.as_str()),
        );
    }
    Ok(conversation)
}
