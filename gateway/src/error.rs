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

/// An error as sent to a client: the `error` event's payload (the union of
/// the seeds' shapes: `{code, message, details?, conversationId?}`), or an
/// HTTP error body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireError {
    pub code: &'static str,
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
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
            conversation_id: None,
            retry_after_ms: None,
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("VALIDATION_ERROR", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new("FORBIDDEN", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("NOT_FOUND", message)
    }

    /// The seed's rate limit was reached; nothing was applied.
    pub fn rate_limited(limit: u32, window_secs: u64, retry_after: std::time::Duration) -> Self {
        let mut error = Self::new(
            "RATE_LIMITED",
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
        Self::new("INTERNAL_ERROR", "internal error; nothing was changed")
            .with_details(format!("error id {id}"))
    }

    /// The HTTP status for this code.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self.code {
            "NO_AUTH" | "AUTH_ERROR" => StatusCode::UNAUTHORIZED,
            "FORBIDDEN" => StatusCode::FORBIDDEN,
            "NOT_FOUND" => StatusCode::NOT_FOUND,
            "CONFLICT" | "INVALID_STATE" => StatusCode::CONFLICT,
            "PAYLOAD_TOO_LARGE" => StatusCode::PAYLOAD_TOO_LARGE,
            "RATE_LIMITED" | "TOO_MANY_CONNECTIONS" => StatusCode::TOO_MANY_REQUESTS,
            "UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
            "INTERNAL_ERROR" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
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
            DomainError::InvalidState(reason) => WireError::new("INVALID_STATE", reason),
        }
    }
}

impl From<AggregateError<DomainError>> for WireError {
    fn from(error: AggregateError<DomainError>) -> Self {
        match error {
            AggregateError::UserError(e) => e.into(),
            AggregateError::AggregateConflict => {
                WireError::new("CONFLICT", "it changed concurrently too often; try again")
            }
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
