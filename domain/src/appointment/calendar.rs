//! Which calendar an appointment is in: the built-in calendar, or one calendar of an external
//! provider written `<provider>:<calendar id>` (e.g. `google:team@example.com`). No double
//! booking is judged per calendar, so the text is the calendar's identity.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::values::ValueError;

/// Longest calendar reference, in characters.
pub const MAX_CALENDAR_LEN: usize = 200;

/// A reference to a calendar: `builtin` or `<provider>:<calendar id>`, 1 to 200 characters
/// without control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CalendarRef(String);

impl CalendarRef {
    /// The text of the built-in calendar.
    pub const BUILTIN: &'static str = "builtin";

    /// The built-in calendar (also the default).
    #[must_use]
    pub fn builtin() -> Self {
        Self(Self::BUILTIN.to_owned())
    }

    /// Parses a reference, trimming surrounding whitespace.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(ValueError::Empty);
        }
        if text.chars().count() > MAX_CALENDAR_LEN {
            return Err(ValueError::TooLong {
                max: MAX_CALENDAR_LEN,
            });
        }
        if text.chars().any(char::is_control) {
            return Err(ValueError::ControlCharacter);
        }
        Ok(Self(text.to_owned()))
    }

    /// The text, e.g. `"google:team@example.com"`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The provider: the part before the first `:` (`"google"`), or the whole text (`"builtin"`).
    #[must_use]
    pub fn provider(&self) -> &str {
        self.0.split_once(':').map_or(self.0.as_str(), |(p, _)| p)
    }

    /// The provider's calendar id: the part after the first `:`, if any.
    #[must_use]
    pub fn calendar_id(&self) -> Option<&str> {
        self.0.split_once(':').map(|(_, id)| id)
    }

    /// Whether this is the built-in calendar.
    #[must_use]
    pub fn is_builtin(&self) -> bool {
        self.0 == Self::BUILTIN
    }
}

impl Default for CalendarRef {
    fn default() -> Self {
        Self::builtin()
    }
}

impl fmt::Display for CalendarRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CalendarRef {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for CalendarRef {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CalendarRef> for String {
    fn from(value: CalendarRef) -> Self {
        value.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_calendar_is_the_default_and_has_no_calendar_id() {
        let calendar = CalendarRef::default();
        assert!(calendar.is_builtin());
        assert_eq!(calendar.as_str(), "builtin");
        assert_eq!(calendar.provider(), "builtin");
        assert_eq!(calendar.calendar_id(), None);
    }

    #[test]
    fn a_provider_calendar_splits_at_the_first_colon() {
        let calendar = CalendarRef::parse("  google:team@example.com ").unwrap();
        assert!(!calendar.is_builtin());
        assert_eq!(calendar.as_str(), "google:team@example.com");
        assert_eq!(calendar.provider(), "google");
        assert_eq!(calendar.calendar_id(), Some("team@example.com"));
    }

    #[test]
    fn empty_long_and_control_texts_are_rejected() {
        assert_eq!(CalendarRef::parse("  "), Err(ValueError::Empty));
        assert!(CalendarRef::parse(&"a".repeat(MAX_CALENDAR_LEN)).is_ok());
        assert_eq!(
            CalendarRef::parse(&"a".repeat(MAX_CALENDAR_LEN + 1)),
            Err(ValueError::TooLong {
                max: MAX_CALENDAR_LEN
            })
        );
        assert_eq!(
            CalendarRef::parse("google:a\u{7}b"),
            Err(ValueError::ControlCharacter)
        );
    }

    #[test]
    fn a_calendar_serializes_as_its_text_and_deserializes_through_the_parser() {
        let calendar = CalendarRef::parse("google:primary").unwrap();
        assert_eq!(
            serde_json::to_string(&calendar).unwrap(),
            "\"google:primary\""
        );
        assert_eq!(
            serde_json::from_str::<CalendarRef>("\"google:primary\"").unwrap(),
            calendar
        );
        assert!(serde_json::from_str::<CalendarRef>("\"\"").is_err());
    }
}
