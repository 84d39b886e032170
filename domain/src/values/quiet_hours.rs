//! The window of the recipient's local day in which messages may reach them. Outside it the
//! sender waits: marketing rules and common courtesy forbid texting people at night.

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use super::{LocalTimeRange, ValueError};

/// The allowed sending window, in the recipient's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuietHours(LocalTimeRange);

impl QuietHours {
    /// Wraps an allowed window.
    #[must_use]
    pub const fn new(allowed: LocalTimeRange) -> Self {
        Self(allowed)
    }

    /// Parses the allowed window from two "HH:MM" times.
    pub fn parse(start: &str, end: &str) -> Result<Self, ValueError> {
        LocalTimeRange::parse(start, end).map(Self)
    }

    /// The window in which sending is allowed.
    #[must_use]
    pub const fn allowed(&self) -> &LocalTimeRange {
        &self.0
    }

    /// Whether a message may be delivered at this local time.
    #[must_use]
    pub fn permits(&self, local_time: NaiveTime) -> bool {
        self.0.contains(local_time)
    }
}

impl Default for QuietHours {
    /// 08:00 to 21:00.
    fn default() -> Self {
        Self(LocalTimeRange::whole_hours(8, 21))
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
    fn by_default_messages_may_go_out_from_eight_until_nine_at_night() {
        let quiet = QuietHours::default();
        assert!(quiet.permits(at(8, 0)));
        assert!(quiet.permits(at(20, 59)));
        assert!(!quiet.permits(at(21, 0)));
        assert!(!quiet.permits(at(7, 59)));
    }

    #[test]
    fn a_reversed_window_is_rejected() {
        assert_eq!(
            QuietHours::parse("21:00", "08:00"),
            Err(ValueError::EmptyTimeRange)
        );
    }

    #[test]
    fn quiet_hours_serialize_as_the_allowed_window() {
        let json = serde_json::to_string(&QuietHours::default()).unwrap();
        assert_eq!(json, r#"{"start":"08:00","end":"21:00"}"#);
        assert_eq!(
            serde_json::from_str::<QuietHours>(&json).unwrap(),
            QuietHours::default()
        );
    }

    proptest! {
        #[test]
        fn permits_agrees_with_the_allowed_window(minute in 0u32..1440) {
            let quiet = QuietHours::default();
            let time = at(minute / 60, minute % 60);
            prop_assert_eq!(quiet.permits(time), quiet.allowed().contains(time));
        }
    }
}
