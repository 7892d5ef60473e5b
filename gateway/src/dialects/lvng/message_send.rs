//! `message:send {channelId | conversationId, customerId?, content,
//! optimisticId?, threadId?, mentions?}` → `message:sent {id, optimisticId,
//! channelId, conversationId, timestamp}` to the sender once the message is
//! durable; `message:new` reaches the room through the projection.
//!
//! A resend with the same `optimisticId` (a client retrying after a
//! reconnect) maps to the same message id and the same event id, so it is
//! stored once and acknowledged with the same id.

use domain::Room;
use domain::conversation::{Action, Conversation, MessageKind, NewMessage};
use domain::ids::{MessageId, UserId};
use domain::message::{MessageBody, OptimisticId};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{DIALECT, Target, ids};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;
use crate::wire_time;

/// Namespace of the command ids of optimistic sends (a fixed random UUID).
const SEND_COMMANDS: Uuid = Uuid::from_u128(0x0b7e_54a1_2f6c_4d8e_9a3b_5c1d_7e2f_4a60);
const MAX_MENTIONS: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Send {
    #[serde(flatten)]
    target: Target,
    content: Option<String>,
    thread_id: Option<String>,
    mentions: Option<Vec<String>>,
    optimistic_id: Option<String>,
}

/// A `message:send` decoded and checked.
#[derive(Debug)]
pub(super) struct Post {
    room: Room,
    body: MessageBody,
    optimistic_id: Option<OptimisticId>,
    thread_id: Option<MessageId>,
    mentions: Vec<UserId>,
}

/// The message the payload asks to post (no IO).
pub(super) fn decode(input: &Inbound) -> Result<Post, WireError> {
    let request: Send = input.parse()?;
    let room = request.target.resolve(input)?;
    let conversation = &room.id;
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
    Ok(Post {
        room,
        body,
        optimistic_id,
        thread_id,
        mentions,
    })
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let Post {
        room,
        body,
        optimistic_id,
        thread_id,
        mentions,
    } = decode(&req.inbound())?;
    let conversation = &room.id;
    let (id, command_id) = match &optimistic_id {
        Some(optimistic) => {
            let id = MessageId::for_optimistic(
                &req.actor.tenant,
                conversation,
                &req.actor.user,
                optimistic.as_str(),
            );
            // Event ids are unique in the whole log: a channel and a
            // conversation with the same id must not share them.
            let stream = Conversation::stream_id(room.kind, &room.tenant, conversation);
            let key = format!("{stream}\n{id}");
            let command_id = Uuid::new_v5(&SEND_COMMANDS, key.as_bytes());
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
        kind: MessageKind::Text,
        provenance: None,
        metadata: None,
    };
    req.state
        .commands
        .on_conversation(
            &req.origin(DIALECT),
            "message:send",
            &room,
            Action::PostMessage(message),
            command_id,
        )
        .await?;
    let (channel_id, conversation_id) = ids(&room);
    req.reply(
        "message:sent",
        &json!({
            "id": id.as_str(),
            "optimisticId": optimistic_id.as_ref().map(OptimisticId::as_str),
            "channelId": channel_id,
            "conversationId": conversation_id,
            "timestamp": wire_time(chrono::Utc::now()),
        }),
    );
    Ok(())
}
