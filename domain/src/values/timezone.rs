//! An IANA time zone, so quiet hours and business hours can be read in the recipient's or the
//! business's local time across daylight-saving changes.

use std::fmt;
use std::str::FromStr;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::ValueError;

/// A time zone known to the IANA database, e.g. `Europe/London`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timezone(Tz);

impl Timezone {
    /// Parses an IANA name such as `"Europe/London"` (case-sensitive, as in the database).
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        Tz::from_str(input.trim())
            .map(Self)
            .map_err(|_| ValueError::UnknownTimezone)
    }

    /// The chrono-tz zone, for date arithmetic.
    #[must_use]
    pub const fn tz(&self) -> Tz {
        self.0
    }

    /// The IANA name.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        self.0.name()
    }
}

impl Default for Timezone {
    fn default() -> Self {
        Self(Tz::Europe__London)
    }
}

impl fmt::Display for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Timezone {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Timezone {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Timezone> for String {
    fn from(value: Timezone) -> Self {
        value.as_str().to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_iana_name_is_accepted() {
        let zone = Timezone::parse("America/New_York").unwrap();
        assert_eq!(zone.as_str(), "America/New_York");
        assert_eq!(zone.tz(), Tz::America__New_York);
    }

    #[test]
    fn the_default_zone_is_london() {
        assert_eq!(Timezone::default().as_str(), "Europe/London");
    }

    #[test]
    fn an_unknown_name_is_rejected() {
        assert_eq!(
            Timezone::parse("Mars/Olympus"),
            Err(ValueError::UnknownTimezone)
        );
        assert_eq!(Timezone::parse(""), Err(ValueError::UnknownTimezone));
    }

    #[test]
    fn a_timezone_serializes_as_its_name() {
        let zone = Timezone::parse("Europe/Paris").unwrap();
        assert_eq!(serde_json::to_string(&zone).unwrap(), "\"Europe/Paris\"");
        assert_eq!(
            serde_json::from_str::<Timezone>("\"Europe/Paris\"").unwrap(),
            zone
        );
    }

    proptest! {
        #[test]
        fn every_known_zone_round_trips_by_name(index in 0usize..chrono_tz::TZ_VARIANTS.len()) {
            let tz = chrono_tz::TZ_VARIANTS.get(index).copied().unwrap();
            prop_assert_eq!(Timezone::parse(tz.name()).unwrap().tz(), tz);
        }
    }
}
