//! Call rooms: their sessions, who took part, and the transcript of each.
//!
//! The projection also turns joins, leaves and segments into updates, so
//! that everything a call room hears comes from one projection, in log order.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::call::{Call, CallEvent, RoomName};
use domain::ids::{TenantId, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use store::event::{format_time, parse_time};
use store::{Backend, Db, RecordedEvent};

use crate::update::{Change, Update};
use crate::{Projection, ProjectionError};

pub use crate::views::call::{CallParticipantView, CallSessionView, CallStatus, SegmentView};

pub const NAME: &str = "calls";

pub struct Calls;

#[async_trait]
impl Projection for Calls {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self, _backend: Backend) -> &'static [&'static str] {
        &["calls", "call_participants", "call_transcript_segments"]
    }

    fn stream_prefix(&self) -> Option<&'static str> {
        Some(domain::call::STREAM_PREFIX)
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<Vec<Update>, ProjectionError> {
        let mut updates = Vec::new();
        let mut segments = Vec::new();
        for recorded in events {
            if !Call::owns_stream(&recorded.stream_id) {
                continue;
            }
            let change = match store::aggregate::decode_payload::<Call>(recorded)? {
                CallEvent::CallStarted(e) => {
                    sqlx::query(
                        "INSERT INTO calls (tenant, room_name, session, status, started_by, \
                         started_at, ended_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
                    )
                    .bind(e.tenant.as_str())
                    .bind(e.room_name.as_str())
                    .bind(e.session as i64)
                    .bind(CallStatus::Active.as_str())
                    .bind(e.started_by.as_str())
                    .bind(format_time(e.at))
                    .execute(&mut *conn)
                    .await?;
                    continue;
                }
                CallEvent::CallParticipantJoined(e) => {
                    // Back after leaving the same session: still the first
                    // joining time, no longer gone.
                    sqlx::query(
                        "INSERT INTO call_participants (tenant, room_name, session, user_id, \
                         user_name, role, joined_at, left_at, leave_reason) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL) \
                         ON CONFLICT (tenant, room_name, session, user_id) DO UPDATE SET \
                         user_name = excluded.user_name, role = excluded.role, \
                         left_at = NULL, leave_reason = NULL",
                    )
                    .bind(e.tenant.as_str())
                    .bind(e.room_name.as_str())
                    .bind(e.session as i64)
                    .bind(e.user_id.as_str())
                    .bind(e.user_name.as_str())
                    .bind(e.role.as_str())
                    .bind(format_time(e.at))
                    .execute(&mut *conn)
                    .await?;
                    Change::CallParticipantJoined {
                        tenant: e.tenant,
                        room_name: e.room_name,
                        session: e.session,
                        user_id: e.user_id,
                        user_name: e.user_name,
                        at: e.at,
                    }
                }
                CallEvent::CallParticipantLeft(e) => {
                    sqlx::query(
                        "UPDATE call_participants SET left_at = $1, leave_reason = $2 \
                         WHERE tenant = $3 AND room_name = $4 AND session = $5 AND user_id = $6",
                    )
                    .bind(format_time(e.at))
                    .bind(e.reason.as_str())
                    .bind(e.tenant.as_str())
                    .bind(e.room_name.as_str())
                    .bind(e.session as i64)
                    .bind(e.user_id.as_str())
                    .execute(&mut *conn)
                    .await?;
                    Change::CallParticipantLeft {
                        tenant: e.tenant,
                        room_name: e.room_name,
                        session: e.session,
                        user_id: e.user_id,
                        user_name: e.user_name,
                        reason: e.reason,
                        at: e.at,
                    }
                }
                CallEvent::TranscriptSegmentRecorded(e) => {
                    let view = SegmentView {
                        tenant: e.tenant,
                        room_name: e.room_name,
                        session: e.session,
                        position: recorded.position,
                        user_id: e.user_id,
                        user_name: e.user_name,
                        speaker: e.speaker,
                        text: e.text,
                        is_final: e.is_final,
                        confidence: e.confidence,
                        at: e.at,
                    };
                    segments.push(view.clone());
                    Change::TranscriptSegmentRecorded(view)
                }
                CallEvent::CallEnded(e) => {
                    sqlx::query(
                        "UPDATE calls SET status = $1, ended_at = $2 \
                         WHERE tenant = $3 AND room_name = $4 AND session = $5",
                    )
                    .bind(CallStatus::Ended.as_str())
                    .bind(format_time(e.at))
                    .bind(e.tenant.as_str())
                    .bind(e.room_name.as_str())
                    .bind(e.session as i64)
                    .execute(&mut *conn)
                    .await?;
                    continue;
                }
            };
            updates.push(Update::from_event(recorded, change));
        }
        let backend = Backend::of(conn);
        for chunk in segments.chunks(INSERT_CHUNK) {
            insert_segments(conn, backend, chunk).await?;
        }
        Ok(updates)
    }
}

/// Rows per INSERT: live transcription comes in bursts of small segments.
const INSERT_CHUNK: usize = 100;

const SEGMENT_COLUMNS: &str = "tenant, room_name, session, position, user_id, user_name, \
     speaker, content, is_final, confidence, recorded_at";

async fn insert_segments(
    conn: &mut AnyConnection,
    backend: Backend,
    segments: &[SegmentView],
) -> Result<(), ProjectionError> {
    let sql = format!(
        "INSERT INTO call_transcript_segments ({SEGMENT_COLUMNS}) VALUES {}",
        backend.row_placeholders(segments.len(), 11)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for s in segments {
        query = query
            .bind(s.tenant.as_str())
            .bind(s.room_name.as_str())
            .bind(s.session as i64)
            .bind(s.position)
            .bind(s.user_id.as_str())
            .bind(s.user_name.as_str())
            .bind(s.speaker.as_str())
            .bind(s.text.as_str())
            .bind(i64::from(s.is_final))
            .bind(s.confidence)
            .bind(format_time(s.at));
    }
    query.execute(conn).await?;
    Ok(())
}

fn bad(e: domain::DomainError) -> ProjectionError {
    ProjectionError::Decode(e.to_string())
}

fn decode_segment(row: &AnyRow) -> Result<SegmentView, ProjectionError> {
    Ok(SegmentView {
        tenant: TenantId::parse(row.try_get::<String, _>(0)?).map_err(bad)?,
        room_name: RoomName::parse(row.try_get::<String, _>(1)?).map_err(bad)?,
        session: row.try_get::<i64, _>(2)? as u64,
        position: row.try_get(3)?,
        user_id: UserId::parse(row.try_get::<String, _>(4)?).map_err(bad)?,
        user_name: row.try_get(5)?,
        speaker: row.try_get(6)?,
        text: row.try_get(7)?,
        is_final: row.try_get::<i64, _>(8)? != 0,
        confidence: row.try_get(9)?,
        at: parse_time(&row.try_get::<String, _>(10)?)?,
    })
}

/// Whose sessions a transcript query answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sessions<'a> {
    /// Every session of the room (staff, analysts).
    All,
    /// Only the sessions this user took part in (a customer): joining a
    /// room later must not open its earlier calls.
    TakenPartIn(&'a UserId),
}

impl<'a> Sessions<'a> {
    fn user(self) -> Option<&'a str> {
        match self {
            Sessions::All => None,
            Sessions::TakenPartIn(user) => Some(user.as_str()),
        }
    }
}

/// `$3` is the user whose sessions are read, or NULL for all; `x` the row
/// whose session must be one of them.
const TOOK_PART: &str = "($3 IS NULL OR EXISTS (SELECT 1 FROM call_participants v \
     WHERE v.tenant = x.tenant AND v.room_name = x.room_name AND v.session = x.session \
     AND v.user_id = $3))";

/// The sessions of a call room that `which` selects, oldest first, each
/// with its participants and its transcript; `None` when there is none
/// (the room never had a call, or the user took part in none of its).
pub async fn transcript(
    db: &Db,
    tenant: &TenantId,
    room: &RoomName,
    which: Sessions<'_>,
) -> Result<Option<Vec<CallSessionView>>, ProjectionError> {
    let user = which.user();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT session, status, started_by, started_at, ended_at FROM calls x \
         WHERE tenant = $1 AND room_name = $2 AND {TOOK_PART} ORDER BY session"
    )))
    .bind(tenant.as_str())
    .bind(room.as_str())
    .bind(user)
    .fetch_all(db.pool())
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut sessions = Vec::with_capacity(rows.len());
    for row in &rows {
        let ended_at: Option<String> = row.try_get(4)?;
        sessions.push(CallSessionView {
            session: row.try_get::<i64, _>(0)? as u64,
            status: match row.try_get::<String, _>(1)?.as_str() {
                "active" => CallStatus::Active,
                "ended" => CallStatus::Ended,
                other => return Err(ProjectionError::Decode(format!("call status {other:?}"))),
            },
            started_by: UserId::parse(row.try_get::<String, _>(2)?).map_err(bad)?,
            started_at: parse_time(&row.try_get::<String, _>(3)?)?,
            ended_at: ended_at.as_deref().map(parse_time).transpose()?,
            participants: Vec::new(),
            segments: Vec::new(),
        });
    }
    // Sessions are sorted by number: find a row's session by searching.
    let index = |sessions: &[CallSessionView], n: u64| {
        sessions
            .binary_search_by_key(&n, |s| s.session)
            .map_err(|_| ProjectionError::Decode(format!("no call session {n} for a row")))
    };

    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT session, user_id, user_name, role, joined_at, left_at, leave_reason \
         FROM call_participants x WHERE tenant = $1 AND room_name = $2 AND {TOOK_PART} \
         ORDER BY session, joined_at, user_id"
    )))
    .bind(tenant.as_str())
    .bind(room.as_str())
    .bind(user)
    .fetch_all(db.pool())
    .await?;
    for row in &rows {
        let left_at: Option<String> = row.try_get(5)?;
        let reason: Option<String> = row.try_get(6)?;
        let at = index(&sessions, row.try_get::<i64, _>(0)? as u64)?;
        sessions[at].participants.push(CallParticipantView {
            user_id: UserId::parse(row.try_get::<String, _>(1)?).map_err(bad)?,
            user_name: row.try_get(2)?,
            role: row.try_get::<String, _>(3)?.parse().map_err(bad)?,
            joined_at: parse_time(&row.try_get::<String, _>(4)?)?,
            left_at: left_at.as_deref().map(parse_time).transpose()?,
            leave_reason: reason.as_deref().map(str::parse).transpose().map_err(bad)?,
        });
    }

    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SEGMENT_COLUMNS} FROM call_transcript_segments x \
         WHERE tenant = $1 AND room_name = $2 AND {TOOK_PART} ORDER BY position"
    )))
    .bind(tenant.as_str())
    .bind(room.as_str())
    .bind(user)
    .fetch_all(db.pool())
    .await?;
    for row in &rows {
        let segment = decode_segment(row)?;
        let at = index(&sessions, segment.session)?;
        sessions[at].segments.push(segment);
    }
    Ok(Some(sessions))
}

/// The session of the call going on in a room, if one is.
pub(crate) async fn active_session_on(
    conn: &mut sqlx::AnyConnection,
    tenant: &TenantId,
    room: &RoomName,
) -> Result<Option<u64>, ProjectionError> {
    let row = sqlx::query(
        "SELECT session, status FROM calls \
         WHERE tenant = $1 AND room_name = $2 ORDER BY session DESC LIMIT 1",
    )
    .bind(tenant.as_str())
    .bind(room.as_str())
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    if row.try_get::<String, _>(1)? != "active" {
        return Ok(None);
    }
    Ok(Some(
        u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or_default(),
    ))
}

/// The latest session of a call room: (session, active, started at, ended
/// at), if the room ever had one.
pub async fn latest_session(
    db: &Db,
    tenant: &TenantId,
    room: &RoomName,
) -> Result<Option<(u64, bool, DateTime<Utc>, Option<DateTime<Utc>>)>, ProjectionError> {
    let row = sqlx::query(
        "SELECT session, status, started_at, ended_at FROM calls \
         WHERE tenant = $1 AND room_name = $2 ORDER BY session DESC LIMIT 1",
    )
    .bind(tenant.as_str())
    .bind(room.as_str())
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let ended: Option<String> = row.try_get(3)?;
    Ok(Some((
        u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or_default(),
        row.try_get::<String, _>(1)? == "active",
        parse_time(&row.try_get::<String, _>(2)?)?,
        ended.as_deref().map(parse_time).transpose()?,
    )))
}
