//! `message:send {conversationId, customerId, content, optimisticId?,
//! threadId?, mentions?}` → `message:sent {id, optimisticId, channelId,
//! timestamp}` to the sender once the message is durable; `message:new`
//! reaches the room through the projection.
//!
//! A resend with the same `optimisticId` (a client retrying after a
//! reconnect) maps to the same message id and the same event id, so it is
//! stored once and acknowledged with the same id.

use domain::conversation::{Action, NewMessage};
use domain::ids::{MessageId, UserId};
use domain::message::{MessageBody, OptimisticId};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{ConversationRef, DIALECT};
use crate::commands;
use crate::error::WireError;
use crate::socket::Call;
use crate::wire_time;

/// Namespace of the command ids of optimistic sends (a fixed random UUID).
const SEND_COMMANDS: Uuid = Uuid::from_u128(0x0b7e_54a1_2f6c_4d8e_9a3b_5c1d_7e2f_4a60);
const MAX_MENTIONS: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Send {
    #[serde(flatten)]
    target: ConversationRef,
    channel_id: Option<String>,
    content: Option<String>,
    thread_id: Option<String>,
    mentions: Option<Vec<String>>,
    optimistic_id: Option<String>,
}

pub async fn handle(call: &Call) -> Result<(), WireError> {
    let request: Send = call.parse()?;
    if request.target.conversation_id.is_none() && request.channel_id.is_some() {
        return Err(
            WireError::validation("conversationId is required").with_details(
                "message:send: channel messages without a conversationId are not supported yet",
            ),
        );
    }
    let conversation = request.target.resolve(call)?;
    let in_conversation =
        |e: domain::DomainError| WireError::from(e).in_conversation(conversation.as_str());
    let content = request.content.ok_or_else(|| {
        WireError::validation("content is required").in_conversation(conversation.as_str())
    })?;
    let body = MessageBody::parse(content).map_err(in_conversation)?;
    let optimistic_id = request
        .optimistic_id
        .map(OptimisticId::parse)
        .transpose()
        .map_err(in_conversation)?;
    let thread_id = request
        .thread_id
        .map(MessageId::parse)
        .transpose()
        .map_err(in_conversation)?;
    let mentions = request.mentions.unwrap_or_default();
    if mentions.len() > MAX_MENTIONS {
        return Err(
            WireError::validation(format!("at most {MAX_MENTIONS} mentions"))
                .in_conversation(conversation.as_str()),
        );
    }
    let mentions = mentions
        .into_iter()
        .map(UserId::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(in_conversation)?;

    let (id, command_id) = match &optimistic_id {
        Some(optimistic) => {
            let id = MessageId::for_optimistic(
                &call.actor.tenant,
                &conversation,
                &call.actor.user,
                optimistic.as_str(),
            );
            let command_id = Uuid::new_v5(&SEND_COMMANDS, id.as_str().as_bytes());
            (id, Some(command_id))
        }
        None => (MessageId::generate(), None),
    };
    let message = NewMessage {
        id: id.clone(),
        body,
        optimistic_id: optimistic_id.clone(),
        thread_id,
        mentions,
    };
    commands::on_conversation(
        &call.state,
        &call.origin(DIALECT),
        "message:send",
        &conversation,
        Action::PostMessage(message),
        command_id,
    )
    .await?;
    call.reply(
        "message:sent",
        &json!({
            "id": id.as_str(),
            "optimisticId": optimistic_id.as_ref().map(OptimisticId::as_str),
            "channelId": request.channel_id,
            "conversationId": conversation.as_str(),
            "timestamp": wire_time(chrono::Utc::now()),
        }),
    );
    Ok(())
}
