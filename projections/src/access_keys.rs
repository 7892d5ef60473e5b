//! Widget and API keys: what an admin lists, and what a presented key is
//! checked against. Keeps the hash of each key's secret, never the secret.
//!
//! Keys push nothing to clients, so this projection publishes no updates.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::access_key::{
    AccessKey, AccessKeyEvent, KeyId, KeyKind, KeyRecord, STREAM_PREFIX, SecretHash,
};
use domain::ids::{ChatbotId, TenantId, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use store::event::{format_time, parse_time};
use store::{Db, RecordedEvent};

use crate::update::Update;
use crate::{Projection, ProjectionError};

pub const NAME: &str = "access_keys";

/// One key, as queries present it.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessKeyView {
    pub tenant: TenantId,
    pub key_id: KeyId,
    pub kind: KeyKind,
    pub chatbot_id: Option<ChatbotId>,
    pub secret_hash: SecretHash,
    /// What people see of the key (`pk_{keyId}`).
    pub prefix: String,
    pub label: Option<String>,
    pub issued_by: UserId,
    pub issued_at: DateTime<Utc>,
    pub revoked_by: Option<UserId>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl AccessKeyView {
    /// What the domain checks a presented key against.
    pub fn record(&self) -> KeyRecord {
        KeyRecord {
            tenant: self.tenant.clone(),
            key_id: self.key_id.clone(),
            kind: self.kind,
            chatbot_id: self.chatbot_id.clone(),
            secret_hash: self.secret_hash.clone(),
            revoked: self.revoked_at.is_some(),
        }
    }
}

pub struct AccessKeys;

#[async_trait]
impl Projection for AccessKeys {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self, _backend: store::Backend) -> &'static [&'static str] {
        &["access_keys"]
    }

    fn stream_prefix(&self) -> Option<&'static str> {
        Some(STREAM_PREFIX)
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<Vec<Update>, ProjectionError> {
        for recorded in events {
            if !AccessKey::owns_stream(&recorded.stream_id) {
                continue;
            }
            match store::aggregate::decode_payload::<AccessKey>(recorded)? {
                AccessKeyEvent::AccessKeyIssued(e) => {
                    // Key ids are random, so two tenants drawing the same
                    // one is next to impossible (and the gateway checks
                    // first); should it happen, the first key keeps the id
                    // rather than the projection stalling on the conflict.
                    sqlx::query(
                        "INSERT INTO access_keys (key_id, tenant, kind, chatbot_id, secret_hash, \
                         prefix, label, issued_by, issued_at, revoked_by, revoked_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL) \
                         ON CONFLICT (key_id) DO NOTHING",
                    )
                    .bind(e.key_id.as_str())
                    .bind(e.tenant.as_str())
                    .bind(e.kind.as_str())
                    .bind(e.chatbot_id.as_ref().map(ChatbotId::as_str))
                    .bind(e.secret_hash.as_str())
                    .bind(e.prefix.as_str())
                    .bind(e.label.as_deref())
                    .bind(e.issued_by.as_str())
                    .bind(format_time(e.at))
                    .execute(&mut *conn)
                    .await?;
                }
                AccessKeyEvent::AccessKeyRevoked(e) => {
                    sqlx::query(
                        "UPDATE access_keys SET revoked_by = $1, revoked_at = $2 \
                         WHERE key_id = $3 AND tenant = $4",
                    )
                    .bind(e.revoked_by.as_str())
                    .bind(format_time(e.at))
                    .bind(e.key_id.as_str())
                    .bind(e.tenant.as_str())
                    .execute(&mut *conn)
                    .await?;
                }
            }
        }
        Ok(Vec::new())
    }
}

const COLUMNS: &str = "tenant, key_id, kind, chatbot_id, secret_hash, prefix, label, \
                       issued_by, issued_at, revoked_by, revoked_at";

fn decode(row: &AnyRow) -> Result<AccessKeyView, ProjectionError> {
    let bad = |e: domain::DomainError| ProjectionError::Decode(e.to_string());
    let optional_time = |raw: Option<String>| raw.as_deref().map(parse_time).transpose();
    Ok(AccessKeyView {
        tenant: TenantId::parse(row.try_get::<String, _>(0)?).map_err(bad)?,
        key_id: KeyId::parse(row.try_get::<String, _>(1)?).map_err(bad)?,
        kind: row.try_get::<String, _>(2)?.parse().map_err(bad)?,
        chatbot_id: row
            .try_get::<Option<String>, _>(3)?
            .map(ChatbotId::parse)
            .transpose()
            .map_err(bad)?,
        secret_hash: SecretHash::parse(row.try_get::<String, _>(4)?).map_err(bad)?,
        prefix: row.try_get(5)?,
        label: row.try_get(6)?,
        issued_by: UserId::parse(row.try_get::<String, _>(7)?).map_err(bad)?,
        issued_at: parse_time(&row.try_get::<String, _>(8)?)?,
        revoked_by: row
            .try_get::<Option<String>, _>(9)?
            .map(UserId::parse)
            .transpose()
            .map_err(bad)?,
        revoked_at: optional_time(row.try_get(10)?)?,
    })
}

/// The key with this id, of whichever tenant: a presented key names no
/// tenant, its key id finds it. Callers check the secret
/// ([`KeyRecord::verify`]) before trusting anything else of the answer.
pub async fn find(db: &Db, key_id: &KeyId) -> Result<Option<AccessKeyView>, ProjectionError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM access_keys WHERE key_id = $1"
    )))
    .bind(key_id.as_str())
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(decode).transpose()
}

/// Every key of `tenant`, revoked ones included, oldest first.
pub async fn list(db: &Db, tenant: &TenantId) -> Result<Vec<AccessKeyView>, ProjectionError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM access_keys WHERE tenant = $1 ORDER BY issued_at, key_id"
    )))
    .bind(tenant.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(decode).collect()
}
