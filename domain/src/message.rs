//! Values carried by messages.

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Message content: 1 to 10,000 characters (Unicode scalar values), not
/// blank, and free of control characters other than tab and line breaks
/// (NUL in particular cannot be stored in a PostgreSQL text column: letting
/// it in would poison every read model that copies the content).
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
        if raw.chars().any(is_forbidden_control) {
            return Err(DomainError::invalid(
                "content",
                "must not contain control characters other than tab and line breaks",
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
        if raw.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "optimisticId",
                "must not contain control characters",
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

fn is_forbidden_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// A display name fit to store and show: control characters dropped,
/// surrounding blanks trimmed, at most 200 characters; `None` when nothing
/// is left.
pub fn display_name(raw: &str) -> Option<String> {
    let cleaned: String = raw.chars().filter(|c| !c.is_control()).take(200).collect();
    let trimmed = cleaned.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
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
    fn control_characters_other_than_tabs_and_line_breaks_are_refused() {
        assert!(MessageBody::parse("line one\nline two\r\n\tindented").is_ok());
        for raw in ["\u{0}", "a\u{0}b", "bell\u{7}", "esc\u{1b}[31m"] {
            assert!(MessageBody::parse(raw).is_err(), "{raw:?}");
        }
        assert!(OptimisticId::parse("tmp\u{0}").is_err());
    }

    #[test]
    fn display_names_are_cleaned() {
        assert_eq!(display_name("  Ana\u{0} María "), Some("Ana María".into()));
        assert_eq!(display_name("\u{0}\u{1}"), None);
        assert_eq!(display_name(&"n".repeat(300)).map(|n| n.len()), Some(200));
    }

    #[test]
    fn optimistic_ids_are_bounded() {
        assert!(OptimisticId::parse("tmp_abc123").is_ok());
        assert!(OptimisticId::parse("").is_err());
        assert!(OptimisticId::parse("x".repeat(129)).is_err());
    }
}
