//! Given/when/then tests of recording calendar syncs: a sync records the version the external
//! calendar shows, once (an older or repeated version records nothing), with the provider's event
//! id and video link; a failure counts attempts until the next change or success; neither
//! applies to the built-in calendar.

use super::*;

fn sync(version: i64, event_id: Option<&str>, link: Option<&str>) -> AppointmentCommand {
    AppointmentCommand::RecordCalendarSync {
        through_version: version,
        event_id: event_id.map(str::to_owned),
        meeting_link: link.map(str::to_owned),
        at: now(),
    }
}

fn synced(version: i64, event_id: Option<&str>, link: Option<&str>) -> AppointmentEvent {
    AppointmentEvent::AppointmentCalendarSynced {
        through_version: version,
        event_id: event_id.map(str::to_owned),
        meeting_link: link.map(str::to_owned),
        at: now(),
    }
}

fn failure(retry_at: Option<DateTime<Utc>>) -> AppointmentCommand {
    AppointmentCommand::RecordCalendarSyncFailed {
        for_version: 1,
        error: "  Google answered 503  ".into(),
        retry_at,
        at: now(),
    }
}

#[test]
fn the_first_sync_records_the_event_and_its_meet_link() {
    appointment()
        .given(vec![booked()])
        .when(sync(
            1,
            Some("a1b2"),
            Some("https://meet.google.com/aaa-bbbb-ccc"),
        ))
        .then_expect_events(vec![synced(
            1,
            Some("a1b2"),
            Some("https://meet.google.com/aaa-bbbb-ccc"),
        )]);
}

#[test]
fn a_version_already_synced_records_nothing() {
    appointment()
        .given(vec![booked(), synced(3, Some("a1b2"), None)])
        .when(sync(3, None, None))
        .then_expect_events(vec![]);
    appointment()
        .given(vec![booked(), synced(3, Some("a1b2"), None)])
        .when(sync(2, None, None))
        .then_expect_events(vec![]);
}

#[test]
fn the_state_keeps_the_event_the_link_and_the_version() {
    let mut state = Appointment::default();
    state.apply(booked());
    state.apply(synced(1, Some("a1b2"), Some("https://meet.google.com/x")));
    state.apply(synced(4, None, None));
    assert_eq!(state.synced_version(), 4);
    assert_eq!(
        state.external_event(),
        Some(&ExternalEvent {
            provider: "google".into(),
            event_id: "a1b2".into()
        })
    );
    assert_eq!(state.meeting_link(), Some("https://meet.google.com/x"));
}

#[test]
fn failures_count_attempts_until_a_change_or_a_success() {
    let failed = |attempt, retry_at| AppointmentEvent::AppointmentCalendarSyncFailed {
        for_version: 1,
        error: "Google answered 503".into(),
        attempt,
        retry_at,
        at: now(),
    };
    appointment()
        .given(vec![booked(), failed(1, Some(start()))])
        .when(failure(None))
        .then_expect_events(vec![failed(2, None)]);
    let mut state = Appointment::default();
    state.apply(booked());
    state.apply(failed(1, Some(start())));
    state.apply(failed(2, Some(start())));
    assert_eq!(state.sync_attempts(), 2);
    state.apply(AppointmentEvent::AppointmentRescheduled {
        from_start: start(),
        from_end: end(),
        start: start() + minutes(30),
        end: end() + minutes(30),
    });
    assert_eq!(state.sync_attempts(), 0, "a change starts counting again");
}

#[test]
fn the_version_to_show_is_the_last_booking_reschedule_or_cancel() {
    let mut state = Appointment::default();
    state.apply(booked());
    assert_eq!(state.changed_version(), 1);
    state.apply(AppointmentEvent::AppointmentNotesEdited {
        notes: "Bring ID".into(),
    });
    state.apply(synced(1, Some("a1b2"), None));
    assert_eq!(
        state.changed_version(),
        1,
        "notes and syncs change nothing to show"
    );
    state.apply(AppointmentEvent::AppointmentRescheduled {
        from_start: start(),
        from_end: end(),
        start: start() + minutes(30),
        end: end() + minutes(30),
    });
    assert_eq!(state.changed_version(), 4);
    state.apply(AppointmentEvent::AppointmentCancelled {
        reason: "moved away".into(),
        at: now(),
    });
    assert_eq!(state.changed_version(), 5);
}

#[test]
fn a_malformed_sync_is_refused_naming_the_field() {
    appointment()
        .given(vec![booked()])
        .when(sync(1, Some(&"x".repeat(MAX_EVENT_ID_LEN + 1)), None))
        .then_expect_error(AppointmentError::FieldTooLong {
            field: "event_id",
            max: MAX_EVENT_ID_LEN,
        });
    appointment()
        .given(vec![booked()])
        .when(AppointmentCommand::RecordCalendarSyncFailed {
            for_version: 1,
            error: " ".into(),
            retry_at: None,
            at: now(),
        })
        .then_expect_error(AppointmentError::FieldEmpty { field: "error" });
}

#[test]
fn the_built_in_calendar_is_never_synced() {
    appointment()
        .given(vec![booked_in(CalendarRef::builtin())])
        .when(sync(1, Some("a1b2"), None))
        .then_expect_error(AppointmentError::BuiltinCalendar);
    appointment()
        .given(vec![booked_in(CalendarRef::builtin())])
        .when(failure(None))
        .then_expect_error(AppointmentError::BuiltinCalendar);
}
