//! The lead's engagement plan as the Lead aggregate records it: which step of the workflow's
//! outreach and follow-ups is next is counted from the conversation, but when a due step had to
//! wait — outside the sending window, or found long overdue after an outage — the new time is
//! the lead's to remember, so the timers read model can be rebuilt from events alone.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A step of a lead's engagement: the outreach (0), follow-up `n` (1…), or the final check
/// that marks a silent lead unresponsive (one past the last follow-up).
pub type EngagementStep = u32;

/// Why a due engagement step waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeferralReason {
    /// Outside the recipient's sending window: it waits for the next opening.
    OutsideWindow,
    /// Found far later than planned (e.g. after an outage): re-planned, spread out, instead of
    /// sent in a burst.
    Overdue,
}

impl DeferralReason {
    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OutsideWindow => "outside_window",
            Self::Overdue => "overdue",
        }
    }
}

impl fmt::Display for DeferralReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Steps taken, from what was queued and what was passed over: the outreach once (however often
/// it was sent again), each follow-up once. The timers read model plans the next step from this
/// count and the dispatcher checks it against the aggregates: both count here.
#[must_use]
pub fn steps_taken(
    outreach_queued: bool,
    follow_ups_queued: usize,
    skipped: &[EngagementStep],
) -> EngagementStep {
    let outreach = u32::from(outreach_queued || skipped.contains(&0));
    let follow_ups = follow_ups_queued + skipped.iter().filter(|step| **step > 0).count();
    outreach + u32::try_from(follow_ups).unwrap_or(u32::MAX - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outreach_counts_once_and_skipped_steps_count_as_taken() {
        assert_eq!(steps_taken(false, 0, &[]), 0);
        assert_eq!(steps_taken(true, 0, &[]), 1);
        assert_eq!(steps_taken(false, 0, &[0]), 1);
        assert_eq!(steps_taken(true, 0, &[0]), 1);
        assert_eq!(steps_taken(true, 2, &[]), 3);
        assert_eq!(steps_taken(true, 1, &[2]), 3);
    }
}
