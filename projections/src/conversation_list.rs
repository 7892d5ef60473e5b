//! The conversation and channel list per tenant: participants, message
//! count, activity, channel settings; and, for a reader, unread counts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::Room;
use domain::actor::Role;
use domain::conversation::{Conversation, ConversationEvent, Kind};
use domain::ids::{ConversationId, TenantId, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use store::event::{format_time, parse_time};
use store::{Db, RecordedEvent};

use crate::{Projection, ProjectionError, Update, conversation_event};

pub const NAME: &str = "conversation_list";

#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSummary {
    pub room: Room,
    pub opened_by: UserId,
    pub opened_at: DateTime<Utc>,
    pub participants: Vec<ParticipantView>,
    pub message_count: u64,
    pub last_message_at: Option<DateTime<Utc>>,
    pub last_activity_at: DateTime<Utc>,
    /// Only for channels.
    pub channel: Option<ChannelView>,
    /// Messages by others after the reader's marker (deleted ones aside);
    /// only when the query named a reader.
    pub unread_count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChannelView {
    pub name: String,
    pub description: String,
    pub topic: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantView {
    pub user_id: UserId,
    pub user_name: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

pub struct ConversationList;

/// Messages of one batch, per conversation: written once per conversation
/// rather than once per message.
#[derive(Default)]
struct Posted {
    count: i64,
    last_at: Option<DateTime<Utc>>,
}

#[async_trait]
impl Projection for ConversationList {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self, _backend: store::Backend) -> &'static [&'static str] {
        &["conversation_list", "conversation_participants"]
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        // Typing, reads, edits and reactions change nothing listed.
        Conversation::owns_stream(&event.stream_id)
            && matches!(
                event.event_type.as_str(),
                "ConversationOpened"
                    | "ParticipantJoined"
                    | "ParticipantLeft"
                    | "MessagePosted"
                    | "ChannelUpdated"
            )
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<Vec<Update>, ProjectionError> {
        let mut posted: HashMap<Room, Posted> = HashMap::new();
        for recorded in events {
            let Some(event) = conversation_event(recorded) else {
                continue;
            };
            let event = event?;
            let room = Room::of(&event);
            match event {
                ConversationEvent::ConversationOpened(e) => {
                    let channel = e.channel.as_ref();
                    sqlx::query(
                        "INSERT INTO conversation_list (tenant, kind, conversation_id, opened_by, \
                         opened_at, message_count, last_message_at, last_activity_at, name, \
                         description, topic) VALUES ($1, $2, $3, $4, $5, 0, NULL, $5, $6, $7, $8)",
                    )
                    .bind(room.tenant.as_str())
                    .bind(room.kind.as_str())
                    .bind(room.id.as_str())
                    .bind(e.opened_by.as_str())
                    .bind(format_time(e.at))
                    .bind(channel.map(|c| c.name.as_str()))
                    .bind(channel.map(|c| c.description.as_str()))
                    .bind(channel.map(|c| c.topic.as_str()))
                    .execute(&mut *conn)
                    .await?;
                }
                ConversationEvent::ParticipantJoined(e) => {
                    sqlx::query(
                        "INSERT INTO conversation_participants (tenant, kind, conversation_id, \
                         user_id, user_name, role, joined_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (tenant, kind, conversation_id, user_id) DO UPDATE SET \
                         user_name = excluded.user_name, role = excluded.role, \
                         joined_at = excluded.joined_at",
                    )
                    .bind(room.tenant.as_str())
                    .bind(room.kind.as_str())
                    .bind(room.id.as_str())
                    .bind(e.user_id.as_str())
                    .bind(e.user_name.as_str())
                    .bind(e.role.as_str())
                    .bind(format_time(e.at))
                    .execute(&mut *conn)
                    .await?;
                    touch(conn, &room, e.at).await?;
                }
                ConversationEvent::ParticipantLeft(e) => {
                    sqlx::query(
                        "DELETE FROM conversation_participants \
                         WHERE tenant = $1 AND kind = $2 AND conversation_id = $3 AND user_id = $4",
                    )
                    .bind(room.tenant.as_str())
                    .bind(room.kind.as_str())
                    .bind(room.id.as_str())
                    .bind(e.user_id.as_str())
                    .execute(&mut *conn)
                    .await?;
                    touch(conn, &room, e.at).await?;
                }
                ConversationEvent::MessagePosted(e) => {
                    let entry = posted.entry(room).or_default();
                    entry.count += 1;
                    entry.last_at = entry.last_at.max(Some(e.at));
                }
                ConversationEvent::ChannelUpdated(e) => {
                    sqlx::query(
                        "UPDATE conversation_list SET name = $1, description = $2, topic = $3 \
                         WHERE tenant = $4 AND kind = $5 AND conversation_id = $6",
                    )
                    .bind(e.channel.name.as_str())
                    .bind(e.channel.description.as_str())
                    .bind(e.channel.topic.as_str())
                    .bind(room.tenant.as_str())
                    .bind(room.kind.as_str())
                    .bind(room.id.as_str())
                    .execute(&mut *conn)
                    .await?;
                    touch(conn, &room, e.at).await?;
                }
                ConversationEvent::MessageEdited(_)
                | ConversationEvent::MessageDeleted(_)
                | ConversationEvent::ReactionAdded(_)
                | ConversationEvent::ReactionRemoved(_)
                | ConversationEvent::MessagesRead(_)
                | ConversationEvent::TypingStarted(_)
                | ConversationEvent::TypingStopped(_) => {}
                // The support projection lists the workflow.
                ConversationEvent::ConversationActivated(_)
                | ConversationEvent::ConversationEscalated(_)
                | ConversationEvent::AgentAssigned(_)
                | ConversationEvent::ConversationEnded(_)
                | ConversationEvent::ConversationClosed(_)
                | ConversationEvent::ConversationRated(_)
                | ConversationEvent::ConversationMetadataUpdated(_)
                | ConversationEvent::MessageShared(_) => {}
            }
        }
        for (room, Posted { count, last_at }) in posted {
            let at = last_at.map(format_time);
            sqlx::query(
                "UPDATE conversation_list SET message_count = message_count + $1, \
                 last_message_at = CASE WHEN last_message_at IS NULL OR last_message_at < $2 \
                     THEN $2 ELSE last_message_at END, \
                 last_activity_at = CASE WHEN last_activity_at < $2 \
                     THEN $2 ELSE last_activity_at END \
                 WHERE tenant = $3 AND kind = $4 AND conversation_id = $5",
            )
            .bind(count)
            .bind(at)
            .bind(room.tenant.as_str())
            .bind(room.kind.as_str())
            .bind(room.id.as_str())
            .execute(&mut *conn)
            .await?;
        }
        Ok(Vec::new())
    }
}

async fn touch(
    conn: &mut AnyConnection,
    room: &Room,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "UPDATE conversation_list SET last_activity_at = $1 \
         WHERE tenant = $2 AND kind = $3 AND conversation_id = $4 AND last_activity_at < $1",
    )
    .bind(format_time(at))
    .bind(room.tenant.as_str())
    .bind(room.kind.as_str())
    .bind(room.id.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Which conversations of a tenant to list, and which page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    pub kind: Kind,
    /// Only conversations this user currently takes part in.
    pub participant: Option<UserId>,
    /// Count unread messages for this user.
    pub reader: Option<UserId>,
    pub offset: u64,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// Most recently active first.
    pub items: Vec<ConversationSummary>,
    /// How many conversations match, over all pages.
    pub total: u64,
}

const COLUMNS: &str = "l.tenant, l.kind, l.conversation_id, l.opened_by, l.opened_at, \
     l.message_count, l.last_message_at, l.last_activity_at, l.name, l.description, l.topic";

/// Messages by others, not deleted, after the reader's marker (`$4`; none
/// when it is NULL). Robot suggestions not yet shared are nobody's to read.
const UNREAD: &str = "CASE WHEN $4 IS NULL THEN NULL ELSE (SELECT COUNT(*) \
     FROM conversation_messages m WHERE m.tenant = l.tenant AND m.kind = l.kind \
     AND m.conversation_id = l.conversation_id AND m.deleted_at IS NULL AND m.hidden = 0 \
     AND m.author_id <> $4 \
     AND m.position > COALESCE((SELECT r.last_read_position FROM read_state r \
         WHERE r.tenant = l.tenant AND r.kind = l.kind \
         AND r.conversation_id = l.conversation_id AND r.user_id = $4), 0)) END";

/// Only conversations `$3` takes part in (all when it is NULL).
const PARTICIPANT: &str = "($3 IS NULL OR EXISTS (SELECT 1 FROM conversation_participants p \
     WHERE p.tenant = l.tenant AND p.kind = l.kind AND p.conversation_id = l.conversation_id \
     AND p.user_id = $3))";

/// A page of a tenant's conversations (or channels). A page past the end
/// is empty, with the right total.
pub async fn list(
    db: &Db,
    tenant: &TenantId,
    query: &ListQuery,
) -> Result<ListPage, ProjectionError> {
    let participant = query.participant.as_ref().map(UserId::as_str);
    let reader = query.reader.as_ref().map(UserId::as_str);
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM conversation_list l WHERE l.tenant = $1 AND l.kind = $2 \
         AND {PARTICIPANT}"
    )))
    .bind(tenant.as_str())
    .bind(query.kind.as_str())
    .bind(participant)
    .fetch_one(db.pool())
    .await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, {UNREAD} FROM conversation_list l WHERE l.tenant = $1 \
         AND l.kind = $2 AND {PARTICIPANT} \
         ORDER BY l.last_activity_at DESC, l.conversation_id LIMIT $5 OFFSET $6"
    )))
    .bind(tenant.as_str())
    .bind(query.kind.as_str())
    .bind(participant)
    .bind(reader)
    .bind(i64::from(query.limit))
    // A page far past the end is an empty page: never a negative OFFSET.
    .bind(i64::try_from(query.offset).unwrap_or(i64::MAX))
    .fetch_all(db.pool())
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut summary = decode(row)?;
        summary.participants = participants(db, &summary.room).await?;
        items.push(summary);
    }
    Ok(ListPage {
        items,
        total: total as u64,
    })
}

/// One conversation (or channel) of a tenant.
pub async fn get(db: &Db, room: &Room) -> Result<Option<ConversationSummary>, ProjectionError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, CAST(NULL AS BIGINT) FROM conversation_list l WHERE l.tenant = $1 AND l.kind = $2 \
         AND l.conversation_id = $3"
    )))
    .bind(room.tenant.as_str())
    .bind(room.kind.as_str())
    .bind(room.id.as_str())
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut summary = decode(&row)?;
    summary.participants = participants(db, room).await?;
    Ok(Some(summary))
}

/// What a tenant has under `id`, and whether `user` takes part in it: for
/// each kind (conversation, channel) that exists with that id, whether
/// `user` is among its current participants. A call room named after a
/// conversation or channel follows its membership
/// ([`domain::call::Membership`]).
pub async fn membership(
    db: &Db,
    tenant: &TenantId,
    id: &ConversationId,
    user: &UserId,
) -> Result<domain::call::Membership, ProjectionError> {
    let rows = sqlx::query(
        "SELECT l.kind, CASE WHEN EXISTS (SELECT 1 FROM conversation_participants p \
         WHERE p.tenant = l.tenant AND p.kind = l.kind AND p.conversation_id = l.conversation_id \
         AND p.user_id = $3) THEN 1 ELSE 0 END \
         FROM conversation_list l WHERE l.tenant = $1 AND l.conversation_id = $2",
    )
    .bind(tenant.as_str())
    .bind(id.as_str())
    .bind(user.as_str())
    .fetch_all(db.pool())
    .await?;
    let mut found = domain::call::Membership::default();
    for row in &rows {
        let takes_part = Some(row.try_get::<i64, _>(1)? != 0);
        match Kind::parse(&row.try_get::<String, _>(0)?) {
            Some(Kind::Conversation) => found.conversation = takes_part,
            Some(Kind::Channel) => found.channel = takes_part,
            None => {}
        }
    }
    Ok(found)
}

async fn participants(db: &Db, room: &Room) -> Result<Vec<ParticipantView>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT user_id, user_name, role, joined_at FROM conversation_participants \
         WHERE tenant = $1 AND kind = $2 AND conversation_id = $3 ORDER BY joined_at, user_id",
    )
    .bind(room.tenant.as_str())
    .bind(room.kind.as_str())
    .bind(room.id.as_str())
    .fetch_all(db.pool())
    .await?;
    let bad = |e: domain::DomainError| ProjectionError::Decode(e.to_string());
    rows.iter()
        .map(|row| {
            Ok(ParticipantView {
                user_id: UserId::parse(row.try_get::<String, _>(0)?).map_err(bad)?,
                user_name: row.try_get(1)?,
                role: row.try_get::<String, _>(2)?.parse().map_err(bad)?,
                joined_at: parse_time(&row.try_get::<String, _>(3)?)?,
            })
        })
        .collect()
}

fn decode(row: &AnyRow) -> Result<ConversationSummary, ProjectionError> {
    let bad = |e: domain::DomainError| ProjectionError::Decode(e.to_string());
    let kind: String = row.try_get(1)?;
    let last_message_at: Option<String> = row.try_get(6)?;
    let name: Option<String> = row.try_get(8)?;
    let channel = match name {
        Some(name) => Some(ChannelView {
            name,
            description: row.try_get::<Option<String>, _>(9)?.unwrap_or_default(),
            topic: row.try_get::<Option<String>, _>(10)?.unwrap_or_default(),
        }),
        None => None,
    };
    let unread: Option<i64> = row.try_get(11)?;
    Ok(ConversationSummary {
        room: Room {
            tenant: TenantId::parse(row.try_get::<String, _>(0)?).map_err(bad)?,
            kind: Kind::parse(&kind)
                .ok_or_else(|| ProjectionError::Decode(format!("unknown kind {kind:?}")))?,
            id: ConversationId::parse(row.try_get::<String, _>(2)?).map_err(bad)?,
        },
        opened_by: UserId::parse(row.try_get::<String, _>(3)?).map_err(bad)?,
        opened_at: parse_time(&row.try_get::<String, _>(4)?)?,
        participants: Vec::new(),
        message_count: row.try_get::<i64, _>(5)? as u64,
        last_message_at: last_message_at.as_deref().map(parse_time).transpose()?,
        last_activity_at: parse_time(&row.try_get::<String, _>(7)?)?,
        channel,
        unread_count: unread.map(|n| n as u64),
    })
}

/// Messages by others in one conversation (deleted and hidden ones aside)
/// after `reader`'s marker: the `unreadCount` of a conversation found some
/// other way than [`list`].
pub async fn unread_count(db: &Db, room: &Room, reader: &UserId) -> Result<u64, ProjectionError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM conversation_messages m WHERE m.tenant = $1 AND m.kind = $2 \
         AND m.conversation_id = $3 AND m.deleted_at IS NULL AND m.hidden = 0 \
         AND m.author_id <> $4 \
         AND m.position > COALESCE((SELECT r.last_read_position FROM read_state r \
             WHERE r.tenant = $1 AND r.kind = $2 AND r.conversation_id = $3 \
             AND r.user_id = $4), 0)",
    )
    .bind(room.tenant.as_str())
    .bind(room.kind.as_str())
    .bind(room.id.as_str())
    .bind(reader.as_str())
    .fetch_one(db.pool())
    .await?;
    Ok(n.max(0) as u64)
}
