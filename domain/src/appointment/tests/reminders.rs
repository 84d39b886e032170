//! Which reminders are left and which one is due; passing a reminder over.

use super::*;

fn sent(offset_minutes: u32) -> AppointmentEvent {
    AppointmentEvent::AppointmentReminderSent {
        offset_minutes,
        at: now(),
    }
}

fn skipped(offset_minutes: u32) -> AppointmentEvent {
    AppointmentEvent::AppointmentReminderSkipped {
        offset_minutes,
        reason: "opted_out".into(),
        at: now(),
    }
}

fn skip(offset_minutes: u32, reason: &str) -> AppointmentCommand {
    AppointmentCommand::RecordReminderSkipped {
        offset_minutes,
        reason: reason.into(),
        at: now(),
    }
}

/// The appointment after `events`.
fn state(events: Vec<AppointmentEvent>) -> Appointment {
    let mut state = Appointment::default();
    for event in events {
        state.apply(event);
    }
    state
}

fn moved() -> AppointmentEvent {
    AppointmentEvent::AppointmentRescheduled {
        from_start: start(),
        from_end: end(),
        start: start() + Duration::days(1),
        end: end() + Duration::days(1),
    }
}

#[test]
fn every_reminder_is_left_until_one_goes_then_only_the_shorter_ones() {
    assert_eq!(state(vec![booked()]).reminders_left(), [1440, 60]);
    assert_eq!(state(vec![booked(), sent(1440)]).reminders_left(), [60]);
    assert_eq!(
        state(vec![booked(), sent(60)]).reminders_left(),
        Vec::<u32>::new(),
        "once the hour's reminder went, the day's is moot"
    );
    assert_eq!(state(vec![booked(), skipped(1440)]).reminders_left(), [60]);
}

#[test]
fn a_reschedule_makes_every_reminder_left_again() {
    let after = state(vec![booked(), sent(1440), skipped(60), moved()]);
    assert_eq!(after.reminders_left(), [1440, 60]);
    assert!(after.reminders_skipped().is_empty());
}

#[test]
fn the_due_reminder_is_the_one_nearest_the_start_whose_time_has_come() {
    let fresh = state(vec![booked()]);
    let day_before = start() - Duration::hours(24);
    let hour_before = start() - Duration::hours(1);
    assert_eq!(fresh.due_reminder(day_before - Duration::seconds(1)), None);
    assert_eq!(fresh.due_reminder(day_before), Some(1440));
    assert_eq!(
        fresh.due_reminder(hour_before - Duration::seconds(1)),
        Some(1440)
    );
    assert_eq!(
        fresh.due_reminder(hour_before),
        Some(60),
        "both have come: only the later one is worth sending"
    );
    let day_sent = state(vec![booked(), sent(1440)]);
    assert_eq!(
        day_sent.due_reminder(hour_before - Duration::seconds(1)),
        None
    );
    assert_eq!(day_sent.due_reminder(hour_before), Some(60));
    assert_eq!(state(vec![booked(), sent(60)]).due_reminder(start()), None);
}

#[test]
fn a_reminder_is_passed_over_once_with_its_reason() {
    appointment()
        .given(vec![booked()])
        .when(skip(1440, " opted_out "))
        .then_expect_events(vec![skipped(1440)]);
    appointment()
        .given(vec![booked(), skipped(1440)])
        .when(skip(1440, "opted_out"))
        .then_expect_events(vec![]);
    appointment()
        .given(vec![booked(), sent(1440)])
        .when(skip(1440, "started"))
        .then_expect_events(vec![]);
}

#[test]
fn passing_a_reminder_over_needs_a_reason_and_a_sane_offset() {
    appointment()
        .given(vec![booked()])
        .when(skip(60, "  "))
        .then_expect_error(AppointmentError::ReasonRequired);
    appointment()
        .given(vec![booked()])
        .when(skip(60, &"r".repeat(1001)))
        .then_expect_error(AppointmentError::FieldTooLong {
            field: "reason",
            max: 1000,
        });
    appointment()
        .given(vec![booked()])
        .when(skip(MAX_REMINDER_OFFSET_MINUTES + 1, "started"))
        .then_expect_error(AppointmentError::ReminderOffsetOutOfRange {
            max: MAX_REMINDER_OFFSET_MINUTES,
        });
    appointment()
        .given_no_previous_events()
        .when(skip(60, "started"))
        .then_expect_error(AppointmentError::NotBooked);
}
