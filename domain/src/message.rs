//! Values carried by messages.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// A reaction: a Unicode emoji (`👍`) or a short code (`:thumbsup:`); 1 to
/// 64 bytes, no whitespace or control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Emoji(String);

impl Emoji {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw = raw.into();
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(DomainError::invalid(
                "emoji",
                format!("must be 1 to {} bytes", Self::MAX_LEN),
            ));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(DomainError::invalid(
                "emoji",
                "must not contain spaces or control characters",
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Emoji {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<Emoji> for String {
    fn from(emoji: Emoji) -> String {
        emoji.0
    }
}

/// A client's metadata for an edited message: a JSON object of at most
/// 16 KiB, kept as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct MessageMetadata(Map<String, Value>);

impl MessageMetadata {
    pub const MAX_BYTES: usize = 16 * 1024;

    pub fn parse(raw: Value) -> Result<Self, DomainError> {
        let Value::Object(map) = raw else {
            return Err(DomainError::invalid("metadata", "must be a JSON object"));
        };
        let size = serde_json::to_vec(&map)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > Self::MAX_BYTES {
            return Err(DomainError::invalid(
                "metadata",
                format!("must be at most {} bytes of JSON", Self::MAX_BYTES),
            ));
        }
        // NUL cannot be stored in PostgreSQL text: refuse it anywhere inside.
        if map_has_nul(&map) {
            return Err(DomainError::invalid(
                "metadata",
                "must not contain NUL characters",
            ));
        }
        Ok(Self(map))
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl TryFrom<Value> for MessageMetadata {
    type Error = DomainError;
    fn try_from(raw: Value) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<MessageMetadata> for Value {
    fn from(metadata: MessageMetadata) -> Value {
        Value::Object(metadata.0)
    }
}

pub(crate) fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map_has_nul(map),
        _ => false,
    }
}

fn map_has_nul(map: &Map<String, Value>) -> bool {
    map.iter().any(|(k, v)| k.contains('\0') || has_nul(v))
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
    fn emoji_are_short_and_free_of_spaces() {
        for raw in ["👍", ":thumbsup:", "👨‍👩‍👧"] {
            assert_eq!(Emoji::parse(raw).unwrap().as_str(), raw);
        }
        for raw in ["", "thumbs up", "a\u{0}", &"x".repeat(65)] {
            assert!(Emoji::parse(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn metadata_is_a_bounded_json_object() {
        let ok = MessageMetadata::parse(serde_json::json!({"edited": true})).unwrap();
        assert_eq!(ok.as_map()["edited"], true);
        assert!(MessageMetadata::parse(serde_json::json!(["a"])).is_err());
        assert!(MessageMetadata::parse(serde_json::json!("text")).is_err());
        let big = "x".repeat(MessageMetadata::MAX_BYTES);
        assert!(MessageMetadata::parse(serde_json::json!({ "big": big })).is_err());
        assert!(MessageMetadata::parse(serde_json::json!({ "nul": "a\u{0}b" })).is_err());
    }

    #[test]
    fn metadata_numbers_read_back_are_the_numbers_written() {
        // Found by fuzzing: without serde_json's exact float parsing, these
        // came back from their own JSON one bit off (9.77322222224604e19).
        for raw in [
            r#"{"n": 97732222222460400000}"#,
            r#"{"n": 999999999999999999999999999999999999999999921}"#,
            r#"{"n": 9.773222222246039e19, "m": 0.30000000000000004}"#,
        ] {
            let metadata = MessageMetadata::parse(serde_json::from_str(raw).unwrap()).unwrap();
            let written = serde_json::to_string(&metadata).unwrap();
            let read: MessageMetadata = serde_json::from_str(&written).unwrap();
            assert_eq!(read, metadata, "{raw} became {written}");
        }
    }

    #[test]
    fn optimistic_ids_are_bounded() {
        assert!(OptimisticId::parse("tmp_abc123").is_ok());
        assert!(OptimisticId::parse("").is_err());
        assert!(OptimisticId::parse("x".repeat(129)).is_err());
    }
}

/// Properties of the parsers above, over generated inputs.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// A character a message may hold anywhere.
    fn allowed() -> impl Strategy<Value = char> {
        any::<char>().prop_filter("not a forbidden control", |c| !is_forbidden_control(*c))
    }

    /// A character that is neither whitespace nor a control character.
    fn visible() -> impl Strategy<Value = char> {
        any::<char>().prop_filter("visible", |c| !c.is_whitespace() && !c.is_control())
    }

    proptest! {
        #[test]
        fn a_body_is_accepted_as_given_and_parses_again_to_itself(
            before in prop::collection::vec(allowed(), 0..40),
            middle in visible(),
            after in prop::collection::vec(allowed(), 0..40),
        ) {
            let raw: String = before.into_iter().chain([middle]).chain(after).collect();
            let body = MessageBody::parse(raw.clone()).unwrap();
            // Kept as given: not trimmed, not normalized.
            prop_assert_eq!(body.as_str(), raw.as_str());
            prop_assert_eq!(MessageBody::parse(body.as_str()).unwrap(), body.clone());
            let json = serde_json::to_string(&body).unwrap();
            prop_assert_eq!(serde_json::from_str::<MessageBody>(&json).unwrap(), body);
        }

        #[test]
        fn the_body_limit_counts_characters_not_bytes(c in visible(), extra in 0usize..3) {
            let at_limit: String = std::iter::repeat_n(c, MessageBody::MAX_CHARS).collect();
            prop_assert!(MessageBody::parse(at_limit.clone()).is_ok());
            let over = format!("{at_limit}{}", c.to_string().repeat(extra + 1));
            prop_assert!(MessageBody::parse(over).is_err());
        }

        #[test]
        fn blank_bodies_are_refused(raw in "[ \t\r\n\u{a0}\u{2003}\u{3000}]{0,30}") {
            prop_assert!(MessageBody::parse(raw).is_err());
        }

        #[test]
        fn a_forbidden_control_anywhere_refuses_a_body(
            before in "\\PC{0,20}",
            control in any::<char>().prop_filter("forbidden", |c| is_forbidden_control(*c)),
            after in "\\PC{0,20}",
        ) {
            let raw = format!("x{before}{control}{after}");
            prop_assert!(MessageBody::parse(raw).is_err());
        }

        #[test]
        fn json_with_a_lone_surrogate_never_becomes_a_body(
            text in "[a-z ]{0,10}",
            unit in 0xD800u16..0xE000,
        ) {
            let json = format!("\"{text}\\u{unit:04x}{text}\"");
            prop_assert!(serde_json::from_str::<MessageBody>(&json).is_err());
            prop_assert!(serde_json::from_str::<serde_json::Value>(&json).is_err());
        }

        #[test]
        fn json_with_a_surrogate_pair_becomes_its_character(c in proptest::char::range('\u{10000}', '\u{10FFFF}')) {
            let mut units = [0u16; 2];
            c.encode_utf16(&mut units);
            let json = format!("\"x\\u{:04x}\\u{:04x}\"", units[0], units[1]);
            let body: MessageBody = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(body.as_str(), format!("x{c}"));
        }

        #[test]
        fn optimistic_ids_and_emoji_are_bounded_in_bytes(c in visible(), n in 1usize..80) {
            let raw: String = std::iter::repeat_n(c, n).collect();
            prop_assert_eq!(OptimisticId::parse(raw.clone()).is_ok(), raw.len() <= OptimisticId::MAX_LEN);
            prop_assert_eq!(Emoji::parse(raw.clone()).is_ok(), raw.len() <= Emoji::MAX_LEN);
            if let Ok(emoji) = Emoji::parse(raw.clone()) {
                prop_assert_eq!(Emoji::parse(emoji.as_str()).unwrap(), emoji);
            }
        }

        #[test]
        fn display_names_are_clean_and_cleaning_them_again_changes_nothing(raw in "\\PC{0,250}|[\\s\u{0}-\u{1f}a-z]{0,30}") {
            if let Some(name) = display_name(&raw) {
                prop_assert!(name.chars().count() <= 200);
                prop_assert!(!name.chars().any(char::is_control));
                prop_assert_eq!(name.trim(), name.as_str());
                prop_assert_eq!(display_name(&name), Some(name.clone()));
            }
        }

        #[test]
        fn metadata_round_trips_and_is_bounded(
            entries in prop::collection::btree_map("[a-z]{1,8}", "\\PC{0,40}", 0..20),
        ) {
            let value = serde_json::to_value(&entries).unwrap();
            let size = serde_json::to_vec(&value).unwrap().len();
            match MessageMetadata::parse(value.clone()) {
                Ok(metadata) => {
                    prop_assert!(size <= MessageMetadata::MAX_BYTES);
                    prop_assert_eq!(Value::from(metadata), value);
                }
                Err(_) => prop_assert!(size > MessageMetadata::MAX_BYTES || has_nul(&value)),
            }
        }
    }
}
