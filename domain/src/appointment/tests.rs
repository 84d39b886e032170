//! Given/when/then tests of the Appointment aggregate: the state, events and booking here;
//! rescheduling and the status lifecycle in `tests/lifecycle.rs`; notes, external events and
//! sent reminders in `tests/records.rs`; which reminder is left and due, and passing one over, in
//! `tests/reminders.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod booking;
mod lifecycle;
mod records;
mod reminders;
mod sync;

use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};

use super::*;
use crate::values::{LeadId, Timezone, WorkflowId};

type AppointmentTestFramework = TestFramework<Appointment>;

fn appointment() -> AppointmentTestFramework {
    AppointmentTestFramework::with(())
}

/// The time of the booking request: Monday 2 March 2026, 09:00 UTC.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// The booked start: the next day at 15:00 UTC.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 3, 15, 0, 0).unwrap()
}

/// The booked end: 30 minutes after the start.
fn end() -> DateTime<Utc> {
    start() + Duration::minutes(30)
}

fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

fn lead_id() -> LeadId {
    LeadId::from_uuid(uuid::Uuid::from_u128(1))
}

fn workflow_id() -> WorkflowId {
    WorkflowId::from_uuid(uuid::Uuid::from_u128(2))
}

fn timezone() -> Timezone {
    Timezone::parse("Europe/London").unwrap()
}

fn google() -> CalendarRef {
    CalendarRef::parse("google:team@example.com").unwrap()
}

/// A `Book` command for `start()`..`end()` in the Google calendar.
fn book() -> AppointmentCommand {
    AppointmentCommand::Book {
        lead_id: lead_id(),
        workflow_id: workflow_id(),
        start: start(),
        end: end(),
        timezone: timezone(),
        calendar: google(),
        location: Some("  1 High Street  ".into()),
        meeting_link: Some("https://meet.example.com/abc".into()),
        notes: " First visit ".into(),
        reminder_offsets_minutes: vec![60, 1440],
        now: now(),
    }
}

/// `book()` with other times.
fn book_at(start: DateTime<Utc>, end: DateTime<Utc>) -> AppointmentCommand {
    match book() {
        AppointmentCommand::Book {
            lead_id,
            workflow_id,
            timezone,
            calendar,
            location,
            meeting_link,
            notes,
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
            location,
            meeting_link,
            notes,
            reminder_offsets_minutes,
            now,
        },
        _ => unreachable!(),
    }
}

/// The event `book()` produces.
fn booked() -> AppointmentEvent {
    booked_in(google())
}

/// The event `book()` produces, in another calendar.
fn booked_in(calendar: CalendarRef) -> AppointmentEvent {
    AppointmentEvent::AppointmentBooked {
        lead_id: lead_id(),
        workflow_id: workflow_id(),
        start: start(),
        end: end(),
        timezone: timezone(),
        calendar,
        location: Some("1 High Street".into()),
        meeting_link: Some("https://meet.example.com/abc".into()),
        notes: "First visit".into(),
        reminder_offsets_minutes: vec![1440, 60],
    }
}

/// A history that leaves the appointment in `status`.
fn in_status(status: AppointmentStatus) -> Vec<AppointmentEvent> {
    let after = end();
    let last = match status {
        AppointmentStatus::Confirmed => return vec![booked()],
        AppointmentStatus::Cancelled => AppointmentEvent::AppointmentCancelled {
            reason: "lead asked".into(),
            at: now(),
        },
        AppointmentStatus::Completed => AppointmentEvent::AppointmentCompleted { at: after },
        AppointmentStatus::NoShow => AppointmentEvent::AppointmentNoShow { at: after },
    };
    vec![booked(), last]
}

/// One event of every variant, in an order that makes a valid history.
fn sample_events() -> Vec<AppointmentEvent> {
    vec![
        booked(),
        AppointmentEvent::AppointmentExternalEventRecorded {
            provider: "google".into(),
            event_id: "evt_1".into(),
        },
        AppointmentEvent::AppointmentReminderSent {
            offset_minutes: 1440,
            at: start() - minutes(1440),
        },
        AppointmentEvent::AppointmentRescheduled {
            from_start: start(),
            from_end: end(),
            start: start() + minutes(60),
            end: end() + minutes(90),
        },
        AppointmentEvent::AppointmentReminderSent {
            offset_minutes: 60,
            at: start(),
        },
        AppointmentEvent::AppointmentReminderSkipped {
            offset_minutes: 1440,
            reason: "opted_out".into(),
            at: start(),
        },
        AppointmentEvent::AppointmentNotesEdited {
            notes: "Bring ID".into(),
        },
        AppointmentEvent::AppointmentCalendarSyncFailed {
            for_version: 1,
            error: "Google answered 503".into(),
            attempt: 1,
            retry_at: Some(start()),
            at: start(),
        },
        AppointmentEvent::AppointmentCalendarSynced {
            through_version: 7,
            event_id: None,
            meeting_link: None,
            at: start(),
        },
        AppointmentEvent::AppointmentCompleted {
            at: end() + minutes(90),
        },
        AppointmentEvent::AppointmentNoShow {
            at: end() + minutes(90),
        },
        AppointmentEvent::AppointmentCancelled {
            reason: "replayed".into(),
            at: end() + minutes(120),
        },
    ]
}

#[test]
fn the_state_reflects_every_event() {
    let mut state = Appointment::default();
    assert!(!state.is_booked());
    for event in sample_events() {
        state.apply(event);
    }
    assert!(state.is_booked());
    assert_eq!(
        (state.lead_id(), state.workflow_id()),
        (lead_id(), workflow_id())
    );
    assert_eq!(
        (state.start(), state.end()),
        (start() + minutes(60), end() + minutes(90))
    );
    assert_eq!(state.length(), minutes(60));
    assert_eq!(state.timezone(), timezone());
    assert_eq!(state.calendar(), &google());
    assert_eq!(state.location(), Some("1 High Street"));
    assert_eq!(state.meeting_link(), Some("https://meet.example.com/abc"));
    assert_eq!(state.notes(), "Bring ID");
    assert_eq!(state.status(), AppointmentStatus::Cancelled);
    assert!(!state.is_live());
    assert_eq!(state.cancel_reason(), Some("replayed"));
    assert_eq!(
        state.external_event(),
        Some(&ExternalEvent {
            provider: "google".into(),
            event_id: "evt_1".into()
        })
    );
    assert_eq!(
        state.reminders_sent().iter().copied().collect::<Vec<_>>(),
        vec![60],
        "a reschedule forgets the reminders sent before it"
    );
    assert_eq!(state.reminder_offsets(), [1440, 60]);
    assert_eq!(
        state
            .reminders_skipped()
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        vec![1440]
    );
    assert_eq!((state.synced_version(), state.sync_attempts()), (7, 0));
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<Appointment>(&json).unwrap(), state);
}

#[test]
fn a_booked_appointment_is_live_and_confirmed() {
    let mut state = Appointment::default();
    state.apply(booked());
    assert!(state.is_live());
    assert_eq!(state.status(), AppointmentStatus::Confirmed);
    assert_eq!(state.cancel_reason(), None);
    assert_eq!(state.external_event(), None);
}

#[test]
fn every_event_round_trips_through_json_with_a_stable_name() {
    let events = sample_events();
    let mut names: Vec<String> = events.iter().map(DomainEvent::event_type).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 11, "one sample per variant");
    for event in events {
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json.as_object().unwrap().keys().next().unwrap(),
            &event.event_type(),
            "the payload is keyed by the event type"
        );
        assert_eq!(
            serde_json::from_value::<AppointmentEvent>(json).unwrap(),
            event
        );
        assert_eq!(event.event_version(), "1");
    }
}

#[test]
fn the_booked_payload_keeps_its_field_names() {
    let json = serde_json::to_value(booked()).unwrap();
    let fields = json["AppointmentBooked"].as_object().unwrap();
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "calendar",
            "end",
            "lead_id",
            "location",
            "meeting_link",
            "notes",
            "reminder_offsets_minutes",
            "start",
            "timezone",
            "workflow_id"
        ]
    );
    assert_eq!(
        json["AppointmentBooked"]["calendar"],
        "google:team@example.com"
    );
    assert_eq!(json["AppointmentBooked"]["timezone"], "Europe/London");
    assert_eq!(json["AppointmentBooked"]["start"], "2026-03-03T15:00:00Z");
    assert_eq!(
        json["AppointmentBooked"]["reminder_offsets_minutes"],
        serde_json::json!([1440, 60])
    );
}

#[test]
fn a_booking_recorded_before_reminders_existed_has_none() {
    let mut json = serde_json::to_value(booked()).unwrap();
    json["AppointmentBooked"]
        .as_object_mut()
        .unwrap()
        .remove("reminder_offsets_minutes");
    let event: AppointmentEvent = serde_json::from_value(json).unwrap();
    let mut state = Appointment::default();
    state.apply(event);
    assert!(state.reminder_offsets().is_empty());
    assert!(state.reminders_left().is_empty());
}

#[test]
fn the_aggregate_type_is_stable() {
    assert_eq!(Appointment::TYPE, "appointment");
}

#[test]
fn refusals_of_inputs_name_their_field_and_refusals_of_state_name_none() {
    use AppointmentError as E;
    let cases = [
        (
            E::StartInPast {
                start: now(),
                now: now(),
            },
            Some("start"),
        ),
        (E::EndNotAfterStart, Some("end")),
        (E::TooLong { max_hours: 24 }, Some("end")),
        (E::ReasonRequired, Some("reason")),
        (
            E::FieldTooLong {
                field: "notes",
                max: 5000,
            },
            Some("notes"),
        ),
        (E::FieldEmpty { field: "event_id" }, Some("event_id")),
        (E::InvalidMeetingLink, Some("meeting_link")),
        (E::InvalidProvider, Some("provider")),
        (
            E::ReminderOffsetOutOfRange { max: 1 },
            Some("offset_minutes"),
        ),
        (E::NotBooked, None),
        (E::AlreadyBooked, None),
        (E::NotReschedulable(AppointmentStatus::Cancelled), None),
        (E::NotesOfCancelled, None),
        (E::BuiltinCalendar, None),
    ];
    for (error, field) in cases {
        assert_eq!(error.field(), field, "{error}");
    }
}
