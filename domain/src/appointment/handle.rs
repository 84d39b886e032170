//! How the Appointment aggregate decides: a pure function from state and command to the events
//! to record, or the rule that refuses it. The state is checked before the inputs, so a
//! duplicated command is answered by "nothing to do" rather than by a refusal; commands that
//! would change nothing yield no event.

use chrono::{DateTime, Duration, Utc};

use crate::values::{LeadId, Timezone, WorkflowId};

use super::{
    Appointment, AppointmentCommand, AppointmentError, AppointmentEvent, AppointmentStatus,
    CalendarRef, ExternalEvent, MAX_EVENT_ID_LEN, MAX_LENGTH_HOURS, MAX_LOCATION_LEN,
    MAX_MEETING_LINK_LEN, MAX_NOTES_LEN, MAX_PROVIDER_LEN, MAX_REASON_LEN,
    MAX_REMINDER_OFFSET_MINUTES,
};

impl Appointment {
    /// The events `command` produces from the current state.
    pub(super) fn decide(
        &self,
        command: AppointmentCommand,
    ) -> Result<Vec<AppointmentEvent>, AppointmentError> {
        match command {
            AppointmentCommand::Book { .. } if self.booked => Err(AppointmentError::AlreadyBooked),
            AppointmentCommand::Book {
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
                now,
            } => book(Booking {
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
                now,
            }),
            _ if !self.booked => Err(AppointmentError::NotBooked),
            AppointmentCommand::Reschedule { start, end, now } => self.reschedule(start, end, now),
            AppointmentCommand::Cancel { reason, at } => self.cancel(&reason, at),
            AppointmentCommand::Complete { at } => self.conclude(AppointmentStatus::Completed, at),
            AppointmentCommand::MarkNoShow { at } => self.conclude(AppointmentStatus::NoShow, at),
            AppointmentCommand::EditNotes { notes } => self.edit_notes(&notes),
            AppointmentCommand::RecordExternalEvent { provider, event_id } => {
                self.record_external_event(&provider, &event_id)
            }
            AppointmentCommand::RecordReminderSent { offset_minutes, at } => {
                check_offset(offset_minutes)?;
                Ok(if self.reminders_sent.contains(&offset_minutes) {
                    vec![]
                } else {
                    vec![AppointmentEvent::AppointmentReminderSent { offset_minutes, at }]
                })
            }
            AppointmentCommand::RecordReminderSkipped {
                offset_minutes,
                reason,
                at,
            } => self.skip_reminder(offset_minutes, &reason, at),
            AppointmentCommand::RecordCalendarSync {
                through_version,
                event_id,
                meeting_link,
                at,
            } => self.record_sync(through_version, event_id, meeting_link, at),
            AppointmentCommand::RecordCalendarSyncFailed {
                for_version,
                error,
                retry_at,
                at,
            } => self.record_sync_failure(for_version, &error, retry_at, at),
        }
    }

    /// Records that the external calendar shows version `through_version`.
    fn record_sync(
        &self,
        through_version: i64,
        event_id: Option<String>,
        meeting_link: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Vec<AppointmentEvent>, AppointmentError> {
        if self.calendar.is_builtin() {
            return Err(AppointmentError::BuiltinCalendar);
        }
        let event_id = blank_to_none(event_id.as_deref());
        if let Some(event_id) = event_id.as_deref() {
            check_length("event_id", event_id, MAX_EVENT_ID_LEN)?;
        }
        let meeting_link = blank_to_none(meeting_link.as_deref());
        if let Some(link) = meeting_link.as_deref() {
            check_meeting_link(link)?;
        }
        if through_version <= self.synced_version {
            return Ok(vec![]);
        }
        Ok(vec![AppointmentEvent::AppointmentCalendarSynced {
            through_version,
            event_id,
            meeting_link,
            at,
        }])
    }

    /// Records a failed calendar sync; the error is kept to [`MAX_REASON_LEN`] characters.
    fn record_sync_failure(
        &self,
        for_version: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> Result<Vec<AppointmentEvent>, AppointmentError> {
        if self.calendar.is_builtin() {
            return Err(AppointmentError::BuiltinCalendar);
        }
        let error: String = error.trim().chars().take(MAX_REASON_LEN).collect();
        if error.is_empty() {
            return Err(AppointmentError::FieldEmpty { field: "error" });
        }
        Ok(vec![AppointmentEvent::AppointmentCalendarSyncFailed {
            for_version,
            error,
            attempt: self.sync_attempts.saturating_add(1),
            retry_at,
            at,
        }])
    }

    /// Records a reminder passed over, unless it already went out or was passed over.
    fn skip_reminder(
        &self,
        offset_minutes: u32,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<AppointmentEvent>, AppointmentError> {
        check_offset(offset_minutes)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AppointmentError::ReasonRequired);
        }
        check_length("reason", reason, MAX_REASON_LEN)?;
        if self.reminders_sent.contains(&offset_minutes)
            || self.reminders_skipped.contains(&offset_minutes)
        {
            return Ok(vec![]);
        }
        Ok(vec![AppointmentEvent::AppointmentReminderSkipped {
            offset_minutes,
            reason: reason.to_owned(),
            at,
        }])
    }

    /// Moves a confirmed appointment, keeping its length unless a new end is given.
    fn reschedule(
        &self,
        start: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<AppointmentEvent>, AppointmentError> {
        if self.status != AppointmentStatus::Confirmed {
            return Err(AppointmentError::NotReschedulable(self.status));
        }
        // Keeping the length past the last representable instant leaves no end after the start.
        let end = match end {
            Some(end) => end,
            None => start
                .checked_add_signed(self.length())
                .ok_or(AppointmentError::EndNotAfterStart)?,
        };
        if start == self.start && end == self.end {
            return Ok(vec![]);
        }
        check_times(start, end, now)?;
        Ok(vec![AppointmentEvent::AppointmentRescheduled {
            from_start: self.start,
            from_end: self.end,
            start,
            end,
        }])
    }

    /// Calls a confirmed appointment off; nothing to do if it already is.
    fn cancel(
        &self,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<AppointmentEvent>, AppointmentError> {
        let to = AppointmentStatus::Cancelled;
        if self.status == to {
            return Ok(vec![]);
        }
        if !self.status.can_move_to(to) {
            return Err(AppointmentError::InvalidTransition {
                from: self.status,
                to,
            });
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AppointmentError::ReasonRequired);
        }
        check_length("reason", reason, MAX_REASON_LEN)?;
        Ok(vec![AppointmentEvent::AppointmentCancelled {
            reason: reason.to_owned(),
            at,
        }])
    }

    /// Records the outcome (`completed` or `no_show`) once the start has passed.
    fn conclude(
        &self,
        to: AppointmentStatus,
        at: DateTime<Utc>,
    ) -> Result<Vec<AppointmentEvent>, AppointmentError> {
        if self.status == to {
            return Ok(vec![]);
        }
        if !self.status.can_move_to(to) {
            return Err(AppointmentError::InvalidTransition {
                from: self.status,
                to,
            });
        }
        if at < self.start {
            return Err(AppointmentError::NotStartedYet {
                start: self.start,
                to,
            });
        }
        Ok(vec![if to == AppointmentStatus::NoShow {
            AppointmentEvent::AppointmentNoShow { at }
        } else {
            AppointmentEvent::AppointmentCompleted { at }
        }])
    }

    /// Replaces the notes, in any status but `cancelled`.
    fn edit_notes(&self, notes: &str) -> Result<Vec<AppointmentEvent>, AppointmentError> {
        if !self.status.allows_note_edits() {
            return Err(AppointmentError::NotesOfCancelled);
        }
        let notes = clean_notes(notes)?;
        Ok(if notes == self.notes {
            vec![]
        } else {
            vec![AppointmentEvent::AppointmentNotesEdited { notes }]
        })
    }

    /// Remembers the provider's event, which must come from the appointment's calendar.
    fn record_external_event(
        &self,
        provider: &str,
        event_id: &str,
    ) -> Result<Vec<AppointmentEvent>, AppointmentError> {
        let provider = provider.trim();
        let valid_provider = (1..=MAX_PROVIDER_LEN).contains(&provider.len())
            && provider
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid_provider {
            return Err(AppointmentError::InvalidProvider);
        }
        if self.calendar.is_builtin() {
            return Err(AppointmentError::BuiltinCalendar);
        }
        if provider != self.calendar.provider() {
            return Err(AppointmentError::ProviderMismatch {
                calendar_provider: self.calendar.provider().to_owned(),
                provider: provider.to_owned(),
            });
        }
        let event_id = event_id.trim();
        if event_id.is_empty() {
            return Err(AppointmentError::FieldEmpty { field: "event_id" });
        }
        check_length("event_id", event_id, MAX_EVENT_ID_LEN)?;
        let recorded = ExternalEvent {
            provider: provider.to_owned(),
            event_id: event_id.to_owned(),
        };
        Ok(if self.external_event.as_ref() == Some(&recorded) {
            vec![]
        } else {
            vec![AppointmentEvent::AppointmentExternalEventRecorded {
                provider: recorded.provider,
                event_id: recorded.event_id,
            }]
        })
    }
}

/// The inputs of `Book`, gathered so that `book` reads as one check after another.
struct Booking {
    lead_id: LeadId,
    workflow_id: WorkflowId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    timezone: Timezone,
    calendar: CalendarRef,
    location: Option<String>,
    meeting_link: Option<String>,
    notes: String,
    reminder_offsets_minutes: Vec<u32>,
    now: DateTime<Utc>,
}

/// Checks a booking and records it as confirmed, its reminders longest first and once each.
fn book(booking: Booking) -> Result<Vec<AppointmentEvent>, AppointmentError> {
    check_times(booking.start, booking.end, booking.now)?;
    let location = blank_to_none(booking.location.as_deref());
    if let Some(location) = location.as_deref() {
        check_length("location", location, MAX_LOCATION_LEN)?;
    }
    let meeting_link = blank_to_none(booking.meeting_link.as_deref());
    if let Some(link) = meeting_link.as_deref() {
        check_meeting_link(link)?;
    }
    let notes = clean_notes(&booking.notes)?;
    let mut reminder_offsets_minutes = booking.reminder_offsets_minutes;
    for offset in &reminder_offsets_minutes {
        check_offset(*offset)?;
    }
    reminder_offsets_minutes.sort_unstable_by(|a, b| b.cmp(a));
    reminder_offsets_minutes.dedup();
    Ok(vec![AppointmentEvent::AppointmentBooked {
        lead_id: booking.lead_id,
        workflow_id: booking.workflow_id,
        start: booking.start,
        end: booking.end,
        timezone: booking.timezone,
        calendar: booking.calendar,
        location,
        meeting_link,
        notes,
        reminder_offsets_minutes,
    }])
}

/// A reminder at most 30 days before the start.
const fn check_offset(offset_minutes: u32) -> Result<(), AppointmentError> {
    if offset_minutes > MAX_REMINDER_OFFSET_MINUTES {
        return Err(AppointmentError::ReminderOffsetOutOfRange {
            max: MAX_REMINDER_OFFSET_MINUTES,
        });
    }
    Ok(())
}

/// Not in the past, ending after it starts, at most a day long.
fn check_times(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), AppointmentError> {
    if start < now {
        return Err(AppointmentError::StartInPast { start, now });
    }
    if end <= start {
        return Err(AppointmentError::EndNotAfterStart);
    }
    if end - start > Duration::hours(MAX_LENGTH_HOURS) {
        return Err(AppointmentError::TooLong {
            max_hours: MAX_LENGTH_HOURS,
        });
    }
    Ok(())
}

/// An `http://` or `https://` address with a host, no whitespace and at most 2000 characters.
fn check_meeting_link(link: &str) -> Result<(), AppointmentError> {
    check_length("meeting_link", link, MAX_MEETING_LINK_LEN)?;
    let lower = link.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let has_host = rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if !has_host || link.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AppointmentError::InvalidMeetingLink);
    }
    Ok(())
}

/// Trimmed notes of at most 5000 characters.
fn clean_notes(notes: &str) -> Result<String, AppointmentError> {
    let notes = notes.trim();
    check_length("notes", notes, MAX_NOTES_LEN)?;
    Ok(notes.to_owned())
}

/// The trimmed text, or `None` when absent or blank.
fn blank_to_none(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// Refuses `text` when it has more than `max` characters.
fn check_length(field: &'static str, text: &str, max: usize) -> Result<(), AppointmentError> {
    if text.chars().count() > max {
        return Err(AppointmentError::FieldTooLong { field, max });
    }
    Ok(())
}
