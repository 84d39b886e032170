//! Everything that can happen to an appointment, in the past tense. Persisted: never rename a
//! variant or its `event_type`; add a new version instead.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::values::{LeadId, Timezone, WorkflowId};

use super::CalendarRef;

/// An event of the Appointment aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AppointmentEvent {
    /// The appointment was booked and is confirmed.
    AppointmentBooked {
        /// The lead who is meeting.
        lead_id: LeadId,
        /// The workflow the booking came through.
        workflow_id: WorkflowId,
        /// When it starts.
        start: DateTime<Utc>,
        /// When it ends.
        end: DateTime<Utc>,
        /// The time zone it is shown in.
        timezone: Timezone,
        /// The calendar it is in.
        calendar: CalendarRef,
        /// Where, if in person.
        location: Option<String>,
        /// The video-call link, if any.
        meeting_link: Option<String>,
        /// Free notes, possibly empty.
        notes: String,
        /// The reminders to send, in minutes before the start, longest first (absent in events
        /// recorded before reminders existed: none).
        #[serde(default)]
        reminder_offsets_minutes: Vec<u32>,
    },
    /// The appointment moved; the reminders sent or passed over before no longer count.
    AppointmentRescheduled {
        /// The start before.
        from_start: DateTime<Utc>,
        /// The end before.
        from_end: DateTime<Utc>,
        /// The new start.
        start: DateTime<Utc>,
        /// The new end.
        end: DateTime<Utc>,
    },
    /// The appointment was called off.
    AppointmentCancelled {
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The meeting took place.
    AppointmentCompleted {
        /// When it was marked.
        at: DateTime<Utc>,
    },
    /// The lead did not come.
    AppointmentNoShow {
        /// When it was marked.
        at: DateTime<Utc>,
    },
    /// The notes were replaced.
    AppointmentNotesEdited {
        /// The new notes (the whole text).
        notes: String,
    },
    /// The calendar provider holds an event for this appointment.
    AppointmentExternalEventRecorded {
        /// The provider, e.g. `google`.
        provider: String,
        /// The provider's event id.
        event_id: String,
    },
    /// A reminder went out.
    AppointmentReminderSent {
        /// How long before the start it was due, in minutes.
        offset_minutes: u32,
        /// When it was sent.
        at: DateTime<Utc>,
    },
    /// A reminder could not go out and was passed over.
    AppointmentReminderSkipped {
        /// How long before the start it was due, in minutes.
        offset_minutes: u32,
        /// Why (e.g. `opted_out`, `started`).
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The external calendar shows the appointment as of version `through_version`.
    AppointmentCalendarSynced {
        /// The appointment's version the calendar reflects.
        through_version: i64,
        /// The provider's event id, when it was created by this sync.
        event_id: Option<String>,
        /// The video-call link the provider made, if any.
        meeting_link: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Writing the appointment to its external calendar failed.
    AppointmentCalendarSyncFailed {
        /// The appointment's version the sync tried to show (a later change is synced anew).
        for_version: i64,
        /// What went wrong.
        error: String,
        /// Failed attempts since the last change or success, this one included.
        attempt: u32,
        /// When it is tried again; `None`: given up.
        retry_at: Option<DateTime<Utc>>,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for AppointmentEvent {
    fn event_type(&self) -> String {
        match self {
            Self::AppointmentBooked { .. } => "AppointmentBooked",
            Self::AppointmentRescheduled { .. } => "AppointmentRescheduled",
            Self::AppointmentCancelled { .. } => "AppointmentCancelled",
            Self::AppointmentCompleted { .. } => "AppointmentCompleted",
            Self::AppointmentNoShow { .. } => "AppointmentNoShow",
            Self::AppointmentNotesEdited { .. } => "AppointmentNotesEdited",
            Self::AppointmentExternalEventRecorded { .. } => "AppointmentExternalEventRecorded",
            Self::AppointmentReminderSent { .. } => "AppointmentReminderSent",
            Self::AppointmentReminderSkipped { .. } => "AppointmentReminderSkipped",
            Self::AppointmentCalendarSynced { .. } => "AppointmentCalendarSynced",
            Self::AppointmentCalendarSyncFailed { .. } => "AppointmentCalendarSyncFailed",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
