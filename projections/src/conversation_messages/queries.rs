//! Reading messages: pages (by cursor or offset), what changed since a
//! cursor, counts, one message, its position, and readers' markers.

use chrono::{DateTime, Utc};
use domain::Room;
use domain::actor::Role;
use domain::ids::{MessageId, UserId};
use sqlx::Row;
use store::event::format_time;
use store::{Db, Position};

use super::row::{COLUMNS, IN_ROOM, decode, in_room};
use crate::ProjectionError;
use crate::views::message::MessageView;

/// Who reads: robot suggestions not yet shared are for staff only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// What everyone in the conversation may see: hidden messages left out
    /// (customers).
    Everyone,
    /// Everything, hidden messages included (staff).
    Staff,
}

impl Visibility {
    /// Staff see everything; everyone else what everyone may see.
    pub fn for_role(role: Role) -> Self {
        if role.is_staff() {
            Visibility::Staff
        } else {
            Visibility::Everyone
        }
    }

    /// The extra `WHERE` condition (empty for staff).
    fn condition(self) -> &'static str {
        match self {
            Visibility::Everyone => " AND hidden = 0",
            Visibility::Staff => "",
        }
    }
}

/// Where a page of messages starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Cursor {
    /// Messages after this one (it must belong to the conversation).
    AfterMessage(MessageId),
    /// Messages created strictly after this instant.
    AfterTime(DateTime<Utc>),
    /// The newest page.
    Latest,
}

/// A page of messages, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagePage {
    pub messages: Vec<MessageView>,
    /// More messages follow this page (ask again after its last message).
    pub has_more: bool,
    /// Older messages precede this page (only for [`Cursor::Latest`]).
    pub has_older: bool,
    /// The log position of the cursor's message ([`Cursor::AfterMessage`]).
    pub cursor_position: Option<Position>,
}

/// A page of at most `limit` messages of one conversation, from `cursor`.
/// Never truncates silently: `has_more` says when the page is not the end.
pub async fn page(
    db: &Db,
    room: &Room,
    visibility: Visibility,
    cursor: &Cursor,
    limit: u32,
) -> Result<MessagePage, ProjectionError> {
    let fetch = i64::from(limit) + 1;
    let visible = visibility.condition();
    let sql = match cursor {
        Cursor::AfterMessage(_) => format!(
            "SELECT {COLUMNS} FROM conversation_messages WHERE {IN_ROOM}{visible} \
             AND position > $4 ORDER BY position LIMIT $5"
        ),
        Cursor::AfterTime(_) => format!(
            "SELECT {COLUMNS} FROM conversation_messages WHERE {IN_ROOM}{visible} \
             AND created_at > $4 ORDER BY position LIMIT $5"
        ),
        Cursor::Latest => format!(
            "SELECT {COLUMNS} FROM conversation_messages WHERE {IN_ROOM}{visible} \
             ORDER BY position DESC LIMIT $4"
        ),
    };
    let base = in_room(sqlx::query(sqlx::AssertSqlSafe(sql)), room);
    let mut cursor_position = None;
    let query = match cursor {
        Cursor::AfterMessage(id) => {
            let position = position_of(db, room, id)
                .await?
                .ok_or_else(|| ProjectionError::UnknownCursor(id.to_string()))?;
            cursor_position = Some(position);
            base.bind(position).bind(fetch)
        }
        Cursor::AfterTime(at) => base.bind(format_time(*at)).bind(fetch),
        Cursor::Latest => base.bind(fetch),
    };
    let rows = query.fetch_all(db.pool()).await?;
    let mut messages = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    let overflow = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    Ok(match cursor {
        Cursor::Latest => {
            messages.reverse();
            MessagePage {
                messages,
                has_more: false,
                has_older: overflow,
                cursor_position,
            }
        }
        _ => MessagePage {
            messages,
            has_more: overflow,
            has_older: false,
            cursor_position,
        },
    })
}

/// At most `limit` messages of one conversation, oldest first, skipping the
/// first `offset` (of those `visibility` shows): buddy's `get_messages
/// {limit, offset}`. A page past the end is empty.
pub async fn page_by_offset(
    db: &Db,
    room: &Room,
    visibility: Visibility,
    offset: u64,
    limit: u32,
) -> Result<Vec<MessageView>, ProjectionError> {
    let visible = visibility.condition();
    let rows = in_room(
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM conversation_messages WHERE {IN_ROOM}{visible} \
             ORDER BY position LIMIT $4 OFFSET $5"
        ))),
        room,
    )
    .bind(i64::from(limit))
    .bind(i64::try_from(offset).unwrap_or(i64::MAX))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(decode).collect()
}

/// What a client that saw everything up to a cursor has not seen.
#[derive(Debug, Clone, PartialEq)]
pub enum Since {
    /// Up to and including the message at this log position.
    Position(Position),
    /// Up to and including this instant.
    Time(DateTime<Utc>),
}

/// Messages from before the cursor that were edited, deleted or reacted to
/// after it, in their current state, oldest change first; at most `limit`
/// (`true` when more exist).
pub async fn changed_since(
    db: &Db,
    room: &Room,
    visibility: Visibility,
    since: &Since,
    limit: u32,
) -> Result<(Vec<MessageView>, bool), ProjectionError> {
    let fetch = i64::from(limit) + 1;
    let visible = visibility.condition();
    let query = match since {
        Since::Position(p) => in_room(
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM conversation_messages WHERE {IN_ROOM}{visible} \
                 AND changed_position > $4 AND position <= $4 \
                 ORDER BY changed_position LIMIT $5"
            ))),
            room,
        )
        .bind(*p)
        .bind(fetch),
        Since::Time(at) => in_room(
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM conversation_messages WHERE {IN_ROOM}{visible} \
                 AND changed_position IS NOT NULL AND changed_at > $4 AND created_at <= $4 \
                 ORDER BY changed_position LIMIT $5"
            ))),
            room,
        )
        .bind(format_time(*at))
        .bind(fetch),
    };
    let rows = query.fetch_all(db.pool()).await?;
    let mut messages = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    let more = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    Ok((messages, more))
}

/// How many messages (tombstones included) a conversation holds, of those
/// `visibility` shows.
pub async fn count(db: &Db, room: &Room, visibility: Visibility) -> Result<u64, ProjectionError> {
    let visible = visibility.condition();
    let n: i64 = in_room(
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM conversation_messages WHERE {IN_ROOM}{visible}"
        ))),
        room,
    )
    .fetch_one(db.pool())
    .await?
    .try_get(0)?;
    Ok(n as u64)
}

/// The log position of a message, if it belongs to this conversation.
pub async fn position_of(
    db: &Db,
    room: &Room,
    message: &MessageId,
) -> Result<Option<Position>, ProjectionError> {
    let row = in_room(
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT position FROM conversation_messages WHERE {IN_ROOM} AND message_id = $4"
        ))),
        room,
    )
    .bind(message.as_str())
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
}

/// One message by id, within its conversation, if `visibility` shows it.
pub async fn find(
    db: &Db,
    room: &Room,
    visibility: Visibility,
    message: &MessageId,
) -> Result<Option<MessageView>, ProjectionError> {
    let visible = visibility.condition();
    let row = in_room(
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM conversation_messages WHERE {IN_ROOM}{visible} \
             AND message_id = $4"
        ))),
        room,
    )
    .bind(message.as_str())
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(decode).transpose()
}

/// A reader's marker: the newest message they have read, if any.
pub async fn last_read(
    db: &Db,
    room: &Room,
    user: &UserId,
) -> Result<Option<MessageId>, ProjectionError> {
    let row = in_room(
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT last_read_message_id FROM read_state WHERE {IN_ROOM} AND user_id = $4"
        ))),
        room,
    )
    .bind(user.as_str())
    .fetch_optional(db.pool())
    .await?;
    let bad = |e: domain::DomainError| ProjectionError::Decode(e.to_string());
    row.map(|r| MessageId::parse(r.try_get::<String, _>(0)?).map_err(bad))
        .transpose()
}
