//! Identifiers. Each is parsed once at the edge and trusted afterwards.
//!
//! Tenant, conversation and message ids end up inside stream ids and room
//! names (`customer:{tenant}:conversation:{id}`), so they are restricted to a
//! charset without separators: two different (tenant, id) pairs can never
//! render to the same room or stream. User ids come from identity providers
//! (`auth0|123`, e-mail addresses), so they only exclude whitespace and
//! control characters; they never appear inside a room name, and in a
//! stream name only after the tenant, last (`presence/{tenant}/{user}`).

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

use crate::DomainError;

const MAX_KEY_LEN: usize = 128;
const MAX_USER_LEN: usize = 256;

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@')
}

/// The rule of every id that ends up inside a room or stream name.
pub(crate) fn parse_key(field: &'static str, raw: &str) -> Result<(), DomainError> {
    if raw.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if raw.len() > MAX_KEY_LEN {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {MAX_KEY_LEN} characters"),
        ));
    }
    if let Some(bad) = raw.chars().find(|c| !is_key_char(*c)) {
        return Err(DomainError::invalid(
            field,
            format!("must use only letters, digits and _ - . @ (found {bad:?})"),
        ));
    }
    Ok(())
}

macro_rules! key_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
                let raw = raw.into();
                parse_key($field, &raw)?;
                Ok(Self(raw))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

key_id!(
    /// A tenant (the seeds call it tenantId, organizationId, orgId or customerId).
    TenantId,
    "tenant"
);
key_id!(
    /// A conversation, unique within its tenant.
    ConversationId,
    "conversationId"
);
key_id!(
    /// A message. Parley mints `msg_{uuid}`; clients echo them back as cursors.
    MessageId,
    "messageId"
);

key_id!(
    /// A chatbot of a tenant (the chatbot seed's `chatbotId`): what a
    /// widget key is bound to.
    ChatbotId,
    "chatbotId"
);
key_id!(
    /// A widget's visitor session (the chatbot seed's `sessionId`).
    SessionId,
    "sessionId"
);
key_id!(
    /// A knowledge-base article of a tenant. Parley mints `kb_{uuid}`.
    ArticleId,
    "articleId"
);

impl MessageId {
    /// The id of a message sent with a client's `optimisticId`: the same
    /// author re-sending the same optimistic id in the same conversation gets
    /// the same message id, which is what makes resends idempotent.
    pub fn for_optimistic(
        tenant: &TenantId,
        conversation: &ConversationId,
        author: &UserId,
        optimistic_id: &str,
    ) -> Self {
        let name = format!("{tenant}\n{conversation}\n{author}\n{optimistic_id}");
        Self::from_uuid(Uuid::new_v5(&MESSAGE_NAMESPACE, name.as_bytes()))
    }

    /// A fresh message id (time-ordered, so ids sort roughly by creation).
    pub fn generate() -> Self {
        Self::from_uuid(Uuid::now_v7())
    }

    fn from_uuid(id: Uuid) -> Self {
        Self(format!("msg_{id}"))
    }
}

/// Namespace for deterministic message ids (a fixed random UUID; never change it).
const MESSAGE_NAMESPACE: Uuid = Uuid::from_u128(0x6c2a_4f0e_9d7b_4b57_8a43_21c3_5e1f_0a9d);

/// A user, as named by the identity provider (the token's `sub`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw = raw.into();
        if raw.is_empty() {
            return Err(DomainError::invalid("userId", "must not be empty"));
        }
        if raw.len() > MAX_USER_LEN {
            return Err(DomainError::invalid(
                "userId",
                format!("must be at most {MAX_USER_LEN} bytes"),
            ));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(DomainError::invalid(
                "userId",
                "must not contain whitespace or control characters",
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> String {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_accept_the_seed_examples() {
        for raw in ["conv_a1b2c3d4-5e6f", "cust_e5f6a7b8", "tenant.acme", "a@b"] {
            assert!(ConversationId::parse(raw).is_ok(), "{raw}");
        }
    }

    #[test]
    fn key_ids_reject_separators_blank_and_overlong() {
        for raw in ["", "a:b", "a/b", "a b", "ü", &"x".repeat(129)] {
            assert!(TenantId::parse(raw).is_err(), "{raw:?} should be refused");
        }
        assert!(TenantId::parse("x".repeat(128)).is_ok());
    }

    #[test]
    fn user_ids_allow_provider_punctuation_but_not_whitespace() {
        assert!(UserId::parse("auth0|5f3c").is_ok());
        assert!(UserId::parse("ana@example.com").is_ok());
        assert!(UserId::parse("a b").is_err());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a\u{0}").is_err());
    }

    #[test]
    fn optimistic_ids_map_to_one_message_id_per_author_and_conversation() {
        let t = TenantId::parse("t1").unwrap();
        let c = ConversationId::parse("c1").unwrap();
        let ana = UserId::parse("ana").unwrap();
        let bob = UserId::parse("bob").unwrap();
        let first = MessageId::for_optimistic(&t, &c, &ana, "tmp_1");
        assert_eq!(first, MessageId::for_optimistic(&t, &c, &ana, "tmp_1"));
        assert_ne!(first, MessageId::for_optimistic(&t, &c, &bob, "tmp_1"));
        assert_ne!(first, MessageId::for_optimistic(&t, &c, &ana, "tmp_2"));
        assert!(first.as_str().starts_with("msg_"));
        assert!(MessageId::parse(first.as_str()).is_ok());
    }

    #[test]
    fn ids_deserialize_through_parse() {
        let ok: Result<ConversationId, _> = serde_json::from_str("\"c-1\"");
        assert!(ok.is_ok());
        let bad: Result<ConversationId, _> = serde_json::from_str("\"c:1\"");
        assert!(bad.is_err());
    }
}

/// Properties of the id parsers, over generated inputs.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn key_ids_accept_exactly_their_charset_up_to_128_characters(raw in "\\PC{0,140}|[A-Za-z0-9_.@-]{0,140}") {
            let valid = !raw.is_empty() && raw.len() <= MAX_KEY_LEN && raw.chars().all(is_key_char);
            prop_assert_eq!(ConversationId::parse(raw.clone()).is_ok(), valid);
            prop_assert_eq!(TenantId::parse(raw.clone()).is_ok(), valid);
            if let Ok(id) = MessageId::parse(raw.clone()) {
                // What is accepted is kept as given and parses again.
                prop_assert_eq!(id.as_str(), raw.as_str());
                prop_assert_eq!(MessageId::parse(id.to_string()).unwrap(), id.clone());
                let json = serde_json::to_string(&id).unwrap();
                prop_assert_eq!(serde_json::from_str::<MessageId>(&json).unwrap(), id);
            }
        }

        #[test]
        fn user_ids_are_bounded_in_bytes_and_refuse_whitespace(raw in "\\PC{0,100}|\\S{0,300}") {
            let valid = !raw.is_empty()
                && raw.len() <= MAX_USER_LEN
                && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
            prop_assert_eq!(UserId::parse(raw.clone()).is_ok(), valid);
            if let Ok(user) = UserId::parse(raw) {
                prop_assert_eq!(UserId::parse(user.as_str()).unwrap(), user);
            }
        }

        #[test]
        fn minted_message_ids_parse(tenant in "[a-z]{1,10}", user in "[a-z0-9|@.]{1,20}", optimistic in "\\PC{1,20}") {
            let tenant = TenantId::parse(tenant).unwrap();
            let conversation = ConversationId::parse("c-1").unwrap();
            let user = UserId::parse(user).unwrap();
            let id = MessageId::for_optimistic(&tenant, &conversation, &user, &optimistic);
            prop_assert_eq!(MessageId::parse(id.as_str()).unwrap(), id);
        }
    }
}
