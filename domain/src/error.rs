//! The domain layer's single error type.

use thiserror::Error;

/// Why a command was refused. Refusals never produce events.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A value did not parse (the field and a human reason).
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The thing addressed does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The thing exists but is not in a state that allows this.
    #[error("invalid state: {0}")]
    InvalidState(String),
}

impl DomainError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
