//! Voice calls with SATE: `call_support` → `call_support {token, room,
//! ticket_chat_id, ticket_call_id, call_start_time, url?}` to the
//! conversation's and the customer's rooms, with a LiveKit access token
//! for room = `ticket_chat_id`; `close_call_support` → `close_call_support
//! {room, ticket_chat_id, ticket_call_id, call_start_time, call_end_time}`.
//!
//! A call is a session of the `Call` aggregate whose room is the
//! conversation id (the customer is its participant), so calls are events
//! like everything else. `ticket_call_id` is `{ticket_chat_id}-{session}`.

use domain::actor::Actor;
use domain::call::{CallAction, LeaveReason, Membership, RoomName};
use domain::conversation::Status;
use domain::ids::{ConversationId, SessionId};
use jsonwebtoken::{EncodingKey, Header};
use projections::calls;
use serde::Serialize;
use serde_json::{Value, json};

use super::conversations::{Ticket, open, ticket};
use super::{Event, conversation_room, customer_room, envelope};
use crate::error::WireError;
use crate::wire_time;

/// How long a LiveKit token lets its holder join.
const TOKEN_TTL_SECS: i64 = 3600;

/// LiveKit's access-token claims (its `VideoGrant` in `video`).
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    name: &'a str,
    nbf: i64,
    exp: i64,
    jti: String,
    video: VideoGrant<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VideoGrant<'a> {
    room: &'a str,
    room_join: bool,
    can_publish: bool,
    can_subscribe: bool,
}

/// A LiveKit access token for `identity` to join `room`.
pub fn livekit_token(
    api_key: &str,
    secret: &str,
    identity: &str,
    name: &str,
    room: &str,
    now: i64,
) -> Result<String, WireError> {
    let claims = Claims {
        iss: api_key,
        sub: identity,
        name,
        nbf: now,
        exp: now + TOKEN_TTL_SECS,
        jti: uuid::Uuid::new_v4().to_string(),
        video: VideoGrant {
            room,
            room_join: true,
            can_publish: true,
            can_subscribe: true,
        },
    };
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| WireError::internal(&e))
}

fn call_room(id: &ConversationId) -> Result<RoomName, WireError> {
    Ok(RoomName::parse(id.as_str())?)
}

/// To the conversation's room and the customer's (once per socket), and
/// to the caller in case it is in neither.
async fn broadcast(
    event: &Event,
    session: &SessionId,
    customer: &Actor,
    id: &ConversationId,
    name: &str,
    body: &Value,
) {
    let tenant = &customer.tenant;
    let to = event
        .socket
        .within(conversation_room(tenant, id))
        .within(customer_room(tenant, session, &customer.user))
        .within(event.socket.id.to_string());
    if let Err(error) = to.emit(name, body).await {
        tracing::debug!(%error, name, "helpdesk call broadcast not delivered everywhere");
    }
    let ack = event
        .ack
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(ack) = ack {
        let _ = ack.send(body);
    }
}

pub async fn call(event: &Event) -> Result<(), WireError> {
    let config = &event.state.config;
    let (Some(key), Some(secret)) = (&config.livekit_api_key, &config.livekit_api_secret) else {
        return Err(WireError::new(
            "UNAVAILABLE",
            "voice calls are not configured on this server",
        ));
    };
    let (session, actor) = event.session()?;
    let id = match event.optional_text("ticket_chat_id")? {
        Some(raw) => {
            let view = ticket(event, &raw).await?.view;
            match view.status {
                Status::Agent | Status::Escalated | Status::Queued => {
                    return Err(WireError::new(
                        "CONFLICT",
                        "voice calls are only available while SATE handles the conversation",
                    ));
                }
                s if s.is_over() => {
                    return Err(WireError::new(
                        "CONFLICT",
                        format!("the conversation is {s}"),
                    ));
                }
                _ => view.room.id,
            }
        }
        None => open(event, &session, &actor).await?,
    };
    let room = call_room(&id)?;
    event.state.read_your_writes(calls::NAME).await;
    if let Some((_, true, _, _)) =
        calls::latest_session(event.state.log.db(), &actor.tenant, &room).await?
    {
        return Err(WireError::new(
            "CALL_ACTIVE",
            "a call is already in progress in this conversation",
        ));
    }
    // The room is the session's own conversation (checked above): its
    // customer takes part in it.
    let membership = Membership {
        conversation: Some(true),
        channel: None,
    };
    event
        .state
        .commands
        .on_call(
            &event.origin_as(&actor),
            "call_support",
            &room,
            CallAction::Join(membership),
        )
        .await?;
    event.state.read_your_writes(calls::NAME).await;
    let (session_no, _, started, _) =
        calls::latest_session(event.state.log.db(), &actor.tenant, &room)
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
    let body = envelope(200, &event.socket.id.to_string(), "Call started", data);
    broadcast(event, &session, &actor, &id, "call_support", &body).await;
    Ok(())
}

pub async fn close(event: &Event) -> Result<(), WireError> {
    let Ticket {
        view,
        session,
        customer: actor,
    } = ticket(event, &event.text("ticket_chat_id")?).await?;
    let room = call_room(&view.room.id)?;
    event.state.read_your_writes(calls::NAME).await;
    let db = event.state.log.db();
    let before = calls::latest_session(db, &actor.tenant, &room).await?;
    let active = before.filter(|(_, active, _, _)| *active);
    if active.is_some() {
        event
            .state
            .commands
            .on_call(
                &event.origin_as(&actor),
                "close_call_support",
                &room,
                CallAction::Leave(LeaveReason::Left),
            )
            .await?;
        event.state.read_your_writes(calls::NAME).await;
    }
    let after = calls::latest_session(db, &actor.tenant, &room).await?;
    let now = chrono::Utc::now();
    let data = json!({
        "room": room.as_str(),
        "ticket_chat_id": view.room.id.as_str(),
        "ticket_call_id": active.map(|(n, _, _, _)| format!("{}-{n}", view.room.id)),
        "call_start_time": after.map(|(_, _, started, _)| wire_time(started)),
        "call_end_time": after.and_then(|(_, _, _, ended)| ended).map(wire_time).unwrap_or_else(|| wire_time(now)),
    });
    let body = envelope(200, &event.socket.id.to_string(), "Call ended", data);
    broadcast(
        event,
        &session,
        &actor,
        &view.room.id,
        "close_call_support",
        &body,
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn a_livekit_token_verifies_with_the_secret_and_names_the_room() {
        let now = chrono::Utc::now().timestamp();
        let token = livekit_token(
            "APIkey",
            "s3cret-s3cret-s3cret-s3cret-32b!",
            "hd-ana",
            "Ana",
            "hd-1",
            now,
        )
        .unwrap();
        let mut validation = Validation::default();
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
        let decoded = jsonwebtoken::decode::<Value>(
            &token,
            &DecodingKey::from_secret(b"s3cret-s3cret-s3cret-s3cret-32b!"),
            &validation,
        )
        .unwrap();
        let claims = decoded.claims;
        assert_eq!(claims["iss"], "APIkey");
        assert_eq!(claims["sub"], "hd-ana");
        assert_eq!(claims["video"]["room"], "hd-1");
        assert_eq!(claims["video"]["roomJoin"], true);
        assert!(
            jsonwebtoken::decode::<Value>(
                &token,
                &DecodingKey::from_secret(b"another secret"),
                &validation
            )
            .is_err()
        );
    }
}
