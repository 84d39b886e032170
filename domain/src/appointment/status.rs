//! Where an appointment is in its life, and which moves its lifecycle allows.
//!
//! | from        | may go to                                  | by                          |
//! |-------------|--------------------------------------------|-----------------------------|
//! | (none)      | `confirmed`                                | `Book`                      |
//! | `confirmed` | `cancelled`                                | `Cancel` (with a reason)    |
//! | `confirmed` | `completed`, `no_show`                     | `Complete`, `MarkNoShow`, once the start has passed |
//! | `cancelled`, `completed`, `no_show` | nothing: all three are final |                       |
//!
//! What each status allows besides moving on:
//!
//! | command               | `confirmed` | `cancelled` | `completed` | `no_show` |
//! |-----------------------|-------------|-------------|-------------|-----------|
//! | `Reschedule`          | yes         | refused     | refused     | refused   |
//! | `EditNotes`           | yes         | refused     | yes         | yes       |
//! | `RecordExternalEvent` | yes         | yes         | yes         | yes       |
//! | `RecordReminderSent`  | yes         | yes         | yes         | yes       |
//!
//! Notes stay editable after the meeting, because what happened at it (or why the lead did not
//! come) is exactly what an operator writes down then; a cancelled appointment is closed, and its
//! cancel reason says why. The two `Record…` commands record facts about the outside world (the
//! provider created an event, a reminder went out), which stay true whatever happened since, so
//! they are accepted in every status.
//!
//! A command that asks for the status the appointment already has is not an error but changes
//! nothing (`Cancel` twice, `Complete` twice, `MarkNoShow` twice): retried requests are harmless.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The lifecycle status of an appointment.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// Booked and going ahead; the only status that holds its slot in the calendar.
    #[default]
    Confirmed,
    /// Called off, with a reason.
    Cancelled,
    /// The meeting took place.
    Completed,
    /// The lead did not turn up.
    NoShow,
}

/// A text that is not the wire name of an [`AppointmentStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("must be one of confirmed, cancelled, completed, no_show (got '{0}')")]
pub struct UnknownAppointmentStatus(pub String);

impl AppointmentStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 4] = [
        Self::Confirmed,
        Self::Cancelled,
        Self::Completed,
        Self::NoShow,
    ];

    /// The wire name, e.g. `"no_show"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
            Self::NoShow => "no_show",
        }
    }

    /// Whether the appointment still holds its slot (only `confirmed` does).
    #[must_use]
    pub const fn is_live(self) -> bool {
        matches!(self, Self::Confirmed)
    }

    /// Whether nothing can move the appointment away from this status.
    #[must_use]
    pub const fn is_final(self) -> bool {
        !self.is_live()
    }

    /// Whether the lifecycle (see the module table) allows moving from `self` to `to`.
    #[must_use]
    pub const fn can_move_to(self, to: Self) -> bool {
        matches!(
            (self, to),
            (
                Self::Confirmed,
                Self::Cancelled | Self::Completed | Self::NoShow
            )
        )
    }

    /// Whether `EditNotes` is allowed in this status (all but `cancelled`).
    #[must_use]
    pub const fn allows_note_edits(self) -> bool {
        !matches!(self, Self::Cancelled)
    }
}

impl fmt::Display for AppointmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AppointmentStatus {
    type Err = UnknownAppointmentStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownAppointmentStatus(s.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use AppointmentStatus::*;

    #[test]
    fn every_status_parses_from_its_wire_name_and_serde_agrees() {
        for status in AppointmentStatus::ALL {
            assert_eq!(status.as_str().parse::<AppointmentStatus>(), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
    }

    #[test]
    fn an_unknown_status_is_rejected_listing_every_allowed_value() {
        let error = "postponed".parse::<AppointmentStatus>().unwrap_err();
        assert_eq!(error, UnknownAppointmentStatus("postponed".into()));
        for status in AppointmentStatus::ALL {
            assert!(error.to_string().contains(status.as_str()));
        }
    }

    #[test]
    fn the_lifecycle_allows_exactly_the_documented_moves() {
        let allowed = [
            (Confirmed, Cancelled),
            (Confirmed, Completed),
            (Confirmed, NoShow),
        ];
        for from in AppointmentStatus::ALL {
            for to in AppointmentStatus::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(from.can_move_to(to), expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn only_confirmed_is_live_and_only_cancelled_locks_the_notes() {
        assert_eq!(
            AppointmentStatus::ALL.map(AppointmentStatus::is_live),
            [true, false, false, false]
        );
        assert_eq!(
            AppointmentStatus::ALL.map(AppointmentStatus::allows_note_edits),
            [true, false, true, true]
        );
    }
}
