//! What can be asked of an appointment, in the imperative. Ids, the time zone and the calendar
//! are already parsed value objects; free texts (location, meeting link, notes, reasons) are
//! checked by the aggregate, which names the field it refuses. Commands that depend on the time
//! carry it (`now`, `at`), read from the caller's clock, so the aggregate stays pure.

use chrono::{DateTime, Utc};

use crate::values::{LeadId, Timezone, WorkflowId};

use super::CalendarRef;

/// A command for the Appointment aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum AppointmentCommand {
    /// Book the appointment: it starts `confirmed`. Refused if already booked, if `start` is
    /// before `now`, if `end` is not after `start`, or if it lasts more than 24 hours.
    Book {
        /// The lead who is meeting.
        lead_id: LeadId,
        /// The workflow the booking came through.
        workflow_id: WorkflowId,
        /// When it starts.
        start: DateTime<Utc>,
        /// When it ends (after `start`).
        end: DateTime<Utc>,
        /// The time zone the appointment is shown in (the business's or the lead's).
        timezone: Timezone,
        /// The calendar it is booked in.
        calendar: CalendarRef,
        /// Where, if in person (blank means none).
        location: Option<String>,
        /// A video-call link, `http(s)://…` (blank means none).
        meeting_link: Option<String>,
        /// Free notes, possibly empty.
        notes: String,
        /// The time of the request.
        now: DateTime<Utc>,
    },
    /// Move a confirmed appointment. Without `end` it keeps its length. No event if nothing
    /// moves.
    Reschedule {
        /// The new start (not before `now`).
        start: DateTime<Utc>,
        /// The new end; `None` keeps the current length.
        end: Option<DateTime<Utc>>,
        /// The time of the request.
        now: DateTime<Utc>,
    },
    /// Call a confirmed appointment off (no event if already cancelled).
    Cancel {
        /// Why, 1 to 1000 characters.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The meeting took place; only once it has started (no event if already completed).
    Complete {
        /// When it was marked.
        at: DateTime<Utc>,
    },
    /// The lead did not come; only once it has started (no event if already a no-show).
    MarkNoShow {
        /// When it was marked.
        at: DateTime<Utc>,
    },
    /// Replace the notes (no event if unchanged). Refused once cancelled.
    EditNotes {
        /// The new notes, possibly empty.
        notes: String,
    },
    /// The calendar provider created an event for this appointment (no event if the same one
    /// is already recorded). The provider must be the calendar's.
    RecordExternalEvent {
        /// The provider, e.g. `google`.
        provider: String,
        /// The provider's event id.
        event_id: String,
    },
    /// A reminder went out `offset_minutes` before the start (no event if that reminder was
    /// already recorded since the last reschedule).
    RecordReminderSent {
        /// How long before the start the reminder is due, in minutes.
        offset_minutes: u32,
        /// When it was sent.
        at: DateTime<Utc>,
    },
}
