//! How long to wait for a reply before following up. At most 30 days: later than that the conversation is cold.

use super::bounded::bounded_number;

bounded_number!(
    /// Hours between follow-ups, 1 to 720 (default 24).
    FollowUpDelayHours(u16),
    min = 1,
    max = 720,
    default = 24
);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::values::ValueError;
    use proptest::prelude::*;

    #[test]
    fn the_bounds_are_accepted() {
        assert_eq!(FollowUpDelayHours::new(1).unwrap().get(), 1);
        assert_eq!(FollowUpDelayHours::new(720).unwrap().get(), 720);
    }

    #[test]
    fn a_value_outside_the_range_is_rejected() {
        let out_of_range = Err(ValueError::OutOfRange { min: 1, max: 720 });
        assert_eq!(FollowUpDelayHours::new(720 + 1), out_of_range);
        assert_eq!(FollowUpDelayHours::new(-1), out_of_range);
        assert_eq!(FollowUpDelayHours::new(i64::MAX), out_of_range);
    }

    #[test]
    fn the_default_is_24() {
        assert_eq!(FollowUpDelayHours::default().get(), 24);
    }

    #[test]
    fn the_value_serializes_as_a_bare_number() {
        let value = FollowUpDelayHours::new(24).unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), "24");
        assert!(serde_json::from_str::<FollowUpDelayHours>("721").is_err());
    }

    proptest! {
        #[test]
        fn new_accepts_exactly_the_range(value in -1000i64..2000) {
            let in_range = (1..=720).contains(&value);
            prop_assert_eq!(FollowUpDelayHours::new(value).is_ok(), in_range);
        }
    }
}
