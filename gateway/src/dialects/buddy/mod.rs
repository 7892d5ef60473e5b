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

pub use push::push;
pub use role::UserRole;

use domain::Timestamp;
use domain::conversation::{Action, Kind};
use domain::ids::{ConversationId, TenantId};
use projections::Room;

use super::{Decoded, decoded};
use crate::commands;
use crate::error::WireError;
use crate::socket::{Call, Inbound};

pub const DIALECT: &str = "buddy";

/// `None` when the event is not one of this dialect's.
pub async fn dispatch(call: &Call) -> Option<Result<(), WireError>> {
    Some(match call.event.as_str() {
        "join_room" => join_room::handle(call).await,
        "leave_room" => leave_room::handle(call).await,
        "send_message" => send_message::handle(call).await,
        "typing_start" => typing::handle(call, true).await,
        "typing_stop" => typing::handle(call, false).await,
        "get_messages" => get_messages::handle(call).await,
        "share_robot_message" => share_robot_message::handle(call).await,
        "join_dashboard" => dashboard::join(call).await,
        "leave_dashboard" => dashboard::leave(call).await,
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
fn conversation(call: &Inbound, raw: &str) -> Result<Room, WireError> {
    let id = ConversationId::parse(raw).map_err(WireError::from)?;
    Ok(Room::new(call.actor.tenant.clone(), Kind::Conversation, id))
}

/// A payload's `field` names the caller, or it is refused: nobody acts
/// for someone else.
fn ensure_caller(call: &Inbound, room: &Room, field: &str, user: &str) -> Result<(), WireError> {
    if user == call.actor.user.as_str() {
        return Ok(());
    }
    Err(
        WireError::forbidden(format!("{field} must be your own user id"))
            .in_conversation(room.id.as_str()),
    )
}

/// Run `action` in the conversation for the caller; answers with the time
/// its events carry.
async fn run(
    call: &Call,
    command: &'static str,
    room: &Room,
    action: Action,
) -> Result<Timestamp, WireError> {
    commands::on_conversation_timed(
        &call.state,
        &call.origin(DIALECT),
        command,
        room.kind,
        &room.id,
        action,
        None,
    )
    .await
}
