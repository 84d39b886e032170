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
        /// The reminders to send, in minutes before the start (the workflow's, fixed now), each
        /// at most 30 days; kept longest first, once each.
        reminder_offsets_minutes: Vec<u32>,
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
    /// A reminder due `offset_minutes` before the start could not go out and was passed over
    /// (no event if it was already sent or passed over since the last reschedule).
    RecordReminderSkipped {
        /// How long before the start the reminder is due, in minutes.
        offset_minutes: u32,
        /// Why, 1 to 1000 characters (e.g. `opted_out`, `started`).
        reason: String,
        /// When it was passed over.
        at: DateTime<Utc>,
    },
    /// The external calendar now shows the appointment as of its version `through_version` (the
    /// event written, moved or removed), with the provider's event id and video link when it
    /// gave them. Only for an external calendar; no event if that version is already synced.
    RecordCalendarSync {
        /// The appointment's version the calendar reflects.
        through_version: i64,
        /// The provider's event id, when it was created now.
        event_id: Option<String>,
        /// The video-call link the provider made, if any.
        meeting_link: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Writing the appointment to its external calendar failed; `retry_at: None` gives up.
    RecordCalendarSyncFailed {
        /// The appointment's version the sync tried to show.
        for_version: i64,
        /// What went wrong (kept to 1000 characters).
        error: String,
        /// When to try again.
        retry_at: Option<DateTime<Utc>>,
        /// When.
        at: DateTime<Utc>,
    },
}
