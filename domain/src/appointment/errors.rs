//! Why the Appointment aggregate refused a command. One variant per business rule, no technical
//! errors: the aggregate does no I/O. [`AppointmentError::field`] tells an input that broke a
//! rule (answer 422, naming the field) from a state that forbids the command (answer 409).

use chrono::{DateTime, Utc};
use thiserror::Error;

use super::AppointmentStatus;

/// A command the Appointment aggregate refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AppointmentError {
    /// The appointment was never booked, so there is nothing to act on.
    #[error("the appointment has not been booked")]
    NotBooked,
    /// `Book` on an appointment that exists.
    #[error("the appointment has already been booked")]
    AlreadyBooked,
    /// An appointment cannot be booked or moved into the past.
    #[error("the start {} is in the past (now is {})", start.to_rfc3339(), now.to_rfc3339())]
    StartInPast {
        /// The requested start.
        start: DateTime<Utc>,
        /// The time of the request.
        now: DateTime<Utc>,
    },
    /// The end must come after the start.
    #[error("the end must be after the start")]
    EndNotAfterStart,
    /// An appointment lasts at most a day.
    #[error("an appointment may last at most {max_hours} hours")]
    TooLong {
        /// The maximum length in hours.
        max_hours: i64,
    },
    /// The lifecycle does not allow this move (e.g. completing a cancelled appointment).
    #[error("an appointment that is {from} cannot become {to}")]
    InvalidTransition {
        /// Current status.
        from: AppointmentStatus,
        /// The status the command would reach.
        to: AppointmentStatus,
    },
    /// Only a confirmed appointment can be rescheduled.
    #[error("only a confirmed appointment can be rescheduled; this one is {0}")]
    NotReschedulable(AppointmentStatus),
    /// A cancelled appointment is closed: its notes no longer change.
    #[error("the notes of a cancelled appointment cannot be edited")]
    NotesOfCancelled,
    /// Completed or no-show can only be marked once the appointment has started.
    #[error("the appointment starts at {}; it cannot be marked {to} before then", start.to_rfc3339())]
    NotStartedYet {
        /// When it starts.
        start: DateTime<Utc>,
        /// The status asked for.
        to: AppointmentStatus,
    },
    /// Cancelling needs a reason.
    #[error("a reason is required")]
    ReasonRequired,
    /// A text field is longer than allowed.
    #[error("{field} must be at most {max} characters")]
    FieldTooLong {
        /// The command field.
        field: &'static str,
        /// The maximum number of characters.
        max: usize,
    },
    /// A required text field is blank.
    #[error("{field} must not be empty")]
    FieldEmpty {
        /// The command field.
        field: &'static str,
    },
    /// A meeting link must be an `http://` or `https://` address without spaces.
    #[error("meeting_link must be an http:// or https:// address without spaces")]
    InvalidMeetingLink,
    /// A provider name is 1 to 50 characters of a-z, 0-9, '_' and '-'.
    #[error("provider must be 1 to 50 characters of a-z, 0-9, '_' and '-'")]
    InvalidProvider,
    /// An external event must come from the appointment's own calendar provider.
    #[error("the appointment's calendar is on {calendar_provider}, not {provider}")]
    ProviderMismatch {
        /// The provider of the appointment's calendar.
        calendar_provider: String,
        /// The provider named by the command.
        provider: String,
    },
    /// The built-in calendar has no provider to hold external events.
    #[error("the appointment is in the built-in calendar, which has no external events")]
    BuiltinCalendar,
    /// A reminder offset outside the allowed range.
    #[error("offset_minutes must be between 0 and {max}")]
    ReminderOffsetOutOfRange {
        /// The largest offset, in minutes.
        max: u32,
    },
}

impl AppointmentError {
    /// The command field a refused input was in, or `None` when the appointment's state, not an
    /// input, forbids the command.
    #[must_use]
    pub const fn field(&self) -> Option<&'static str> {
        match self {
            Self::StartInPast { .. } => Some("start"),
            Self::EndNotAfterStart | Self::TooLong { .. } => Some("end"),
            Self::ReasonRequired => Some("reason"),
            Self::FieldTooLong { field, .. } | Self::FieldEmpty { field } => Some(field),
            Self::InvalidMeetingLink => Some("meeting_link"),
            Self::InvalidProvider | Self::ProviderMismatch { .. } => Some("provider"),
            Self::ReminderOffsetOutOfRange { .. } => Some("offset_minutes"),
            Self::NotBooked
            | Self::AlreadyBooked
            | Self::InvalidTransition { .. }
            | Self::NotReschedulable(_)
            | Self::NotesOfCancelled
            | Self::BuiltinCalendar
            | Self::NotStartedYet { .. } => None,
        }
    }
}
