//! How long a booked appointment lasts, used to find free slots.

use super::bounded::bounded_number;

bounded_number!(
    /// Appointment length in minutes, 5 to 480 (default 30).
    AppointmentDuration(u16),
    min = 5,
    max = 480,
    default = 30
);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::values::ValueError;
    use proptest::prelude::*;

    #[test]
    fn the_bounds_are_accepted() {
        assert_eq!(AppointmentDuration::new(5).unwrap().get(), 5);
        assert_eq!(AppointmentDuration::new(480).unwrap().get(), 480);
    }

    #[test]
    fn a_value_outside_the_range_is_rejected() {
        let out_of_range = Err(ValueError::OutOfRange { min: 5, max: 480 });
        assert_eq!(AppointmentDuration::new(480 + 1), out_of_range);
        assert_eq!(AppointmentDuration::new(-1), out_of_range);
        assert_eq!(AppointmentDuration::new(i64::MAX), out_of_range);
    }

    #[test]
    fn the_default_is_30() {
        assert_eq!(AppointmentDuration::default().get(), 30);
    }

    #[test]
    fn the_value_serializes_as_a_bare_number() {
        let value = AppointmentDuration::new(30).unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), "30");
        assert!(serde_json::from_str::<AppointmentDuration>("481").is_err());
    }

    proptest! {
        #[test]
        fn new_accepts_exactly_the_range(value in -1000i64..2000) {
            let in_range = (5..=480).contains(&value);
            prop_assert_eq!(AppointmentDuration::new(value).is_ok(), in_range);
        }
    }
}
