//! The projection (`conversation_messages`): it writes messages and read
//! markers, and turns membership, typing, read and channel events into
//! updates, so that everything a room hears comes from one projection, in
//! log order.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::Room;
use domain::conversation::{Conversation, ConversationEvent};
use domain::ids::{MessageId, UserId};
use sqlx::{AnyConnection, Row};
use store::event::format_time;
use store::{Backend, Position, RecordedEvent};

use super::NAME;
use super::row::{COLUMNS, IN_ROOM, decode, in_room};
use crate::update::{Change, Update};
use crate::views::message::{Deletion, MessageView, PostedMessage, ReactionView, Reactor};
use crate::{Projection, ProjectionError, conversation_event};

pub struct ConversationMessages;

#[async_trait]
impl Projection for ConversationMessages {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self, _backend: Backend) -> &'static [&'static str] {
        &["conversation_messages", "read_state"]
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        Conversation::owns_stream(&event.stream_id)
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<Vec<Update>, ProjectionError> {
        let backend = Backend::of(conn);
        let mut updates = Vec::new();
        // New messages are inserted many rows per statement; anything that
        // changes a message first flushes them, so it finds its row.
        let mut posted: Vec<Pending> = Vec::new();
        // Read markers only move forward, so each reader's furthest one in
        // the batch is written once, at the end: a read no longer forces
        // the pending messages out one by one.
        let mut reads = Reads::default();
        for recorded in events {
            let Some(event) = conversation_event(recorded) else {
                continue;
            };
            let event = event?;
            let room = Room::of(&event);
            let position = recorded.position;
            let change = match event {
                ConversationEvent::MessagePosted(e) => {
                    let number = match e.number {
                        Some(number) => number,
                        // Recorded before events carried it: counted once
                        // this batch's earlier messages are in.
                        None => {
                            flush(conn, backend, &mut posted).await?;
                            count_through_on(conn, &room, position).await? + 1
                        }
                    };
                    let owner = e.owner;
                    let view = MessageView {
                        room,
                        position,
                        message_id: e.message_id,
                        author_id: e.author_id,
                        author_name: e.author_name,
                        author_role: e.author_role,
                        content: e.content,
                        content_type: e.content_type,
                        hidden: e.hidden,
                        provenance: e.provenance,
                        optimistic_id: e.optimistic_id,
                        thread_id: e.thread_id,
                        mentions: e.mentions,
                        metadata: e.metadata,
                        reactions: Vec::new(),
                        created_at: e.at,
                        updated_at: e.at,
                        edited_at: None,
                        deleted: None,
                    };
                    posted.push(Pending {
                        view: view.clone(),
                        changed: None,
                    });
                    Change::MessagePosted(PostedMessage {
                        message: view,
                        number,
                        owner,
                    })
                }
                ConversationEvent::MessageEdited(e) => {
                    // Still waiting to be inserted: change it in memory.
                    if let Some(pending) = pending_mut(&mut posted, &room, &e.message_id) {
                        if pending.view.deleted.is_none() {
                            pending.view.content = e.content.clone();
                            if e.metadata.is_some() {
                                pending.view.metadata = e.metadata.clone();
                            }
                            pending.view.edited_at = Some(e.at);
                            pending.view.updated_at = e.at;
                            pending.changed = Some((position, e.at));
                        }
                    } else {
                        let metadata =
                            e.metadata.as_ref().map(serde_json::to_string).transpose()?;
                        sqlx::query(
                            "UPDATE conversation_messages SET content = $1, \
                         metadata = COALESCE($2, metadata), edited_at = $3, updated_at = $3, \
                         changed_position = $4, changed_at = $3 \
                         WHERE tenant = $5 AND kind = $6 AND conversation_id = $7 \
                         AND message_id = $8 AND deleted_at IS NULL",
                        )
                        .bind(e.content.as_str())
                        .bind(metadata)
                        .bind(format_time(e.at))
                        .bind(position)
                        .bind(room.tenant.as_str())
                        .bind(room.kind.as_str())
                        .bind(room.id.as_str())
                        .bind(e.message_id.as_str())
                        .execute(&mut *conn)
                        .await?;
                    }
                    Change::MessageEdited {
                        room,
                        message_id: e.message_id,
                        content: e.content,
                        metadata: e.metadata,
                        edited_by: e.edited_by,
                        edited_by_name: e.edited_by_name,
                        at: e.at,
                    }
                }
                ConversationEvent::MessageDeleted(e) => {
                    if let Some(pending) = pending_mut(&mut posted, &room, &e.message_id) {
                        pending.view.content = String::new();
                        pending.view.metadata = None;
                        pending.view.reactions.clear();
                        pending.view.deleted = Some(Deletion {
                            by: e.deleted_by.clone(),
                            by_name: e.deleted_by_name.clone(),
                            at: e.at,
                        });
                        pending.view.updated_at = e.at;
                        pending.changed = Some((position, e.at));
                    } else {
                        let at = format_time(e.at);
                        sqlx::query(
                            "UPDATE conversation_messages SET content = '', metadata = NULL, \
                         reactions = '[]', deleted_at = $1, deleted_by = $2, \
                         deleted_by_name = $3, updated_at = $1, changed_position = $4, \
                         changed_at = $1 \
                         WHERE tenant = $5 AND kind = $6 AND conversation_id = $7 \
                         AND message_id = $8",
                        )
                        .bind(at)
                        .bind(e.deleted_by.as_str())
                        .bind(e.deleted_by_name.as_str())
                        .bind(position)
                        .bind(room.tenant.as_str())
                        .bind(room.kind.as_str())
                        .bind(room.id.as_str())
                        .bind(e.message_id.as_str())
                        .execute(&mut *conn)
                        .await?;
                    }
                    Change::MessageDeleted {
                        room,
                        message_id: e.message_id,
                        deleted_by: e.deleted_by,
                        deleted_by_name: e.deleted_by_name,
                        at: e.at,
                    }
                }
                ConversationEvent::ReactionAdded(e) | ConversationEvent::ReactionRemoved(e) => {
                    let added = recorded.event_type == "ReactionAdded";
                    if let Some(pending) = pending_mut(&mut posted, &room, &e.message_id) {
                        if pending.view.deleted.is_none() {
                            react_on(&mut pending.view.reactions, &e, added);
                            pending.changed = Some((position, e.at));
                        }
                    } else {
                        react(conn, &room, position, &e, added).await?;
                    }
                    Change::Reaction {
                        room,
                        message_id: e.message_id,
                        emoji: e.emoji,
                        user_id: e.user_id,
                        user_name: e.user_name,
                        added,
                        at: e.at,
                    }
                }
                ConversationEvent::MessagesRead(e) => {
                    let pending =
                        pending_mut(&mut posted, &room, &e.last_read).map(|p| p.view.position);
                    let read = match pending {
                        Some(position) => Some(position),
                        None => position_in(conn, &room, &e.last_read).await?,
                    };
                    if let Some(position) = read {
                        reads.mark(&room, &e.user_id, &e.last_read, position, e.at);
                    }
                    Change::MessagesRead {
                        room,
                        user_id: e.user_id,
                        user_name: e.user_name,
                        message_ids: e.message_ids,
                        at: e.at,
                    }
                }
                ConversationEvent::ParticipantJoined(e) => Change::ParticipantJoined {
                    room,
                    user_id: e.user_id,
                    user_name: e.user_name,
                    role: e.role,
                    at: e.at,
                },
                ConversationEvent::ParticipantLeft(e) => Change::ParticipantLeft {
                    room,
                    user_id: e.user_id,
                    user_name: e.user_name,
                    role: e.role,
                    at: e.at,
                },
                ConversationEvent::TypingStarted(e) | ConversationEvent::TypingStopped(e) => {
                    Change::Typing {
                        started: recorded.event_type == "TypingStarted",
                        room,
                        user_id: e.user_id,
                        user_name: e.user_name,
                        role: e.role,
                        at: e.at,
                    }
                }
                ConversationEvent::ConversationOpened(e) => Change::Opened {
                    room,
                    opened_by: e.opened_by,
                    opened_by_role: e.opened_by_role,
                    at: e.at,
                },
                // The support projection publishes the workflow.
                ConversationEvent::ConversationActivated(_)
                | ConversationEvent::ConversationEscalated(_)
                | ConversationEvent::AgentAssigned(_)
                | ConversationEvent::ConversationEnded(_)
                | ConversationEvent::ConversationClosed(_)
                | ConversationEvent::ConversationRated(_)
                | ConversationEvent::ConversationMetadataUpdated(_) => continue,
                ConversationEvent::MessageShared(e) => {
                    flush(conn, backend, &mut posted).await?;
                    // A change like an edit: a customer rejoining after it
                    // finds the message among the changes since their cursor.
                    sqlx::query(
                        "UPDATE conversation_messages SET hidden = 0, changed_position = $1, \
                         changed_at = $2 WHERE tenant = $3 AND kind = $4 \
                         AND conversation_id = $5 AND message_id = $6",
                    )
                    .bind(position)
                    .bind(format_time(e.at))
                    .bind(room.tenant.as_str())
                    .bind(room.kind.as_str())
                    .bind(room.id.as_str())
                    .bind(e.message_id.as_str())
                    .execute(&mut *conn)
                    .await?;
                    let row = in_room(
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "SELECT {COLUMNS} FROM conversation_messages WHERE {IN_ROOM} \
                             AND message_id = $4"
                        ))),
                        &room,
                    )
                    .bind(e.message_id.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
                    let Some(row) = row else { continue };
                    Change::MessageShared(decode(&row)?)
                }
                ConversationEvent::ChannelUpdated(e) => Change::ChannelUpdated {
                    room,
                    changes: e.changes,
                    channel: e.channel,
                    updated_by: e.updated_by,
                    updated_by_name: e.updated_by_name,
                    at: e.at,
                },
            };
            updates.push(Update::from_event(recorded, change));
        }
        flush(conn, backend, &mut posted).await?;
        reads.flush(conn, backend).await?;
        Ok(updates)
    }
}

/// The furthest read marker per reader, by (room, reader).
#[derive(Default)]
struct Reads(HashMap<(Room, UserId), (MessageId, Position, DateTime<Utc>)>);

impl Reads {
    fn mark(
        &mut self,
        room: &Room,
        user: &UserId,
        message: &MessageId,
        position: Position,
        at: DateTime<Utc>,
    ) {
        let entry = self
            .0
            .entry((room.clone(), user.clone()))
            .or_insert_with(|| (message.clone(), position, at));
        // As the row's own rule: only a later message moves the marker.
        if position > entry.1 {
            *entry = (message.clone(), position, at);
        }
    }

    async fn flush(
        &mut self,
        conn: &mut AnyConnection,
        backend: Backend,
    ) -> Result<(), ProjectionError> {
        let marks: Vec<_> = self.0.drain().collect();
        for chunk in marks.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO read_state (tenant, kind, conversation_id, user_id, \
                 last_read_message_id, last_read_position, read_at) VALUES {} \
                 ON CONFLICT (tenant, kind, conversation_id, user_id) DO UPDATE SET \
                 last_read_message_id = excluded.last_read_message_id, \
                 last_read_position = excluded.last_read_position, read_at = excluded.read_at \
                 WHERE read_state.last_read_position < excluded.last_read_position",
                backend.row_placeholders(chunk.len(), 7)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for ((room, user), (message, position, at)) in chunk {
                query = query
                    .bind(room.tenant.as_str())
                    .bind(room.kind.as_str())
                    .bind(room.id.as_str())
                    .bind(user.as_str())
                    .bind(message.as_str())
                    .bind(*position)
                    .bind(format_time(*at));
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// The position of a stored message of `room`, if there is one.
async fn position_in(
    conn: &mut AnyConnection,
    room: &Room,
    message: &MessageId,
) -> Result<Option<Position>, ProjectionError> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT position FROM conversation_messages WHERE {IN_ROOM} AND message_id = $4"
    )))
    .bind(room.tenant.as_str())
    .bind(room.kind.as_str())
    .bind(room.id.as_str())
    .bind(message.as_str())
    .fetch_optional(conn)
    .await?)
}

/// Rows per INSERT: one statement per hundred messages, not one per message.
const INSERT_CHUNK: usize = 100;

/// A message posted in this batch and not inserted yet, with what later
/// events of the batch did to it.
struct Pending {
    view: MessageView,
    /// The position and time of the newest change after the post.
    changed: Option<(Position, DateTime<Utc>)>,
}

/// The pending message `id` of `room`, if it was posted in this batch.
fn pending_mut<'p>(
    posted: &'p mut [Pending],
    room: &Room,
    id: &MessageId,
) -> Option<&'p mut Pending> {
    posted
        .iter_mut()
        .rev()
        .find(|p| p.view.message_id == *id && p.view.room == *room)
}

async fn flush(
    conn: &mut AnyConnection,
    backend: Backend,
    posted: &mut Vec<Pending>,
) -> Result<(), ProjectionError> {
    for chunk in posted.chunks(INSERT_CHUNK) {
        insert(conn, backend, chunk).await?;
    }
    posted.clear();
    Ok(())
}

async fn insert(
    conn: &mut AnyConnection,
    backend: Backend,
    messages: &[Pending],
) -> Result<(), ProjectionError> {
    let sql = format!(
        "INSERT INTO conversation_messages ({INSERT_COLUMNS}) VALUES {}",
        backend.row_placeholders(messages.len(), 25)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for Pending { view: m, changed } in messages {
        let reactions = if m.reactions.is_empty() {
            "[]".to_owned()
        } else {
            serde_json::to_string(&m.reactions)?
        };
        query = query
            .bind(m.room.tenant.as_str())
            .bind(m.room.kind.as_str())
            .bind(m.room.id.as_str())
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
            .bind(reactions)
            .bind(format_time(m.created_at))
            .bind(format_time(m.updated_at))
            .bind(i64::from(m.hidden))
            .bind(
                m.provenance
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()?,
            )
            .bind(m.metadata.as_ref().map(serde_json::to_string).transpose()?)
            .bind(m.edited_at.map(format_time))
            .bind(m.deleted.as_ref().map(|d| format_time(d.at)))
            .bind(m.deleted.as_ref().map(|d| d.by.as_str()))
            .bind(m.deleted.as_ref().map(|d| d.by_name.as_str()))
            .bind(changed.map(|(position, _)| position))
            .bind(changed.map(|(_, at)| format_time(at)));
    }
    query.execute(conn).await?;
    Ok(())
}

/// Add or remove one user's reaction in a reaction list.
fn react_on(reactions: &mut Vec<ReactionView>, e: &domain::conversation::Reaction, added: bool) {
    let slot = reactions.iter().position(|r| r.emoji == e.emoji);
    match (added, slot) {
        (true, Some(i)) => {
            if !reactions[i].users.iter().any(|u| u.id == e.user_id) {
                reactions[i].users.push(Reactor {
                    id: e.user_id.clone(),
                    name: e.user_name.clone(),
                });
            }
        }
        (true, None) => reactions.push(ReactionView {
            emoji: e.emoji.clone(),
            users: vec![Reactor {
                id: e.user_id.clone(),
                name: e.user_name.clone(),
            }],
        }),
        (false, Some(i)) => {
            reactions[i].users.retain(|u| u.id != e.user_id);
            if reactions[i].users.is_empty() {
                reactions.remove(i);
            }
        }
        (false, None) => {}
    }
}

/// Add or remove one user's reaction in the stored message's reaction list.
async fn react(
    conn: &mut AnyConnection,
    room: &Room,
    position: Position,
    e: &domain::conversation::Reaction,
    added: bool,
) -> Result<(), ProjectionError> {
    let current: Option<String> = sqlx::query_scalar(
        "SELECT reactions FROM conversation_messages WHERE tenant = $1 AND kind = $2 \
         AND conversation_id = $3 AND message_id = $4 AND deleted_at IS NULL",
    )
    .bind(room.tenant.as_str())
    .bind(room.kind.as_str())
    .bind(room.id.as_str())
    .bind(e.message_id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(current) = current else {
        return Ok(());
    };
    let mut reactions: Vec<ReactionView> = serde_json::from_str(&current)?;
    react_on(&mut reactions, e, added);
    sqlx::query(
        "UPDATE conversation_messages SET reactions = $1, changed_position = $2, changed_at = $3 \
         WHERE tenant = $4 AND kind = $5 AND conversation_id = $6 AND message_id = $7",
    )
    .bind(serde_json::to_string(&reactions)?)
    .bind(position)
    .bind(format_time(e.at))
    .bind(room.tenant.as_str())
    .bind(room.kind.as_str())
    .bind(room.id.as_str())
    .bind(e.message_id.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// The columns of a new message's row, in the order `insert` binds them.
const INSERT_COLUMNS: &str = "tenant, kind, conversation_id, position, message_id, author_id, \
     author_name, author_role, content, content_type, optimistic_id, thread_id, mentions, \
     reactions, created_at, updated_at, hidden, provenance, metadata, edited_at, deleted_at, \
     deleted_by, deleted_by_name, changed_position, changed_at";

/// How many messages a conversation held once the message at `position`
/// was posted: its number in the conversation, counting every message
/// (hidden ones and tombstones too: it is staff's count). Exact whatever
/// was posted since.
async fn count_through_on(
    conn: &mut AnyConnection,
    room: &Room,
    position: Position,
) -> Result<u64, ProjectionError> {
    let n: i64 = in_room(
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM conversation_messages WHERE {IN_ROOM} AND position <= $4"
        ))),
        room,
    )
    .bind(position)
    .fetch_one(conn)
    .await?
    .try_get(0)?;
    Ok(n as u64)
}
