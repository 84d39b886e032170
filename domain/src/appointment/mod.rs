//! The Appointment aggregate: one meeting between a lead and the business, booked in one
//! calendar. It guards what must hold whatever the channel or calendar provider: an appointment
//! is never booked or moved into the past, it ends after it starts and lasts at most a day, its
//! status only moves along the lifecycle (see [`AppointmentStatus`] for the table), and an
//! outcome (completed, no-show) is only recorded once the start has passed.
//!
//! Duplicated commands change nothing (cancelling twice, completing twice, recording the same
//! reminder or external event again), so retried requests, timers and webhooks are harmless.
//!
//! The reminders to send are fixed at booking (the workflow's offsets then); which of them is
//! still to go, and which is due, is in `reminders.rs`.
//!
//! What the aggregate does not decide: whether the slot is free (no double booking needs every
//! appointment of the calendar, so it is a reservation kept beside the events), and what happens
//! to the lead (the booking use case moves it to `booked`). Those belong to the use cases that
//! run this aggregate's commands.
//!
//! Deciding lives in `handle.rs`; this file holds the state and how events change it.

mod calendar;
mod commands;
mod errors;
mod events;
mod handle;
mod reminders;
mod status;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::values::{LeadId, Timezone, WorkflowId};

pub use calendar::{CalendarRef, MAX_CALENDAR_LEN};
pub use commands::AppointmentCommand;
pub use errors::AppointmentError;
pub use events::AppointmentEvent;
pub use status::{AppointmentStatus, UnknownAppointmentStatus};

/// Longest appointment, in hours.
pub const MAX_LENGTH_HOURS: i64 = 24;
/// Longest location, in characters.
pub const MAX_LOCATION_LEN: usize = 500;
/// Longest meeting link, in characters.
pub const MAX_MEETING_LINK_LEN: usize = 2000;
/// Longest notes, in characters.
pub const MAX_NOTES_LEN: usize = 5000;
/// Longest cancel reason, in characters.
pub const MAX_REASON_LEN: usize = 1000;
/// Longest external provider name, in characters.
pub const MAX_PROVIDER_LEN: usize = 50;
/// Longest external event id, in characters.
pub const MAX_EVENT_ID_LEN: usize = 1024;
/// Largest reminder offset: 30 days before the start, in minutes.
pub const MAX_REMINDER_OFFSET_MINUTES: u32 = 30 * 24 * 60;

/// The event an external calendar provider holds for an appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalEvent {
    /// The provider, e.g. `google`.
    pub provider: String,
    /// The provider's event id.
    pub event_id: String,
}

/// The state of an appointment, rebuilt from its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Appointment {
    /// Whether `AppointmentBooked` happened; every other field is meaningless before.
    booked: bool,
    /// The lead who is meeting.
    lead_id: LeadId,
    /// The workflow the booking came through.
    workflow_id: WorkflowId,
    /// When it starts.
    start: DateTime<Utc>,
    /// When it ends (after `start`).
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
    /// Lifecycle status.
    status: AppointmentStatus,
    /// Why it was cancelled, once cancelled.
    cancel_reason: Option<String>,
    /// The provider's event, once recorded.
    external_event: Option<ExternalEvent>,
    /// Offsets (minutes before the start) of the reminders sent since the last (re)schedule.
    reminders_sent: BTreeSet<u32>,
    /// The reminders to send, in minutes before the start, longest first (fixed at booking).
    #[serde(default)]
    reminder_offsets: Vec<u32>,
    /// Offsets of the reminders passed over since the last (re)schedule.
    #[serde(default)]
    reminders_skipped: BTreeSet<u32>,
    /// The last version the external calendar was synced to (0: never).
    #[serde(default)]
    synced_version: i64,
    /// Failed calendar syncs since the last change or success.
    #[serde(default)]
    sync_attempts: u32,
    /// Events applied: the aggregate's version.
    #[serde(default)]
    version: i64,
    /// The version of the last change an external calendar must show (booking, reschedule,
    /// cancel).
    #[serde(default)]
    changed_version: i64,
}

impl Default for Appointment {
    fn default() -> Self {
        Self {
            booked: false,
            lead_id: LeadId::from_uuid(uuid::Uuid::nil()),
            workflow_id: WorkflowId::from_uuid(uuid::Uuid::nil()),
            start: DateTime::<Utc>::UNIX_EPOCH,
            end: DateTime::<Utc>::UNIX_EPOCH,
            timezone: Timezone::default(),
            calendar: CalendarRef::default(),
            location: None,
            meeting_link: None,
            notes: String::new(),
            status: AppointmentStatus::default(),
            cancel_reason: None,
            external_event: None,
            reminders_sent: BTreeSet::new(),
            reminder_offsets: Vec::new(),
            reminders_skipped: BTreeSet::new(),
            synced_version: 0,
            sync_attempts: 0,
            version: 0,
            changed_version: 0,
        }
    }
}

impl Appointment {
    /// Whether the appointment exists (was booked).
    #[must_use]
    pub const fn is_booked(&self) -> bool {
        self.booked
    }

    /// The lead who is meeting (the nil id before booking).
    #[must_use]
    pub const fn lead_id(&self) -> LeadId {
        self.lead_id
    }

    /// The workflow the booking came through (the nil id before booking).
    #[must_use]
    pub const fn workflow_id(&self) -> WorkflowId {
        self.workflow_id
    }

    /// When it starts.
    #[must_use]
    pub const fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// When it ends.
    #[must_use]
    pub const fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// How long it lasts.
    #[must_use]
    pub fn length(&self) -> Duration {
        self.end - self.start
    }

    /// The time zone it is shown in.
    #[must_use]
    pub const fn timezone(&self) -> Timezone {
        self.timezone
    }

    /// The calendar it is in.
    #[must_use]
    pub const fn calendar(&self) -> &CalendarRef {
        &self.calendar
    }

    /// Where, if in person.
    #[must_use]
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// The video-call link, if any.
    #[must_use]
    pub fn meeting_link(&self) -> Option<&str> {
        self.meeting_link.as_deref()
    }

    /// Free notes, possibly empty.
    #[must_use]
    pub fn notes(&self) -> &str {
        &self.notes
    }

    /// The last version of the appointment its external calendar shows (0: never synced).
    #[must_use]
    pub const fn synced_version(&self) -> i64 {
        self.synced_version
    }

    /// Failed calendar syncs since the last change or success.
    #[must_use]
    pub const fn sync_attempts(&self) -> u32 {
        self.sync_attempts
    }

    /// The version of the last change an external calendar must show: the booking, the last
    /// reschedule, or the cancel.
    #[must_use]
    pub const fn changed_version(&self) -> i64 {
        self.changed_version
    }

    /// Lifecycle status.
    #[must_use]
    pub const fn status(&self) -> AppointmentStatus {
        self.status
    }

    /// Why it was cancelled, once cancelled.
    #[must_use]
    pub fn cancel_reason(&self) -> Option<&str> {
        self.cancel_reason.as_deref()
    }

    /// The provider's event, once recorded.
    #[must_use]
    pub const fn external_event(&self) -> Option<&ExternalEvent> {
        self.external_event.as_ref()
    }

    /// Offsets (minutes before the start) of the reminders sent since the last (re)schedule.
    #[must_use]
    pub const fn reminders_sent(&self) -> &BTreeSet<u32> {
        &self.reminders_sent
    }

    /// Whether the appointment holds its slot in the calendar (booked and confirmed).
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.booked && self.status.is_live()
    }
}

impl Aggregate for Appointment {
    const TYPE: &'static str = "appointment";
    type Command = AppointmentCommand;
    type Event = AppointmentEvent;
    type Error = AppointmentError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _service: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let version = self.version + 1;
        let changes_the_calendar = matches!(
            event,
            AppointmentEvent::AppointmentBooked { .. }
                | AppointmentEvent::AppointmentRescheduled { .. }
                | AppointmentEvent::AppointmentCancelled { .. }
        );
        self.apply_event(event);
        self.version = version;
        if changes_the_calendar {
            self.changed_version = version;
        }
    }
}

impl Appointment {
    fn apply_event(&mut self, event: AppointmentEvent) {
        match event {
            AppointmentEvent::AppointmentBooked {
                lead_id,
                workflow_id,
                start,
                end,
                timezone,
                calendar,
                location,
                meeting_link,
                notes,
                reminder_offsets_minutes,
            } => {
                *self = Self {
                    booked: true,
                    lead_id,
                    workflow_id,
                    start,
                    end,
                    timezone,
                    calendar,
                    location,
                    meeting_link,
                    notes,
                    status: AppointmentStatus::Confirmed,
                    cancel_reason: None,
                    external_event: None,
                    reminders_sent: BTreeSet::new(),
                    reminder_offsets: reminder_offsets_minutes,
                    reminders_skipped: BTreeSet::new(),
                    synced_version: 0,
                    sync_attempts: 0,
                    version: 0,
                    changed_version: 0,
                };
            }
            AppointmentEvent::AppointmentRescheduled { start, end, .. } => {
                self.start = start;
                self.end = end;
                self.sync_attempts = 0;
                self.reminders_sent.clear();
                self.reminders_skipped.clear();
            }
            AppointmentEvent::AppointmentCancelled { reason, .. } => {
                self.status = AppointmentStatus::Cancelled;
                self.cancel_reason = Some(reason);
                self.sync_attempts = 0;
            }
            AppointmentEvent::AppointmentCompleted { .. } => {
                self.status = AppointmentStatus::Completed;
            }
            AppointmentEvent::AppointmentNoShow { .. } => self.status = AppointmentStatus::NoShow,
            AppointmentEvent::AppointmentNotesEdited { notes } => self.notes = notes,
            AppointmentEvent::AppointmentExternalEventRecorded { provider, event_id } => {
                self.external_event = Some(ExternalEvent { provider, event_id });
            }
            AppointmentEvent::AppointmentCalendarSynced {
                through_version,
                event_id,
                meeting_link,
                ..
            } => {
                self.synced_version = self.synced_version.max(through_version);
                self.sync_attempts = 0;
                if let Some(event_id) = event_id {
                    self.external_event = Some(ExternalEvent {
                        provider: self.calendar.provider().to_owned(),
                        event_id,
                    });
                }
                if meeting_link.is_some() {
                    self.meeting_link = meeting_link;
                }
            }
            AppointmentEvent::AppointmentCalendarSyncFailed { attempt, .. } => {
                self.sync_attempts = attempt;
            }
            AppointmentEvent::AppointmentReminderSent { offset_minutes, .. } => {
                self.reminders_sent.insert(offset_minutes);
            }
            AppointmentEvent::AppointmentReminderSkipped { offset_minutes, .. } => {
                self.reminders_skipped.insert(offset_minutes);
            }
        }
    }
}
