use thiserror::Error;

/// What can stop a replay command. Shown to the user as is: none of these
/// carries a secret (database URLs are redacted where they appear).
#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Projection(#[from] projections::ProjectionError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}
