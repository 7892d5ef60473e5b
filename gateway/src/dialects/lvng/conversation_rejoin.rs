//! `conversation:rejoin {conversationId, customerId, lastMessageId?,
//! lastMessageTimestamp?, limit?}` → `conversation:rejoined
//! {conversationId, customerId, missed_messages, timestamp, hasMore,
//! nextCursor, hasOlder}`.
//!
//! `missed_messages` holds exactly the messages after the cursor, in log
//! order, each in the `message:new` shape, at most one page (100 by
//! default, `PARLEY_REJOIN_PAGE_SIZE`, or `limit` up to 500). When more
//! follow, `hasMore` is true and `nextCursor` is the `lastMessageId` to send
//! next: nothing is ever cut off silently. Without a cursor the reply is the
//! newest page (`hasOlder` says whether older messages exist).
//!
//! The socket joins the room before the read, and the read waits until the
//! projection has applied everything appended so far: a message is in the
//! reply or pushed afterwards as `message:new`, never neither (sometimes
//! both, when its push was on the way as the socket rejoined: clients
//! de-duplicate by id).
//!
//! `lastMessageTimestamp` means "created strictly after"; times are stored
//! at the wire's millisecond precision, so a message's own `createdAt` is an
//! exact cursor. `lastMessageId` wins when both are given and known.
//!
//! After a cursor, the reply also carries `missed_updates`: the messages
//! from before the cursor that were edited, deleted or reacted to since, in
//! their current state (the `message:new` shape, with `editedAt`,
//! `deleted`, `reactions`), oldest change first. A client replaces its
//! copies by id, and its view equals a fresh load. At most 1,000 are sent;
//! `hasMoreUpdates` says when there were more (then reload the history).

use chrono::{DateTime, NaiveDateTime, Utc};
use domain::Room;
use domain::conversation::Action;
use domain::ids::MessageId;
use projections::ProjectionError;
use projections::conversation_messages::{self, Cursor, Since, Visibility};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{DIALECT, Target, render, room_name};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;
use crate::wire_time;

const MAX_LIMIT: u32 = 500;
/// Changed earlier messages sent with one rejoin.
const MAX_UPDATES: u32 = 1_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rejoin {
    #[serde(flatten)]
    target: Target,
    last_message_id: Option<String>,
    last_message_timestamp: Option<Value>,
    limit: Option<u32>,
}

/// A rejoin decoded and checked: where the client's view ends (its
/// cursor), and how many messages it wants (`None`: the configured page).
#[derive(Debug)]
pub(super) struct Resume {
    room: Room,
    after_id: Option<MessageId>,
    after_time: Option<DateTime<Utc>>,
    limit: Option<u32>,
}

/// The conversation and the cursor the payload names (no IO).
pub(super) fn decode(input: &Inbound) -> Result<Resume, WireError> {
    let request: Rejoin = input.parse()?;
    let room = request.target.conversation(input)?;
    let conversation = &room.id;
    let invalid =
        |message: String| WireError::validation(message).in_conversation(conversation.as_str());
    let after_id = request
        .last_message_id
        .filter(|id| !id.is_empty())
        .map(MessageId::parse)
        .transpose()
        .map_err(|e| invalid(e.to_string()))?;
    let after_time = match request.last_message_timestamp {
        None | Some(Value::Null) => None,
        Some(raw) => Some(parse_instant(&raw).ok_or_else(|| {
            invalid(format!(
                "lastMessageTimestamp {raw} is not an ISO 8601 time or epoch milliseconds"
            ))
        })?),
    };
    let limit = match request.limit {
        None => None,
        Some(n @ 1..=MAX_LIMIT) => Some(n),
        Some(n) => {
            return Err(invalid(format!(
                "limit {n} is not between 1 and {MAX_LIMIT}"
            )));
        }
    };
    Ok(Resume {
        room,
        after_id,
        after_time,
        limit,
    })
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let Resume {
        room,
        after_id,
        after_time,
        limit,
    } = decode(&req.inbound())?;
    let conversation = &room.id;
    let limit = limit.unwrap_or(req.state.config.rejoin_page_size);

    req.state
        .commands
        .on_conversation(
            &req.origin(DIALECT),
            "conversation:rejoin",
            &room,
            Action::Rejoin,
            None,
        )
        .await?;
    req.socket.join(room_name(&room));

    let state = &req.state;
    // If this times out the answer is still correct (the socket is in the
    // room: later messages are pushed), but may lack the newest ones.
    state.read_your_writes(conversation_messages::NAME).await;

    let db = state.log.db();
    let tenant = &req.actor.tenant;
    // Robot suggestions not yet shared are for staff only.
    let seen = Visibility::for_role(req.actor.role);
    // Where the client's view ends, for the changes it missed.
    let mut since = after_time.map(Since::Time);
    let page = match (&after_id, after_time) {
        (Some(id), fallback) => {
            let by_id = Cursor::AfterMessage(id.clone());
            match (
                conversation_messages::page(db, &room, seen, &by_id, limit).await,
                fallback,
            ) {
                // A cursor we do not know (say, a message id the client
                // made up): its timestamp, when given, still says where.
                (Err(ProjectionError::UnknownCursor(_)), Some(at)) => {
                    conversation_messages::page(db, &room, seen, &Cursor::AfterTime(at), limit)
                        .await?
                }
                (Err(ProjectionError::UnknownCursor(_)), None) => {
                    return Err(WireError::not_found(format!(
                        "lastMessageId {id} is not a message of conversation {conversation}"
                    ))
                    .in_conversation(conversation.as_str()));
                }
                (page, _) => {
                    let page = page?;
                    if let Some(p) = page.cursor_position {
                        since = Some(Since::Position(p));
                    }
                    page
                }
            }
        }
        (None, Some(at)) => {
            conversation_messages::page(db, &room, seen, &Cursor::AfterTime(at), limit).await?
        }
        (None, None) => {
            conversation_messages::page(db, &room, seen, &Cursor::Latest, limit).await?
        }
    };
    let (updates, more_updates) = match &since {
        Some(since) => {
            conversation_messages::changed_since(db, &room, seen, since, MAX_UPDATES).await?
        }
        None => (Vec::new(), false),
    };
    let next_cursor = page
        .has_more
        .then(|| page.messages.last().map(|m| m.message_id.to_string()))
        .flatten();
    req.reply(
        "conversation:rejoined",
        &json!({
            "conversationId": conversation.as_str(),
            "customerId": tenant.as_str(),
            "missed_messages": page.messages.iter().map(render::message_new).collect::<Vec<_>>(),
            "missed_updates": updates.iter().map(render::message_new).collect::<Vec<_>>(),
            "hasMoreUpdates": more_updates,
            "timestamp": wire_time(Utc::now()),
            "hasMore": page.has_more,
            "nextCursor": next_cursor,
            "hasOlder": page.has_older,
        }),
    );
    Ok(())
}

/// ISO 8601 / RFC 3339 (seconds optional, as in the seed's
/// `2026-03-19T12:00Z`), or milliseconds since the epoch.
fn parse_instant(raw: &Value) -> Option<DateTime<Utc>> {
    match raw {
        Value::Number(n) => DateTime::from_timestamp_millis(n.as_i64()?),
        Value::String(s) => {
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.with_timezone(&Utc));
            }
            let s = s.trim();
            if let Some(naive) = s.strip_suffix('Z')
                && let Ok(t) = NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M")
            {
                return Some(t.and_utc());
            }
            DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%:z")
                .ok()
                .map(|t| t.with_timezone(&Utc))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_instant;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    #[test]
    fn cursor_times_take_the_seeds_forms() {
        let noon = Utc.with_ymd_and_hms(2026, 3, 19, 12, 0, 0).unwrap();
        assert_eq!(parse_instant(&json!("2026-03-19T12:00Z")), Some(noon));
        assert_eq!(
            parse_instant(&json!("2026-03-19T12:00:00.000Z")),
            Some(noon)
        );
        assert_eq!(parse_instant(&json!("2026-03-19T14:00+02:00")), Some(noon));
        assert_eq!(parse_instant(&json!(noon.timestamp_millis())), Some(noon));
        assert_eq!(parse_instant(&json!("yesterday")), None);
        assert_eq!(parse_instant(&json!(true)), None);
    }

    mod props {
        use super::super::{Resume, decode, parse_instant};
        use crate::dialect::Inbound;
        use crate::error::ErrorCode;
        use chrono::DateTime;
        use domain::actor::{Actor, Role};
        use domain::ids::{MessageId, TenantId, UserId};
        use proptest::prelude::*;
        use serde_json::{Value, json};

        /// 0001-01-01 and 9999-12-31T23:59:59.999Z: the times RFC 3339
        /// writes with four-digit years.
        const FIRST_MS: i64 = -62_135_596_800_000;
        const LAST_MS: i64 = 253_402_300_799_999;

        fn rejoin(payload: Value) -> Result<Resume, crate::WireError> {
            let actor = Actor {
                user: UserId::parse("ana").unwrap(),
                tenant: TenantId::parse("acme").unwrap(),
                role: Role::Customer,
                name: None,
            };
            decode(&Inbound {
                event: "conversation:rejoin",
                data: &payload,
                actor: &actor,
            })
        }

        proptest! {
            #[test]
            fn a_message_time_on_the_wire_is_an_exact_cursor(ms in FIRST_MS..=LAST_MS) {
                let at = DateTime::from_timestamp_millis(ms).unwrap();
                prop_assert_eq!(parse_instant(&json!(crate::wire_time(at))), Some(at));
                prop_assert_eq!(parse_instant(&json!(ms)), Some(at));
            }

            #[test]
            fn any_number_is_epoch_milliseconds_or_refused(n in any::<i64>(), f in any::<f64>()) {
                prop_assert_eq!(parse_instant(&json!(n)), DateTime::from_timestamp_millis(n));
                // Fractions are not milliseconds: refused, never rounded.
                if f.fract() != 0.0 {
                    prop_assert_eq!(parse_instant(&json!(f)), None);
                }
            }

            #[test]
            fn no_string_makes_the_cursor_panic(raw in "\\PC{0,40}|[0-9T:Z+. -]{0,30}") {
                let _ = parse_instant(&json!(raw));
                let outcome = rejoin(json!({ "conversationId": "c1", "lastMessageTimestamp": raw }));
                if let Err(error) = outcome {
                    prop_assert_eq!(error.code, ErrorCode::ValidationError);
                }
            }

            #[test]
            fn a_next_cursor_sent_back_names_the_same_message(
                raw in "[A-Za-z0-9_.@-]{1,128}",
                limit in any::<u32>(),
            ) {
                let sent = MessageId::parse(raw).unwrap();
                for id in [sent, MessageId::generate()] {
                    let payload = json!({
                        "conversationId": "c1",
                        "lastMessageId": id.to_string(),
                        "limit": limit,
                    });
                    match rejoin(payload) {
                        Ok(resume) => {
                            prop_assert_eq!(resume.after_id, Some(id));
                            prop_assert!((1..=super::super::MAX_LIMIT).contains(&limit));
                            prop_assert_eq!(resume.limit, Some(limit));
                        }
                        Err(error) => {
                            prop_assert!(!(1..=super::super::MAX_LIMIT).contains(&limit));
                            prop_assert_eq!(error.code, ErrorCode::ValidationError);
                        }
                    }
                }
            }
        }
    }
}
