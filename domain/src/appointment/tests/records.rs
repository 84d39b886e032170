//! Given/when/then tests of notes, the calendar provider's event and sent reminders.

use super::*;

use AppointmentStatus::{Cancelled, Completed, Confirmed, NoShow};

fn edit_notes(notes: &str) -> AppointmentCommand {
    AppointmentCommand::EditNotes {
        notes: notes.into(),
    }
}

fn record_event(provider: &str, event_id: &str) -> AppointmentCommand {
    AppointmentCommand::RecordExternalEvent {
        provider: provider.into(),
        event_id: event_id.into(),
    }
}

fn event_recorded(event_id: &str) -> AppointmentEvent {
    AppointmentEvent::AppointmentExternalEventRecorded {
        provider: "google".into(),
        event_id: event_id.into(),
    }
}

fn reminder(offset_minutes: u32) -> AppointmentCommand {
    AppointmentCommand::RecordReminderSent {
        offset_minutes,
        at: now(),
    }
}

fn reminder_sent(offset_minutes: u32) -> AppointmentEvent {
    AppointmentEvent::AppointmentReminderSent {
        offset_minutes,
        at: now(),
    }
}

#[test]
fn notes_can_be_edited_while_confirmed_and_after_the_meeting() {
    for status in [Confirmed, Completed, NoShow] {
        appointment()
            .given(in_status(status))
            .when(edit_notes(" Bring ID\nand the forms "))
            .then_expect_events(vec![AppointmentEvent::AppointmentNotesEdited {
                notes: "Bring ID\nand the forms".into(),
            }]);
    }
}

#[test]
fn notes_can_be_cleared() {
    appointment()
        .given(vec![booked()])
        .when(edit_notes(""))
        .then_expect_events(vec![AppointmentEvent::AppointmentNotesEdited {
            notes: String::new(),
        }]);
}

#[test]
fn unchanged_notes_record_nothing() {
    appointment()
        .given(vec![booked()])
        .when(edit_notes("First visit  "))
        .then_expect_events(vec![]);
}

#[test]
fn the_notes_of_a_cancelled_appointment_are_closed() {
    appointment()
        .given(in_status(Cancelled))
        .when(edit_notes("too late"))
        .then_expect_error(AppointmentError::NotesOfCancelled);
}

#[test]
fn notes_longer_than_5000_characters_are_refused() {
    appointment()
        .given(vec![booked()])
        .when(edit_notes(&"é".repeat(5001)))
        .then_expect_error(AppointmentError::FieldTooLong {
            field: "notes",
            max: 5000,
        });
}

#[test]
fn the_provider_event_is_recorded_once_and_replaced_by_another() {
    appointment()
        .given(vec![booked()])
        .when(record_event(" google ", " evt_1 "))
        .then_expect_events(vec![event_recorded("evt_1")]);
    appointment()
        .given(vec![booked(), event_recorded("evt_1")])
        .when(record_event("google", "evt_1"))
        .then_expect_events(vec![]);
    appointment()
        .given(vec![booked(), event_recorded("evt_1")])
        .when(record_event("google", "evt_2"))
        .then_expect_events(vec![event_recorded("evt_2")]);
}

#[test]
fn the_provider_event_is_recorded_in_any_status() {
    for status in [Cancelled, Completed, NoShow] {
        appointment()
            .given(in_status(status))
            .when(record_event("google", "evt_1"))
            .then_expect_events(vec![event_recorded("evt_1")]);
    }
}

#[test]
fn the_provider_must_be_a_slug_and_the_calendars_own() {
    for provider in ["", "Google", "goo gle", &"g".repeat(51)] {
        appointment()
            .given(vec![booked()])
            .when(record_event(provider, "evt_1"))
            .then_expect_error(AppointmentError::InvalidProvider);
    }
    appointment()
        .given(vec![booked()])
        .when(record_event("outlook", "evt_1"))
        .then_expect_error(AppointmentError::ProviderMismatch {
            calendar_provider: "google".into(),
            provider: "outlook".into(),
        });
    appointment()
        .given(vec![booked_in(CalendarRef::builtin())])
        .when(record_event("builtin", "evt_1"))
        .then_expect_error(AppointmentError::BuiltinCalendar);
}

#[test]
fn the_provider_event_id_is_required_and_bounded() {
    appointment()
        .given(vec![booked()])
        .when(record_event("google", "  "))
        .then_expect_error(AppointmentError::FieldEmpty { field: "event_id" });
    appointment()
        .given(vec![booked()])
        .when(record_event("google", &"e".repeat(1025)))
        .then_expect_error(AppointmentError::FieldTooLong {
            field: "event_id",
            max: 1024,
        });
}

#[test]
fn a_reminder_is_recorded_once_per_offset() {
    appointment()
        .given(vec![booked()])
        .when(reminder(1440))
        .then_expect_events(vec![reminder_sent(1440)]);
    appointment()
        .given(vec![booked(), reminder_sent(1440)])
        .when(reminder(1440))
        .then_expect_events(vec![]);
    appointment()
        .given(vec![booked(), reminder_sent(1440)])
        .when(reminder(60))
        .then_expect_events(vec![reminder_sent(60)]);
}

#[test]
fn a_reschedule_lets_the_same_reminder_go_out_again() {
    let later = start() + Duration::days(1);
    appointment()
        .given(vec![
            booked(),
            reminder_sent(1440),
            AppointmentEvent::AppointmentRescheduled {
                from_start: start(),
                from_end: end(),
                start: later,
                end: later + minutes(30),
            },
        ])
        .when(reminder(1440))
        .then_expect_events(vec![reminder_sent(1440)]);
}

#[test]
fn a_reminder_that_went_out_is_recorded_even_after_a_cancel() {
    appointment()
        .given(in_status(Cancelled))
        .when(reminder(60))
        .then_expect_events(vec![reminder_sent(60)]);
}

#[test]
fn a_reminder_offset_is_at_most_30_days() {
    let max = MAX_REMINDER_OFFSET_MINUTES;
    assert_eq!(max, 43_200);
    appointment()
        .given(vec![booked()])
        .when(reminder(max + 1))
        .then_expect_error(AppointmentError::ReminderOffsetOutOfRange { max });
    appointment()
        .given(vec![booked()])
        .when(reminder(max))
        .then_expect_events(vec![reminder_sent(max)]);
    appointment()
        .given(vec![booked()])
        .when(reminder(0))
        .then_expect_events(vec![reminder_sent(0)]);
}
