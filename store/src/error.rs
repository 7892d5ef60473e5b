//! The store layer's single error type.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// Optimistic concurrency: the stream moved on since the caller read it.
    #[error("stream {stream} is at version {actual}, expected {expected}")]
    Conflict {
        stream: String,
        expected: String,
        actual: u64,
    },
    /// An append that cannot be right whatever the log holds.
    #[error("invalid append: {0}")]
    InvalidAppend(String),
    #[error("unsupported DATABASE_URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data does not decode: {0}")]
    Decode(String),
    /// Another process holds what this one needs (a rebuild in progress).
    #[error("busy: {0}")]
    Busy(String),
    /// The writer has shut down; nothing more can be appended.
    #[error("the event log is closed")]
    Closed,
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Decode(e.to_string())
    }
}
