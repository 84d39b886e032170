//! A lead's phone number in E.164, the dedupe key of a lead within a tenant. Parsing uses
//! Google's libphonenumber metadata (through the `phonenumber` crate) so that "07400 123456" in
//! the UK and "+44 7400 123456" are the same lead, and numbers that cannot exist are refused.

use std::fmt;

use phonenumber::Mode;
use serde::{Deserialize, Serialize};

use super::{CountryCode, ValueError};

/// A valid phone number, stored in E.164 form (`+447400123456`).
///
/// Numbers are validated against libphonenumber's metadata when they enter the system
/// ([`PhoneNumber::parse`]). Reading one back from storage (serde) checks only the E.164 shape:
/// the full check costs tens of microseconds, and replaying millions of stored events (aggregate
/// loads, projection rebuilds) would spend most of its time re-proving what was proven on write.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber {
    /// Always E.164: '+' and digits.
    e164: String,
}

impl PhoneNumber {
    /// Parses a number as a person would type it. National numbers ("07400 123456") are read
    /// in `default_country`; international ones ("+44 …") ignore it. The number must have the
    /// length and shape of its country's numbers (see [`is_plausible`]). Letters are refused, although
    /// libphonenumber would read them as keypad digits ("1-800-FLOWERS"): in a lead form they
    /// are typos. Extensions are refused too: a message cannot be sent to one.
    pub fn parse(input: &str, default_country: CountryCode) -> Result<Self, ValueError> {
        let invalid = || ValueError::InvalidPhoneNumber {
            country: default_country.as_str().to_owned(),
        };
        if input.chars().any(char::is_alphabetic) {
            return Err(invalid());
        }
        let parsed =
            phonenumber::parse(Some(default_country.id()), input.trim()).map_err(|_| invalid())?;
        if parsed.extension().is_some() || !is_plausible(&parsed) {
            return Err(invalid());
        }
        Ok(Self {
            e164: parsed.format().mode(Mode::E164).to_string(),
        })
    }

    /// Parses a stored number, which must already be E.164 (`+` then digits).
    pub fn parse_e164(input: &str) -> Result<Self, ValueError> {
        let digits = input.strip_prefix('+').ok_or(ValueError::NotE164)?;
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(ValueError::NotE164);
        }
        let number = Self::parse(input, CountryCode::default()).map_err(|_| ValueError::NotE164)?;
        if number.e164 == input {
            Ok(number)
        } else {
            Err(ValueError::NotE164)
        }
    }

    /// The E.164 form, e.g. `"+447400123456"`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// The country the number belongs to, if the metadata can tell (used to guess a time zone).
    #[must_use]
    pub fn region(&self) -> Option<CountryCode> {
        phonenumber::parse(None, &self.e164)
            .ok()
            .and_then(|parsed| parsed.country().id())
            .map(CountryCode::from_id)
    }
}

/// Valid by libphonenumber's allocated ranges, or at least inside the country's general number
/// pattern and lengths. The second half keeps numbers that the metadata leaves out on purpose
/// but that carriers and test systems use — the Ofcom drama range 07700 900xxx above all — while
/// still refusing what no country could dial (`+44 0000 000000`, wrong lengths).
fn is_plausible(parsed: &phonenumber::PhoneNumber) -> bool {
    if phonenumber::is_valid(parsed) {
        return true;
    }
    let national = parsed.national().to_string();
    phonenumber::metadata::DATABASE
        .by_code(&parsed.code().value())
        .unwrap_or_default()
        .iter()
        .any(|meta| meta.descriptors().general().is_match(&national))
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        &self.e164
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

/// The E.164 shape: `+`, a non-zero digit, then 6 to 14 more digits.
fn is_e164_shaped(text: &str) -> bool {
    text.strip_prefix('+').is_some_and(|digits| {
        (7..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

impl TryFrom<String> for PhoneNumber {
    type Error = ValueError;

    /// A stored number: only its E.164 shape is checked (see the type's docs).
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if is_e164_shaped(&value) {
            Ok(Self { e164: value })
        } else {
            Err(ValueError::NotE164)
        }
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> Self {
        value.e164
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gb() -> CountryCode {
        CountryCode::parse("GB").unwrap()
    }

    fn us() -> CountryCode {
        CountryCode::parse("US").unwrap()
    }

    #[test]
    fn an_international_uk_mobile_is_stored_as_e164() {
        let number = PhoneNumber::parse("+44 7400 123456", gb()).unwrap();
        assert_eq!(number.as_str(), "+447400123456");
    }

    #[test]
    fn a_national_uk_mobile_read_in_gb_equals_its_international_form() {
        assert_eq!(
            PhoneNumber::parse("07400 123456", gb()).unwrap(),
            PhoneNumber::parse("+44 7400 123456", gb()).unwrap()
        );
    }

    #[test]
    fn an_international_number_ignores_the_default_country() {
        assert_eq!(
            PhoneNumber::parse("+44 7400 123456", us())
                .unwrap()
                .as_str(),
            "+447400123456"
        );
    }

    #[test]
    fn a_us_number_with_punctuation_is_accepted() {
        let number = PhoneNumber::parse("(201) 555-0123", us()).unwrap();
        assert_eq!(number.as_str(), "+12015550123");
    }

    #[test]
    fn the_region_is_the_numbers_own_country() {
        let number = PhoneNumber::parse("+1 201-555-0123", gb()).unwrap();
        assert_eq!(number.region(), Some(us()));
        assert_eq!(
            PhoneNumber::parse("07400 123456", gb()).unwrap().region(),
            Some(gb())
        );
    }

    #[test]
    fn garbage_is_rejected_naming_the_default_country() {
        let error = PhoneNumber::parse("call me maybe", gb()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "is not a valid phone number for country GB"
        );
    }

    #[test]
    fn a_number_that_is_too_short_is_rejected() {
        assert!(PhoneNumber::parse("0770", gb()).is_err());
        assert!(PhoneNumber::parse("+44 7400", gb()).is_err());
    }

    #[test]
    fn ofcom_drama_numbers_are_accepted_although_the_metadata_leaves_them_out() {
        assert_eq!(
            PhoneNumber::parse("07700 900123", gb()).unwrap().as_str(),
            "+447700900123"
        );
        assert_eq!(
            PhoneNumber::parse("+44 7700 900123", gb()).unwrap(),
            PhoneNumber::parse("07700 900123", gb()).unwrap()
        );
        assert_eq!(
            PhoneNumber::parse("020 7946 0958", gb()).unwrap().as_str(),
            "+442079460958"
        );
    }

    #[test]
    fn a_plausible_but_unassigned_number_is_rejected() {
        assert!(PhoneNumber::parse("+44 0000 000000", gb()).is_err());
    }

    #[test]
    fn a_number_with_letters_is_rejected() {
        assert!(PhoneNumber::parse("07400 1234ab", gb()).is_err());
    }

    #[test]
    fn a_number_with_an_extension_is_rejected() {
        assert!(PhoneNumber::parse("+44 20 7946 0958 ext. 12", gb()).is_err());
        assert!(PhoneNumber::parse("+44 20 7946 0958 #12", gb()).is_err());
    }

    #[test]
    fn a_stored_number_must_be_e164() {
        assert_eq!(
            PhoneNumber::parse_e164("07400 123456"),
            Err(ValueError::NotE164)
        );
        assert_eq!(
            PhoneNumber::parse_e164("+44 7400 123456"),
            Err(ValueError::NotE164)
        );
        assert!(PhoneNumber::parse_e164("+447400123456").is_ok());
    }

    #[test]
    fn a_phone_number_serializes_as_its_e164_string() {
        let number = PhoneNumber::parse("07400 123456", gb()).unwrap();
        let json = serde_json::to_string(&number).unwrap();
        assert_eq!(json, "\"+447400123456\"");
        assert_eq!(serde_json::from_str::<PhoneNumber>(&json).unwrap(), number);
    }

    #[test]
    fn deserializing_a_national_number_fails() {
        assert!(serde_json::from_str::<PhoneNumber>("\"07400123456\"").is_err());
    }

    proptest! {
        #[test]
        fn a_valid_uk_mobile_round_trips_through_e164(suffix in 100_000u32..=999_999) {
            let national = format!("07400 {suffix}");
            let number = PhoneNumber::parse(&national, gb()).unwrap();
            let again = PhoneNumber::parse_e164(number.as_str()).unwrap();
            prop_assert_eq!(again, number);
        }

        #[test]
        fn parsing_any_text_never_panics(input in "\\PC{0,30}") {
            if let Ok(number) = PhoneNumber::parse(&input, gb()) {
                prop_assert!(number.as_str().starts_with('+'));
            }
        }
    }

    #[test]
    fn a_stored_number_is_read_back_by_its_e164_shape_alone() {
        let read = |text: &str| serde_json::from_str::<PhoneNumber>(&format!("\"{text}\""));
        assert_eq!(read("+447400123456").unwrap().as_str(), "+447400123456");
        for bad in [
            "447400123456",
            "+0447400123",
            "+44",
            "+44740012345678901",
            "+44 7400",
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        assert_eq!(
            read("+12025550143").unwrap().region(),
            Some(CountryCode::from_id(phonenumber::country::Id::US))
        );
    }
}
