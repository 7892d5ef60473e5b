//! Values carried by messages.

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Message content: 1 to 10,000 characters (Unicode scalar values), not blank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageBody(String);

impl MessageBody {
    pub const MAX_CHARS: usize = 10_000;

    pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw = raw.into();
        if raw.trim().is_empty() {
            return Err(DomainError::invalid(
                "content",
                "must not be empty or blank",
            ));
        }
        // Count characters, not bytes: 10,000 emoji are as long as 10,000 letters.
        if raw.chars().nth(Self::MAX_CHARS).is_some() {
            return Err(DomainError::invalid(
                "content",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MessageBody {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<MessageBody> for String {
    fn from(body: MessageBody) -> String {
        body.0
    }
}

/// A client's temporary id for a message it has not seen acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OptimisticId(String);

impl OptimisticId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw = raw.into();
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(DomainError::invalid(
                "optimisticId",
                format!("must be 1 to {} bytes", Self::MAX_LEN),
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OptimisticId {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<OptimisticId> for String {
    fn from(id: OptimisticId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_of_one_to_ten_thousand_characters_parses() {
        assert!(MessageBody::parse("a").is_ok());
        assert!(MessageBody::parse("a".repeat(10_000)).is_ok());
    }

    #[test]
    fn the_limit_counts_characters_not_bytes() {
        let emoji = "😀".repeat(10_000);
        assert!(emoji.len() > 10_000);
        assert!(MessageBody::parse(emoji).is_ok());
        assert!(MessageBody::parse("😀".repeat(10_001)).is_err());
    }

    #[test]
    fn empty_blank_and_overlong_bodies_are_refused() {
        for raw in [String::new(), "  \n\t".into(), "a".repeat(10_001)] {
            let err = MessageBody::parse(raw).unwrap_err();
            assert!(matches!(
                err,
                DomainError::Invalid {
                    field: "content",
                    ..
                }
            ));
        }
    }

    #[test]
    fn optimistic_ids_are_bounded() {
        assert!(OptimisticId::parse("tmp_abc123").is_ok());
        assert!(OptimisticId::parse("").is_err());
        assert!(OptimisticId::parse("x".repeat(129)).is_err());
    }
}
