//! HTTP: health, and REST reads for consoles. Errors are JSON
//! `{"error": {code, message, details?}}` with a matching status.
//!
//! Besides this file: `calls` (call transcripts), `swarm` (posting swarm
//! steps), `keys` (widget and API keys), `knowledge` (the knowledge base)
//! and `support` (queue, claim, end,
//! escalate, metrics, settings).

mod call_history;
mod keys;
mod knowledge;
mod support;
mod swarm;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use domain::actor::{Actor, Role};
use domain::conversation::Kind;
use projections::conversation_list::{self, ConversationSummary, ListQuery};
use projections::presence;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{self, AuthError};
use crate::error::{ErrorCode, WireError};
use crate::state::AppState;
use crate::wire_time;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        // The stream dialect's WebSocket (anything but an upgrade is 404).
        .route("/", get(crate::dialects::stream::upgrade))
        .route("/ws", get(crate::dialects::stream::upgrade))
        .route("/api/v1/conversations", get(list_conversations))
        .route("/api/v1/presence", get(list_presence))
        .route(
            "/api/v1/calls/{room_name}/transcript",
            get(call_history::transcript),
        )
        .route("/api/v1/swarm/{session_id}/steps", post(swarm::post_step))
        .route("/api/v1/keys", post(keys::create).get(keys::list))
        .route("/api/v1/keys/{key_id}", delete(keys::revoke))
        .route(
            "/api/v1/kb/articles",
            post(knowledge::create).get(knowledge::list),
        )
        .route(
            "/api/v1/kb/articles/{id}",
            get(knowledge::get_one)
                .put(knowledge::update)
                .delete(knowledge::remove),
        )
        .route("/api/v1/kb/search", get(knowledge::search))
        .route("/api/v1/queue", get(support::queue))
        .route("/api/v1/conversations/{id}/claim", post(support::claim))
        .route("/api/v1/conversations/{id}/end", post(support::end))
        .route(
            "/api/v1/conversations/{id}/escalate",
            post(support::escalate),
        )
        .route("/api/v1/metrics", get(support::metrics))
        .route(
            "/api/v1/settings/assignment",
            get(support::get_assignment).put(support::put_assignment),
        )
        .fallback(|| async { WireError::not_found("no such route") })
        .layer(axum::middleware::map_response(json_errors))
}

/// Every error answer is the JSON body README promises, also those axum
/// makes itself: a query, path or body it cannot decode, a method not
/// allowed, a body too large. Their texts say what was wrong, never more.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let code = match status {
        StatusCode::UNAUTHORIZED => ErrorCode::AuthError,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        s if s.is_server_error() => ErrorCode::InternalError,
        _ => ErrorCode::ValidationError,
    };
    let message = if status.is_server_error() {
        "internal error; nothing was changed".to_owned()
    } else {
        let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&text).trim().to_owned();
        if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("bad request")
                .to_owned()
        } else {
            text
        }
    };
    let mut answer = (
        status,
        Json(json!({ "error": WireError::new(code, message) })),
    )
        .into_response();
    // Keep what the client may act on (`Allow` with a 405, say).
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().append(name.clone(), value.clone());
        }
    }
    answer
}

/// 200 once migrations ran (the server listens only after) and the store
/// answers; 503 otherwise.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.log.db().ping().await {
        Ok(()) => Json(json!({ "status": "ok", "store": state.log.db().backend().name() }))
            .into_response(),
        Err(error) => {
            tracing::warn!(%error, "health check: store unavailable");
            WireError::new(ErrorCode::Unavailable, "the event store does not answer")
                .into_response()
        }
    }
}

/// The caller of an HTTP request, from `Authorization: Bearer` or `?token=`.
pub struct Caller(pub Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = WireError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WireError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(auth::bearer)
            .map(str::to_owned)
            .or_else(|| parts.uri.query().and_then(auth::query_token));
        let result = match token {
            None => Err(AuthError::Missing),
            Some(token) => state.auth.verify(&token),
        };
        result
            .map(Caller)
            .map_err(|e| WireError::new(e.code(), e.to_string()))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Paging {
    page: Option<u64>,
    limit: Option<u32>,
    kind: Option<String>,
    status: Option<String>,
    agent_id: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
}

/// `GET /api/v1/conversations?page=1&limit=20&kind=conversation|channel`:
/// the tenant's conversations (or channels), most recently active first,
/// each with the caller's `unreadCount` and, for conversations, the support
/// fields; customers see only the conversations they take part in. With
/// `status`, `agentId`, `startDate` or `endDate` the support list answers
/// instead (see `support::Filters`).
async fn list_conversations(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(paging): Query<Paging>,
) -> Result<Json<Value>, WireError> {
    let page = paging.page.unwrap_or(1).max(1);
    let limit = paging.limit.unwrap_or(20).clamp(1, 100);
    let kind = match paging.kind.as_deref() {
        None | Some("conversation") => Kind::Conversation,
        Some("channel") => Kind::Channel,
        Some(other) => {
            return Err(WireError::validation(format!(
                "kind {other:?} is not \"conversation\" or \"channel\""
            )));
        }
    };
    let filters = support::Filters {
        status: paging.status,
        agent_id: paging.agent_id,
        start_date: paging.start_date,
        end_date: paging.end_date,
    };
    if filters.any() {
        return support::filtered_list(&state, &actor, kind, page, limit, &filters).await;
    }
    let query = ListQuery {
        kind,
        participant: (actor.role == Role::Customer && kind == Kind::Conversation)
            .then(|| actor.user.clone()),
        reader: Some(actor.user.clone()),
        offset: (page - 1).saturating_mul(u64::from(limit)),
        limit,
    };
    // Read your writes: whatever was acknowledged before this request is in
    // the answer.
    state.read_your_writes(conversation_list::NAME).await;
    // Unread counts come from the messages' read model.
    state
        .read_your_writes(projections::conversation_messages::NAME)
        .await;
    let found = conversation_list::list(state.log.db(), &actor.tenant, &query).await?;
    let support = support::views_of(&state, &actor.tenant, &found.items).await?;
    Ok(Json(json!({
        "conversations": found.items.iter()
            .map(|c| support::with_support(summary(c), support.get(&c.room.id)))
            .collect::<Vec<_>>(),
        "pagination": {
            "page": page,
            "limit": limit,
            "total": found.total,
            "totalPages": found.total.div_ceil(u64::from(limit)),
        },
    })))
}

fn summary(c: &ConversationSummary) -> Value {
    json!({
        "conversationId": (c.room.kind == Kind::Conversation).then(|| c.room.id.as_str()),
        "channelId": (c.room.kind == Kind::Channel).then(|| c.room.id.as_str()),
        "kind": c.room.kind.as_str(),
        "tenantId": c.room.tenant.as_str(),
        "channel": c.channel.as_ref().map(|ch| json!({
            "name": ch.name,
            "description": ch.description,
            "topic": ch.topic,
        })),
        "unreadCount": c.unread_count,
        "openedBy": c.opened_by.as_str(),
        "openedAt": wire_time(c.opened_at),
        "participants": c.participants.iter().map(|p| json!({
            "userId": p.user_id.as_str(),
            "userName": p.user_name,
            "role": p.role.as_str(),
            "joinedAt": wire_time(p.joined_at),
        })).collect::<Vec<_>>(),
        "messageCount": c.message_count,
        "lastMessageAt": c.last_message_at.map(wire_time),
        "lastActivityAt": wire_time(c.last_activity_at),
    })
}

/// `GET /api/v1/presence`: every user of the caller's tenant Parley has
/// seen, with their status (any role; never another tenant's).
async fn list_presence(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Value>, WireError> {
    state.read_your_writes(presence::NAME).await;
    let found = presence::list(state.log.db(), &actor.tenant).await?;
    Ok(Json(json!({
        "presence": found.iter().map(|p| json!({
            "userId": p.user_id.as_str(),
            "userName": p.user_name,
            "status": p.status.as_str(),
            "customStatus": p.custom_status,
            "statusText": p.status_text,
            "updatedAt": wire_time(p.updated_at),
            "lastSeenAt": wire_time(p.last_seen_at),
        })).collect::<Vec<_>>(),
    })))
}
