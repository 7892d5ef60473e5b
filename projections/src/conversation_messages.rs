//! Messages per conversation, in log order: history, rejoin and paging.
//!
//! The projection also turns membership and typing events into updates, so
//! that everything a conversation's room hears comes from one projection, in
//! log order.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::actor::Role;
use domain::conversation::ConversationEvent;
use domain::ids::{ConversationId, MessageId, TenantId, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use store::event::{format_time, parse_time};
use store::{Backend, Db, Position, RecordedEvent};

use crate::update::{Change, Update};
use crate::{Projection, ProjectionError, conversation_event};

pub const NAME: &str = "conversation_messages";

/// A message as every query and update presents it.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageView {
    pub tenant: TenantId,
    pub conversation_id: ConversationId,
    pub position: Position,
    pub message_id: MessageId,
    pub author_id: UserId,
    pub author_name: String,
    pub author_role: Role,
    pub content: String,
    pub content_type: String,
    pub optimistic_id: Option<String>,
    pub thread_id: Option<MessageId>,
    pub mentions: Vec<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct ConversationMessages;

#[async_trait]
impl Projection for ConversationMessages {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<Vec<Update>, ProjectionError> {
        let mut updates = Vec::new();
        let mut posted = Vec::new();
        for recorded in events {
            let Some(event) = conversation_event(recorded) else {
                continue;
            };
            let change = match event? {
                ConversationEvent::MessagePosted(e) => {
                    let view = MessageView {
                        tenant: e.tenant,
                        conversation_id: e.conversation_id,
                        position: recorded.position,
                        message_id: e.message_id,
                        author_id: e.author_id,
                        author_name: e.author_name,
                        author_role: e.author_role,
                        content: e.content,
                        content_type: e.content_type,
                        optimistic_id: e.optimistic_id,
                        thread_id: e.thread_id,
                        mentions: e.mentions,
                        created_at: e.at,
                        updated_at: e.at,
                    };
                    posted.push(view.clone());
                    Change::MessagePosted(view)
                }
                ConversationEvent::ParticipantJoined(e) => Change::ParticipantJoined {
                    tenant: e.tenant,
                    conversation_id: e.conversation_id,
                    user_id: e.user_id,
                    user_name: e.user_name,
                    role: e.role,
                    at: e.at,
                },
                ConversationEvent::ParticipantLeft(e) => Change::ParticipantLeft {
                    tenant: e.tenant,
                    conversation_id: e.conversation_id,
                    user_id: e.user_id,
                    user_name: e.user_name,
                    at: e.at,
                },
                ConversationEvent::TypingStarted(e) | ConversationEvent::TypingStopped(e) => {
                    Change::Typing {
                        started: recorded.event_type == "TypingStarted",
                        tenant: e.tenant,
                        conversation_id: e.conversation_id,
                        user_id: e.user_id,
                        user_name: e.user_name,
                        at: e.at,
                    }
                }
                ConversationEvent::ConversationOpened(_) => continue,
            };
            updates.push(Update::from_event(recorded, change));
        }
        let backend = Backend::of(conn);
        for chunk in posted.chunks(INSERT_CHUNK) {
            insert(conn, backend, chunk).await?;
        }
        Ok(updates)
    }
}

/// Rows per INSERT: one statement per hundred messages, not one per message.
const INSERT_CHUNK: usize = 100;

async fn insert(
    conn: &mut AnyConnection,
    backend: Backend,
    messages: &[MessageView],
) -> Result<(), ProjectionError> {
    let sql = format!(
        "INSERT INTO conversation_messages ({COLUMNS}) VALUES {}",
        backend.row_placeholders(messages.len(), 14)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for m in messages {
        query = query
            .bind(m.tenant.as_str())
            .bind(m.conversation_id.as_str())
            .bind(m.position)
            .bind(m.message_id.as_str())
            .bind(m.author_id.as_str())
            .bind(m.author_name.as_str())
            .bind(m.author_role.as_str())
            .bind(m.content.as_str())
            .bind(m.content_type.as_str())
            .bind(m.optimistic_id.as_deref())
            .bind(m.thread_id.as_ref().map(MessageId::as_str))
            .bind(serde_json::to_string(&m.mentions)?)
            .bind(format_time(m.created_at))
            .bind(format_time(m.updated_at));
    }
    query.execute(conn).await?;
    Ok(())
}

const COLUMNS: &str = "tenant, conversation_id, position, message_id, author_id, author_name, \
     author_role, content, content_type, optimistic_id, thread_id, mentions, created_at, updated_at";

fn decode(row: &AnyRow) -> Result<MessageView, ProjectionError> {
    let bad = |e: domain::DomainError| ProjectionError::Decode(e.to_string());
    let thread: Option<String> = row.try_get(10)?;
    Ok(MessageView {
        tenant: TenantId::parse(row.try_get::<String, _>(0)?).map_err(bad)?,
        conversation_id: ConversationId::parse(row.try_get::<String, _>(1)?).map_err(bad)?,
        position: row.try_get(2)?,
        message_id: MessageId::parse(row.try_get::<String, _>(3)?).map_err(bad)?,
        author_id: UserId::parse(row.try_get::<String, _>(4)?).map_err(bad)?,
        author_name: row.try_get(5)?,
        author_role: row.try_get::<String, _>(6)?.parse().map_err(bad)?,
        content: row.try_get(7)?,
        content_type: row.try_get(8)?,
        optimistic_id: row.try_get(9)?,
        thread_id: thread.map(MessageId::parse).transpose().map_err(bad)?,
        mentions: serde_json::from_str(&row.try_get::<String, _>(11)?)?,
        created_at: parse_time(&row.try_get::<String, _>(12)?)?,
        updated_at: parse_time(&row.try_get::<String, _>(13)?)?,
    })
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
}

/// A page of at most `limit` messages of one conversation, from `cursor`.
/// Never truncates silently: `has_more` says when the page is not the end.
pub async fn page(
    db: &Db,
    tenant: &TenantId,
    conversation: &ConversationId,
    cursor: &Cursor,
    limit: u32,
) -> Result<MessagePage, ProjectionError> {
    let fetch = i64::from(limit) + 1;
    let base = sqlx::query(sqlx::AssertSqlSafe(match cursor {
        Cursor::AfterMessage(_) => format!(
            "SELECT {COLUMNS} FROM conversation_messages WHERE tenant = $1 AND conversation_id = $2 \
             AND position > $3 ORDER BY position LIMIT $4"
        ),
        Cursor::AfterTime(_) => format!(
            "SELECT {COLUMNS} FROM conversation_messages WHERE tenant = $1 AND conversation_id = $2 \
             AND created_at > $3 ORDER BY position LIMIT $4"
        ),
        Cursor::Latest => format!(
            "SELECT {COLUMNS} FROM conversation_messages WHERE tenant = $1 AND conversation_id = $2 \
             ORDER BY position DESC LIMIT $3"
        ),
    }))
    .bind(tenant.as_str())
    .bind(conversation.as_str());
    let query = match cursor {
        Cursor::AfterMessage(id) => {
            let position = position_of(db, tenant, conversation, id)
                .await?
                .ok_or_else(|| ProjectionError::UnknownCursor(id.to_string()))?;
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
            }
        }
        _ => MessagePage {
            messages,
            has_more: overflow,
            has_older: false,
        },
    })
}

/// The log position of a message, if it belongs to this conversation.
pub async fn position_of(
    db: &Db,
    tenant: &TenantId,
    conversation: &ConversationId,
    message: &MessageId,
) -> Result<Option<Position>, ProjectionError> {
    Ok(sqlx::query_scalar(
        "SELECT position FROM conversation_messages \
         WHERE tenant = $1 AND conversation_id = $2 AND message_id = $3",
    )
    .bind(tenant.as_str())
    .bind(conversation.as_str())
    .bind(message.as_str())
    .fetch_optional(db.pool())
    .await?)
}

/// One message by id, within its conversation.
pub async fn find(
    db: &Db,
    tenant: &TenantId,
    conversation: &ConversationId,
    message: &MessageId,
) -> Result<Option<MessageView>, ProjectionError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM conversation_messages \
         WHERE tenant = $1 AND conversation_id = $2 AND message_id = $3"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .bind(message.as_str())
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(decode).transpose()
}
