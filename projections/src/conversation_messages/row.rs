//! A `conversation_messages` row as a [`MessageView`], and the `WHERE` of
//! one room's rows: shared by the projection and the queries.

use domain::Room;
use domain::conversation::Kind;
use domain::ids::{ConversationId, MessageId, TenantId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;
use store::event::parse_time;

use crate::ProjectionError;
use crate::views::message::{Deletion, MessageView};

pub(super) const COLUMNS: &str = "tenant, kind, conversation_id, position, message_id, author_id, \
     author_name, author_role, content, content_type, optimistic_id, thread_id, mentions, \
     reactions, created_at, updated_at, metadata, edited_at, deleted_at, deleted_by, \
     deleted_by_name, hidden, provenance";

pub(super) fn decode(row: &AnyRow) -> Result<MessageView, ProjectionError> {
    let bad = |e: domain::DomainError| ProjectionError::Decode(e.to_string());
    let thread: Option<String> = row.try_get(11)?;
    let metadata: Option<String> = row.try_get(16)?;
    let edited_at: Option<String> = row.try_get(17)?;
    let deleted_at: Option<String> = row.try_get(18)?;
    let deleted = match deleted_at {
        Some(at) => Some(Deletion {
            by: UserId::parse(row.try_get::<String, _>(19)?).map_err(bad)?,
            by_name: row.try_get(20)?,
            at: parse_time(&at)?,
        }),
        None => None,
    };
    let kind: String = row.try_get(1)?;
    Ok(MessageView {
        room: Room {
            tenant: TenantId::parse(row.try_get::<String, _>(0)?).map_err(bad)?,
            kind: Kind::parse(&kind)
                .ok_or_else(|| ProjectionError::Decode(format!("unknown kind {kind:?}")))?,
            id: ConversationId::parse(row.try_get::<String, _>(2)?).map_err(bad)?,
        },
        position: row.try_get(3)?,
        message_id: MessageId::parse(row.try_get::<String, _>(4)?).map_err(bad)?,
        author_id: UserId::parse(row.try_get::<String, _>(5)?).map_err(bad)?,
        author_name: row.try_get(6)?,
        author_role: row.try_get::<String, _>(7)?.parse().map_err(bad)?,
        content: row.try_get(8)?,
        content_type: row.try_get(9)?,
        hidden: row.try_get::<i64, _>(21)? != 0,
        provenance: row
            .try_get::<Option<String>, _>(22)?
            .map(|raw| serde_json::from_str(&raw))
            .transpose()?,
        optimistic_id: row.try_get(10)?,
        thread_id: thread.map(MessageId::parse).transpose().map_err(bad)?,
        mentions: serde_json::from_str(&row.try_get::<String, _>(12)?)?,
        reactions: serde_json::from_str(&row.try_get::<String, _>(13)?)?,
        created_at: parse_time(&row.try_get::<String, _>(14)?)?,
        updated_at: parse_time(&row.try_get::<String, _>(15)?)?,
        metadata: metadata.as_deref().map(serde_json::from_str).transpose()?,
        edited_at: edited_at.as_deref().map(parse_time).transpose()?,
        deleted,
    })
}

/// The `WHERE` of one room's rows (binds 1 to 3).
pub(super) const IN_ROOM: &str = "tenant = $1 AND kind = $2 AND conversation_id = $3";

pub(super) fn in_room<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    room: &'q Room,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    query
        .bind(room.tenant.as_str())
        .bind(room.kind.as_str())
        .bind(room.id.as_str())
}
