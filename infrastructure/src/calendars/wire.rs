//! The Calendar API v3 shapes we send and read (freeBusy, events), and the ids we derive from
//! an appointment.

use std::collections::HashMap;

use application::{CalendarEvent, ConferenceStatus, FreeBusy, InsertedEvent};
use chrono::{DateTime, SecondsFormat, Utc};
use domain::values::{AppointmentId, Interval, Timezone};
use serde::{Deserialize, Serialize};

/// The event id Google stores for `appointment`: the UUID's 32 lower-case hex digits. Google
/// accepts client-chosen ids of 5 to 1024 base32hex characters (`a`–`v`, `0`–`9`), and hex is
/// a subset, so a second insert of the same appointment collides (409) instead of duplicating.
pub(super) fn event_id(appointment: AppointmentId) -> String {
    appointment.as_uuid().simple().to_string()
}

/// The Meet creation request id for `appointment`: Google ignores a second creation request
/// with the same id, so a retried insert never asks for a second meeting.
pub(super) fn request_id(appointment: AppointmentId) -> String {
    format!("bookerbot-{}", appointment.as_uuid())
}

/// An instant as RFC 3339 UTC (`2026-03-30T09:00:00Z`).
fn utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `path` percent-encoded as one URL path segment: everything but RFC 3986's unreserved
/// characters is escaped (`team@example.com` → `team%40example.com`).
pub(super) fn segment(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// `POST /calendar/v3/freeBusy`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FreeBusyQuery<'a> {
    time_min: String,
    time_max: String,
    time_zone: &'static str,
    items: [CalendarItem<'a>; 1],
}

#[derive(Serialize)]
struct CalendarItem<'a> {
    id: &'a str,
}

impl<'a> FreeBusyQuery<'a> {
    /// What is busy in `calendar_id` between `from` and `to`, answered in UTC.
    pub(super) fn new(calendar_id: &'a str, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Self {
            time_min: utc(from),
            time_max: utc(to),
            time_zone: "UTC",
            items: [CalendarItem { id: calendar_id }],
        }
    }
}

/// Google's freeBusy answer: per calendar, `busy` intervals and `errors`.
#[derive(Debug, Deserialize)]
pub(super) struct FreeBusyAnswer {
    #[serde(default)]
    calendars: HashMap<String, CalendarBusy>,
}

#[derive(Debug, Deserialize)]
struct CalendarBusy {
    #[serde(default)]
    errors: Vec<CalendarProblem>,
    #[serde(default)]
    busy: Vec<Busy>,
}

#[derive(Debug, Deserialize)]
struct CalendarProblem {
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Deserialize)]
struct Busy {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl FreeBusyAnswer {
    /// What the answer says about `calendar_id`: unknown when it carries errors for it or does
    /// not mention it at all (never "free" for want of an answer).
    pub(super) fn of(mut self, calendar_id: &str) -> FreeBusy {
        let Some(mut calendar) = self.calendars.remove(calendar_id) else {
            return FreeBusy::Unknown {
                reason: format!("calendar {calendar_id} is missing from Google's answer"),
            };
        };
        if !calendar.errors.is_empty() {
            let reasons: Vec<&str> = calendar.errors.iter().map(|e| e.reason.as_str()).collect();
            return FreeBusy::Unknown {
                reason: format!("Google reported {}", reasons.join(", ")),
            };
        }
        calendar.busy.sort_by_key(|busy| (busy.start, busy.end));
        FreeBusy::Known(
            calendar
                .busy
                .into_iter()
                .filter(|busy| busy.start < busy.end)
                .map(|busy| Interval {
                    start: busy.start,
                    end: busy.end,
                })
                .collect(),
        )
    }
}

/// An event's start or end: the local time with the zone's offset, and the zone.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventTime {
    date_time: String,
    time_zone: &'static str,
}

impl EventTime {
    fn new(at: DateTime<Utc>, zone: Timezone) -> Self {
        Self {
            date_time: at
                .with_timezone(&zone.tz())
                .to_rfc3339_opts(SecondsFormat::AutoSi, false),
            time_zone: zone.as_str(),
        }
    }
}

#[derive(Serialize)]
struct Attendee {
    email: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConferenceData {
    create_request: CreateRequest,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateRequest {
    request_id: String,
    conference_solution_key: SolutionKey,
}

#[derive(Serialize)]
struct SolutionKey {
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The body of events.insert (`id`, attendees, conference) or events.patch (times, summary and
/// description only).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EventBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    summary: &'a str,
    description: &'a str,
    start: EventTime,
    end: EventTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    attendees: Option<Vec<Attendee>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conference_data: Option<ConferenceData>,
}

impl<'a> EventBody<'a> {
    /// A new event for `event`'s appointment, with its own id and a Meet link asked for.
    pub(super) fn insert(event: &'a CalendarEvent) -> Self {
        Self {
            id: Some(event_id(event.appointment_id)),
            attendees: event.attendee_email.as_ref().map(|email| {
                vec![Attendee {
                    email: email.as_str().to_owned(),
                }]
            }),
            conference_data: Some(ConferenceData {
                create_request: CreateRequest {
                    request_id: request_id(event.appointment_id),
                    conference_solution_key: SolutionKey {
                        kind: "hangoutsMeet",
                    },
                },
            }),
            ..Self::patch(event)
        }
    }

    /// A change of an event to `event`'s times, summary and description.
    pub(super) fn patch(event: &'a CalendarEvent) -> Self {
        Self {
            id: None,
            summary: &event.summary,
            description: &event.description,
            start: EventTime::new(event.start, event.timezone),
            end: EventTime::new(event.end, event.timezone),
            attendees: None,
            conference_data: None,
        }
    }
}

/// An event as Google answers it (the fields we keep).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EventAnswer {
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    html_link: Option<String>,
    #[serde(default)]
    hangout_link: Option<String>,
    #[serde(default)]
    conference_data: Option<ConferenceAnswer>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConferenceAnswer {
    #[serde(default)]
    create_request: Option<CreateRequestAnswer>,
    #[serde(default)]
    entry_points: Vec<EntryPoint>,
}

#[derive(Debug, Deserialize)]
struct CreateRequestAnswer {
    #[serde(default)]
    status: Option<CreateStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateStatus {
    status_code: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryPoint {
    entry_point_type: String,
    uri: String,
}

impl EventAnswer {
    /// Whether the event was deleted (Google keeps deleted events as `cancelled`).
    pub(super) fn is_cancelled(&self) -> bool {
        self.status.as_deref() == Some("cancelled")
    }

    /// What the port answers.
    pub(super) fn into_inserted(self) -> InsertedEvent {
        let conference = self.conference_data.as_ref();
        let video = conference.and_then(|c| {
            c.entry_points
                .iter()
                .find(|point| point.entry_point_type == "video")
                .map(|point| point.uri.clone())
        });
        let meet_link = self.hangout_link.or(video);
        let status = conference
            .and_then(|c| c.create_request.as_ref())
            .and_then(|request| request.status.as_ref())
            .and_then(|status| match status.status_code.as_str() {
                "pending" => Some(ConferenceStatus::Pending),
                "success" => Some(ConferenceStatus::Success),
                "failure" => Some(ConferenceStatus::Failure),
                _ => None,
            })
            .or_else(|| meet_link.as_ref().map(|_| ConferenceStatus::Success));
        InsertedEvent {
            event_id: self.id,
            html_link: self.html_link,
            meet_link,
            conference: status,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ids_derived_from_an_appointment_are_valid_google_ids() {
        let appointment = AppointmentId::new();
        let id = event_id(appointment);
        assert_eq!(id.len(), 32);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='v').contains(&c)));
        assert_eq!(id, event_id(appointment));
        assert_eq!(request_id(appointment), format!("bookerbot-{appointment}"));
    }

    #[test]
    fn a_path_segment_escapes_all_but_unreserved_characters() {
        assert_eq!(segment("team@example.com"), "team%40example.com");
        assert_eq!(segment("en.usa#holiday/x y"), "en.usa%23holiday%2Fx%20y");
        assert_eq!(segment("primary"), "primary");
    }

    #[test]
    fn a_calendar_with_errors_or_missing_is_unknown_and_busy_times_read_in_utc() {
        let answer =
            |value: serde_json::Value| -> FreeBusyAnswer { serde_json::from_value(value).unwrap() };
        let known = answer(json!({"calendars": {"c": {"busy": [
            {"start": "2026-03-30T11:00:00+01:00", "end": "2026-03-30T11:30:00+01:00"},
            {"start": "2026-03-30T08:00:00Z", "end": "2026-03-30T08:30:00Z"}]}}}));
        assert_eq!(
            known.of("c"),
            FreeBusy::Known(vec![
                Interval {
                    start: "2026-03-30T08:00:00Z".parse().unwrap(),
                    end: "2026-03-30T08:30:00Z".parse().unwrap(),
                },
                Interval {
                    start: "2026-03-30T10:00:00Z".parse().unwrap(),
                    end: "2026-03-30T10:30:00Z".parse().unwrap(),
                },
            ])
        );
        let errors = answer(json!({"calendars": {"c": {"errors": [
            {"domain": "global", "reason": "notFound"}], "busy": []}}}));
        assert_eq!(
            errors.of("c"),
            FreeBusy::Unknown {
                reason: "Google reported notFound".to_owned()
            }
        );
        assert!(matches!(
            answer(json!({"calendars": {}})).of("c"),
            FreeBusy::Unknown { .. }
        ));
    }

    #[test]
    fn a_pending_meeting_has_no_link_yet_and_a_created_one_has() {
        let pending: EventAnswer =
            serde_json::from_value(json!({"id": "e1", "status": "confirmed",
            "conferenceData": {"createRequest": {"status": {"statusCode": "pending"}}}}))
            .unwrap();
        let inserted = pending.into_inserted();
        assert_eq!(inserted.conference, Some(ConferenceStatus::Pending));
        assert_eq!(inserted.meet_link, None);
        let created: EventAnswer = serde_json::from_value(json!({"id": "e1",
            "conferenceData": {"entryPoints": [
                {"entryPointType": "phone", "uri": "tel:+1-555"},
                {"entryPointType": "video", "uri": "https://meet.google.com/aaa-bbbb-ccc"}]}}))
        .unwrap();
        let inserted = created.into_inserted();
        assert_eq!(inserted.conference, Some(ConferenceStatus::Success));
        assert_eq!(
            inserted.meet_link.as_deref(),
            Some("https://meet.google.com/aaa-bbbb-ccc")
        );
    }
}
