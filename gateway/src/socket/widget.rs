//! Widget-key authentication, for the anonymous visitors of a chat widget
//! (the chatbot seed): the handshake has `auth: {widgetKey, chatbotId}` and
//! no token.
//!
//! The key is checked in a connect middleware: socketioxide runs it before
//! it tells the client that it is connected, so no event of the client can
//! arrive before its socket knows who it is (the check reads the database).
//! The middleware only leaves its finding in the socket's extensions; the
//! connect handler greets or refuses the socket, as it does for tokens.
//!
//! A visitor becomes a customer of the key's tenant named "Visitor", with
//! a user id of its own per connection (`visitor-{uuid}`), or, when the
//! handshake names a `sessionId`, `visitor-{sessionId}`: the session is the
//! visitor's bearer (as in the chatbot seed's `join-conversation`), so a
//! visitor of a dialect without sessions (buddy) that reconnects is the
//! same customer and may rejoin its conversations. Its socket
//! carries a [`Widget`] naming its chatbot, for dialects to read with
//! [`widget`]. Visitors are anonymous: no presence is recorded for them,
//! and they do not join the organisation room (staff presence is not for
//! the public).

use domain::DomainError;
use domain::access_key::{KeyId, PresentedKey, unknown_key};
use domain::actor::{Actor, Role};
use domain::ids::{ChatbotId, SessionId, UserId};
use projections::access_keys;
use serde_json::Value;
use socketioxide::extract::{SocketRef, State, TryData};
use std::convert::Infallible;

use crate::error::{ErrorCode, WireError};
use crate::state::AppState;

/// The widget a socket connected through: set on connect for visitors
/// only, so its presence tells a widget visitor from a signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widget {
    /// The chatbot of the widget, which its key was issued for.
    pub chatbot_id: ChatbotId,
    /// The key it connected with (never its secret).
    pub key_id: KeyId,
}

/// The widget this socket connected through, if it is a widget visitor's.
pub fn widget(socket: &SocketRef) -> Option<Widget> {
    socket.extensions.get::<Widget>()
}

/// What the middleware found, for the connect handler to act on.
#[derive(Clone)]
pub(super) struct Outcome(pub Result<(Actor, Widget), WireError>);

/// The connect middleware: when the handshake has widget credentials and
/// no token, check them and leave the [`Outcome`]. Never refuses by
/// itself, so that the handler can answer with an `error` event.
pub(super) async fn check(
    socket: SocketRef,
    TryData(handshake): TryData<Value>,
    State(state): State<AppState>,
) -> Result<(), Infallible> {
    let handshake = handshake.unwrap_or(Value::Null);
    if super::token(&socket, &handshake).is_some() {
        return Ok(());
    }
    let Some(credentials) = credentials(&handshake) else {
        return Ok(());
    };
    let outcome = match credentials {
        Ok(Credentials {
            key,
            chatbot,
            session,
        }) => admit(&state, &key, chatbot, session).await,
        Err(error) => Err(error),
    };
    socket.extensions.insert(Outcome(outcome));
    Ok(())
}

/// The outcome the middleware left, taken (so it is acted on once).
pub(super) fn take_outcome(socket: &SocketRef) -> Option<Result<(Actor, Widget), WireError>> {
    socket.extensions.remove::<Outcome>().map(|o| o.0)
}

fn refused(message: impl Into<String>) -> WireError {
    WireError::new(ErrorCode::WidgetValidationError, message)
}

/// A widget handshake, parsed.
struct Credentials {
    key: PresentedKey,
    chatbot: ChatbotId,
    /// The visitor's session, when the handshake names one.
    session: Option<SessionId>,
}

/// `widgetKey`, `chatbotId` and the optional `sessionId` of a handshake,
/// parsed. `None` when there is no widget key at all (a client with no
/// credentials is told `NO_AUTH`). Errors never repeat the key: it may be a
/// real one with a typo.
fn credentials(handshake: &Value) -> Option<Result<Credentials, WireError>> {
    let key = match handshake.get("widgetKey") {
        None | Some(Value::Null) => return None,
        Some(Value::String(key)) if key.is_empty() => return None,
        Some(Value::String(key)) => key,
        Some(_) => return Some(Err(refused("widgetKey must be a string"))),
    };
    let parsed = (|| {
        let key = PresentedKey::parse(key).map_err(|e| refused(e.to_string()))?;
        let chatbot = match handshake.get("chatbotId") {
            None | Some(Value::Null) => {
                return Err(refused("a widgetKey needs the chatbotId it was issued for"));
            }
            Some(Value::String(raw)) => {
                ChatbotId::parse(raw.as_str()).map_err(|e| refused(e.to_string()))?
            }
            Some(_) => return Err(refused("chatbotId must be a string")),
        };
        let session = match handshake.get("sessionId") {
            None | Some(Value::Null) => None,
            Some(Value::String(raw)) => {
                Some(SessionId::parse(raw.as_str()).map_err(|e| refused(e.to_string()))?)
            }
            Some(_) => return Err(refused("sessionId must be a string")),
        };
        Ok(Credentials {
            key,
            chatbot,
            session,
        })
    })();
    Some(parsed)
}

/// Check a presented key against the issued keys; on success, the
/// visitor it lets in.
async fn admit(
    state: &AppState,
    key: &PresentedKey,
    chatbot: ChatbotId,
    session: Option<SessionId>,
) -> Result<(Actor, Widget), WireError> {
    // A key issued or revoked just before must count at once.
    state.read_your_writes(access_keys::NAME).await;
    let found = access_keys::find(state.log.db(), key.key_id()).await?;
    let tenant = match found {
        None => Err(unknown_key()),
        Some(found) => found
            .record()
            .admit_widget(key, &chatbot)
            .map(|()| found.tenant),
    };
    let tenant = tenant.map_err(|error| match error {
        DomainError::Forbidden(reason) => refused(format!("widget key refused: {reason}")),
        other => refused(other.to_string()),
    })?;
    let visitor = match session {
        Some(session) => format!("visitor-{session}"),
        None => format!("visitor-{}", uuid::Uuid::new_v4().simple()),
    };
    let actor = Actor {
        // Only a session id can make this invalid (too long for a user id).
        user: UserId::parse(visitor).map_err(|e| refused(format!("sessionId: {e}")))?,
        tenant,
        role: Role::Customer,
        name: Some("Visitor".to_owned()),
    };
    let widget = Widget {
        chatbot_id: chatbot,
        key_id: key.key_id().clone(),
    };
    Ok((actor, widget))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn key() -> String {
        format!("pk_abc123_{SECRET}")
    }

    fn code_and_message(found: Option<Result<Credentials, WireError>>) -> String {
        let Err(error) = found.expect("widget credentials") else {
            panic!("expected a refusal");
        };
        assert_eq!(error.code, ErrorCode::WidgetValidationError);
        error.message
    }

    #[test]
    fn a_key_and_a_chatbot_are_widget_credentials() {
        let Some(Ok(found)) = credentials(&json!({ "widgetKey": key(), "chatbotId": "bot-1" }))
        else {
            panic!("expected widget credentials");
        };
        assert_eq!(found.key.key_id().as_str(), "abc123");
        assert_eq!(found.chatbot.as_str(), "bot-1");
        assert!(found.session.is_none());
        let Some(Ok(found)) = credentials(
            &json!({ "widgetKey": key(), "chatbotId": "bot-1", "sessionId": "sess-9" }),
        ) else {
            panic!("expected widget credentials");
        };
        assert_eq!(found.session.unwrap().as_str(), "sess-9");
    }

    #[test]
    fn no_widget_key_is_no_widget_credentials() {
        for handshake in [
            Value::Null,
            json!({}),
            json!({ "chatbotId": "bot-1" }),
            json!({ "widgetKey": "", "chatbotId": "bot-1" }),
            json!({ "widgetKey": null }),
        ] {
            assert!(credentials(&handshake).is_none(), "{handshake}");
        }
    }

    #[test]
    fn malformed_widget_credentials_are_refused_without_echoing_the_key() {
        for handshake in [
            json!({ "widgetKey": 42, "chatbotId": "bot-1" }),
            json!({ "widgetKey": "garbage-key-typed-in", "chatbotId": "bot-1" }),
            json!({ "widgetKey": key() }),
            json!({ "widgetKey": key(), "chatbotId": 7 }),
            json!({ "widgetKey": key(), "chatbotId": "a:b" }),
            json!({ "widgetKey": key(), "chatbotId": "bot-1", "sessionId": 5 }),
            json!({ "widgetKey": key(), "chatbotId": "bot-1", "sessionId": "" }),
        ] {
            let message = code_and_message(credentials(&handshake));
            assert!(!message.contains(SECRET), "{message}");
            assert!(!message.contains("garbage-key-typed-in"), "{message}");
        }
    }
}
