//! How a workflow's appointments are booked and reminded: the reminders sent before an
//! appointment, the free time kept around it, and how much notice a booking needs. They are plain
//! minutes on [`WorkflowDefinition`], read with their defaults from definitions stored before they
//! existed; the rules here are part of [`WorkflowDefinition::check`].
//!
//! Reminders are kept longest first, so a client listing them in another order changes nothing.
//! A booking copies the list onto its appointment: editing the workflow later does not move the
//! reminders of appointments already booked.

use super::{WorkflowDefinition, WorkflowError};

impl WorkflowDefinition {
    /// The reminders unless the workflow says otherwise: a day and an hour before the start.
    pub const DEFAULT_REMINDER_OFFSETS_MINUTES: [u32; 2] = [1440, 60];
    /// Most reminders before one appointment.
    pub const MAX_REMINDERS: usize = 5;
    /// Shortest reminder offset, in minutes before the start.
    pub const MIN_REMINDER_OFFSET_MINUTES: u32 = 5;
    /// Longest reminder offset (a week), in minutes before the start.
    pub const MAX_REMINDER_OFFSET_MINUTES: u32 = 7 * 24 * 60;
    /// Most free time kept before and after an appointment, in minutes.
    pub const MAX_APPOINTMENT_BUFFER_MINUTES: u32 = 240;
    /// The minimum notice unless the workflow says otherwise, in minutes.
    pub const DEFAULT_BOOKING_NOTICE_MINUTES: u32 = 60;
    /// Longest minimum notice (a week), in minutes.
    pub const MAX_BOOKING_NOTICE_MINUTES: u32 = 7 * 24 * 60;

    /// This definition with its reminders longest first (the order they are stored in).
    #[must_use]
    pub fn with_sorted_reminders(mut self) -> Self {
        self.reminder_offsets_minutes
            .sort_unstable_by(|a, b| b.cmp(a));
        self
    }

    /// Checks the booking settings: at most five reminders, each 5 minutes to a week before the
    /// start and none twice; a buffer of at most 4 hours; a notice of at most a week.
    pub(super) fn check_booking(&self) -> Result<(), WorkflowError> {
        let offsets = &self.reminder_offsets_minutes;
        if offsets.len() > Self::MAX_REMINDERS {
            return Err(WorkflowError::TooManyReminders {
                count: offsets.len(),
                max: Self::MAX_REMINDERS,
            });
        }
        let range = Self::MIN_REMINDER_OFFSET_MINUTES..=Self::MAX_REMINDER_OFFSET_MINUTES;
        for (i, offset) in offsets.iter().enumerate() {
            if !range.contains(offset) {
                return Err(WorkflowError::ReminderOffsetOutOfRange {
                    offset: *offset,
                    min: *range.start(),
                    max: *range.end(),
                });
            }
            if offsets.iter().take(i).any(|earlier| earlier == offset) {
                return Err(WorkflowError::DuplicateReminderOffset(*offset));
            }
        }
        at_most(
            "appointment_buffer_minutes",
            self.appointment_buffer_minutes,
            Self::MAX_APPOINTMENT_BUFFER_MINUTES,
        )?;
        at_most(
            "booking_notice_minutes",
            self.booking_notice_minutes,
            Self::MAX_BOOKING_NOTICE_MINUTES,
        )
    }
}

/// Refuses `minutes` above `max`.
fn at_most(field: &'static str, minutes: u32, max: u32) -> Result<(), WorkflowError> {
    if minutes > max {
        Err(WorkflowError::MinutesTooLarge { field, max })
    } else {
        Ok(())
    }
}

/// The reminders of a definition stored before reminders were configurable.
pub(super) fn default_reminder_offsets() -> Vec<u32> {
    WorkflowDefinition::DEFAULT_REMINDER_OFFSETS_MINUTES.to_vec()
}

/// The notice of a definition stored before the notice was configurable.
pub(super) const fn default_booking_notice() -> u32 {
    WorkflowDefinition::DEFAULT_BOOKING_NOTICE_MINUTES
}
