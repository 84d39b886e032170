//! A label an operator puts on leads to filter and bulk-act on them. Normalised (trimmed,
//! lower-cased) so "VIP" and " vip" are the same tag; commas are refused because tags travel
//! comma-separated in CSV files and query strings.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValueError;

/// Longest tag, in characters.
const MAX_LEN: usize = 50;

/// A normalised tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tag(String);

impl Tag {
    /// Parses a tag: trimmed, lower-cased, 1 to 50 characters, no control characters or commas.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let tag = input.trim().to_lowercase();
        if tag.is_empty() {
            return Err(ValueError::Empty);
        }
        if tag.chars().count() > MAX_LEN {
            return Err(ValueError::TooLong { max: MAX_LEN });
        }
        if tag.chars().any(char::is_control) {
            return Err(ValueError::ControlCharacter);
        }
        if tag.contains(',') {
            return Err(ValueError::Comma);
        }
        Ok(Self(tag))
    }

    /// The tag as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Tag {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Tag {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Tag> for String {
    fn from(value: Tag) -> Self {
        value.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_tag_is_trimmed_and_lower_cased() {
        assert_eq!(Tag::parse("  VIP Lead ").unwrap().as_str(), "vip lead");
    }

    #[test]
    fn an_empty_tag_is_rejected() {
        assert_eq!(Tag::parse("   "), Err(ValueError::Empty));
    }

    #[test]
    fn a_tag_longer_than_50_characters_is_rejected() {
        assert_eq!(
            Tag::parse(&"é".repeat(51)),
            Err(ValueError::TooLong { max: 50 })
        );
        assert!(Tag::parse(&"é".repeat(50)).is_ok());
    }

    #[test]
    fn a_tag_with_a_control_character_is_rejected() {
        assert_eq!(Tag::parse("vip\u{7}"), Err(ValueError::ControlCharacter));
        assert_eq!(Tag::parse("a\tb"), Err(ValueError::ControlCharacter));
    }

    #[test]
    fn a_tag_with_a_comma_is_rejected() {
        assert_eq!(Tag::parse("hot,vip"), Err(ValueError::Comma));
    }

    #[test]
    fn a_tag_serializes_as_its_string() {
        let tag = Tag::parse("VIP").unwrap();
        assert_eq!(serde_json::to_string(&tag).unwrap(), "\"vip\"");
        assert_eq!(serde_json::from_str::<Tag>("\"VIP\"").unwrap(), tag);
    }

    proptest! {
        #[test]
        fn parsing_is_idempotent(input in "\\PC{0,60}") {
            if let Ok(tag) = Tag::parse(&input) {
                prop_assert_eq!(Tag::parse(tag.as_str()), Ok(tag));
            }
        }
    }
}
