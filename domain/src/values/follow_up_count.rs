//! How many follow-ups a silent lead receives after the initial message. Bounded so that a misconfigured workflow cannot spam.

use super::bounded::bounded_number;

bounded_number!(
    /// Number of follow-up messages, 0 to 10 (default 3).
    FollowUpCount(u8),
    min = 0,
    max = 10,
    default = 3
);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::values::ValueError;
    use proptest::prelude::*;

    #[test]
    fn the_bounds_are_accepted() {
        assert_eq!(FollowUpCount::new(0).unwrap().get(), 0);
        assert_eq!(FollowUpCount::new(10).unwrap().get(), 10);
    }

    #[test]
    fn a_value_outside_the_range_is_rejected() {
        let out_of_range = Err(ValueError::OutOfRange { min: 0, max: 10 });
        assert_eq!(FollowUpCount::new(10 + 1), out_of_range);
        assert_eq!(FollowUpCount::new(-1), out_of_range);
        assert_eq!(FollowUpCount::new(i64::MAX), out_of_range);
    }

    #[test]
    fn the_default_is_3() {
        assert_eq!(FollowUpCount::default().get(), 3);
    }

    #[test]
    fn the_value_serializes_as_a_bare_number() {
        let value = FollowUpCount::new(3).unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), "3");
        assert!(serde_json::from_str::<FollowUpCount>("11").is_err());
    }

    proptest! {
        #[test]
        fn new_accepts_exactly_the_range(value in -1000i64..2000) {
            let in_range = (0..=10).contains(&value);
            prop_assert_eq!(FollowUpCount::new(value).is_ok(), in_range);
        }
    }
}
