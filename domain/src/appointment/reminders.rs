//! Which reminders of an appointment are still to go, and which one is due now.
//!
//! The offsets are fixed at booking. Reminders go out in order, so once one has been sent or
//! passed over, the earlier ones are moot: what is left is every offset shorter than the shortest
//! one handled since the last (re)schedule. When several have come due together (nobody ran them
//! in time), only the latest — the one nearest the start — is worth sending.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use super::Appointment;

impl Appointment {
    /// The reminders to send, in minutes before the start, longest first (fixed at booking).
    #[must_use]
    pub fn reminder_offsets(&self) -> &[u32] {
        &self.reminder_offsets
    }

    /// Offsets of the reminders passed over since the last (re)schedule.
    #[must_use]
    pub const fn reminders_skipped(&self) -> &BTreeSet<u32> {
        &self.reminders_skipped
    }

    /// The reminders still to go, longest first: those shorter than every reminder sent or
    /// passed over since the last (re)schedule.
    #[must_use]
    pub fn reminders_left(&self) -> Vec<u32> {
        let handled = self
            .reminders_sent
            .iter()
            .chain(&self.reminders_skipped)
            .min()
            .copied();
        self.reminder_offsets
            .iter()
            .copied()
            .filter(|offset| handled.is_none_or(|handled| *offset < handled))
            .collect()
    }

    /// The reminder to send at `now`: of those left, the one nearest the start whose time has
    /// come. `None` when none has come yet. Whether the appointment is still confirmed and has
    /// not started is the caller's to check.
    #[must_use]
    pub fn due_reminder(&self, now: DateTime<Utc>) -> Option<u32> {
        self.reminders_left()
            .into_iter()
            .filter(|offset| self.start - Duration::minutes(i64::from(*offset)) <= now)
            .min()
    }
}
