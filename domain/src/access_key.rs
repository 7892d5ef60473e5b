//! The `AccessKey` aggregate: widget and API keys, the tenant-scoped
//! credentials an admin issues for chat widgets (bound to one chatbot) and
//! for machine clients.
//!
//! One aggregate per key, stream `access_key/{tenant}/{keyId}`. Rules:
//! - only admins issue and revoke keys;
//! - a widget key is bound to exactly one chatbot, an API key to none;
//! - a key id is issued once: issuing it again is `INVALID_STATE`;
//! - revoking a revoked key changes nothing; revoking a key the tenant never
//!   issued is `NOT_FOUND` (another tenant's key included).
//!
//! A key is presented as `pk_{keyId}_{secret}`: the key id finds the key,
//! the secret proves its holder. Only the SHA-256 of the secret is kept
//! ([`SecretHash`]); the secret itself ([`KeySecret`]) is shown once, to the
//! admin who issued it, and never enters an event or a log line (its
//! `Debug` prints nothing of it). Hashing is pure, so it lives here; drawing
//! the random id and secret is the caller's.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use subtle::ConstantTimeEq;

use crate::actor::{Actor, Role};
use crate::ids::{ChatbotId, TenantId, UserId};
use crate::{DomainError, Timestamp};

#[cfg(test)]
mod tests;

/// Schema version of every access key event; bump per type with an upcaster.
pub const SCHEMA_VERSION: u32 = 1;

/// Every stream of this aggregate starts with this.
pub const STREAM_PREFIX: &str = "access_key/";

/// What every presented key starts with.
pub const KEY_PREFIX: &str = "pk_";

// ---- values ----

/// What a key opens: the chat widget of one chatbot, or the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Widget,
    Api,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Widget => "widget",
            KeyKind::Api => "api",
        }
    }
}

impl FromStr for KeyKind {
    type Err = DomainError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "widget" => Ok(KeyKind::Widget),
            "api" => Ok(KeyKind::Api),
            other => Err(DomainError::invalid(
                "kind",
                format!("unknown key kind {other:?} (widget, api)"),
            )),
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key's kind together with what it is bound to: a widget key always
/// names its chatbot, an API key never does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyScope {
    Widget(ChatbotId),
    Api,
}

impl KeyScope {
    pub fn parse(kind: KeyKind, chatbot: Option<ChatbotId>) -> Result<Self, DomainError> {
        match (kind, chatbot) {
            (KeyKind::Widget, Some(chatbot)) => Ok(KeyScope::Widget(chatbot)),
            (KeyKind::Widget, None) => Err(DomainError::invalid(
                "chatbotId",
                "a widget key needs the chatbot it is for",
            )),
            (KeyKind::Api, None) => Ok(KeyScope::Api),
            (KeyKind::Api, Some(_)) => Err(DomainError::invalid(
                "chatbotId",
                "only widget keys are bound to a chatbot",
            )),
        }
    }

    pub fn kind(&self) -> KeyKind {
        match self {
            KeyScope::Widget(_) => KeyKind::Widget,
            KeyScope::Api => KeyKind::Api,
        }
    }

    pub fn chatbot(&self) -> Option<&ChatbotId> {
        match self {
            KeyScope::Widget(chatbot) => Some(chatbot),
            KeyScope::Api => None,
        }
    }
}

/// The public half of a key: 1 to 32 lowercase letters and digits. It has
/// no `_`, so it ends where a presented key's secret starts, and it fits
/// into stream names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw = raw.into();
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(DomainError::invalid(
                "keyId",
                format!("must be 1 to {} characters", Self::MAX_LEN),
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(DomainError::invalid(
                "keyId",
                "must use only lowercase letters and digits",
            ));
        }
        Ok(Self(raw))
    }

    /// A key id from random bytes (the caller draws them): lowercase hex.
    pub fn from_random(bytes: [u8; 8]) -> Self {
        Self(hex(&bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What people see of a key to tell it apart: `pk_{keyId}`, nothing
    /// of the secret.
    pub fn prefix(&self) -> String {
        format!("{KEY_PREFIX}{}", self.0)
    }
}

impl TryFrom<String> for KeyId {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<KeyId> for String {
    fn from(id: KeyId) -> String {
        id.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The secret half of a key: 32 random bytes as 64 lowercase hex digits.
/// Deliberately neither `Display` nor `Serialize`, and its `Debug` hides
/// it, so that it cannot slip into an event or a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySecret(String);

impl KeySecret {
    pub const BYTES: usize = 32;

    pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw = raw.into();
        if !is_lower_hex(&raw, 2 * Self::BYTES) {
            return Err(DomainError::invalid(
                "secret",
                format!("must be {} lowercase hex digits", 2 * Self::BYTES),
            ));
        }
        Ok(Self(raw))
    }

    /// A secret from random bytes (the caller draws them).
    pub fn from_random(bytes: [u8; Self::BYTES]) -> Self {
        Self(hex(&bytes))
    }

    /// The secret in clear: only to be handed to the one who holds the key.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash(hex(&Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySecret(<hidden>)")
    }
}

/// The SHA-256 of a key's secret, as 64 lowercase hex digits: what is kept
/// of a key instead of the secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretHash(String);

impl SecretHash {
    pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw = raw.into();
        if !is_lower_hex(&raw, 64) {
            return Err(DomainError::invalid(
                "secretHash",
                "must be a SHA-256 as 64 lowercase hex digits",
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `secret` hashes to this, in time that does not depend on
    /// where the two differ (no guessing a hash digit by digit).
    pub fn matches(&self, secret: &KeySecret) -> bool {
        let presented = secret.hash();
        self.0.as_bytes().ct_eq(presented.0.as_bytes()).into()
    }
}

impl TryFrom<String> for SecretHash {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<SecretHash> for String {
    fn from(hash: SecretHash) -> String {
        hash.0
    }
}

/// A key as a client presents it, `pk_{keyId}_{secret}`, taken apart.
/// Its `Debug` shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedKey {
    key_id: KeyId,
    secret: KeySecret,
}

impl PresentedKey {
    pub fn new(key_id: KeyId, secret: KeySecret) -> Self {
        Self { key_id, secret }
    }

    /// Parse a presented key. The error never repeats the input: it may be
    /// a real key with a typo.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let malformed = || {
            DomainError::invalid(
                "key",
                format!("must look like {KEY_PREFIX}{{keyId}}_{{secret}}"),
            )
        };
        let rest = raw.strip_prefix(KEY_PREFIX).ok_or_else(malformed)?;
        let (key_id, secret) = rest.split_once('_').ok_or_else(malformed)?;
        Ok(Self {
            key_id: KeyId::parse(key_id).map_err(|_| malformed())?,
            secret: KeySecret::parse(secret).map_err(|_| malformed())?,
        })
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    pub fn secret(&self) -> &KeySecret {
        &self.secret
    }

    /// The whole key in clear, to be handed over once to its holder.
    pub fn expose(&self) -> String {
        format!("{KEY_PREFIX}{}_{}", self.key_id, self.secret.expose())
    }
}

impl fmt::Debug for PresentedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PresentedKey({}_<hidden>)", self.key_id.prefix())
    }
}

/// An admin's note on what a key is for: 1 to 100 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLabel(String);

impl KeyLabel {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(DomainError::invalid("label", "must not be empty or blank"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "label",
                "must not contain control characters",
            ));
        }
        if trimmed.chars().nth(Self::MAX_CHARS).is_some() {
            return Err(DomainError::invalid(
                "label",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_lower_hex(raw: &str, len: usize) -> bool {
    raw.len() == len && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

// ---- commands ----

/// One command: who asks, when, about which key of the caller's tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessKeyCommand {
    pub key_id: KeyId,
    pub actor: Actor,
    pub at: Timestamp,
    pub action: AccessKeyAction,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AccessKeyAction {
    /// Create the key. The caller drew the secret and hashed it; only the
    /// hash comes here.
    Issue {
        scope: KeyScope,
        secret_hash: SecretHash,
        label: Option<KeyLabel>,
    },
    /// Stop accepting the key, for good.
    Revoke,
}

// ---- events ----

/// What happened to a key. Past tense, stable names, versioned; every event
/// names its tenant and key. Never the secret: only its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccessKeyEvent {
    AccessKeyIssued(AccessKeyIssued),
    AccessKeyRevoked(AccessKeyRevoked),
}

impl AccessKeyEvent {
    /// The stable name stored as `event_type`; equal to the serde tag.
    pub fn name(&self) -> &'static str {
        match self {
            Self::AccessKeyIssued(_) => "AccessKeyIssued",
            Self::AccessKeyRevoked(_) => "AccessKeyRevoked",
        }
    }

    pub fn tenant(&self) -> &TenantId {
        match self {
            Self::AccessKeyIssued(e) => &e.tenant,
            Self::AccessKeyRevoked(e) => &e.tenant,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessKeyIssued {
    pub tenant: TenantId,
    pub key_id: KeyId,
    pub kind: KeyKind,
    /// The chatbot of a widget key; none for an API key.
    pub chatbot_id: Option<ChatbotId>,
    pub secret_hash: SecretHash,
    /// What people see of the key (`pk_{keyId}`).
    pub prefix: String,
    pub label: Option<String>,
    pub issued_by: UserId,
    pub issued_by_name: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessKeyRevoked {
    pub tenant: TenantId,
    pub key_id: KeyId,
    pub revoked_by: UserId,
    pub revoked_by_name: String,
    pub at: Timestamp,
}

// ---- state ----

/// What deciding on a presented key needs to know of an issued key: the
/// aggregate's state, and what a read model gives back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub tenant: TenantId,
    pub key_id: KeyId,
    pub kind: KeyKind,
    pub chatbot_id: Option<ChatbotId>,
    pub secret_hash: SecretHash,
    pub revoked: bool,
}

impl KeyRecord {
    /// Whether `presented` is this key, with the right secret, and still
    /// valid. A wrong secret is answered like an unknown key, so that the
    /// answer tells nothing about which key ids exist.
    pub fn verify(&self, presented: &PresentedKey) -> Result<(), DomainError> {
        // Both conditions are always evaluated: no early exit on the id.
        let same_id = self.key_id == presented.key_id;
        let secret_ok = self.secret_hash.matches(&presented.secret);
        if !(same_id & secret_ok) {
            return Err(unknown_key());
        }
        if self.revoked {
            return Err(DomainError::Forbidden("this key was revoked".into()));
        }
        Ok(())
    }

    /// Whether `presented` opens the widget of `chatbot`: a valid widget
    /// key of that very chatbot.
    pub fn admit_widget(
        &self,
        presented: &PresentedKey,
        chatbot: &ChatbotId,
    ) -> Result<(), DomainError> {
        self.verify(presented)?;
        if self.kind != KeyKind::Widget {
            return Err(DomainError::Forbidden(
                "this key is not a widget key".into(),
            ));
        }
        if self.chatbot_id.as_ref() != Some(chatbot) {
            return Err(DomainError::Forbidden(
                "this widget key is for another chatbot".into(),
            ));
        }
        Ok(())
    }
}

/// The refusal of a key nobody issued, worded exactly as that of a key
/// presented with a wrong secret: callers who find no key say this.
pub fn unknown_key() -> DomainError {
    DomainError::Forbidden("unknown or invalid key".into())
}

/// The decision state of one key: nothing until issued.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccessKey {
    key: Option<KeyRecord>,
}

impl AccessKey {
    /// The event-log stream of a key. Neither part can contain `/`, so
    /// different (tenant, key) pairs never share a stream.
    pub fn stream_id(tenant: &TenantId, key_id: &KeyId) -> String {
        format!("{STREAM_PREFIX}{tenant}/{key_id}")
    }

    /// Does this stream hold a key's events?
    pub fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }

    /// Who may issue, revoke and list keys.
    pub fn may_manage(role: Role) -> bool {
        role == Role::Admin
    }

    pub fn record(&self) -> Option<&KeyRecord> {
        self.key.as_ref()
    }

    /// Decide what happens. Pure: no clock, no IO; refusals produce no events.
    pub fn handle(&self, cmd: AccessKeyCommand) -> Result<Vec<AccessKeyEvent>, DomainError> {
        let AccessKeyCommand {
            key_id,
            actor,
            at,
            action,
        } = cmd;
        if !Self::may_manage(actor.role) {
            return Err(DomainError::Forbidden(format!(
                "only admins manage keys, not the {} role",
                actor.role
            )));
        }
        // Streams are per tenant, so this only guards against a caller bug;
        // answer as if the key did not exist rather than leak it.
        let known = self
            .key
            .as_ref()
            .filter(|k| k.tenant == actor.tenant && k.key_id == key_id);
        if self.key.is_some() && known.is_none() {
            return Err(DomainError::NotFound(format!("key {key_id}")));
        }
        match action {
            AccessKeyAction::Issue {
                scope,
                secret_hash,
                label,
            } => {
                if known.is_some() {
                    return Err(DomainError::InvalidState(format!(
                        "key {key_id} was already issued"
                    )));
                }
                Ok(vec![AccessKeyEvent::AccessKeyIssued(AccessKeyIssued {
                    tenant: actor.tenant.clone(),
                    prefix: key_id.prefix(),
                    key_id,
                    kind: scope.kind(),
                    chatbot_id: scope.chatbot().cloned(),
                    secret_hash,
                    label: label.map(|l| l.0),
                    issued_by: actor.user.clone(),
                    issued_by_name: actor.display_name().to_owned(),
                    at,
                })])
            }
            AccessKeyAction::Revoke => match known {
                None => Err(DomainError::NotFound(format!("key {key_id}"))),
                Some(key) if key.revoked => Ok(vec![]),
                Some(_) => Ok(vec![AccessKeyEvent::AccessKeyRevoked(AccessKeyRevoked {
                    tenant: actor.tenant.clone(),
                    key_id,
                    revoked_by: actor.user.clone(),
                    revoked_by_name: actor.display_name().to_owned(),
                    at,
                })]),
            },
        }
    }

    /// Evolve the state. Never fails: an event that was recorded happened.
    pub fn apply(&mut self, event: AccessKeyEvent) {
        match event {
            AccessKeyEvent::AccessKeyIssued(e) => {
                self.key = Some(KeyRecord {
                    tenant: e.tenant,
                    key_id: e.key_id,
                    kind: e.kind,
                    chatbot_id: e.chatbot_id,
                    secret_hash: e.secret_hash,
                    revoked: false,
                });
            }
            AccessKeyEvent::AccessKeyRevoked(_) => {
                if let Some(key) = &mut self.key {
                    key.revoked = true;
                }
            }
        }
    }
}

// cqrs-es glue (see [`crate::cqrs`]).
crate::cqrs::pure_aggregate!(
    AccessKey,
    "access_key",
    AccessKeyCommand,
    AccessKeyEvent,
    SCHEMA_VERSION
);
