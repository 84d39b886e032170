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
    },
    /// The appointment moved; the reminders sent before no longer count.
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
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
