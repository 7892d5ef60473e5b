//! What a channel has beyond a conversation: a name, a description and a
//! topic, which its creator or staff may change.

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::Timestamp;
use crate::ids::UserId;

/// A channel's name: 1 to 80 characters, not blank, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelName(String);

impl ChannelName {
    pub const MAX_CHARS: usize = 80;

    pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw: String = raw.into();
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(DomainError::invalid("name", "must not be empty or blank"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "name",
                "must not contain control characters",
            ));
        }
        if trimmed.chars().nth(Self::MAX_CHARS).is_some() {
            return Err(DomainError::invalid(
                "name",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A description or topic: at most 1,000 characters (empty clears it), no
/// control characters other than tab and line breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelText(String);

impl ChannelText {
    pub const MAX_CHARS: usize = 1_000;

    pub fn parse(field: &'static str, raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw: String = raw.into();
        if raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(DomainError::invalid(
                field,
                "must not contain control characters other than tab and line breaks",
            ));
        }
        if raw.chars().nth(Self::MAX_CHARS).is_some() {
            return Err(DomainError::invalid(
                field,
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(raw.trim().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The changes a `channel:update` asks for; at least one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelChanges {
    pub name: Option<ChannelName>,
    pub description: Option<ChannelText>,
    pub topic: Option<ChannelText>,
}

impl ChannelChanges {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.description.is_none() && self.topic.is_none()
    }
}

/// A channel as it is after a change (carried by the events, so that
/// projections and pushes only copy it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelInfo {
    pub name: String,
    pub description: String,
    pub topic: String,
    pub created_by: UserId,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_not_blank() {
        assert_eq!(
            ChannelName::parse("  general ").unwrap().as_str(),
            "general"
        );
        assert!(ChannelName::parse("   ").is_err());
        assert!(ChannelName::parse("a\u{7}b").is_err());
        assert!(ChannelName::parse("n".repeat(81)).is_err());
        assert!(ChannelName::parse("n".repeat(80)).is_ok());
    }

    #[test]
    fn descriptions_may_be_empty_but_are_bounded() {
        assert_eq!(ChannelText::parse("topic", "").unwrap().as_str(), "");
        assert!(ChannelText::parse("topic", "line\nline").is_ok());
        assert!(ChannelText::parse("topic", "nul\u{0}").is_err());
        assert!(ChannelText::parse("topic", "t".repeat(1_001)).is_err());
    }
}

/// Properties of the channel's texts, over generated inputs.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_channel_name_is_trimmed_bounded_in_characters_and_parses_again_to_itself(
            raw in "[ \t]{0,3}\\PC{0,90}[ \t]{0,3}",
        ) {
            let trimmed = raw.trim().to_owned();
            let valid = !trimmed.is_empty()
                && !trimmed.chars().any(char::is_control)
                && trimmed.chars().count() <= ChannelName::MAX_CHARS;
            prop_assert_eq!(ChannelName::parse(raw.clone()).is_ok(), valid);
            if let Ok(name) = ChannelName::parse(raw) {
                prop_assert_eq!(name.as_str(), trimmed.as_str());
                prop_assert_eq!(ChannelName::parse(name.as_str()).unwrap(), name.clone());
            }
        }

        #[test]
        fn a_channel_text_parses_again_to_itself(raw in "\\PC{0,40}|[a\t\n\u{0}\u{7}]{0,10}") {
            if let Ok(text) = ChannelText::parse("topic", raw) {
                prop_assert_eq!(ChannelText::parse("topic", text.as_str()).unwrap(), text.clone());
            }
        }
    }
}
