//! The support side of conversations: one row per support conversation
//! (the chatbot seed's `IConversation` without its messages), the queue
//! with positions and estimated waits, and metrics per tenant, agent and
//! day.
//!
//! The projection (`support_conversations`) reads conversation streams
//! only, and only the events it uses: `ConversationOpened`,
//! `MessagePosted` and the support workflow's events. It copies what the
//! events carry (queue, handle and first-response times, agent ids and
//! names) and recomputes nothing. `last_activity_at` moves exactly when the
//! aggregate's last activity does, so the idle policy's command (which
//! names the activity it saw) matches the aggregate's view.
//!
//! After each support event it publishes [`Change::Support`] with the row
//! as it stands after the change; once per batch, for every tenant whose
//! queue moved (a conversation escalated, or served or ended while
//! waiting), [`Change::QueueMoved`] with that tenant's whole queue.
//!
//! Estimated waits: position × the median handle time of the tenant's last
//! 50 ended conversations that had an agent (300 s when there are none) ÷
//! the number of agents at work. Agents at work are the distinct agents of
//! the tenant's conversations in status `agent`, at least 1: the presence
//! read model does not know roles, and this count comes from this read
//! model's own rows, so it is the same on a rebuild.
//!
//! Metrics select the rows of the period and compute counts, medians and
//! 90th percentiles in Rust: fine for the thousands of conversations a
//! tenant has per period; a very large tenant would want SQL aggregates.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::Room;
use domain::actor::Role;
use domain::conversation::{Assignment, ConversationEvent, EndReason, Kind, Rating, Status};
use domain::ids::{ChatbotId, ConversationId, SessionId, TenantId, UserId};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, HashMap};
use store::event::{format_time, parse_time};
use store::{Backend, Db, RecordedEvent};

use crate::update::{Change, Update};
use crate::{Projection, ProjectionError, conversation_event};

pub const NAME: &str = "support_conversations";

/// A support conversation as consoles list it.
#[derive(Debug, Clone, PartialEq)]
pub struct SupportView {
    pub room: Room,
    pub chatbot_id: Option<ChatbotId>,
    pub session_id: Option<SessionId>,
    /// The customer who opened it.
    pub user_id: UserId,
    pub status: Status,
    pub assigned_agent_id: Option<UserId>,
    pub assigned_agent_name: Option<String>,
    /// Merged metadata updates (a JSON object).
    pub metadata: Value,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub referrer: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub queued_at: Option<DateTime<Utc>>,
    pub agent_assigned_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<EndReason>,
    pub message_count: u64,
    pub ai_message_count: u64,
    pub agent_message_count: u64,
    pub queue_time_seconds: Option<i64>,
    pub handle_time_seconds: Option<i64>,
    pub first_response_seconds: Option<i64>,
    pub rating: Option<Rating>,
    pub rating_comment: Option<String>,
}

/// A conversation waiting for a human, and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEntry {
    pub conversation_id: ConversationId,
    /// The customer waiting.
    pub user_id: UserId,
    /// `queued`, or `escalated` (waiting for a supervisor).
    pub status: Status,
    pub queued_at: DateTime<Utc>,
    /// 1 for the next to be served.
    pub position: u32,
    /// Seconds, from recent handle times and the agents online.
    pub estimated_wait_seconds: u64,
}

/// What happened to a support conversation (the view says where it stands
/// now).
#[derive(Debug, Clone, PartialEq)]
pub enum SupportChange {
    /// The customer spoke first (`active` or `ai`).
    Activated,
    Escalated {
        reason: Option<String>,
        by: UserId,
        by_name: String,
        by_role: Role,
    },
    AgentAssigned {
        how: Assignment,
        previous_agent: Option<UserId>,
        /// The session of the call going on in the conversation's call room
        /// (named by the conversation's id) when the agent took over.
        active_call: Option<u64>,
    },
    Ended {
        reason: EndReason,
        by: UserId,
        by_role: Role,
    },
    Closed,
    Rated {
        rating: Rating,
        comment: Option<String>,
    },
    MetadataUpdated {
        changes: Value,
    },
}

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
                },
            ));
        }
        flush(conn, &mut posted).await?;
        for (tenant, recorded) in moved {
            let queue = queue_on(conn, &tenant).await?;
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

const COLUMNS: &str = "tenant, conversation_id, chatbot_id, session_id, user_id, status, \
     assigned_agent_id, assigned_agent_name, metadata, user_agent, ip_address, referrer, \
     created_at, last_activity_at, queued_at, agent_assigned_at, ended_at, end_reason, \
     message_count, ai_message_count, agent_message_count, queue_time_seconds, \
     handle_time_seconds, first_response_seconds, rating, rating_comment";

fn bad(e: domain::DomainError) -> ProjectionError {
    ProjectionError::Decode(e.to_string())
}

fn time(row: &AnyRow, index: usize) -> Result<Option<DateTime<Utc>>, ProjectionError> {
    let raw: Option<String> = row.try_get(index)?;
    Ok(raw.as_deref().map(parse_time).transpose()?)
}

fn decode(row: &AnyRow) -> Result<SupportView, ProjectionError> {
    let tenant = TenantId::parse(row.try_get::<String, _>(0)?).map_err(bad)?;
    let id = ConversationId::parse(row.try_get::<String, _>(1)?).map_err(bad)?;
    let chatbot: Option<String> = row.try_get(2)?;
    let session: Option<String> = row.try_get(3)?;
    let agent: Option<String> = row.try_get(6)?;
    let end_reason: Option<String> = row.try_get(17)?;
    let rating: Option<String> = row.try_get(24)?;
    let count = |index: usize| -> Result<u64, ProjectionError> {
        Ok(row.try_get::<i64, _>(index)?.max(0) as u64)
    };
    Ok(SupportView {
        room: Room::new(tenant, Kind::Conversation, id),
        chatbot_id: chatbot.map(ChatbotId::parse).transpose().map_err(bad)?,
        session_id: session.map(SessionId::parse).transpose().map_err(bad)?,
        user_id: UserId::parse(row.try_get::<String, _>(4)?).map_err(bad)?,
        status: Status::parse(&row.try_get::<String, _>(5)?).map_err(bad)?,
        assigned_agent_id: agent.map(UserId::parse).transpose().map_err(bad)?,
        assigned_agent_name: row.try_get(7)?,
        metadata: serde_json::from_str(&row.try_get::<String, _>(8)?)?,
        user_agent: row.try_get(9)?,
        ip_address: row.try_get(10)?,
        referrer: row.try_get(11)?,
        created_at: parse_time(&row.try_get::<String, _>(12)?)?,
        last_activity_at: parse_time(&row.try_get::<String, _>(13)?)?,
        queued_at: time(row, 14)?,
        agent_assigned_at: time(row, 15)?,
        ended_at: time(row, 16)?,
        end_reason: end_reason
            .as_deref()
            .map(EndReason::parse)
            .transpose()
            .map_err(bad)?,
        message_count: count(18)?,
        ai_message_count: count(19)?,
        agent_message_count: count(20)?,
        queue_time_seconds: row.try_get(21)?,
        handle_time_seconds: row.try_get(22)?,
        first_response_seconds: row.try_get(23)?,
        rating: rating
            .as_deref()
            .map(Rating::from_stored)
            .transpose()
            .map_err(bad)?,
        rating_comment: row.try_get(25)?,
    })
}

async fn get_on(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    id: &ConversationId,
) -> Result<Option<SupportView>, ProjectionError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM support_conversations WHERE tenant = $1 AND conversation_id = $2"
    )))
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(decode).transpose()
}

/// One support conversation of `tenant` (another tenant's id is unknown).
pub async fn get(
    db: &Db,
    tenant: &TenantId,
    id: &ConversationId,
) -> Result<Option<SupportView>, ProjectionError> {
    let mut conn = db.pool().acquire().await?;
    get_on(&mut conn, tenant, id).await
}

/// Several support conversations of `tenant`, by id (unknown ids are left
/// out).
pub async fn get_many(
    db: &Db,
    tenant: &TenantId,
    ids: &[ConversationId],
) -> Result<HashMap<ConversationId, SupportView>, ProjectionError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders = (0..ids.len())
        .map(|i| format!("${}", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM support_conversations WHERE tenant = $1 \
         AND conversation_id IN ({placeholders})"
    )))
    .bind(tenant.as_str());
    for id in ids {
        query = query.bind(id.as_str());
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|row| decode(row).map(|view| (view.room.id.clone(), view)))
        .collect()
}

/// Which support conversations of a tenant to list, and which page.
#[derive(Debug, Clone, PartialEq)]
pub struct SupportQuery {
    pub tenant: TenantId,
    pub status: Option<Status>,
    /// Only conversations assigned to this agent.
    pub agent: Option<UserId>,
    /// Only conversations this customer opened.
    pub customer: Option<UserId>,
    /// Created at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Created strictly before this instant.
    pub to: Option<DateTime<Utc>>,
    /// 1 for the first page (0 reads as 1).
    pub page: u32,
    pub limit: u32,
}

/// A page of a tenant's support conversations, newest first, and how many
/// match over all pages. A page past the end is empty, with the right
/// total.
pub async fn list(
    db: &Db,
    query: &SupportQuery,
) -> Result<(Vec<SupportView>, u64), ProjectionError> {
    let mut clauses = vec!["tenant = $1".to_owned()];
    let mut binds = vec![query.tenant.as_str().to_owned()];
    let mut filter = |clause: &str, value: String| {
        binds.push(value);
        clauses.push(format!("{clause} ${}", binds.len()));
    };
    if let Some(status) = query.status {
        filter("status =", status.as_str().to_owned());
    }
    if let Some(agent) = &query.agent {
        filter("assigned_agent_id =", agent.as_str().to_owned());
    }
    if let Some(customer) = &query.customer {
        filter("user_id =", customer.as_str().to_owned());
    }
    if let Some(from) = query.from {
        filter("created_at >=", format_time(from));
    }
    if let Some(to) = query.to {
        filter("created_at <", format_time(to));
    }
    let filters = clauses.join(" AND ");
    let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM support_conversations WHERE {filters}"
    )));
    for bind in &binds {
        count = count.bind(bind.as_str());
    }
    let total = count.fetch_one(db.pool()).await?.max(0) as u64;
    let page = u64::from(query.page.max(1));
    let offset = (page - 1).saturating_mul(u64::from(query.limit));
    if query.limit == 0 || offset >= total {
        return Ok((Vec::new(), total));
    }
    let n = binds.len();
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM support_conversations WHERE {filters} \
         ORDER BY created_at DESC, conversation_id DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    )));
    for bind in &binds {
        rows = rows.bind(bind.as_str());
    }
    let rows = rows
        .bind(i64::from(query.limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(db.pool())
        .await?;
    let views = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok((views, total))
}

/// Handle time assumed when a tenant has no ended conversation to go by.
pub const DEFAULT_HANDLE_SECONDS: f64 = 300.0;
/// How many recently ended conversations the estimated wait looks at.
const RECENT_HANDLED: i64 = 50;

/// The tenant's queue: every conversation waiting for a human, first in
/// line first, with its position and estimated wait.
pub async fn queue(db: &Db, tenant: &TenantId) -> Result<Vec<QueueEntry>, ProjectionError> {
    let mut conn = db.pool().acquire().await?;
    queue_on(&mut conn, tenant).await
}

async fn queue_on(
    conn: &mut AnyConnection,
    tenant: &TenantId,
) -> Result<Vec<QueueEntry>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT conversation_id, user_id, status, COALESCE(queued_at, created_at) \
         FROM support_conversations WHERE tenant = $1 AND status IN ('queued', 'escalated') \
         ORDER BY COALESCE(queued_at, created_at), conversation_id",
    )
    .bind(tenant.as_str())
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let handled: Vec<Option<i64>> = sqlx::query_scalar(
        "SELECT handle_time_seconds FROM support_conversations \
         WHERE tenant = $1 AND ended_at IS NOT NULL AND handle_time_seconds IS NOT NULL \
         ORDER BY ended_at DESC LIMIT $2",
    )
    .bind(tenant.as_str())
    .bind(RECENT_HANDLED)
    .fetch_all(&mut *conn)
    .await?;
    let handled: Vec<f64> = handled.into_iter().flatten().map(|s| s as f64).collect();
    let median = percentile(handled, 0.5).unwrap_or(DEFAULT_HANDLE_SECONDS);
    let agents: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT assigned_agent_id) FROM support_conversations \
         WHERE tenant = $1 AND status = 'agent'",
    )
    .bind(tenant.as_str())
    .fetch_one(&mut *conn)
    .await?;
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let position = u32::try_from(i + 1).unwrap_or(u32::MAX);
            Ok(QueueEntry {
                conversation_id: ConversationId::parse(row.try_get::<String, _>(0)?)
                    .map_err(bad)?,
                user_id: UserId::parse(row.try_get::<String, _>(1)?).map_err(bad)?,
                status: Status::parse(&row.try_get::<String, _>(2)?).map_err(bad)?,
                queued_at: parse_time(&row.try_get::<String, _>(3)?)?,
                position,
                estimated_wait_seconds: estimated_wait(position, median, agents),
            })
        })
        .collect()
}

/// `position` × `median_handle` seconds ÷ the agents at work (at least one).
pub fn estimated_wait(position: u32, median_handle: f64, agents: i64) -> u64 {
    let agents = agents.max(1) as f64;
    (f64::from(position) * median_handle / agents)
        .round()
        .max(0.0) as u64
}

/// How many conversations each agent of the tenant handles now (status
/// `agent`).
pub async fn active_counts(
    db: &Db,
    tenant: &TenantId,
) -> Result<HashMap<UserId, u32>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT assigned_agent_id, COUNT(*) FROM support_conversations \
         WHERE tenant = $1 AND status = 'agent' AND assigned_agent_id IS NOT NULL \
         GROUP BY assigned_agent_id",
    )
    .bind(tenant.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let agent = UserId::parse(row.try_get::<String, _>(0)?).map_err(bad)?;
            let n: i64 = row.try_get(1)?;
            Ok((agent, u32::try_from(n).unwrap_or(u32::MAX)))
        })
        .collect()
}

/// An idle conversation: its tenant, id, status and last activity.
pub type Idle = (TenantId, ConversationId, Status, DateTime<Utc>);

/// Conversations of every tenant, not ended or closed, with no activity
/// since before `last_activity_before`; the longest idle first, at most
/// `limit`.
pub async fn idle(
    db: &Db,
    last_activity_before: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Idle>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT tenant, conversation_id, status, last_activity_at FROM support_conversations \
         WHERE status NOT IN ('ended', 'closed') AND last_activity_at < $1 \
         ORDER BY last_activity_at, tenant, conversation_id LIMIT $2",
    )
    .bind(format_time(last_activity_before))
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                TenantId::parse(row.try_get::<String, _>(0)?).map_err(bad)?,
                ConversationId::parse(row.try_get::<String, _>(1)?).map_err(bad)?,
                Status::parse(&row.try_get::<String, _>(2)?).map_err(bad)?,
                parse_time(&row.try_get::<String, _>(3)?)?,
            ))
        })
        .collect()
}

/// A median and a 90th percentile, in seconds (`None` without data).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spread {
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

impl Spread {
    fn of(values: Vec<f64>) -> Self {
        Self {
            median: percentile(values.clone(), 0.5),
            p90: percentile(values, 0.9),
        }
    }
}

/// The figures of one group of conversations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricsGroup {
    pub conversations: u64,
    /// Ended (or ended and closed).
    pub ended: u64,
    pub messages: u64,
    /// By the assistant (`service` authors).
    pub ai_messages: u64,
    /// By staff.
    pub agent_messages: u64,
    /// Ever waited for a human.
    pub queued: u64,
    pub queue_time: Spread,
    pub first_response: Spread,
    pub handle_time: Spread,
    pub ratings_good: u64,
    pub ratings_bad: u64,
    /// Good ÷ rated (`None` when none was rated).
    pub csat: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentMetrics {
    pub agent_id: UserId,
    pub agent_name: Option<String>,
    pub metrics: MetricsGroup,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DayMetrics {
    /// The UTC date the conversations were created on.
    pub day: NaiveDate,
    pub metrics: MetricsGroup,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metrics {
    pub overall: MetricsGroup,
    /// By assigned agent, by agent id.
    pub per_agent: Vec<AgentMetrics>,
    /// By day, oldest first.
    pub per_day: Vec<DayMetrics>,
}

/// Metrics over the tenant's conversations created in `[from, to)`
/// (unbounded where `None`).
pub async fn metrics(
    db: &Db,
    tenant: &TenantId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Metrics, ProjectionError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM support_conversations WHERE tenant = $1 \
         AND ($2 IS NULL OR created_at >= $2) AND ($3 IS NULL OR created_at < $3)"
    )))
    .bind(tenant.as_str())
    .bind(from.map(format_time))
    .bind(to.map(format_time))
    .fetch_all(db.pool())
    .await?;
    let views = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(summarize(&views))
}

/// The metrics of these conversations, overall, per agent and per day.
pub fn summarize(views: &[SupportView]) -> Metrics {
    let mut agents: BTreeMap<&UserId, (Option<&str>, Vec<&SupportView>)> = BTreeMap::new();
    let mut days: BTreeMap<NaiveDate, Vec<&SupportView>> = BTreeMap::new();
    for view in views {
        if let Some(agent) = &view.assigned_agent_id {
            let slot = agents.entry(agent).or_default();
            slot.0 = slot.0.or(view.assigned_agent_name.as_deref());
            slot.1.push(view);
        }
        days.entry(view.created_at.date_naive())
            .or_default()
            .push(view);
    }
    Metrics {
        overall: group(views.iter()),
        per_agent: agents
            .into_iter()
            .map(|(agent, (name, views))| AgentMetrics {
                agent_id: agent.clone(),
                agent_name: name.map(str::to_owned),
                metrics: group(views.into_iter()),
            })
            .collect(),
        per_day: days
            .into_iter()
            .map(|(day, views)| DayMetrics {
                day,
                metrics: group(views.into_iter()),
            })
            .collect(),
    }
}

fn group<'a>(views: impl Iterator<Item = &'a SupportView>) -> MetricsGroup {
    let mut g = MetricsGroup::default();
    let (mut queue, mut first, mut handle) = (Vec::new(), Vec::new(), Vec::new());
    for v in views {
        g.conversations += 1;
        g.ended += u64::from(v.ended_at.is_some());
        g.messages += v.message_count;
        g.ai_messages += v.ai_message_count;
        g.agent_messages += v.agent_message_count;
        g.queued += u64::from(v.queued_at.is_some());
        queue.extend(v.queue_time_seconds.map(|s| s as f64));
        first.extend(v.first_response_seconds.map(|s| s as f64));
        handle.extend(v.handle_time_seconds.map(|s| s as f64));
        match v.rating {
            Some(r) if r.is_satisfied() => g.ratings_good += 1,
            Some(_) => g.ratings_bad += 1,
            None => {}
        }
    }
    g.queue_time = Spread::of(queue);
    g.first_response = Spread::of(first);
    g.handle_time = Spread::of(handle);
    let rated = g.ratings_good + g.ratings_bad;
    g.csat = (rated > 0).then(|| g.ratings_good as f64 / rated as f64);
    g
}

/// The `p` quantile (0 to 1) of `values`, interpolating linearly between
/// the two nearest ranks (so the median of an even count is the mean of the
/// middle two). `None` for no values.
pub fn percentile(mut values: Vec<f64>, p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = p.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    let fraction = rank - low as f64;
    Some(values[low] + (values[high] - values[low]) * fraction)
}

/// The user's most recently opened conversation of `chatbot` that is not
/// over (ended or closed), if any.
pub async fn latest_open_for_user(
    db: &Db,
    tenant: &TenantId,
    user: &UserId,
    chatbot: &ChatbotId,
) -> Result<Option<ConversationId>, ProjectionError> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT conversation_id FROM support_conversations \
         WHERE tenant = $1 AND user_id = $2 AND chatbot_id = $3 \
         AND status NOT IN ('ended', 'closed') \
         ORDER BY created_at DESC, conversation_id DESC LIMIT 1",
    )
    .bind(tenant.as_str())
    .bind(user.as_str())
    .bind(chatbot.as_str())
    .fetch_optional(db.pool())
    .await?;
    id.map(ConversationId::parse)
        .transpose()
        .map_err(|e| ProjectionError::Decode(e.to_string()))
}

/// How many conversations `user` opened under `session` are open (not
/// ended or closed): sessions are scoped to their owner.
pub async fn open_for_customer(
    db: &Db,
    tenant: &TenantId,
    session: &SessionId,
    user: &UserId,
) -> Result<u64, ProjectionError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM support_conversations \
         WHERE tenant = $1 AND session_id = $2 AND user_id = $3 \
         AND status NOT IN ('ended', 'closed')",
    )
    .bind(tenant.as_str())
    .bind(session.as_str())
    .bind(user.as_str())
    .fetch_one(db.pool())
    .await?;
    Ok(u64::try_from(n).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let one_to_ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(one_to_ten.clone(), 0.5), Some(5.5));
        assert_eq!(percentile(one_to_ten, 0.9), Some(9.1));
        assert_eq!(percentile(vec![30.0, 10.0, 20.0], 0.5), Some(20.0));
        assert_eq!(percentile(vec![7.0], 0.9), Some(7.0));
        assert_eq!(percentile(Vec::new(), 0.5), None);
    }

    #[test]
    fn estimated_waits_share_the_line_among_the_agents_at_work() {
        assert_eq!(estimated_wait(1, 300.0, 0), 300);
        assert_eq!(estimated_wait(3, 300.0, 1), 900);
        assert_eq!(estimated_wait(3, 300.0, 2), 450);
        assert_eq!(estimated_wait(1, 100.0, 3), 33);
    }
}
