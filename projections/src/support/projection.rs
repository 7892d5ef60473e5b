//! The projection (`support_conversations`): it reads conversation streams
//! only, and only the events it uses: `ConversationOpened`, `MessagePosted`
//! and the support workflow's events. It copies what the events carry
//! (queue, handle and first-response times, agent ids and names) and
//! recomputes nothing. `last_activity_at` moves exactly when the
//! aggregate's last activity does, so the idle policy's command (which
//! names the activity it saw) matches the aggregate's view.
//!
//! After each support event it publishes [`Change::Support`] with the row
//! as it stands after the change; once per batch, for every tenant whose
//! queue moved (a conversation escalated, or served or ended while
//! waiting), [`Change::QueueMoved`] with that tenant's whole queue.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::actor::Role;
use domain::conversation::{ConversationEvent, Kind, Status};
use domain::ids::{ChatbotId, ConversationId, SessionId, TenantId};
use serde_json::{Map, Value};
use sqlx::AnyConnection;
use store::event::format_time;
use store::{Backend, RecordedEvent};

use super::NAME;
use super::queries::get_on;
use super::queue::queue_on;
use crate::update::{Change, Update};
use crate::views::support::{QueueEntry, SupportChange};
use crate::{Projection, ProjectionError, conversation_event};

/// The events this projection reads (the others never open a transaction).
const HANDLED: [&str; 9] = [
    "ConversationOpened",
    "MessagePosted",
    "ConversationActivated",
    "ConversationEscalated",
    "AgentAssigned",
    "ConversationEnded",
    "ConversationClosed",
    "ConversationRated",
    "ConversationMetadataUpdated",
];

pub struct SupportConversations;

/// Messages of one batch, per conversation: written once per conversation
/// rather than once per message (the message path is the hot one).
#[derive(Default)]
struct Posted {
    messages: i64,
    ai: i64,
    agent: i64,
    /// The last message's time: the conversation's last activity.
    last_at: Option<DateTime<Utc>>,
    /// The first first-response time of the batch.
    first_response: Option<i64>,
}

type Key = (TenantId, ConversationId);

#[async_trait]
impl Projection for SupportConversations {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self, _backend: Backend) -> &'static [&'static str] {
        &["support_conversations"]
    }

    fn stream_prefix(&self) -> Option<&'static str> {
        Some(Kind::Conversation.stream_prefix())
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        HANDLED.contains(&event.event_type.as_str())
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<Vec<Update>, ProjectionError> {
        let mut updates = Vec::new();
        let mut posted: HashMap<Key, Posted> = HashMap::new();
        // Tenants whose queue moved, with the last event that moved it.
        let mut moved: Vec<(TenantId, &RecordedEvent)> = Vec::new();
        for recorded in events {
            if !self.handles(recorded) {
                continue;
            }
            let Some(event) = conversation_event(recorded) else {
                continue;
            };
            let event = event?;
            let (tenant, kind, id) = event.place();
            if kind != Kind::Conversation {
                continue;
            }
            let key = (tenant.clone(), id.clone());
            let (change, at, queue_moved) = match event {
                ConversationEvent::ConversationOpened(e) => {
                    open(conn, &e).await?;
                    continue;
                }
                ConversationEvent::MessagePosted(e) => {
                    let entry = posted.entry(key).or_default();
                    entry.messages += 1;
                    if e.author_role == Role::Service {
                        entry.ai += 1;
                    } else if e.author_role.is_staff() {
                        entry.agent += 1;
                    }
                    entry.last_at = Some(e.at);
                    entry.first_response = entry.first_response.or(e.first_response_seconds);
                    continue;
                }
                // Everything below reads rows the messages may have touched.
                other => {
                    flush(conn, &mut posted).await?;
                    record(conn, &key, other).await?
                }
            };
            let Some(view) = get_on(conn, &key.0, &key.1).await? else {
                tracing::warn!(tenant = %key.0, conversation = %key.1, "support event for an unknown conversation");
                continue;
            };
            if queue_moved {
                match moved.iter_mut().find(|(t, _)| *t == key.0) {
                    Some(slot) => slot.1 = recorded,
                    None => moved.push((key.0.clone(), recorded)),
                }
            }
            updates.push(Update::from_event(
                recorded,
                Change::Support {
                    view: Box::new(view),
                    change,
                    at,
                    queue: Vec::new(),
                },
            ));
        }
        flush(conn, &mut posted).await?;
        // Each support change carries its tenant's queue as the batch left
        // it (consoles show both), read once per tenant.
        let mut queues: HashMap<TenantId, Vec<QueueEntry>> = HashMap::new();
        for update in &mut updates {
            if let Change::Support { view, queue, .. } = &mut update.change {
                let tenant = &view.room.tenant;
                if !queues.contains_key(tenant) {
                    queues.insert(tenant.clone(), queue_on(conn, tenant).await?);
                }
                queue.clone_from(&queues[tenant]);
            }
        }
        for (tenant, recorded) in moved {
            let queue = match queues.remove(&tenant) {
                Some(queue) => queue,
                None => queue_on(conn, &tenant).await?,
            };
            updates.push(Update::from_event(
                recorded,
                Change::QueueMoved { tenant, queue },
            ));
        }
        Ok(updates)
    }
}

async fn open(
    conn: &mut AnyConnection,
    e: &domain::conversation::ConversationOpened,
) -> Result<(), ProjectionError> {
    let details = e.support.clone().unwrap_or_default();
    let at = format_time(e.at);
    sqlx::query(
        "INSERT INTO support_conversations (tenant, conversation_id, chatbot_id, session_id, \
         user_id, status, metadata, user_agent, ip_address, referrer, created_at, \
         last_activity_at, message_count, ai_message_count, agent_message_count) \
         VALUES ($1, $2, $3, $4, $5, $6, '{}', $7, $8, $9, $10, $10, 0, 0, 0)",
    )
    .bind(e.tenant.as_str())
    .bind(e.conversation_id.as_str())
    .bind(details.chatbot_id.as_ref().map(ChatbotId::as_str))
    .bind(details.session_id.as_ref().map(SessionId::as_str))
    .bind(e.opened_by.as_str())
    .bind(Status::New.as_str())
    .bind(details.user_agent.as_deref())
    .bind(details.ip_address.as_deref())
    .bind(details.referrer.as_deref())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn flush(
    conn: &mut AnyConnection,
    posted: &mut HashMap<Key, Posted>,
) -> Result<(), ProjectionError> {
    for ((tenant, id), p) in posted.drain() {
        sqlx::query(
            "UPDATE support_conversations SET message_count = message_count + $1, \
             ai_message_count = ai_message_count + $2, \
             agent_message_count = agent_message_count + $3, \
             last_activity_at = COALESCE($4, last_activity_at), \
             first_response_seconds = COALESCE(first_response_seconds, $5) \
             WHERE tenant = $6 AND conversation_id = $7",
        )
        .bind(p.messages)
        .bind(p.ai)
        .bind(p.agent)
        .bind(p.last_at.map(format_time))
        .bind(p.first_response)
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Write one support event; what changed, when, and whether the tenant's
/// queue moved.
async fn record(
    conn: &mut AnyConnection,
    (tenant, id): &Key,
    event: ConversationEvent,
) -> Result<(SupportChange, DateTime<Utc>, bool), ProjectionError> {
    // `$1` and `$2` are always the row's key.
    let update = |set: &'static str| {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE support_conversations SET {set} WHERE tenant = $1 AND conversation_id = $2"
        )))
        .bind(tenant.as_str())
        .bind(id.as_str())
    };
    Ok(match event {
        ConversationEvent::ConversationActivated(e) => {
            update("status = $3, last_activity_at = $4")
                .bind(e.status.as_str())
                .bind(format_time(e.at))
                .execute(&mut *conn)
                .await?;
            (SupportChange::Activated, e.at, false)
        }
        ConversationEvent::ConversationEscalated(e) => {
            update("status = $3, queued_at = $4, last_activity_at = $4")
                .bind(e.status.as_str())
                .bind(format_time(e.at))
                .execute(&mut *conn)
                .await?;
            let change = SupportChange::Escalated {
                reason: e.reason,
                by: e.escalated_by,
                by_name: e.escalated_by_name,
                by_role: e.escalated_by_role,
            };
            (change, e.at, true)
        }
        ConversationEvent::AgentAssigned(e) => {
            // The first wait is the conversation's queue time; a later
            // escalation to supervisors does not replace it.
            update(
                "status = $3, assigned_agent_id = $4, assigned_agent_name = $5, \
                 agent_assigned_at = $6, last_activity_at = $6, \
                 queue_time_seconds = COALESCE(queue_time_seconds, $7)",
            )
            .bind(Status::Agent.as_str())
            .bind(e.agent_id.as_str())
            .bind(e.agent_name.as_str())
            .bind(format_time(e.at))
            .bind(e.queue_time_seconds)
            .execute(&mut *conn)
            .await?;
            // What the takeover interrupts, for pushes to say so: the call
            // read model is another projection's, possibly a little behind,
            // as it was when pushes asked it themselves.
            let active_call = match domain::call::RoomName::parse(id.as_str()) {
                Ok(room) => crate::calls::active_session_on(&mut *conn, tenant, &room).await?,
                Err(_) => None,
            };
            let change = SupportChange::AgentAssigned {
                how: e.how,
                previous_agent: e.previous_agent,
                active_call,
            };
            (change, e.at, e.previous_status.is_waiting())
        }
        ConversationEvent::ConversationEnded(e) => {
            update(
                "status = $3, ended_at = $4, last_activity_at = $4, end_reason = $5, \
                 handle_time_seconds = $6",
            )
            .bind(Status::Ended.as_str())
            .bind(format_time(e.at))
            .bind(e.reason.as_str())
            .bind(e.handle_time_seconds)
            .execute(&mut *conn)
            .await?;
            let change = SupportChange::Ended {
                reason: e.reason,
                by: e.ended_by,
                by_role: e.ended_by_role,
            };
            (change, e.at, e.previous_status.is_waiting())
        }
        ConversationEvent::ConversationClosed(e) => {
            update("status = $3")
                .bind(Status::Closed.as_str())
                .execute(&mut *conn)
                .await?;
            (SupportChange::Closed, e.at, false)
        }
        ConversationEvent::ConversationRated(e) => {
            update("rating = $3, rating_comment = $4")
                .bind(e.rating.as_str())
                .bind(e.comment.as_deref())
                .execute(&mut *conn)
                .await?;
            let change = SupportChange::Rated {
                rating: e.rating,
                comment: e.comment,
            };
            (change, e.at, false)
        }
        ConversationEvent::ConversationMetadataUpdated(e) => {
            merge_metadata(conn, tenant, id, &e.changes).await?;
            let change = SupportChange::MetadataUpdated { changes: e.changes };
            (change, e.at, false)
        }
        other => {
            return Err(ProjectionError::Decode(format!(
                "{} is not a support event",
                other.name()
            )));
        }
    })
}

/// Merge `changes` (a JSON object) into a conversation's metadata where it
/// is stored: only the changed keys travel, the stored object is never read
/// out and written back whole. A key set to null is removed; any other
/// value replaces the old one, nested objects included (a shallow merge:
/// SQLite's `json_patch` would merge nested objects, JSON Merge Patch).
async fn merge_metadata(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    id: &ConversationId,
    changes: &Value,
) -> Result<(), ProjectionError> {
    let Value::Object(changes) = changes else {
        return Ok(());
    };
    let sql = match Backend::of(conn) {
        // `json`, not `jsonb`: `json_each` keeps each kept value's text as
        // it was (`jsonb` would rewrite 1e300 as 301 digits).
        Backend::Postgres => {
            // Kept keys in their order, then the changed ones: the same
            // text on every replay (a rebuild compares equal).
            let sql = "UPDATE support_conversations SET metadata = COALESCE((\
                 SELECT json_object_agg(m.key, m.value ORDER BY m.src, m.n)::text FROM (\
                 SELECT key, value, 0 AS src, n \
                 FROM json_each(metadata::json) WITH ORDINALITY AS kept(key, value, n) \
                 WHERE key NOT IN (SELECT json_object_keys($3::json)) \
                 UNION ALL SELECT key, value, 1, n \
                 FROM json_each($3::json) WITH ORDINALITY AS changed(key, value, n) \
                 WHERE json_typeof(value) <> 'null') m), '{}') \
                 WHERE tenant = $1 AND conversation_id = $2";
            sqlx::query(sql)
                .bind(tenant.as_str())
                .bind(id.as_str())
                .bind(serde_json::to_string(changes)?)
                .execute(conn)
                .await?;
            return Ok(());
        }
        Backend::Sqlite => sqlite_merge(changes)?,
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.text))
        .bind(tenant.as_str())
        .bind(id.as_str());
    for value in sql.binds {
        query = query.bind(value);
    }
    query.execute(conn).await?;
    Ok(())
}

/// An UPDATE with its arguments after `$1` (tenant) and `$2` (conversation).
struct Statement {
    text: String,
    binds: Vec<String>,
}

/// Arguments per `json_remove` or `json_set` call: SQLite allows a function
/// 1,000 (and an update carries at most 16 KiB, so a few calls at most).
const SQLITE_ARGS_PER_CALL: usize = 500;

/// SQLite: `json_remove` the removed keys, then `json_set` the others, each
/// key addressed by a quoted path label (`$."k"`, JSON escapes and all), so
/// that any key is reached exactly.
fn sqlite_merge(changes: &Map<String, Value>) -> Result<Statement, ProjectionError> {
    let path = |key: &str| -> Result<String, ProjectionError> {
        Ok(format!("$.{}", serde_json::to_string(key)?))
    };
    let mut text = String::from("metadata");
    let mut binds = Vec::new();
    let removed: Vec<&String> = changes
        .iter()
        .filter(|(_, v)| v.is_null())
        .map(|(k, _)| k)
        .collect();
    for chunk in removed.chunks(SQLITE_ARGS_PER_CALL) {
        let mut call = format!("json_remove({text}");
        for key in chunk {
            binds.push(path(key)?);
            call.push_str(&format!(", ${}", binds.len() + 2));
        }
        text = call + ")";
    }
    let set: Vec<(&String, &Value)> = changes.iter().filter(|(_, v)| !v.is_null()).collect();
    for chunk in set.chunks(SQLITE_ARGS_PER_CALL / 2) {
        let mut call = format!("json_set({text}");
        for (key, value) in chunk {
            binds.push(path(key)?);
            binds.push(serde_json::to_string(value)?);
            let n = binds.len() + 2;
            call.push_str(&format!(", ${}, json(${n})", n - 1));
        }
        text = call + ")";
    }
    Ok(Statement {
        text: format!(
            "UPDATE support_conversations SET metadata = {text} \
             WHERE tenant = $1 AND conversation_id = $2"
        ),
        binds,
    })
}
