//! Given/when/then tests of `Book`: what is recorded, and every input it refuses.

use super::*;

#[test]
fn booking_records_every_field_trimmed() {
    appointment()
        .given_no_previous_events()
        .when(book())
        .then_expect_events(vec![booked()]);
}

#[test]
fn booking_twice_is_refused() {
    appointment()
        .given(vec![booked()])
        .when(book())
        .then_expect_error(AppointmentError::AlreadyBooked);
}

#[test]
fn any_other_command_before_booking_is_refused() {
    let commands = [
        AppointmentCommand::Reschedule {
            start: start(),
            end: None,
            now: now(),
        },
        AppointmentCommand::Cancel {
            reason: "x".into(),
            at: now(),
        },
        AppointmentCommand::Complete { at: now() },
        AppointmentCommand::MarkNoShow { at: now() },
        AppointmentCommand::EditNotes { notes: "x".into() },
        AppointmentCommand::RecordExternalEvent {
            provider: "google".into(),
            event_id: "e".into(),
        },
        AppointmentCommand::RecordReminderSent {
            offset_minutes: 60,
            at: now(),
        },
    ];
    for command in commands {
        appointment()
            .given_no_previous_events()
            .when(command)
            .then_expect_error(AppointmentError::NotBooked);
    }
}

#[test]
fn blank_location_and_link_are_recorded_as_none() {
    let command = match book() {
        AppointmentCommand::Book {
            lead_id,
            workflow_id,
            start,
            end,
            timezone,
            now,
            ..
        } => AppointmentCommand::Book {
            lead_id,
            workflow_id,
            start,
            end,
            timezone,
            calendar: CalendarRef::builtin(),
            location: Some("   ".into()),
            meeting_link: None,
            notes: String::new(),
            reminder_offsets_minutes: vec![],
            now,
        },
        _ => unreachable!(),
    };
    appointment()
        .given_no_previous_events()
        .when(command)
        .then_expect_events(vec![AppointmentEvent::AppointmentBooked {
            lead_id: lead_id(),
            workflow_id: workflow_id(),
            start: start(),
            end: end(),
            timezone: timezone(),
            calendar: CalendarRef::builtin(),
            location: None,
            meeting_link: None,
            notes: String::new(),
            reminder_offsets_minutes: vec![],
        }]);
}

#[test]
fn a_start_in_the_past_is_refused_but_now_itself_is_accepted() {
    let past = now() - minutes(1);
    appointment()
        .given_no_previous_events()
        .when(book_at(past, past + minutes(30)))
        .then_expect_error(AppointmentError::StartInPast {
            start: past,
            now: now(),
        });
    let events = appointment()
        .given_no_previous_events()
        .when(book_at(now(), now() + minutes(30)))
        .inspect_result()
        .unwrap();
    assert_eq!(events.len(), 1);
}

#[test]
fn an_end_at_or_before_the_start_is_refused() {
    for end in [start(), start() - minutes(30)] {
        appointment()
            .given_no_previous_events()
            .when(book_at(start(), end))
            .then_expect_error(AppointmentError::EndNotAfterStart);
    }
}

#[test]
fn a_day_is_the_longest_appointment() {
    let events = appointment()
        .given_no_previous_events()
        .when(book_at(start(), start() + Duration::hours(24)))
        .inspect_result()
        .unwrap();
    assert_eq!(events.len(), 1);
    appointment()
        .given_no_previous_events()
        .when(book_at(
            start(),
            start() + Duration::hours(24) + Duration::seconds(1),
        ))
        .then_expect_error(AppointmentError::TooLong { max_hours: 24 });
}

/// `book()` with other free texts.
fn book_with(location: &str, meeting_link: &str, notes: &str) -> AppointmentCommand {
    match book() {
        AppointmentCommand::Book {
            lead_id,
            workflow_id,
            start,
            end,
            timezone,
            calendar,
            reminder_offsets_minutes,
            now,
            ..
        } => AppointmentCommand::Book {
            lead_id,
            workflow_id,
            start,
            end,
            timezone,
            calendar,
            location: Some(location.into()),
            meeting_link: Some(meeting_link.into()),
            notes: notes.into(),
            reminder_offsets_minutes,
            now,
        },
        _ => unreachable!(),
    }
}

#[test]
fn over_long_texts_are_refused_naming_the_field() {
    let link = "https://meet.example.com/";
    let cases = [
        (book_with(&"l".repeat(501), link, ""), "location", 500),
        (
            book_with("", &format!("{link}{}", "a".repeat(2000)), ""),
            "meeting_link",
            2000,
        ),
        (book_with("", link, &"n".repeat(5001)), "notes", 5000),
    ];
    for (command, field, max) in cases {
        appointment()
            .given_no_previous_events()
            .when(command)
            .then_expect_error(AppointmentError::FieldTooLong { field, max });
    }
    let at_the_limits = book_with(
        &"l".repeat(500),
        &format!("{link}{}", "a".repeat(2000 - link.len())),
        &"n".repeat(5000),
    );
    let events = appointment()
        .given_no_previous_events()
        .when(at_the_limits)
        .inspect_result()
        .unwrap();
    assert_eq!(events.len(), 1);
}

#[test]
fn a_meeting_link_must_be_an_http_address_without_spaces() {
    for link in [
        "meet.example.com/abc",
        "ftp://meet.example.com",
        "https://",
        "https:///path",
        "https://meet.example.com/a b",
        "javascript:alert(1)",
    ] {
        appointment()
            .given_no_previous_events()
            .when(book_with("", link, ""))
            .then_expect_error(AppointmentError::InvalidMeetingLink);
    }
    for link in ["http://meet.example.com", "HTTPS://Meet.Example.com/x?y=1"] {
        let events = appointment()
            .given_no_previous_events()
            .when(book_with("", link, ""))
            .inspect_result()
            .unwrap();
        assert_eq!(events.len(), 1, "{link}");
    }
}

/// `book()` with other reminder offsets.
fn book_reminding(offsets: Vec<u32>) -> AppointmentCommand {
    match book() {
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
            now,
            ..
        } => AppointmentCommand::Book {
            lead_id,
            workflow_id,
            start,
            end,
            timezone,
            calendar,
            location,
            meeting_link,
            notes,
            reminder_offsets_minutes: offsets,
            now,
        },
        _ => unreachable!(),
    }
}

#[test]
fn the_reminders_are_recorded_longest_first_and_once_each() {
    let events = appointment()
        .given_no_previous_events()
        .when(book_reminding(vec![60, 10, 1440, 60]))
        .inspect_result()
        .unwrap();
    let [AppointmentEvent::AppointmentBooked {
        reminder_offsets_minutes,
        ..
    }] = events.as_slice()
    else {
        panic!("one booking: {events:?}");
    };
    assert_eq!(reminder_offsets_minutes, &[1440, 60, 10]);
}

#[test]
fn a_booking_without_reminders_is_accepted() {
    let events = appointment()
        .given_no_previous_events()
        .when(book_reminding(vec![]))
        .inspect_result()
        .unwrap();
    assert!(matches!(
        events.as_slice(),
        [AppointmentEvent::AppointmentBooked { reminder_offsets_minutes, .. }]
            if reminder_offsets_minutes.is_empty()
    ));
}

#[test]
fn a_reminder_more_than_30_days_ahead_is_refused() {
    appointment()
        .given_no_previous_events()
        .when(book_reminding(vec![60, MAX_REMINDER_OFFSET_MINUTES + 1]))
        .then_expect_error(AppointmentError::ReminderOffsetOutOfRange {
            max: MAX_REMINDER_OFFSET_MINUTES,
        });
}
