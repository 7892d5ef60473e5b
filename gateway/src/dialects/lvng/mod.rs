//! The lvng dialect (seed `002`): `conversation:*`, `message:*`, `typing:*`
//! on namespace `/`, rooms `customer:{customerId}:conversation:{id}`;
//! `call:*` (rooms `call:{tenant}:{roomName}`, see [`calls`]) and `swarm:*`
//! (rooms `swarm:{tenant}:{sessionId}`).

mod call_join;
mod call_leave;
mod call_transcription;
pub mod calls;
mod conversation_join;
mod conversation_leave;
mod conversation_rejoin;
mod message_send;
mod push;
mod render;
mod swarm;
mod swarm_subscribe;
mod swarm_unsubscribe;
mod typing;

pub use push::push;

use domain::conversation::Action;
use domain::ids::{ConversationId, TenantId};
use serde::Deserialize;

use crate::commands;
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
        "call:join" => call_join::handle(call).await,
        "call:leave" => call_leave::handle(call).await,
        "call:transcription" => call_transcription::handle(call).await,
        "swarm:subscribe" => swarm_subscribe::handle(call).await,
        "swarm:unsubscribe" => swarm_unsubscribe::handle(call).await,
        _ => return None,
    })
}

/// The organisation room every socket of a tenant joins on connect
/// (presence).
pub fn org_room(tenant: &TenantId) -> String {
    format!("org:{tenant}")
}

/// The room of a conversation. Tenant ids cannot contain `:`, so no two
/// (tenant, conversation) pairs share a room.
pub fn conversation_room(tenant: &TenantId, conversation: &ConversationId) -> String {
    format!("customer:{tenant}:conversation:{conversation}")
}

/// `{conversationId, customerId}`: how every lvng conversation event names
/// its conversation (flattened into the larger payloads).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConversationRef {
    conversation_id: Option<String>,
    customer_id: Option<String>,
}

impl ConversationRef {
    /// The conversation must be named, and `customerId`, when given, must be
    /// the caller's own tenant.
    fn resolve(&self, call: &Call) -> Result<ConversationId, WireError> {
        let Some(raw) = &self.conversation_id else {
            return Err(WireError::validation("conversationId is required")
                .with_details(format!("{}: missing field `conversationId`", call.event)));
        };
        let conversation = ConversationId::parse(raw.as_str()).map_err(WireError::from)?;
        if let Some(customer) = &self.customer_id
            && customer != call.actor.tenant.as_str()
        {
            return Err(
                WireError::forbidden("customerId does not match your tenant")
                    .in_conversation(conversation.as_str()),
            );
        }
        Ok(conversation)
    }
}

/// Read `{conversationId, customerId}` from the payload and run `action` on
/// that conversation.
async fn run_on_conversation(
    call: &Call,
    command: &'static str,
    action: Action,
) -> Result<ConversationId, WireError> {
    let target: ConversationRef = call.parse()?;
    let conversation = target.resolve(call)?;
    commands::on_conversation(
        &call.state,
        &call.origin(DIALECT),
        command,
        &conversation,
        action,
        None,
    )
    .await?;
    Ok(conversation)
}
