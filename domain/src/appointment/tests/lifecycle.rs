//! Given/when/then tests of rescheduling and the status lifecycle: cancel, complete, no-show.

use super::*;

use AppointmentStatus::{Cancelled, Completed, Confirmed, NoShow};

fn reschedule(start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> AppointmentCommand {
    AppointmentCommand::Reschedule {
        start,
        end,
        now: now(),
    }
}

fn cancel(reason: &str) -> AppointmentCommand {
    AppointmentCommand::Cancel {
        reason: reason.into(),
        at: now(),
    }
}

#[test]
fn rescheduling_without_an_end_keeps_the_length() {
    let later = start() + Duration::days(2);
    appointment()
        .given(vec![booked()])
        .when(reschedule(later, None))
        .then_expect_events(vec![AppointmentEvent::AppointmentRescheduled {
            from_start: start(),
            from_end: end(),
            start: later,
            end: later + minutes(30),
        }]);
}

#[test]
fn rescheduling_with_an_end_takes_the_new_length() {
    let earlier = now() + minutes(60);
    appointment()
        .given(vec![booked()])
        .when(reschedule(earlier, Some(earlier + minutes(90))))
        .then_expect_events(vec![AppointmentEvent::AppointmentRescheduled {
            from_start: start(),
            from_end: end(),
            start: earlier,
            end: earlier + minutes(90),
        }]);
}

#[test]
fn rescheduling_to_the_same_times_records_nothing() {
    for end in [None, Some(end())] {
        appointment()
            .given(vec![booked()])
            .when(reschedule(start(), end))
            .then_expect_events(vec![]);
    }
}

#[test]
fn rescheduling_a_second_time_starts_from_the_last_times() {
    let first = start() + Duration::days(1);
    let second = start() + Duration::days(2);
    appointment()
        .given(vec![
            booked(),
            AppointmentEvent::AppointmentRescheduled {
                from_start: start(),
                from_end: end(),
                start: first,
                end: first + minutes(45),
            },
        ])
        .when(reschedule(second, None))
        .then_expect_events(vec![AppointmentEvent::AppointmentRescheduled {
            from_start: first,
            from_end: first + minutes(45),
            start: second,
            end: second + minutes(45),
        }]);
}

#[test]
fn rescheduling_into_the_past_or_to_a_bad_end_is_refused() {
    let past = now() - minutes(1);
    appointment()
        .given(vec![booked()])
        .when(reschedule(past, None))
        .then_expect_error(AppointmentError::StartInPast {
            start: past,
            now: now(),
        });
    appointment()
        .given(vec![booked()])
        .when(reschedule(
            start() + minutes(60),
            Some(start() + minutes(60)),
        ))
        .then_expect_error(AppointmentError::EndNotAfterStart);
    appointment()
        .given(vec![booked()])
        .when(reschedule(start(), Some(start() + Duration::hours(25))))
        .then_expect_error(AppointmentError::TooLong { max_hours: 24 });
}

#[test]
fn only_a_confirmed_appointment_can_be_rescheduled() {
    for status in [Cancelled, Completed, NoShow] {
        appointment()
            .given(in_status(status))
            .when(reschedule(start() + Duration::days(1), None))
            .then_expect_error(AppointmentError::NotReschedulable(status));
    }
}

#[test]
fn cancelling_a_confirmed_appointment_records_the_trimmed_reason() {
    appointment()
        .given(vec![booked()])
        .when(cancel("  lead is ill "))
        .then_expect_events(vec![AppointmentEvent::AppointmentCancelled {
            reason: "lead is ill".into(),
            at: now(),
        }]);
}

#[test]
fn cancelling_after_the_start_is_still_allowed_while_confirmed() {
    let late = end() + minutes(5);
    appointment()
        .given(vec![booked()])
        .when(AppointmentCommand::Cancel {
            reason: "forgot to cancel".into(),
            at: late,
        })
        .then_expect_events(vec![AppointmentEvent::AppointmentCancelled {
            reason: "forgot to cancel".into(),
            at: late,
        }]);
}

#[test]
fn cancelling_twice_records_nothing() {
    appointment()
        .given(in_status(Cancelled))
        .when(cancel("again"))
        .then_expect_events(vec![]);
}

#[test]
fn cancelling_an_appointment_that_took_place_or_was_missed_is_refused() {
    for from in [Completed, NoShow] {
        appointment()
            .given(in_status(from))
            .when(cancel("too late"))
            .then_expect_error(AppointmentError::InvalidTransition {
                from,
                to: Cancelled,
            });
    }
}

#[test]
fn a_cancel_reason_is_required_and_bounded() {
    appointment()
        .given(vec![booked()])
        .when(cancel("   "))
        .then_expect_error(AppointmentError::ReasonRequired);
    appointment()
        .given(vec![booked()])
        .when(cancel(&"r".repeat(1001)))
        .then_expect_error(AppointmentError::FieldTooLong {
            field: "reason",
            max: 1000,
        });
    let events = appointment()
        .given(vec![booked()])
        .when(cancel(&"r".repeat(1000)))
        .inspect_result()
        .unwrap();
    assert_eq!(events.len(), 1);
}

/// `Complete` or `MarkNoShow` at `at`.
fn conclude(to: AppointmentStatus, at: DateTime<Utc>) -> AppointmentCommand {
    match to {
        NoShow => AppointmentCommand::MarkNoShow { at },
        _ => AppointmentCommand::Complete { at },
    }
}

/// The event `conclude(to, at)` records.
fn concluded(to: AppointmentStatus, at: DateTime<Utc>) -> AppointmentEvent {
    match to {
        NoShow => AppointmentEvent::AppointmentNoShow { at },
        _ => AppointmentEvent::AppointmentCompleted { at },
    }
}

#[test]
fn completing_or_marking_a_no_show_from_the_start_on_records_it() {
    for to in [Completed, NoShow] {
        for at in [start(), end() + Duration::days(3)] {
            appointment()
                .given(vec![booked()])
                .when(conclude(to, at))
                .then_expect_events(vec![concluded(to, at)]);
        }
    }
}

#[test]
fn completing_or_marking_a_no_show_before_the_start_is_refused() {
    for to in [Completed, NoShow] {
        appointment()
            .given(vec![booked()])
            .when(conclude(to, start() - Duration::seconds(1)))
            .then_expect_error(AppointmentError::NotStartedYet { start: start(), to });
    }
}

#[test]
fn the_start_that_counts_is_the_rescheduled_one() {
    let later = start() + Duration::days(1);
    appointment()
        .given(vec![
            booked(),
            AppointmentEvent::AppointmentRescheduled {
                from_start: start(),
                from_end: end(),
                start: later,
                end: later + minutes(30),
            },
        ])
        .when(AppointmentCommand::Complete { at: end() })
        .then_expect_error(AppointmentError::NotStartedYet {
            start: later,
            to: Completed,
        });
}

#[test]
fn completing_twice_or_marking_a_no_show_twice_records_nothing() {
    for status in [Completed, NoShow] {
        appointment()
            .given(in_status(status))
            .when(conclude(status, end() + Duration::days(1)))
            .then_expect_events(vec![]);
    }
}

#[test]
fn an_outcome_cannot_follow_a_cancel_or_the_other_outcome() {
    let cases = [
        (Cancelled, Completed),
        (Cancelled, NoShow),
        (Completed, NoShow),
        (NoShow, Completed),
    ];
    for (from, to) in cases {
        appointment()
            .given(in_status(from))
            .when(conclude(to, end()))
            .then_expect_error(AppointmentError::InvalidTransition { from, to });
    }
}

#[test]
fn the_confirmed_helper_history_is_just_the_booking() {
    assert_eq!(in_status(Confirmed), vec![booked()]);
}
