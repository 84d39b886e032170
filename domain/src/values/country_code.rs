//! The country used to read national phone numbers and to guess a lead's time zone. Only
//! regions the phone-number metadata knows are accepted, so every `CountryCode` can be used to
//! parse a phone number.

use std::fmt;
use std::str::FromStr;

use phonenumber::country::Id;
use serde::{Deserialize, Serialize};

use super::ValueError;

/// An ISO 3166-1 alpha-2 country code known to the phone-number metadata, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode(Id);

impl CountryCode {
    /// Parses a two-letter code, in any case (`"gb"` → `GB`).
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let code = input.trim();
        if code.len() != 2 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(ValueError::UnknownCountry);
        }
        Id::from_str(&code.to_ascii_uppercase())
            .map(Self)
            .map_err(|_| ValueError::UnknownCountry)
    }

    /// The upper-case code, e.g. `"GB"`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    /// The phonenumber crate's identifier for this region.
    pub(crate) const fn id(self) -> Id {
        self.0
    }

    /// Wraps a region identifier reported by the phonenumber crate.
    pub(crate) const fn from_id(id: Id) -> Self {
        Self(id)
    }
}

impl Default for CountryCode {
    fn default() -> Self {
        Self(Id::GB)
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CountryCode {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for CountryCode {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CountryCode> for String {
    fn from(value: CountryCode) -> Self {
        value.as_str().to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_lower_case_code_is_stored_upper_case() {
        assert_eq!(CountryCode::parse("gb").unwrap().as_str(), "GB");
    }

    #[test]
    fn the_default_country_is_great_britain() {
        assert_eq!(CountryCode::default().as_str(), "GB");
    }

    #[test]
    fn a_code_unknown_to_the_phone_metadata_is_rejected() {
        assert_eq!(CountryCode::parse("ZZ"), Err(ValueError::UnknownCountry));
    }

    #[test]
    fn a_code_that_is_not_two_letters_is_rejected() {
        for input in ["", "G", "GBR", "G1", "001"] {
            assert_eq!(
                CountryCode::parse(input),
                Err(ValueError::UnknownCountry),
                "{input}"
            );
        }
    }

    #[test]
    fn a_country_code_serializes_as_its_string() {
        let code = CountryCode::parse("us").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"US\"");
        assert_eq!(serde_json::from_str::<CountryCode>("\"US\"").unwrap(), code);
    }

    proptest! {
        #[test]
        fn parsing_any_text_never_panics_and_round_trips(input in "\\PC{0,4}") {
            if let Ok(code) = CountryCode::parse(&input) {
                prop_assert_eq!(CountryCode::parse(code.as_str()), Ok(code));
            }
        }
    }
}
