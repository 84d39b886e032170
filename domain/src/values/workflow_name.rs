//! The name an operator gives a workflow; shown in lists and reports, so bounded and never blank.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValueError;

/// Longest name, in characters.
const MAX_LEN: usize = 200;

/// A trimmed, non-empty workflow name of at most 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkflowName(String);

impl WorkflowName {
    /// Parses a name, trimming surrounding whitespace.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let name = input.trim();
        if name.is_empty() {
            return Err(ValueError::Empty);
        }
        if name.chars().count() > MAX_LEN {
            return Err(ValueError::TooLong { max: MAX_LEN });
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for WorkflowName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkflowName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for WorkflowName {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<WorkflowName> for String {
    fn from(value: WorkflowName) -> Self {
        value.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_name_is_trimmed() {
        assert_eq!(
            WorkflowName::parse("  Spring promo ").unwrap().as_str(),
            "Spring promo"
        );
    }

    #[test]
    fn a_blank_name_is_rejected() {
        assert_eq!(WorkflowName::parse(" \t"), Err(ValueError::Empty));
    }

    #[test]
    fn a_name_longer_than_200_characters_is_rejected() {
        assert_eq!(
            WorkflowName::parse(&"n".repeat(201)),
            Err(ValueError::TooLong { max: 200 })
        );
        assert!(WorkflowName::parse(&"n".repeat(200)).is_ok());
    }

    #[test]
    fn a_name_serializes_as_its_string() {
        let name = WorkflowName::parse("Promo").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"Promo\"");
        assert!(serde_json::from_str::<WorkflowName>("\"\"").is_err());
    }

    proptest! {
        #[test]
        fn parsing_is_idempotent(input in "\\PC{0,220}") {
            if let Ok(name) = WorkflowName::parse(&input) {
                prop_assert_eq!(WorkflowName::parse(name.as_str()), Ok(name));
            }
        }
    }
}
