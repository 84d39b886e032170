//! A UTC calendar month: the period a tenant's AI budget covers and half of a BudgetMonth's
//! identity. Written `YYYY-MM` everywhere (aggregate ids, events, queries), so it stays within
//! years 2000 to 9999, where that form is exact and sorts like the months.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::values::ValueError;

/// First year a month may be in.
pub const MIN_MONTH_YEAR: i32 = 2000;
/// Last year a month may be in.
pub const MAX_MONTH_YEAR: i32 = 9999;

/// The first day of the first month.
const FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(MIN_MONTH_YEAR, 1, 1) {
    Some(day) => day,
    None => panic!("2000-01-01 is a date"),
};
/// The last day of the last month.
const LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(MAX_MONTH_YEAR, 12, 31) {
    Some(day) => day,
    None => panic!("9999-12-31 is a date"),
};

/// A calendar month in UTC, 2000-01 to 9999-12, ordered in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UtcMonth(
    /// Its first day (always day 1, always within the years allowed).
    NaiveDate,
);

impl UtcMonth {
    /// The month `at` falls in. Instants before 2000 or after 9999 (a broken clock) give the
    /// first or last month, so every month can be written as `YYYY-MM`.
    #[must_use]
    pub fn of(at: DateTime<Utc>) -> Self {
        let day = at.date_naive().clamp(FIRST_DAY, LAST_DAY);
        Self(day - Days::new(u64::from(day.day0())))
    }

    /// The month written as `YYYY-MM` (e.g. `2026-11`), nothing around it.
    ///
    /// # Errors
    /// [`ValueError::OutOfRange`] for another form or a year outside 2000 to 9999 (range of the
    /// year), or a month outside 1 to 12 (range of the month).
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let year_range = ValueError::OutOfRange {
            min: i64::from(MIN_MONTH_YEAR),
            max: i64::from(MAX_MONTH_YEAR),
        };
        let (year, month) = raw.split_once('-').ok_or(year_range.clone())?;
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if year.len() != 4 || month.len() != 2 || !all_digits(year) || !all_digits(month) {
            return Err(year_range);
        }
        let year: i32 = year.parse().map_err(|_| year_range.clone())?;
        if !(MIN_MONTH_YEAR..=MAX_MONTH_YEAR).contains(&year) {
            return Err(year_range);
        }
        let month: u32 = month.parse().map_err(|_| month_range())?;
        NaiveDate::from_ymd_opt(year, month, 1)
            .map(Self)
            .ok_or_else(month_range)
    }

    /// The first instant of the month.
    #[must_use]
    pub fn start(self) -> DateTime<Utc> {
        self.0.and_time(NaiveTime::MIN).and_utc()
    }

    /// The first instant of the next month: the month is `start() <= t < end()`.
    #[must_use]
    pub fn end(self) -> DateTime<Utc> {
        // Years up to 9999 are far inside chrono's range, so adding a month cannot overflow.
        (self.0 + Months::new(1)).and_time(NaiveTime::MIN).and_utc()
    }

    /// The first day of the month.
    #[must_use]
    pub const fn first_day(self) -> NaiveDate {
        self.0
    }

    /// The month before, or `None` for 2000-01.
    #[must_use]
    pub fn previous(self) -> Option<Self> {
        self.0
            .checked_sub_months(Months::new(1))
            .filter(|day| *day >= FIRST_DAY)
            .map(Self)
    }
}

/// The error for a month number outside 1 to 12.
const fn month_range() -> ValueError {
    ValueError::OutOfRange { min: 1, max: 12 }
}

impl fmt::Display for UtcMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.0.year(), self.0.month())
    }
}

impl FromStr for UtcMonth {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for UtcMonth {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<UtcMonth> for String {
    fn from(month: UtcMonth) -> Self {
        month.to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn month(raw: &str) -> UtcMonth {
        UtcMonth::parse(raw).unwrap()
    }

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
    }

    #[test]
    fn an_instant_falls_in_its_utc_month() {
        assert_eq!(UtcMonth::of(at(2026, 11, 30, 23, 59, 59)), month("2026-11"));
        assert_eq!(UtcMonth::of(at(2026, 12, 1, 0, 0, 0)), month("2026-12"));
        assert_eq!(UtcMonth::of(at(2024, 2, 29, 12, 0, 0)), month("2024-02"));
    }

    #[test]
    fn instants_outside_the_years_allowed_give_the_first_or_last_month() {
        assert_eq!(UtcMonth::of(DateTime::<Utc>::UNIX_EPOCH), month("2000-01"));
        assert_eq!(UtcMonth::of(at(12_000, 6, 1, 0, 0, 0)), month("9999-12"));
    }

    #[test]
    fn a_month_spans_from_its_first_instant_to_the_next_months() {
        let november = month("2026-11");
        assert_eq!(november.start(), at(2026, 11, 1, 0, 0, 0));
        assert_eq!(november.end(), at(2026, 12, 1, 0, 0, 0));
        assert_eq!(
            november.first_day(),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
        );
        assert_eq!(month("2024-02").end(), at(2024, 3, 1, 0, 0, 0));
    }

    #[test]
    fn december_ends_where_january_of_the_next_year_starts() {
        let december = month("2026-12");
        assert_eq!(december.end(), at(2027, 1, 1, 0, 0, 0));
        assert_eq!(month("2027-01").previous(), Some(december));
        assert_eq!(month("9999-12").end(), at(10_000, 1, 1, 0, 0, 0));
    }

    #[test]
    fn the_first_month_has_no_previous() {
        assert_eq!(month("2000-02").previous(), Some(month("2000-01")));
        assert_eq!(month("2000-01").previous(), None);
    }

    #[test]
    fn months_are_written_and_serialized_as_year_dash_month() {
        assert_eq!(month("2026-03").to_string(), "2026-03");
        assert_eq!(
            serde_json::to_value(month("2026-11")).unwrap(),
            serde_json::json!("2026-11")
        );
        assert_eq!(
            serde_json::from_value::<UtcMonth>(serde_json::json!("2026-11")).unwrap(),
            month("2026-11")
        );
        assert!(serde_json::from_value::<UtcMonth>(serde_json::json!("2026-13")).is_err());
    }

    #[test]
    fn months_order_in_time() {
        assert!(month("2026-12") < month("2027-01"));
        assert!(month("2026-02") < month("2026-10"));
    }

    #[test]
    fn only_the_strict_form_parses() {
        let years = ValueError::OutOfRange {
            min: 2000,
            max: 9999,
        };
        for raw in [
            "",
            "2026",
            "2026-1",
            "2026-011",
            "26-11",
            "2026/11",
            " 2026-11",
            "2026-11 ",
            "+202-11",
            "2026-+1",
            "2026-11-01",
            "abcd-ef",
            "１２３４-11",
        ] {
            assert_eq!(UtcMonth::parse(raw), Err(years.clone()), "{raw:?}");
        }
    }

    #[test]
    fn years_outside_2000_to_9999_are_refused() {
        let years = ValueError::OutOfRange {
            min: 2000,
            max: 9999,
        };
        assert_eq!(UtcMonth::parse("1999-12"), Err(years.clone()));
        assert_eq!(UtcMonth::parse("0000-01"), Err(years));
        assert_eq!(month("9999-12").to_string(), "9999-12");
    }

    #[test]
    fn month_numbers_outside_1_to_12_are_refused() {
        for raw in ["2026-00", "2026-13", "2026-99"] {
            assert_eq!(UtcMonth::parse(raw), Err(month_range()), "{raw}");
        }
    }

    proptest! {
        #[test]
        fn every_instant_lies_in_its_month_which_round_trips(
            seconds in 946_684_800_i64..253_402_300_800_i64,
        ) {
            let instant = DateTime::from_timestamp(seconds, 0).unwrap();
            let month = UtcMonth::of(instant);
            prop_assert!(month.start() <= instant && instant < month.end());
            prop_assert_eq!(UtcMonth::of(month.start()), month);
            prop_assert_eq!(UtcMonth::of(month.end() - chrono::Duration::seconds(1)), month);
            if let Some(previous) = month.previous() {
                prop_assert_eq!(previous.end(), month.start());
            }
            prop_assert_eq!(UtcMonth::parse(&month.to_string()), Ok(month));
        }
    }
}
