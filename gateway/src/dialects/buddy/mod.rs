//! The buddy dialect (seed `001`) on namespace `/`: snake_case events for
//! support conversations (`join_room`, `send_message`, `get_messages`,
//! robot messages staff share with the customer…) and the staff dashboard.
//!
//! Rooms, always with the tenant, so that no two tenants ever share one:
//! - `buddy:{tenant}:conversation:{id}`: every socket that sent `join_room`;
//!   it hears `new_message`, `user_joined`, `user_left`, `user_typing`;
//! - `buddy:{tenant}:conversation:{id}:staff`: the staff among them, who
//!   also hear robot messages not yet shared;
//! - `buddy:{tenant}:dashboard`: staff who sent `join_dashboard`; it hears
//!   what happens to every conversation of the tenant.
//!
//! Payloads name the caller (`userId`, `fromUserId`) and their role
//! (`userRole`, `fromRole`): the token decides both, and a payload that
//! says otherwise is refused, except that staff post robot suggestions as
//! `robot`.

mod dashboard;
mod get_messages;
mod join_room;
mod leave_room;
mod push;
mod render;
mod role;
mod send_message;
mod share_robot_message;
mod typing;

pub use role::UserRole;

use domain::Room;
use domain::conversation::Kind;
use domain::ids::{ConversationId, TenantId};

use super::{Decoded, decoded};
use crate::dialect::{Dialect, Entry, Inbound, Push, Request};
use crate::error::WireError;
use async_trait::async_trait;
use projections::Update;

pub const DIALECT: &str = "buddy";

/// The buddy dialect's contract (see [`crate::dialect`]).
pub struct Buddy;

#[async_trait]
impl Dialect for Buddy {
    fn name(&self) -> &'static str {
        DIALECT
    }

    fn entry(&self) -> Entry {
        Entry::Root
    }

    async fn dispatch(&self, req: &Request) -> Option<Result<(), WireError>> {
        dispatch(req).await
    }

    fn render(&self, update: &Update, pushes: &mut Vec<Push>) {
        push::render(update, pushes);
    }
}

/// `None` when the event is not one of this dialect's.
async fn dispatch(req: &Request) -> Option<Result<(), WireError>> {
    Some(match req.event.as_str() {
        "join_room" => join_room::handle(req).await,
        "leave_room" => leave_room::handle(req).await,
        "send_message" => send_message::handle(req).await,
        "typing_start" => typing::handle(req, true).await,
        "typing_stop" => typing::handle(req, false).await,
        "get_messages" => get_messages::handle(req).await,
        "share_robot_message" => share_robot_message::handle(req).await,
        "join_dashboard" => dashboard::join(req).await,
        "leave_dashboard" => dashboard::leave(req).await,
        _ => return None,
    })
}

/// Decode an inbound event of this dialect as its handler does, without
/// IO: `None` when the event is not one of this dialect's. For tests and
/// fuzzing ([`crate::fuzzing`]); the handlers call the same functions.
pub fn decode(input: &Inbound) -> Option<Result<Decoded, WireError>> {
    Some(match input.event {
        "join_room" => decoded(join_room::decode(input)),
        "leave_room" => decoded(leave_room::decode(input)),
        "send_message" => decoded(send_message::decode(input)),
        "typing_start" | "typing_stop" => decoded(typing::decode(input)),
        "get_messages" => decoded(get_messages::decode(input)),
        "share_robot_message" => decoded(share_robot_message::decode(input)),
        "join_dashboard" | "leave_dashboard" => decoded(dashboard::decode(input)),
        _ => return None,
    })
}

/// Everyone in a conversation who joined through this dialect. Tenant ids
/// cannot contain `:`, so no two (tenant, id) pairs share a room.
pub fn conversation_room(room: &Room) -> String {
    format!("buddy:{}:conversation:{}", room.tenant, room.id)
}

/// The staff in a conversation: they alone hear robot messages not yet
/// shared.
pub fn staff_room(room: &Room) -> String {
    format!("{}:staff", conversation_room(room))
}

/// The tenant's dashboard.
pub fn dashboard_room(tenant: &TenantId) -> String {
    format!("buddy:{tenant}:dashboard")
}

/// The caller's conversation `raw` names: ids are per tenant, so another
/// tenant's conversation is simply not there (`NOT_FOUND`).
fn conversation(req: &Inbound, raw: &str) -> Result<Room, WireError> {
    let id = ConversationId::parse(raw).map_err(WireError::from)?;
    Ok(Room::new(req.actor.tenant.clone(), Kind::Conversation, id))
}

/// A payload's `field` names the caller, or it is refused: nobody acts
/// for someone else.
fn ensure_caller(req: &Inbound, room: &Room, field: &str, user: &str) -> Result<(), WireError> {
    if user == req.actor.user.as_str() {
        return Ok(());
    }
    Err(
        WireError::forbidden(format!("{field} must be your own user id"))
            .in_conversation(room.id.as_str()),
    )
}
