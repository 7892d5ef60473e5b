//! The lvng dialect (seed `002`) on namespace `/`: conversations, channels,
//! messages (send, edit, delete, react, read), typing, presence, calls and
//! swarm sessions.
//!
//! Rooms follow the seed's patterns, with the tenant added where the seed's
//! ids are not tenant-scoped, so that no two tenants ever share a room:
//! `customer:{tenant}:conversation:{id}`, `channel:{tenant}:{id}`,
//! `call:{tenant}:{roomName}`, `swarm:{tenant}:{sessionId}`, `org:{tenant}`,
//! `activity:{tenant}`.

mod activity;
mod call_join;
mod call_leave;
mod call_rooms;
mod call_transcription;
mod channel_join;
mod channel_leave;
mod channel_update;
mod conversation_join;
mod conversation_leave;
mod conversation_rejoin;
mod message_delete;
mod message_react;
mod message_read;
mod message_send;
mod message_update;
mod presence;
mod push;
mod render;
mod swarm;
mod swarm_subscribe;
mod swarm_unsubscribe;
mod typing;

use domain::Room;
use domain::actor::Actor;
use domain::conversation::Kind;
use domain::ids::{ConversationId, TenantId};
use serde::Deserialize;

use super::{Decoded, decoded};
use crate::dialect::{Admitted, Dialect, Entry, Inbound, Push, Request};
use crate::error::WireError;
use crate::state::AppState;
use async_trait::async_trait;
use projections::Update;
use socketioxide::extract::SocketRef;

pub const DIALECT: &str = "lvng";

/// `None` when the event is not one of this dialect's.
async fn dispatch(req: &Request) -> Option<Result<(), WireError>> {
    Some(match req.event.as_str() {
        "conversation:join" => conversation_join::handle(req).await,
        "conversation:leave" => conversation_leave::handle(req).await,
        "conversation:rejoin" => conversation_rejoin::handle(req).await,
        "channel:join" => channel_join::handle(req).await,
        "channel:leave" => channel_leave::handle(req).await,
        "channel:update" => channel_update::handle(req).await,
        "message:send" => message_send::handle(req).await,
        "message:update" => message_update::handle(req).await,
        "message:delete" => message_delete::handle(req).await,
        "message:react" => message_react::handle(req).await,
        "message:read" | "message:read:batch" => message_read::handle(req).await,
        "activity:subscribe" => activity::subscribe(req).await,
        "activity:unsubscribe" => activity::unsubscribe(req).await,
        "typing:start" => typing::handle(req, true).await,
        "typing:stop" => typing::handle(req, false).await,
        "presence:update" => presence::update(req).await,
        "presence:heartbeat" => presence::heartbeat(req).await,
        "call:join" => call_join::handle(req).await,
        "call:leave" => call_leave::handle(req).await,
        "call:transcription" => call_transcription::handle(req).await,
        "swarm:subscribe" => swarm_subscribe::handle(req).await,
        "swarm:unsubscribe" => swarm_unsubscribe::handle(req).await,
        _ => return None,
    })
}

/// Decode an inbound event of this dialect as its handler does, without
/// IO: `None` when the event is not one of this dialect's. For tests and
/// fuzzing ([`crate::fuzzing`]); the handlers call the same functions.
pub fn decode(input: &Inbound) -> Option<Result<Decoded, WireError>> {
    Some(match input.event {
        "conversation:join" => decoded(conversation_join::decode(input)),
        "conversation:leave" => decoded(conversation_leave::decode(input)),
        "conversation:rejoin" => decoded(conversation_rejoin::decode(input)),
        "channel:join" => decoded(channel_join::decode(input)),
        "channel:leave" => decoded(channel_leave::decode(input)),
        "channel:update" => decoded(channel_update::decode(input)),
        "message:send" => decoded(message_send::decode(input)),
        "message:update" => decoded(message_update::decode(input)),
        "message:delete" => decoded(message_delete::decode(input)),
        "message:react" => decoded(message_react::decode(input)),
        "message:read" | "message:read:batch" => decoded(message_read::decode(input)),
        "activity:subscribe" | "activity:unsubscribe" => decoded(activity::decode(input)),
        "typing:start" | "typing:stop" => decoded(typing::decode(input)),
        "presence:update" => decoded(presence::decode(input)),
        // The seed's heartbeat has no payload: nothing to decode.
        "presence:heartbeat" => decoded(Ok(())),
        "call:join" | "call:leave" => decoded(call_rooms::decode_room(input)),
        "call:transcription" => decoded(call_transcription::decode(input)),
        "swarm:subscribe" => decoded(swarm_subscribe::decode(input)),
        "swarm:unsubscribe" => decoded(swarm_unsubscribe::decode(input)),
        _ => return None,
    })
}

/// The lvng dialect's contract (see [`crate::dialect`]).
pub struct Lvng;

#[async_trait]
impl Dialect for Lvng {
    fn name(&self) -> &'static str {
        DIALECT
    }

    fn entry(&self) -> Entry {
        Entry::Root
    }

    /// Signed-in users hear their organisation's presence from the start;
    /// every socket keeps the calls it joins.
    fn connected(&self, admitted: Admitted<'_>) {
        if !admitted.visitor {
            admitted.socket.join(org_room(&admitted.actor.tenant));
        }
        admitted
            .socket
            .extensions
            .insert(call_rooms::JoinedCalls::default());
    }

    async fn dispatch(&self, req: &Request) -> Option<Result<(), WireError>> {
        dispatch(req).await
    }

    /// A socket that goes leaves every call it was in.
    async fn disconnected(&self, state: &AppState, socket: &SocketRef, actor: &Actor) {
        call_rooms::on_disconnect(state, socket, actor).await;
    }

    fn render(&self, update: &Update, pushes: &mut Vec<Push>) {
        push::render(update, pushes);
    }
}

/// The organisation room every socket of a tenant joins on connect
/// (presence).
pub fn org_room(tenant: &TenantId) -> String {
    format!("org:{tenant}")
}

/// The tenant's activity feed (the seed's `activity:{customerId}`).
pub fn activity_room(tenant: &TenantId) -> String {
    format!("activity:{tenant}")
}

/// The room of a conversation or channel. Tenant ids cannot contain `:`,
/// so no two (tenant, id) pairs share a room.
pub fn room_name(room: &Room) -> String {
    match room.kind {
        Kind::Conversation => format!("customer:{}:conversation:{}", room.tenant, room.id),
        Kind::Channel => format!("channel:{}:{}", room.tenant, room.id),
    }
}

/// `{conversationId, customerId, channelId}`: how lvng events name where
/// they happen (flattened into the larger payloads).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    conversation_id: Option<String>,
    customer_id: Option<String>,
    channel_id: Option<String>,
}

impl Target {
    /// A conversation (`conversationId` wins when both are given, as the
    /// seed's payloads carry `channelId` everywhere) or a channel, of the
    /// caller's tenant: `customerId`, when given, must be that tenant.
    fn resolve(&self, req: &Inbound) -> Result<Room, WireError> {
        let (kind, raw) = match (&self.conversation_id, &self.channel_id) {
            (Some(id), _) => (Kind::Conversation, id),
            (None, Some(id)) => (Kind::Channel, id),
            (None, None) => {
                return Err(
                    WireError::validation("conversationId or channelId is required").with_details(
                        format!(
                            "{}: missing field `conversationId` (or `channelId`)",
                            req.event
                        ),
                    ),
                );
            }
        };
        self.room(req, kind, raw)
    }

    /// The room `raw` names, of the caller's tenant: `customerId`, when
    /// given, must be that tenant.
    fn room(&self, req: &Inbound, kind: Kind, raw: &str) -> Result<Room, WireError> {
        let field = match kind {
            Kind::Conversation => "conversationId",
            Kind::Channel => "channelId",
        };
        let id = ConversationId::parse(raw)
            .map_err(|e| WireError::validation(format!("invalid {field}: {e}")))?;
        if let Some(customer) = &self.customer_id
            && customer != req.actor.tenant.as_str()
        {
            return Err(
                WireError::forbidden("customerId does not match your tenant")
                    .in_conversation(id.as_str()),
            );
        }
        Ok(Room::new(req.actor.tenant.clone(), kind, id))
    }

    /// As [`Target::resolve`], but only a conversation will do.
    fn conversation(&self, req: &Inbound) -> Result<Room, WireError> {
        if self.conversation_id.is_none() {
            return Err(WireError::validation("conversationId is required")
                .with_details(format!("{}: missing field `conversationId`", req.event)));
        }
        self.resolve(req)
    }

    /// As [`Target::resolve`], but only a channel will do.
    fn channel(&self, req: &Inbound) -> Result<Room, WireError> {
        match &self.channel_id {
            None => Err(WireError::validation("channelId is required")
                .with_details(format!("{}: missing field `channelId`", req.event))),
            Some(id) => self.room(req, Kind::Channel, id),
        }
    }
}

/// The `{channelId, conversationId}` pair of lvng payloads: one is the id,
/// the other null.
fn ids(room: &Room) -> (Option<&str>, Option<&str>) {
    match room.kind {
        Kind::Conversation => (None, Some(room.id.as_str())),
        Kind::Channel => (Some(room.id.as_str()), None),
    }
}
