//! The projection layer's single error type.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProjectionError {
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("read model data does not decode: {0}")]
    Decode(String),
    /// A cursor that names nothing in this conversation.
    #[error("unknown cursor: {0}")]
    UnknownCursor(String),
}

impl From<serde_json::Error> for ProjectionError {
    fn from(e: serde_json::Error) -> Self {
        ProjectionError::Decode(e.to_string())
    }
}
