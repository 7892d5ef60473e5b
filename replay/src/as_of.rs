//! `replay as-of`: the past, built by the real projections.
//!
//! The tenant's events up to the chosen position go through every
//! projection into a scratch SQLite database, and the answer is read from
//! it with the same queries the server uses: so the past is shown exactly
//! as the server showed it then (queue positions included, which depend on
//! the tenant's other conversations).

use chrono::{DateTime, Utc};
use domain::Room;
use domain::conversation::{Conversation, Kind};
use domain::ids::{ConversationId, TenantId};
use projections::conversation_messages::{self, MessageView, Visibility};
use projections::{conversation_list, rebuild, support};
use serde_json::{Value, json};
use store::event::format_time;
use store::{Db, EventLog, Position};

use crate::ReplayError;

/// When to look.
#[derive(Debug, Clone, Copy)]
pub enum When {
    /// Right after the last event recorded at or before this time.
    Time(DateTime<Utc>),
    /// Right after the event at this position.
    Position(Position),
}

/// The position `when` stands for.
async fn position(log: &EventLog, when: When) -> Result<Position, ReplayError> {
    match when {
        When::Position(position) => Ok(position),
        When::Time(at) => {
            let position: Option<i64> =
                sqlx::query_scalar("SELECT MAX(position) FROM events WHERE recorded_at <= $1")
                    .bind(format_time(at))
                    .fetch_one(log.db().pool())
                    .await?;
            Ok(position.unwrap_or(0))
        }
    }
}

/// A scratch database holding the tenant's read models as of `up_to`.
async fn past(
    log: &EventLog,
    tenant: &TenantId,
    up_to: Position,
) -> Result<(Db, tempfile::TempDir, u64), ReplayError> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("as-of.db").display());
    let scratch = Db::connect(&url).await?;
    let events =
        rebuild::build_tenant(log, &scratch, &projections::all(), tenant.as_str(), up_to).await?;
    Ok((scratch, dir, events))
}

fn tenant(raw: &str) -> Result<TenantId, ReplayError> {
    TenantId::parse(raw).map_err(|e| ReplayError::Usage(format!("--tenant: {e}")))
}

/// The tenant and kind of a conversation id, from the log.
async fn locate(
    log: &EventLog,
    tenant: Option<&str>,
    id: &ConversationId,
) -> Result<(TenantId, Kind), ReplayError> {
    let mut found = Vec::new();
    for kind in [Kind::Conversation, Kind::Channel] {
        // Without a tenant, a LIKE finds the candidates (`_` and `%` in an id
        // are wildcards there), and each is kept only if its stream is
        // exactly this id's.
        let pattern = match tenant {
            Some(tenant) => Conversation::stream_id(kind, &self::tenant(tenant)?, id),
            None => format!("{}%/{id}", kind.stream_prefix()),
        };
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT tenant, stream_id FROM events WHERE stream_id LIKE $1 AND stream_version = 1",
        )
        .bind(pattern)
        .fetch_all(log.db().pool())
        .await?;
        for (tenant, stream) in rows {
            let tenant = self::tenant(&tenant)?;
            if stream == Conversation::stream_id(kind, &tenant, id) {
                found.push((tenant, kind));
            }
        }
    }
    match found.len() {
        0 => Err(ReplayError::Usage(format!(
            "no conversation {id} in the log"
        ))),
        1 => Ok(found.remove(0)),
        _ => Err(ReplayError::Usage(format!(
            "conversation id {id} is used by several tenants or kinds: give --tenant"
        ))),
    }
}

/// The conversation as it was: status, participants, messages, queue position.
pub async fn conversation(
    log: &EventLog,
    tenant: Option<&str>,
    id: &str,
    when: When,
) -> Result<Value, ReplayError> {
    let id = ConversationId::parse(id)
        .map_err(|e| ReplayError::Usage(format!("--conversation: {e}")))?;
    let (tenant, kind) = locate(log, tenant, &id).await?;
    let up_to = position(log, when).await?;
    let (db, _dir, events) = past(log, &tenant, up_to).await?;
    let room = Room::new(tenant.clone(), kind, id.clone());
    let summary = conversation_list::get(&db, &room).await?;
    let mut messages = Vec::new();
    loop {
        let page = conversation_messages::page_by_offset(
            &db,
            &room,
            Visibility::Staff,
            messages.len() as u64,
            1_000,
        )
        .await?;
        messages.extend(page.iter().map(message));
        if page.len() < 1_000 {
            break;
        }
    }
    let support = support::get(&db, &tenant, &id).await?;
    let queue = support::queue(&db, &tenant).await?;
    let queue_position = queue
        .iter()
        .find(|entry| entry.conversation_id == id)
        .map(|entry| entry.position);
    let view = json!({
        "tenant": tenant.as_str(),
        "conversationId": id.as_str(),
        "kind": kind.as_str(),
        "asOf": { "position": up_to, "eventsReplayed": events },
        "exists": summary.is_some(),
        "status": support.as_ref().map(|s| s.status.as_str()),
        "openedBy": summary.as_ref().map(|s| s.opened_by.as_str()),
        "openedAt": summary.as_ref().map(|s| wire::wire_time(s.opened_at)),
        "participants": summary.as_ref().map(|s| s.participants.iter().map(|p| json!({
            "userId": p.user_id.as_str(),
            "userName": p.user_name,
            "role": p.role.as_str(),
            "joinedAt": wire::wire_time(p.joined_at),
        })).collect::<Vec<_>>()).unwrap_or_default(),
        "messageCount": messages.len(),
        "messages": messages,
        "support": support.as_ref().map(wire::support::conversation),
        "queuePosition": queue_position,
    });
    db.close().await;
    Ok(view)
}

/// The tenant's support metrics as they were.
pub async fn metrics(log: &EventLog, tenant: &str, when: When) -> Result<Value, ReplayError> {
    let tenant = self::tenant(tenant)?;
    let up_to = position(log, when).await?;
    let (db, _dir, events) = past(log, &tenant, up_to).await?;
    let metrics = support::metrics(&db, &tenant, None, None).await?;
    let queue = support::queue(&db, &tenant).await?;
    let view = json!({
        "tenant": tenant.as_str(),
        "asOf": { "position": up_to, "eventsReplayed": events },
        "metrics": wire::support::metrics(&metrics),
        "queue": queue.iter().map(wire::support::queue_entry).collect::<Vec<_>>(),
    });
    db.close().await;
    Ok(view)
}

fn message(m: &MessageView) -> Value {
    json!({
        "position": m.position,
        "messageId": m.message_id.as_str(),
        "authorId": m.author_id.as_str(),
        "authorName": m.author_name,
        "authorRole": m.author_role.as_str(),
        "content": m.content,
        "contentType": m.content_type,
        "threadId": m.thread_id.as_ref().map(|t| t.as_str()),
        "metadata": m.metadata,
        "reactions": m.reactions.iter().map(|r| json!({
            "emoji": r.emoji,
            "users": r.users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "hidden": m.hidden,
        "createdAt": wire::wire_time(m.created_at),
        "editedAt": m.edited_at.map(wire::wire_time),
        "deletedAt": m.deleted.as_ref().map(|d| wire::wire_time(d.at)),
        "provenance": m.provenance.as_ref().map(|p| serde_json::to_value(p).unwrap_or(Value::Null)),
    })
}
