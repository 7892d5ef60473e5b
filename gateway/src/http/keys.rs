//! Widget and API keys, for the admins of a tenant:
//! - `POST /api/v1/keys` `{kind: "widget"|"api", chatbotId?, label?}` → 201
//!   `{id, kind, chatbotId, key, prefix, label, createdAt}`: the key in
//!   clear, in this answer only;
//! - `GET /api/v1/keys` → `{keys: [...]}`, the tenant's keys, never a
//!   secret or its hash;
//! - `DELETE /api/v1/keys/{id}` → 204; a key of another tenant is 404.
//!
//! Anyone else gets 403. The gateway draws the key id and the secret; the
//! domain gets only the secret's hash.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::access_key::{
    AccessKey, AccessKeyAction, AccessKeyCommand, KeyId, KeyKind, KeyLabel, KeyScope, KeySecret,
    PresentedKey,
};
use domain::actor::Actor;
use domain::ids::ChatbotId;
use projections::access_keys::{self, AccessKeyView};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::OnceLock;

use super::Caller;
use crate::commands::{Command, Origin};
use crate::error::{ErrorCode, WireError};
use crate::state::AppState;
use crate::wire_time;

/// Fresh key ids drawn before giving up; a clash is next to impossible
/// (64 random bits), so a second draw is already a curiosity.
const DRAWS: usize = 3;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewKey {
    kind: String,
    #[serde(default)]
    chatbot_id: Option<String>,
    #[serde(default)]
    label: Option<String>,
}

/// The caller, if they may manage keys.
fn admin(actor: Actor) -> Result<Actor, WireError> {
    if AccessKey::may_manage(actor.role) {
        Ok(actor)
    } else {
        Err(WireError::forbidden(format!(
            "only admins manage keys, not the {} role",
            actor.role
        )))
    }
}

fn origin(actor: &Actor) -> Origin<'_> {
    Origin {
        actor,
        dialect: "http",
        socket_id: None,
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), WireError> {
    let actor = admin(actor)?;
    let body = body.map_err(|rejection| WireError::validation(rejection.body_text()))?;
    let new: NewKey = serde_json::from_slice(&body).map_err(|e| {
        WireError::validation(
            "the body must be {\"kind\": \"widget\"|\"api\", \"chatbotId\"?, \"label\"?}",
        )
        .with_details(e.to_string())
    })?;
    let kind: KeyKind = new.kind.parse()?;
    let chatbot = new.chatbot_id.map(ChatbotId::parse).transpose()?;
    let scope = KeyScope::parse(kind, chatbot)?;
    let label = new.label.as_deref().map(KeyLabel::parse).transpose()?;

    for _ in 0..DRAWS {
        // `rand::random` draws from a CSPRNG seeded by the OS.
        let key_id = KeyId::from_random(rand::random());
        // Presented keys name no tenant, so ids must not clash across
        // tenants either; the aggregate can only see its own tenant's.
        if access_keys::find(state.log.db(), &key_id).await?.is_some() {
            continue;
        }
        let secret = KeySecret::from_random(rand::random());
        let issued_at = OnceLock::new();
        let stream = AccessKey::stream_id(&actor.tenant, &key_id);
        let outcome = state
            .commands
            .run(
                &state.commands.access_keys,
                Command {
                    origin: &origin(&actor),
                    name: "keys:create",
                    stream: &stream,
                    id: None,
                    make: |at| {
                        let _ = issued_at.set(at);
                        AccessKeyCommand {
                            key_id: key_id.clone(),
                            actor: actor.clone(),
                            at,
                            action: AccessKeyAction::Issue {
                                scope: scope.clone(),
                                secret_hash: secret.hash(),
                                label: label.clone(),
                            },
                        }
                    },
                },
            )
            .await;
        match outcome {
            Err(error) if error.code == ErrorCode::InvalidState => continue,
            Err(error) => return Err(error),
            Ok(_) => {}
        }
        let at = issued_at.get().copied().unwrap_or_else(chrono::Utc::now);
        tracing::info!(tenant = %actor.tenant, key = %key_id.prefix(), kind = %kind, "key issued");
        return Ok((
            StatusCode::CREATED,
            Json(json!({
                "id": key_id.as_str(),
                "kind": kind.as_str(),
                "chatbotId": scope.chatbot().map(ChatbotId::as_str),
                "key": PresentedKey::new(key_id.clone(), secret).expose(),
                "prefix": key_id.prefix(),
                "label": label.as_ref().map(KeyLabel::as_str),
                "createdAt": wire_time(at),
            })),
        ));
    }
    Err(WireError::internal(&"no free key id after several draws"))
}

pub(super) async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Value>, WireError> {
    let actor = admin(actor)?;
    state.read_your_writes(access_keys::NAME).await;
    let keys = access_keys::list(state.log.db(), &actor.tenant).await?;
    Ok(Json(json!({
        "keys": keys.iter().map(summary).collect::<Vec<_>>(),
    })))
}

/// A key as admins see it: what it is and who made it, never its secret
/// nor the secret's hash.
fn summary(key: &AccessKeyView) -> Value {
    json!({
        "id": key.key_id.as_str(),
        "kind": key.kind.as_str(),
        "chatbotId": key.chatbot_id.as_ref().map(ChatbotId::as_str),
        "prefix": key.prefix,
        "label": key.label,
        "createdBy": key.issued_by.as_str(),
        "createdAt": wire_time(key.issued_at),
        "revoked": key.revoked_at.is_some(),
        "revokedAt": key.revoked_at.map(wire_time),
    })
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, WireError> {
    let actor = admin(actor)?;
    let key_id = KeyId::parse(raw)?;
    let stream = AccessKey::stream_id(&actor.tenant, &key_id);
    state
        .commands
        .run(
            &state.commands.access_keys,
            Command {
                origin: &origin(&actor),
                name: "keys:revoke",
                stream: &stream,
                id: None,
                make: |at| AccessKeyCommand {
                    key_id: key_id.clone(),
                    actor: actor.clone(),
                    at,
                    action: AccessKeyAction::Revoke,
                },
            },
        )
        .await?;
    tracing::info!(tenant = %actor.tenant, key = %key_id.prefix(), "key revoked");
    Ok(StatusCode::NO_CONTENT)
}
