//! A window within one day in local wall-clock time, the building block of business hours and
//! quiet hours. Windows do not wrap past midnight: `start < end` always holds, which keeps
//! `contains` unambiguous.

use chrono::{NaiveTime, TimeDelta, Timelike};
use serde::{Deserialize, Serialize};

use super::ValueError;

/// `[start, end)` within a day, to the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawRange", into = "RawRange")]
pub struct LocalTimeRange {
    /// First minute inside the window.
    start: NaiveTime,
    /// First minute after the window.
    end: NaiveTime,
}

/// The wire form: `{"start":"09:00","end":"17:00"}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    /// "HH:MM".
    start: String,
    /// "HH:MM".
    end: String,
}

impl LocalTimeRange {
    /// Parses two "HH:MM" times; `start` must be before `end`.
    pub fn parse(start: &str, end: &str) -> Result<Self, ValueError> {
        Self::new(parse_hh_mm(start)?, parse_hh_mm(end)?)
    }

    /// Builds a range from times already parsed; seconds are dropped, `start` must be before
    /// `end`.
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<Self, ValueError> {
        let (start, end) = (truncate(start), truncate(end));
        if start < end {
            Ok(Self { start, end })
        } else {
            Err(ValueError::EmptyTimeRange)
        }
    }

    /// A whole-hour window for built-in defaults, whose order is known at the call site.
    pub(crate) fn whole_hours(start_hour: u32, end_hour: u32) -> Self {
        debug_assert!(start_hour < end_hour && end_hour < 24);
        let hour = |h: u32| NaiveTime::MIN + TimeDelta::hours(i64::from(h));
        Self {
            start: hour(start_hour),
            end: hour(end_hour),
        }
    }

    /// First minute inside the window.
    #[must_use]
    pub const fn start(&self) -> NaiveTime {
        self.start
    }

    /// First minute after the window.
    #[must_use]
    pub const fn end(&self) -> NaiveTime {
        self.end
    }

    /// Whether `time` falls in the window (start inclusive, end exclusive).
    #[must_use]
    pub fn contains(&self, time: NaiveTime) -> bool {
        self.start <= time && time < self.end
    }
}

/// Reads exactly "HH:MM" (two digits each, 00:00 to 23:59).
pub(crate) fn parse_hh_mm(input: &str) -> Result<NaiveTime, ValueError> {
    let invalid = || ValueError::InvalidTime(input.to_owned());
    let bytes = input.as_bytes();
    let well_formed = bytes.len() == 5
        && bytes.get(2) == Some(&b':')
        && [0, 1, 3, 4]
            .iter()
            .all(|&i| bytes.get(i).is_some_and(u8::is_ascii_digit));
    if !well_formed {
        return Err(invalid());
    }
    let hours = input
        .get(0..2)
        .and_then(|h| h.parse().ok())
        .ok_or_else(invalid)?;
    let minutes = input
        .get(3..5)
        .and_then(|m| m.parse().ok())
        .ok_or_else(invalid)?;
    NaiveTime::from_hms_opt(hours, minutes, 0).ok_or_else(invalid)
}

/// Drops seconds and fractions, which "HH:MM" cannot carry.
fn truncate(time: NaiveTime) -> NaiveTime {
    NaiveTime::from_hms_opt(time.hour(), time.minute(), 0).unwrap_or(time)
}

impl TryFrom<RawRange> for LocalTimeRange {
    type Error = ValueError;

    fn try_from(raw: RawRange) -> Result<Self, Self::Error> {
        Self::parse(&raw.start, &raw.end)
    }
}

impl From<LocalTimeRange> for RawRange {
    fn from(range: LocalTimeRange) -> Self {
        Self {
            start: range.start.format("%H:%M").to_string(),
            end: range.end.format("%H:%M").to_string(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn a_range_reads_hh_mm_times() {
        let range = LocalTimeRange::parse("09:00", "17:30").unwrap();
        assert_eq!((range.start(), range.end()), (at(9, 0), at(17, 30)));
    }

    #[test]
    fn a_range_that_ends_before_it_starts_is_rejected() {
        assert_eq!(
            LocalTimeRange::parse("17:00", "09:00"),
            Err(ValueError::EmptyTimeRange)
        );
    }

    #[test]
    fn a_range_that_ends_when_it_starts_is_rejected() {
        assert_eq!(
            LocalTimeRange::parse("09:00", "09:00"),
            Err(ValueError::EmptyTimeRange)
        );
    }

    #[test]
    fn a_time_not_written_as_hh_mm_is_rejected() {
        for input in ["9:00", "09:00:00", "24:00", "12:60", "noon", ""] {
            assert_eq!(
                LocalTimeRange::parse(input, "23:00"),
                Err(ValueError::InvalidTime(input.into())),
                "{input}"
            );
        }
    }

    #[test]
    fn the_start_is_inside_and_the_end_is_outside() {
        let range = LocalTimeRange::parse("09:00", "17:00").unwrap();
        assert!(range.contains(at(9, 0)));
        assert!(range.contains(at(16, 59)));
        assert!(!range.contains(at(17, 0)));
        assert!(!range.contains(at(8, 59)));
    }

    #[test]
    fn a_range_serializes_as_start_and_end_strings() {
        let range = LocalTimeRange::parse("09:00", "17:00").unwrap();
        let json = serde_json::to_string(&range).unwrap();
        assert_eq!(json, r#"{"start":"09:00","end":"17:00"}"#);
        assert_eq!(
            serde_json::from_str::<LocalTimeRange>(&json).unwrap(),
            range
        );
    }

    #[test]
    fn deserializing_a_reversed_range_fails() {
        let json = r#"{"start":"17:00","end":"09:00"}"#;
        assert!(serde_json::from_str::<LocalTimeRange>(json).is_err());
    }

    proptest! {
        #[test]
        fn any_valid_range_round_trips_through_json(a in 0u32..1440, b in 0u32..1440) {
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assume!(lo < hi);
            let range = LocalTimeRange::new(at(lo / 60, lo % 60), at(hi / 60, hi % 60)).unwrap();
            let json = serde_json::to_string(&range).unwrap();
            prop_assert_eq!(serde_json::from_str::<LocalTimeRange>(&json).unwrap(), range);
        }
    }
}
