//! Voice calls with SATE: `call_support` → `call_support {token, room,
//! ticket_chat_id, ticket_call_id, call_start_time, url?}` to the
//! conversation's and the customer's rooms, with a LiveKit access token
//! for room = `ticket_chat_id`.
//!
//! A call is a session of the `Call` aggregate whose room is the
//! conversation id (the customer is its participant), so calls are events
//! like everything else. `ticket_call_id` is `{ticket_chat_id}-{session}`.

use domain::actor::Actor;
use domain::call::{CallAction, Membership, RoomName};
use domain::conversation::Status;
use domain::ids::{ConversationId, SessionId};
use projections::calls;
use serde_json::{Value, json};

use super::livekit::livekit_token;
use super::tickets::{open, ticket};
use super::{Request, conversation_room, customer_room, envelope};
use crate::error::{ErrorCode, WireError};
use crate::wire_time;

pub(super) fn call_room(id: &ConversationId) -> Result<RoomName, WireError> {
    Ok(RoomName::parse(id.as_str())?)
}

/// To the conversation's room and the customer's (once per socket), and
/// to the caller in case it is in neither.
pub(super) async fn broadcast(
    req: &Request,
    session: &SessionId,
    customer: &Actor,
    id: &ConversationId,
    name: &str,
    body: &Value,
) {
    let tenant = &customer.tenant;
    let to = req
        .socket
        .within(conversation_room(tenant, id))
        .within(customer_room(tenant, session, &customer.user))
        .within(req.socket.id.to_string());
    if let Err(error) = to.emit(name, body).await {
        tracing::debug!(%error, name, "helpdesk call broadcast not delivered everywhere");
    }
    let ack = req
        .ack
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(ack) = ack {
        let _ = ack.send(body);
    }
}

pub async fn call(req: &Request) -> Result<(), WireError> {
    let config = &req.state.config;
    let (Some(key), Some(secret)) = (&config.livekit_api_key, &config.livekit_api_secret) else {
        return Err(WireError::new(
            ErrorCode::Unavailable,
            "voice calls are not configured on this server",
        ));
    };
    let (session, actor) = req.session()?;
    let id = match req.optional_text("ticket_chat_id")? {
        Some(raw) => {
            let view = ticket(req, &raw).await?.view;
            match view.status {
                Status::Agent | Status::Escalated | Status::Queued => {
                    return Err(WireError::new(
                        ErrorCode::Conflict,
                        "voice calls are only available while SATE handles the conversation",
                    ));
                }
                s if s.is_over() => {
                    return Err(WireError::new(
                        ErrorCode::Conflict,
                        format!("the conversation is {s}"),
                    ));
                }
                _ => view.room.id,
            }
        }
        None => open(req, &session, &actor).await?,
    };
    let room = call_room(&id)?;
    req.state.read_your_writes(calls::NAME).await;
    if let Some((_, true, _, _)) =
        calls::latest_session(req.state.log.db(), &actor.tenant, &room).await?
    {
        return Err(WireError::new(
            ErrorCode::CallActive,
            "a call is already in progress in this conversation",
        ));
    }
    // The room is the session's own conversation (checked above): its
    // customer takes part in it.
    let membership = Membership {
        conversation: Some(true),
        channel: None,
    };
    req.state
        .commands
        .on_call(
            &req.origin_as(&actor),
            "call_support",
            &room,
            CallAction::Join(membership),
        )
        .await?;
    req.state.read_your_writes(calls::NAME).await;
    let (session_no, _, started, _) =
        calls::latest_session(req.state.log.db(), &actor.tenant, &room)
            .await?
            .ok_or_else(|| WireError::internal(&"the call was started but cannot be read"))?;
    let token = livekit_token(
        key,
        secret.expose(),
        actor.user.as_str(),
        actor.display_name(),
        room.as_str(),
        chrono::Utc::now().timestamp(),
    )?;
    let mut data = json!({
        "token": token,
        "room": room.as_str(),
        "ticket_chat_id": id.as_str(),
        "ticket_call_id": format!("{id}-{session_no}"),
        "call_start_time": wire_time(started),
    });
    if let Some(url) = &config.livekit_url {
        data["url"] = json!(url);
    }
    let body = envelope(200, &req.socket.id.to_string(), "Call started", data);
    broadcast(req, &session, &actor, &id, "call_support", &body).await;
    Ok(())
}
