//! A `support_conversations` row as a [`SupportView`]: the one decoding
//! every query of the read model shares.

use chrono::{DateTime, Utc};
use domain::Room;
use domain::conversation::{EndReason, Kind, Rating, Status};
use domain::ids::{ChatbotId, ConversationId, SessionId, TenantId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;
use store::event::parse_time;

use crate::ProjectionError;
use crate::views::support::SupportView;

pub(super) const COLUMNS: &str = "tenant, conversation_id, chatbot_id, session_id, user_id, status, \
     assigned_agent_id, assigned_agent_name, metadata, user_agent, ip_address, referrer, \
     created_at, last_activity_at, queued_at, agent_assigned_at, ended_at, end_reason, \
     message_count, ai_message_count, agent_message_count, queue_time_seconds, \
     handle_time_seconds, first_response_seconds, rating, rating_comment";

pub(super) fn bad(e: domain::DomainError) -> ProjectionError {
    ProjectionError::Decode(e.to_string())
}

fn time(row: &AnyRow, index: usize) -> Result<Option<DateTime<Utc>>, ProjectionError> {
    let raw: Option<String> = row.try_get(index)?;
    Ok(raw.as_deref().map(parse_time).transpose()?)
}

pub(super) fn decode(row: &AnyRow) -> Result<SupportView, ProjectionError> {
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
