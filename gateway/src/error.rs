//! The gateway's errors: [`GatewayError`] for start-up, [`WireError`] for
//! what a client is told. A wire error never carries internals: those are
//! logged with an id, and the client gets the id.

use cqrs_es::AggregateError;
use domain::DomainError;
use serde::Serialize;
use thiserror::Error;

/// Failure to start or run the server.
#[derive(Debug, Error)]
pub enum GatewayError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    #[error("projections: {0}")]
    Projection(#[from] projections::ProjectionError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Every error code a client can be told, with its HTTP status and the
/// status helpdesk envelopes carry: one table, so the two cannot drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ValidationError,
    /// A widget key refused (the chatbot seed's code).
    WidgetValidationError,
    PayloadTooLarge,
    UnsupportedMediaType,
    MethodNotAllowed,
    UnknownEvent,
    NoAuth,
    AuthError,
    Forbidden,
    NotFound,
    NotInConversation,
    JoinOrgFailed,
    JoinKnowledgeError,
    InvalidState,
    Conflict,
    CallActive,
    RateLimited,
    TooManyConnections,
    AssistantFailed,
    AssistantUnavailable,
    Unavailable,
    InternalError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        self.statuses().0
    }

    /// The HTTP status of a REST error with this code.
    pub fn http_status(self) -> axum::http::StatusCode {
        axum::http::StatusCode::from_u16(self.statuses().1)
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The `status_code` of a helpdesk envelope with this code. The seed's
    /// clients read 400 for any bad request, a too-large one included.
    pub fn helpdesk_status(self) -> u16 {
        self.statuses().2
    }

    /// (wire code, HTTP status, helpdesk status).
    fn statuses(self) -> (&'static str, u16, u16) {
        use ErrorCode::*;
        match self {
            ValidationError => ("VALIDATION_ERROR", 400, 400),
            WidgetValidationError => ("WIDGET_VALIDATION_ERROR", 400, 400),
            PayloadTooLarge => ("PAYLOAD_TOO_LARGE", 413, 400),
            UnsupportedMediaType => ("UNSUPPORTED_MEDIA_TYPE", 415, 400),
            MethodNotAllowed => ("METHOD_NOT_ALLOWED", 405, 400),
            UnknownEvent => ("UNKNOWN_EVENT", 400, 400),
            NoAuth => ("NO_AUTH", 401, 401),
            AuthError => ("AUTH_ERROR", 401, 401),
            Forbidden => ("FORBIDDEN", 403, 403),
            NotFound => ("NOT_FOUND", 404, 404),
            NotInConversation => ("NOT_IN_CONVERSATION", 400, 400),
            JoinOrgFailed => ("JOIN_ORG_FAILED", 400, 400),
            JoinKnowledgeError => ("JOIN_KNOWLEDGE_ERROR", 400, 400),
            InvalidState => ("INVALID_STATE", 409, 409),
            Conflict => ("CONFLICT", 409, 409),
            CallActive => ("CALL_ACTIVE", 409, 409),
            RateLimited => ("RATE_LIMITED", 429, 429),
            TooManyConnections => ("TOO_MANY_CONNECTIONS", 429, 429),
            AssistantFailed => ("ASSISTANT_FAILED", 502, 500),
            AssistantUnavailable => ("ASSISTANT_UNAVAILABLE", 503, 503),
            Unavailable => ("UNAVAILABLE", 503, 503),
            InternalError => ("INTERNAL_ERROR", 500, 500),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as sent to a client: the `error` event's payload (the union of
/// the seeds' shapes: `{code, message, details?, conversationId?}`), or an
/// HTTP error body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// With `RATE_LIMITED`: when the next event will be accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
            conversation_id: None,
            retry_after_ms: None,
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationError, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// The seed's rate limit was reached; nothing was applied.
    pub fn rate_limited(limit: u32, window_secs: u64, retry_after: std::time::Duration) -> Self {
        let mut error = Self::new(
            ErrorCode::RateLimited,
            format!(
                "at most {limit} events per {window_secs} s per connection; this one was not applied"
            ),
        );
        // Rounded up: retrying after exactly this long must succeed.
        error.retry_after_ms = Some(retry_after.as_micros().div_ceil(1000) as u64);
        error
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    pub fn in_conversation(mut self, conversation_id: impl Into<String>) -> Self {
        self.conversation_id = Some(conversation_id.into());
        self
    }

    /// Log `error` in full and tell the client only that something failed,
    /// with an id that finds the log line.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        let id = uuid::Uuid::new_v4();
        tracing::error!(error_id = %id, %error, "internal error");
        Self::new(
            ErrorCode::InternalError,
            "internal error; nothing was changed",
        )
        .with_details(format!("error id {id}"))
    }

    /// The HTTP status for this code.
    pub fn status(&self) -> axum::http::StatusCode {
        self.code.http_status()
    }
}

impl From<DomainError> for WireError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Invalid { field, reason } => {
                WireError::validation(format!("invalid {field}: {reason}"))
            }
            DomainError::Forbidden(reason) => WireError::forbidden(reason),
            DomainError::NotFound(what) => WireError::not_found(format!("{what} not found")),
            DomainError::InvalidState(reason) => WireError::new(ErrorCode::InvalidState, reason),
        }
    }
}

impl From<AggregateError<DomainError>> for WireError {
    fn from(error: AggregateError<DomainError>) -> Self {
        match error {
            AggregateError::UserError(e) => e.into(),
            AggregateError::AggregateConflict => WireError::new(
                ErrorCode::Conflict,
                "it changed concurrently too often; try again",
            ),
            other => WireError::internal(&other),
        }
    }
}

impl From<projections::ProjectionError> for WireError {
    fn from(error: projections::ProjectionError) -> Self {
        WireError::internal(&error)
    }
}

impl axum::response::IntoResponse for WireError {
    fn into_response(self) -> axum::response::Response {
        (
            self.status(),
            axum::Json(serde_json::json!({ "error": self })),
        )
            .into_response()
    }
}
