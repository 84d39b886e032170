//! Opening hours and time windows, shared by tenants (business and quiet hours) and workflows
//! (their business-hours override). Each parses into domain values naming the exact field that
//! was refused (`business_hours.monday.start`, `quiet_hours`).

use chrono::Weekday;
use domain::values::{BusinessHours, LocalTimeRange, ValueError};
use poem_openapi::types::Example;
use poem_openapi::Object;
use serde::Deserialize;

use crate::error::ApiError;

/// A window within one day, local time, `[start, end)`; `start` must be before `end`.
#[derive(Debug, Clone, PartialEq, Eq, Object, Deserialize)]
#[oai(rename = "TimeRange", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct TimeRangeDto {
    /// First minute inside the window, `HH:MM` (e.g. `09:00`).
    #[oai(validator(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub start: String,
    /// First minute after the window, `HH:MM` (e.g. `17:30`).
    #[oai(validator(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub end: String,
}

impl TimeRangeDto {
    /// Parses the window; a refusal names `{field}.start`, `{field}.end` or `{field}`.
    pub fn parse(&self, field: &str) -> Result<LocalTimeRange, ApiError> {
        LocalTimeRange::parse(&self.start, &self.end).map_err(|error| {
            let part = match &error {
                ValueError::InvalidTime(input) if *input == self.start => ".start",
                ValueError::InvalidTime(_) => ".end",
                _ => "",
            };
            ApiError::invalid_field(&format!("{field}{part}"), error)
        })
    }
}

impl From<&LocalTimeRange> for TimeRangeDto {
    fn from(range: &LocalTimeRange) -> Self {
        Self {
            start: range.start().format("%H:%M").to_string(),
            end: range.end().format("%H:%M").to_string(),
        }
    }
}

/// Opening hours per weekday, local time; a missing or `null` day is closed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Object, Deserialize)]
#[oai(rename = "BusinessHours", deny_unknown_fields, example)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursDto {
    /// Monday's window, or closed.
    #[oai(nullable)]
    pub monday: Option<TimeRangeDto>,
    /// Tuesday's window, or closed.
    #[oai(nullable)]
    pub tuesday: Option<TimeRangeDto>,
    /// Wednesday's window, or closed.
    #[oai(nullable)]
    pub wednesday: Option<TimeRangeDto>,
    /// Thursday's window, or closed.
    #[oai(nullable)]
    pub thursday: Option<TimeRangeDto>,
    /// Friday's window, or closed.
    #[oai(nullable)]
    pub friday: Option<TimeRangeDto>,
    /// Saturday's window, or closed.
    #[oai(nullable)]
    pub saturday: Option<TimeRangeDto>,
    /// Sunday's window, or closed.
    #[oai(nullable)]
    pub sunday: Option<TimeRangeDto>,
}

impl BusinessHoursDto {
    /// The days with their wire names, Monday first.
    fn days(&self) -> [(&'static str, &Option<TimeRangeDto>); 7] {
        [
            ("monday", &self.monday),
            ("tuesday", &self.tuesday),
            ("wednesday", &self.wednesday),
            ("thursday", &self.thursday),
            ("friday", &self.friday),
            ("saturday", &self.saturday),
            ("sunday", &self.sunday),
        ]
    }

    /// Parses every day; a refusal names the day, e.g. `business_hours.monday.start`.
    pub fn parse(&self, field: &str) -> Result<BusinessHours, ApiError> {
        let mut parsed = [None; 7];
        for (slot, (day, range)) in parsed.iter_mut().zip(self.days()) {
            if let Some(range) = range {
                *slot = Some(range.parse(&format!("{field}.{day}"))?);
            }
        }
        Ok(BusinessHours::new(parsed))
    }
}

impl From<&BusinessHours> for BusinessHoursDto {
    fn from(hours: &BusinessHours) -> Self {
        let day = |weekday| hours.for_weekday(weekday).map(TimeRangeDto::from);
        Self {
            monday: day(Weekday::Mon),
            tuesday: day(Weekday::Tue),
            wednesday: day(Weekday::Wed),
            thursday: day(Weekday::Thu),
            friday: day(Weekday::Fri),
            saturday: day(Weekday::Sat),
            sunday: day(Weekday::Sun),
        }
    }
}

impl Example for BusinessHoursDto {
    fn example() -> Self {
        let office = || {
            Some(TimeRangeDto {
                start: "09:00".into(),
                end: "17:30".into(),
            })
        };
        Self {
            monday: office(),
            tuesday: office(),
            wednesday: office(),
            thursday: office(),
            friday: office(),
            saturday: Some(TimeRangeDto {
                start: "10:00".into(),
                end: "14:00".into(),
            }),
            sunday: None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::field_of;

    fn range(start: &str, end: &str) -> TimeRangeDto {
        TimeRangeDto {
            start: start.into(),
            end: end.into(),
        }
    }

    #[test]
    fn a_bad_time_names_the_day_and_the_end_of_the_window() {
        let hours = BusinessHoursDto {
            tuesday: Some(range("09:00", "25:00")),
            ..BusinessHoursDto::default()
        };
        assert_eq!(
            field_of(hours.parse("business_hours").unwrap_err()),
            "business_hours.tuesday.end"
        );
        let reversed = range("17:00", "09:00");
        assert_eq!(
            field_of(reversed.parse("quiet_hours").unwrap_err()),
            "quiet_hours"
        );
    }

    #[test]
    fn business_hours_round_trip_through_the_domain() {
        let dto = BusinessHoursDto::example();
        let hours = dto.parse("business_hours").unwrap();
        assert_eq!(BusinessHoursDto::from(&hours), dto);
    }
}
