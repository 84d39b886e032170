//! When a business takes appointments and answers, per weekday in its local time. One window
//! per day keeps the model simple; a day without a window is closed.

use chrono::{NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{LocalTimeRange, ValueError};

/// Day names in wire order, Monday first (index = `Weekday::num_days_from_monday`).
const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Opening hours for each weekday; `None` means closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct BusinessHours {
    /// Indexed by days from Monday.
    days: [Option<LocalTimeRange>; 7],
}

impl BusinessHours {
    /// Builds hours from one optional window per weekday, Monday first.
    #[must_use]
    pub const fn new(days: [Option<LocalTimeRange>; 7]) -> Self {
        Self { days }
    }

    /// Every day closed.
    #[must_use]
    pub const fn closed() -> Self {
        Self { days: [None; 7] }
    }

    /// Reads the wire form `{"monday": {"start": "09:00", "end": "17:00"}, "sunday": null, …}`.
    /// Missing days are closed; unknown keys are refused.
    pub fn parse_json(value: &Value) -> Result<Self, ValueError> {
        let object = value.as_object().ok_or(ValueError::NotAnObject)?;
        if let Some(key) = object.keys().find(|key| !DAYS.contains(&key.as_str())) {
            return Err(ValueError::UnknownWeekday(key.clone()));
        }
        let mut days = [None; 7];
        for (slot, day) in days.iter_mut().zip(DAYS) {
            *slot = match object.get(day) {
                None | Some(Value::Null) => None,
                Some(hours) => {
                    Some(
                        parse_range(hours).map_err(|reason| ValueError::InvalidDayHours {
                            day,
                            reason: Box::new(reason),
                        })?,
                    )
                }
            };
        }
        Ok(Self { days })
    }

    /// The opening window on `day`, if open that day.
    #[must_use]
    pub fn for_weekday(&self, day: Weekday) -> Option<&LocalTimeRange> {
        self.days
            .get(day.num_days_from_monday() as usize)
            .and_then(Option::as_ref)
    }

    /// Whether the business is open on `day` at `time`.
    #[must_use]
    pub fn is_open_at(&self, day: Weekday, time: NaiveTime) -> bool {
        self.for_weekday(day)
            .is_some_and(|range| range.contains(time))
    }
}

/// Reads `{"start": "HH:MM", "end": "HH:MM"}` and nothing else.
fn parse_range(value: &Value) -> Result<LocalTimeRange, ValueError> {
    let object = value.as_object().ok_or(ValueError::MalformedTimeRange)?;
    let start = object.get("start").and_then(Value::as_str);
    let end = object.get("end").and_then(Value::as_str);
    match (start, end, object.len()) {
        (Some(start), Some(end), 2) => LocalTimeRange::parse(start, end),
        _ => Err(ValueError::MalformedTimeRange),
    }
}

impl Default for BusinessHours {
    /// Monday to Friday, 09:00 to 17:00.
    fn default() -> Self {
        let office = Some(LocalTimeRange::whole_hours(9, 17));
        Self {
            days: [office, office, office, office, office, None, None],
        }
    }
}

impl TryFrom<Value> for BusinessHours {
    type Error = ValueError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::parse_json(&value)
    }
}

impl From<BusinessHours> for Value {
    fn from(hours: BusinessHours) -> Self {
        let object = DAYS
            .iter()
            .zip(hours.days)
            .map(|(day, range)| {
                let value = range
                    .and_then(|range| serde_json::to_value(range).ok())
                    .unwrap_or(Value::Null);
                ((*day).to_owned(), value)
            })
            .collect();
        Value::Object(object)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn the_default_is_weekdays_nine_to_five() {
        let hours = BusinessHours::default();
        assert!(hours.is_open_at(Weekday::Mon, at(9, 0)));
        assert!(hours.is_open_at(Weekday::Fri, at(16, 59)));
        assert!(!hours.is_open_at(Weekday::Fri, at(17, 0)));
        assert!(!hours.is_open_at(Weekday::Sat, at(12, 0)));
        assert_eq!(hours.for_weekday(Weekday::Sun), None);
    }

    #[test]
    fn business_hours_serialize_with_all_seven_days() {
        let json = serde_json::to_value(BusinessHours::default()).unwrap();
        assert_eq!(
            json,
            json!({
                "monday": {"start": "09:00", "end": "17:00"},
                "tuesday": {"start": "09:00", "end": "17:00"},
                "wednesday": {"start": "09:00", "end": "17:00"},
                "thursday": {"start": "09:00", "end": "17:00"},
                "friday": {"start": "09:00", "end": "17:00"},
                "saturday": null,
                "sunday": null,
            })
        );
    }

    #[test]
    fn missing_days_are_closed() {
        let hours =
            BusinessHours::parse_json(&json!({"saturday": {"start": "10:00", "end": "14:00"}}))
                .unwrap();
        assert!(hours.is_open_at(Weekday::Sat, at(10, 0)));
        assert_eq!(hours.for_weekday(Weekday::Mon), None);
    }

    #[test]
    fn an_unknown_day_is_rejected() {
        assert_eq!(
            BusinessHours::parse_json(&json!({"funday": null})),
            Err(ValueError::UnknownWeekday("funday".into()))
        );
    }

    #[test]
    fn hours_that_are_not_an_object_are_rejected() {
        assert_eq!(
            BusinessHours::parse_json(&json!([])),
            Err(ValueError::NotAnObject)
        );
    }

    #[test]
    fn a_malformed_day_is_rejected_naming_the_day() {
        let error = BusinessHours::parse_json(&json!({"monday": "9-5"})).unwrap_err();
        assert_eq!(
            error,
            ValueError::InvalidDayHours {
                day: "monday",
                reason: Box::new(ValueError::MalformedTimeRange)
            }
        );
    }

    #[test]
    fn a_reversed_day_is_rejected_naming_the_day() {
        let error =
            BusinessHours::parse_json(&json!({"friday": {"start": "17:00", "end": "09:00"}}))
                .unwrap_err();
        assert_eq!(
            error.to_string(),
            "has invalid hours on friday: must start before it ends"
        );
    }

    #[test]
    fn deserializing_goes_through_the_same_rules() {
        assert!(serde_json::from_value::<BusinessHours>(json!({"funday": null})).is_err());
        let hours: BusinessHours = serde_json::from_value(json!({})).unwrap();
        assert_eq!(hours, BusinessHours::closed());
    }

    proptest! {
        #[test]
        fn any_hours_round_trip_through_json(windows in proptest::array::uniform7(proptest::option::of((0u32..1439, 1u32..600)))) {
            let days = windows.map(|w| w.and_then(|(start, len)| {
                let end = (start + len).min(1439);
                LocalTimeRange::new(at(start / 60, start % 60), at(end / 60, end % 60)).ok()
            }));
            let hours = BusinessHours::new(days);
            let json = serde_json::to_value(hours).unwrap();
            prop_assert_eq!(serde_json::from_value::<BusinessHours>(json).unwrap(), hours);
        }
    }
}
