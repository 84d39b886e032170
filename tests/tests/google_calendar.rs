//! The Google Calendar adapter speaks the Calendar API v3 and Google's OAuth token endpoint as
//! documented, checked request by request against a local fake (method, path, query, bearer
//! token, content type, every body field): freeBusy, events.insert with a Meet link under ids
//! derived from the appointment, events.patch and events.delete; the refresh-token grant, a
//! token reused until a minute before it expires, exactly one refresh and one retry on a 401,
//! `invalid_grant` disconnecting for good; unknown busy times never read as free; 5xx, 429 and
//! timeouts worth retrying, other refusals not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use application::{
    CalendarError, CalendarEvent, CalendarProvider, ConferenceStatus, FreeBusy, InsertedEvent,
    ManualClock,
};
use async_trait::async_trait;
use bookerbot_tests::{FakeHttp, FakeResponse, RecordedRequest};
use chrono::{DateTime, Utc};
use domain::values::{AppointmentId, EmailAddress, Interval, Timezone};
use infrastructure::calendars::{
    AccessToken, GoogleCalendar, GoogleCredentials, GoogleTokens, TokenStore,
};
use infrastructure::http_client::provider_client;
use serde_json::json;

const CLIENT_ID: &str = "1234-abc.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-client-secret";
const REFRESH_TOKEN: &str = "1//0refresh-token";
const CALENDAR_ID: &str = "team@example.com";
const EVENTS_PATH: &str = "/calendar/v3/calendars/team%40example.com/events";
const REVOKED: &str = "invalid_grant: Token has been expired or revoked.";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Where the tests' clock starts.
fn start() -> DateTime<Utc> {
    at("2026-03-29T08:00:00Z")
}

/// A store that keeps the token in memory and counts disconnections.
#[derive(Debug, Default)]
struct RecordingStore {
    token: Mutex<Option<AccessToken>>,
    disconnections: Mutex<Vec<String>>,
}

impl RecordingStore {
    fn token(&self) -> Option<AccessToken> {
        self.token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn disconnections(&self) -> Vec<String> {
        self.disconnections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl TokenStore for RecordingStore {
    async fn load(&self) -> anyhow::Result<Option<AccessToken>> {
        Ok(self.token())
    }

    async fn save(&self, token: &AccessToken) -> anyhow::Result<()> {
        *self.token.lock().unwrap_or_else(PoisonError::into_inner) = Some(token.clone());
        Ok(())
    }

    async fn disconnected(&self, reason: &str) -> anyhow::Result<()> {
        self.disconnections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(reason.to_owned());
        Ok(())
    }
}

/// The fake's token endpoint: grants `ya29.token-1`, `ya29.token-2`, … for 3599 s.
fn granting(counter: &AtomicUsize) -> FakeResponse {
    let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
    FakeResponse::json(
        200,
        json!({"access_token": format!("ya29.token-{number}"), "expires_in": 3599,
               "scope": "https://www.googleapis.com/auth/calendar", "token_type": "Bearer"}),
    )
}

fn revoked() -> FakeResponse {
    FakeResponse::json(
        400,
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
    )
}

fn busy_answer() -> FakeResponse {
    FakeResponse::json(
        200,
        json!({"kind": "calendar#freeBusy", "timeMin": "2026-03-30T00:00:00.000Z",
               "timeMax": "2026-03-31T00:00:00.000Z",
               "calendars": {CALENDAR_ID: {"busy": [
                   {"start": "2026-03-30T10:00:00+01:00", "end": "2026-03-30T11:00:00+01:00"},
                   {"start": "2026-03-30T14:30:00Z", "end": "2026-03-30T15:00:00Z"}]}}}),
    )
}

/// An inserted event as Google answers it: the Meet link still being created.
fn event_answer(id: &str, status_code: &str) -> serde_json::Value {
    let mut event = json!({"kind": "calendar#event", "id": id, "status": "confirmed",
        "htmlLink": format!("https://www.google.com/calendar/event?eid={id}"),
        "conferenceData": {"createRequest": {"requestId": "r",
            "conferenceSolutionKey": {"type": "hangoutsMeet"},
            "status": {"statusCode": status_code}}}});
    if status_code == "success" {
        event["hangoutLink"] = json!("https://meet.google.com/aaa-bbbb-ccc");
        event["conferenceData"]["entryPoints"] = json!([{"entryPointType": "video",
            "uri": "https://meet.google.com/aaa-bbbb-ccc", "label": "meet.google.com/aaa-bbbb-ccc"}]);
        event["conferenceData"]["conferenceId"] = json!("aaa-bbbb-ccc");
    }
    event
}

/// A fake Google whose token endpoint grants tokens and whose API answers with `api`.
async fn fake_google(
    api: impl Fn(&RecordedRequest) -> FakeResponse + Send + Sync + 'static,
) -> FakeHttp {
    let counter = AtomicUsize::new(0);
    FakeHttp::start(move |request| {
        if request.path == "/token" {
            granting(&counter)
        } else {
            api(request)
        }
    })
    .await
}

struct Fixture {
    calendar: GoogleCalendar,
    store: Arc<RecordingStore>,
    clock: ManualClock,
}

fn calendar_over(fake: &FakeHttp, store: Arc<RecordingStore>, timeout: Duration) -> Fixture {
    let clock = ManualClock::new(start());
    let client = provider_client(timeout).unwrap();
    let credentials = GoogleCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        refresh_token: REFRESH_TOKEN.into(),
        calendar_id: CALENDAR_ID.into(),
    };
    let tokens = GoogleTokens::new(
        client.clone(),
        format!("{}/token", fake.base),
        &credentials,
        Arc::new(clock.clone()),
        store.clone(),
    );
    let calendar =
        GoogleCalendar::new(client, &fake.base, CALENDAR_ID.into(), Arc::new(tokens)).unwrap();
    Fixture {
        calendar,
        store,
        clock,
    }
}

fn calendar(fake: &FakeHttp) -> Fixture {
    calendar_over(fake, Arc::default(), Duration::from_secs(5))
}

fn event(appointment: AppointmentId, attendee: Option<&str>) -> CalendarEvent {
    CalendarEvent {
        appointment_id: appointment,
        summary: "Consultation: Ada Lovelace".into(),
        description: "Booked by BookerBot. Notes: first visit".into(),
        start: at("2026-03-30T09:00:00Z"),
        end: at("2026-03-30T09:30:00Z"),
        timezone: Timezone::parse("Europe/London").unwrap(),
        attendee_email: attendee.map(|email| EmailAddress::parse(email).unwrap()),
    }
}

/// Checks the token request: the refresh-token grant with exactly these form fields.
fn assert_token_request(request: &RecordedRequest) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/token");
    assert_eq!(request.query, "");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        request.form(),
        vec![
            ("client_id".to_owned(), CLIENT_ID.to_owned()),
            ("client_secret".to_owned(), CLIENT_SECRET.to_owned()),
            ("refresh_token".to_owned(), REFRESH_TOKEN.to_owned()),
            ("grant_type".to_owned(), "refresh_token".to_owned()),
        ]
    );
}

/// Checks an API request's method, path, query and bearer token.
fn assert_api_request(
    request: &RecordedRequest,
    method: &str,
    path: &str,
    query: &str,
    token: &str,
) {
    assert_eq!(
        (
            request.method.as_str(),
            request.path.as_str(),
            request.query.as_str()
        ),
        (method, path, query)
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
}

fn paths(fake: &FakeHttp) -> Vec<String> {
    fake.requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test]
async fn free_busy_refreshes_a_token_then_sends_the_exact_query_and_reads_busy_times_in_utc() {
    let fake = fake_google(|_| busy_answer()).await;
    let fixture = calendar(&fake);
    let busy = fixture
        .calendar
        .free_busy(at("2026-03-30T00:00:00Z"), at("2026-03-31T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        busy,
        FreeBusy::Known(vec![
            Interval {
                start: at("2026-03-30T09:00:00Z"),
                end: at("2026-03-30T10:00:00Z"),
            },
            Interval {
                start: at("2026-03-30T14:30:00Z"),
                end: at("2026-03-30T15:00:00Z"),
            },
        ])
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_token_request(&requests[0]);
    let query = &requests[1];
    assert_api_request(query, "POST", "/calendar/v3/freeBusy", "", "ya29.token-1");
    assert_eq!(query.header("content-type"), Some("application/json"));
    assert_eq!(
        query.json(),
        json!({"timeMin": "2026-03-30T00:00:00Z", "timeMax": "2026-03-31T00:00:00Z",
               "timeZone": "UTC", "items": [{"id": CALENDAR_ID}]})
    );
    assert_eq!(
        fixture.store.token(),
        Some(AccessToken {
            token: "ya29.token-1".into(),
            expires_at: start() + chrono::Duration::seconds(3599),
        }),
        "the new token is stored with its expiry"
    );
    assert_eq!(
        fixture.calendar.calendar().as_str(),
        "google:team@example.com"
    );
}

#[tokio::test]
async fn a_per_calendar_error_or_a_missing_calendar_is_unknown_never_free() {
    let fake = fake_google(|_| {
        FakeResponse::json(
            200,
            json!({"kind": "calendar#freeBusy", "calendars": {CALENDAR_ID: {
                "errors": [{"domain": "global", "reason": "notFound"}], "busy": []}}}),
        )
    })
    .await;
    let fixture = calendar(&fake);
    let (from, to) = (at("2026-03-30T00:00:00Z"), at("2026-03-31T00:00:00Z"));
    assert_eq!(
        fixture.calendar.free_busy(from, to).await.unwrap(),
        FreeBusy::Unknown {
            reason: "Google reported notFound".into()
        }
    );
    fake.respond_with(|_| {
        FakeResponse::json(
            200,
            json!({"kind": "calendar#freeBusy", "calendars": {
            "someone-else@example.com": {"busy": []}}}),
        )
    });
    assert_eq!(
        fixture.calendar.free_busy(from, to).await.unwrap(),
        FreeBusy::Unknown {
            reason: "calendar team@example.com is missing from Google's answer".into()
        }
    );
}

#[tokio::test]
async fn insert_asks_for_a_meet_link_under_ids_derived_from_the_appointment() {
    let appointment = AppointmentId::new();
    let id = appointment.as_uuid().simple().to_string();
    let answer = event_answer(&id, "pending");
    let fake = fake_google(move |_| FakeResponse::json(200, answer.clone())).await;
    let fixture = calendar(&fake);
    let inserted = fixture
        .calendar
        .insert_event(&event(appointment, Some("ada@example.com")))
        .await
        .unwrap();
    assert_eq!(
        inserted,
        InsertedEvent {
            event_id: id.clone(),
            html_link: Some(format!("https://www.google.com/calendar/event?eid={id}")),
            meet_link: None,
            conference: Some(ConferenceStatus::Pending),
        }
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let insert = &requests[1];
    assert_api_request(
        insert,
        "POST",
        EVENTS_PATH,
        "conferenceDataVersion=1&sendUpdates=none",
        "ya29.token-1",
    );
    assert_eq!(insert.header("content-type"), Some("application/json"));
    assert_eq!(
        insert.json(),
        json!({
            "id": id,
            "summary": "Consultation: Ada Lovelace",
            "description": "Booked by BookerBot. Notes: first visit",
            "start": {"dateTime": "2026-03-30T10:00:00+01:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-03-30T10:30:00+01:00", "timeZone": "Europe/London"},
            "attendees": [{"email": "ada@example.com"}],
            "conferenceData": {"createRequest": {
                "requestId": format!("bookerbot-{appointment}"),
                "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
        })
    );

    // Without the lead's email there is no attendee; the ids follow the appointment.
    let other = AppointmentId::new();
    fixture
        .calendar
        .insert_event(&event(other, None))
        .await
        .unwrap();
    let body = fake.requests()[2].json();
    assert_eq!(body.get("attendees"), None);
    assert_eq!(body["id"], json!(other.as_uuid().simple().to_string()));
    assert_eq!(
        body["conferenceData"]["createRequest"]["requestId"],
        json!(format!("bookerbot-{other}"))
    );
}

#[tokio::test]
async fn a_retried_insert_finds_the_event_already_written_instead_of_duplicating_it() {
    let appointment = AppointmentId::new();
    let id = appointment.as_uuid().simple().to_string();
    let existing = event_answer(&id, "success");
    let fake = fake_google(move |request| {
        if request.method == "POST" {
            FakeResponse::json(
                409,
                json!({"error": {"code": 409,
                "message": "The requested identifier already exists.",
                "errors": [{"domain": "global", "reason": "duplicate"}]}}),
            )
        } else {
            FakeResponse::json(200, existing.clone())
        }
    })
    .await;
    let fixture = calendar(&fake);
    let inserted = fixture
        .calendar
        .insert_event(&event(appointment, None))
        .await
        .unwrap();
    assert_eq!(
        inserted,
        InsertedEvent {
            event_id: id.clone(),
            html_link: Some(format!("https://www.google.com/calendar/event?eid={id}")),
            meet_link: Some("https://meet.google.com/aaa-bbbb-ccc".into()),
            conference: Some(ConferenceStatus::Success),
        }
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_api_request(
        &requests[2],
        "GET",
        &format!("{EVENTS_PATH}/{id}"),
        "",
        "ya29.token-1",
    );

    // An event deleted since is not brought back.
    let mut cancelled = event_answer(&id, "success");
    cancelled["status"] = json!("cancelled");
    fake.respond_with(move |request| {
        if request.method == "POST" {
            FakeResponse::json(409, json!({"error": {"code": 409, "message": "duplicate"}}))
        } else {
            FakeResponse::json(200, cancelled.clone())
        }
    });
    let refused = fixture
        .calendar
        .insert_event(&event(appointment, None))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, CalendarError::Refused { status: 409, .. }),
        "{refused:?}"
    );
}

#[tokio::test]
async fn patch_moves_the_event_and_delete_treats_a_gone_event_as_deleted() {
    let fake = fake_google(|request| match request.method.as_str() {
        "PATCH" => FakeResponse::json(200, event_answer("evt1", "success")),
        _ => FakeResponse::text(204, ""),
    })
    .await;
    let fixture = calendar(&fake);
    let mut moved = event(AppointmentId::new(), Some("ada@example.com"));
    moved.start = at("2026-11-02T15:00:00Z");
    moved.end = at("2026-11-02T15:45:00Z");
    moved.timezone = Timezone::parse("America/New_York").unwrap();
    fixture.calendar.update_event("evt1", &moved).await.unwrap();
    let patch = &fake.requests()[1];
    assert_api_request(
        patch,
        "PATCH",
        &format!("{EVENTS_PATH}/evt1"),
        "sendUpdates=none",
        "ya29.token-1",
    );
    assert_eq!(patch.header("content-type"), Some("application/json"));
    assert_eq!(
        patch.json(),
        json!({
            "summary": "Consultation: Ada Lovelace",
            "description": "Booked by BookerBot. Notes: first visit",
            "start": {"dateTime": "2026-11-02T10:00:00-05:00", "timeZone": "America/New_York"},
            "end": {"dateTime": "2026-11-02T10:45:00-05:00", "timeZone": "America/New_York"}
        })
    );

    fixture.calendar.delete_event("evt1").await.unwrap();
    let delete = &fake.requests()[2];
    assert_api_request(
        delete,
        "DELETE",
        &format!("{EVENTS_PATH}/evt1"),
        "sendUpdates=none",
        "ya29.token-1",
    );
    assert!(delete.body.is_empty());
    for gone in [404, 410] {
        fake.enqueue(FakeResponse::json(
            gone,
            json!({"error": {"code": gone, "message": "Not Found"}}),
        ));
        fixture.calendar.delete_event("evt1").await.unwrap();
    }
    fake.enqueue(FakeResponse::json(
        403,
        json!({"error": {"code": 403, "message": "Forbidden",
                         "errors": [{"domain": "global", "reason": "forbidden"}]}}),
    ));
    assert_eq!(
        fixture.calendar.delete_event("evt1").await.unwrap_err(),
        CalendarError::Refused {
            status: 403,
            message: "Forbidden".into()
        }
    );
    assert_eq!(
        paths(&fake)
            .iter()
            .filter(|p| p.starts_with("POST /token"))
            .count(),
        1,
        "one token served every call"
    );
}

#[tokio::test]
async fn the_token_is_reused_until_a_minute_before_it_expires_then_refreshed() {
    let fake = fake_google(|_| busy_answer()).await;
    let fixture = calendar(&fake);
    let (from, to) = (at("2026-03-30T00:00:00Z"), at("2026-03-31T00:00:00Z"));
    fixture.calendar.free_busy(from, to).await.unwrap();
    fixture.clock.advance(chrono::Duration::seconds(3538));
    fixture.calendar.free_busy(from, to).await.unwrap();
    assert_eq!(
        paths(&fake),
        [
            "POST /token",
            "POST /calendar/v3/freeBusy",
            "POST /calendar/v3/freeBusy"
        ]
    );
    fixture.clock.advance(chrono::Duration::seconds(1));
    fixture.calendar.free_busy(from, to).await.unwrap();
    let requests = fake.requests();
    assert_eq!(requests.len(), 5, "{requests:?}");
    assert_token_request(&requests[3]);
    assert_eq!(
        requests[4].header("authorization"),
        Some("Bearer ya29.token-2")
    );
    assert_eq!(
        fixture.store.token().unwrap().expires_at,
        start() + chrono::Duration::seconds(3539 + 3599)
    );
}

#[tokio::test]
async fn a_stored_token_is_used_without_refreshing_and_concurrent_calls_refresh_once() {
    let fake = fake_google(|_| busy_answer()).await;
    let store = Arc::new(RecordingStore::default());
    store
        .save(&AccessToken {
            token: "ya29.from-another-instance".into(),
            expires_at: start() + chrono::Duration::minutes(30),
        })
        .await
        .unwrap();
    let fixture = calendar_over(&fake, store, Duration::from_secs(5));
    let (from, to) = (at("2026-03-30T00:00:00Z"), at("2026-03-31T00:00:00Z"));
    fixture.calendar.free_busy(from, to).await.unwrap();
    assert_eq!(paths(&fake), ["POST /calendar/v3/freeBusy"]);
    assert_eq!(
        fake.requests()[0].header("authorization"),
        Some("Bearer ya29.from-another-instance")
    );

    fixture.clock.advance(chrono::Duration::minutes(30));
    let calls = (0..5).map(|_| fixture.calendar.free_busy(from, to));
    for answer in futures::future::join_all(calls).await {
        answer.unwrap();
    }
    let tokens = paths(&fake).iter().filter(|p| *p == "POST /token").count();
    assert_eq!(tokens, 1, "{:?}", paths(&fake));
}

#[tokio::test]
async fn a_401_gets_exactly_one_new_token_and_one_retry() {
    let fake = fake_google(|request| {
        if request.header("authorization") == Some("Bearer ya29.token-1") {
            FakeResponse::json(
                401,
                json!({"error": {"code": 401, "message": "Invalid Credentials",
                "errors": [{"domain": "global", "reason": "authError"}]}}),
            )
        } else {
            busy_answer()
        }
    })
    .await;
    let fixture = calendar(&fake);
    let (from, to) = (at("2026-03-30T00:00:00Z"), at("2026-03-31T00:00:00Z"));
    assert!(matches!(
        fixture.calendar.free_busy(from, to).await.unwrap(),
        FreeBusy::Known(_)
    ));
    let requests = fake.requests();
    assert_eq!(
        paths(&fake),
        [
            "POST /token",
            "POST /calendar/v3/freeBusy",
            "POST /token",
            "POST /calendar/v3/freeBusy"
        ]
    );
    assert_token_request(&requests[2]);
    assert_eq!(
        requests[3].header("authorization"),
        Some("Bearer ya29.token-2")
    );
    assert_eq!(
        requests[1].json(),
        requests[3].json(),
        "the same query is retried"
    );

    // A token Google keeps refusing is not refreshed in a loop.
    fake.respond_with(|request| {
        if request.path == "/token" {
            FakeResponse::json(
                200,
                json!({"access_token": "ya29.again", "expires_in": 3599}),
            )
        } else {
            FakeResponse::json(
                401,
                json!({"error": {"code": 401, "message": "Invalid Credentials"}}),
            )
        }
    });
    fake.clear();
    assert_eq!(
        fixture.calendar.free_busy(from, to).await.unwrap_err(),
        CalendarError::Refused {
            status: 401,
            message: "Invalid Credentials".into()
        }
    );
    assert_eq!(
        paths(&fake),
        [
            "POST /calendar/v3/freeBusy",
            "POST /token",
            "POST /calendar/v3/freeBusy"
        ]
    );
}

#[tokio::test]
async fn invalid_grant_disconnects_once_and_google_is_not_called_again() {
    let fake = FakeHttp::start(|_| revoked()).await;
    let fixture = calendar(&fake);
    let (from, to) = (at("2026-03-30T00:00:00Z"), at("2026-03-31T00:00:00Z"));
    let disconnected = CalendarError::Disconnected {
        reason: REVOKED.into(),
    };
    assert_eq!(
        fixture.calendar.free_busy(from, to).await.unwrap_err(),
        disconnected
    );
    assert_eq!(paths(&fake), ["POST /token"]);
    assert_token_request(&fake.requests()[0]);
    assert_eq!(fixture.store.disconnections(), [REVOKED]);
    assert_eq!(fixture.calendar.refused_reason().as_deref(), Some(REVOKED));

    let appointment = AppointmentId::new();
    assert_eq!(
        fixture.calendar.free_busy(from, to).await.unwrap_err(),
        disconnected
    );
    assert_eq!(
        fixture
            .calendar
            .insert_event(&event(appointment, None))
            .await
            .unwrap_err(),
        disconnected
    );
    assert_eq!(
        fixture
            .calendar
            .update_event("evt1", &event(appointment, None))
            .await
            .unwrap_err(),
        disconnected
    );
    assert_eq!(
        fixture.calendar.delete_event("evt1").await.unwrap_err(),
        disconnected
    );
    assert_eq!(fake.requests().len(), 1, "no further call reached Google");
    assert_eq!(fixture.store.disconnections().len(), 1);
}

#[tokio::test]
async fn server_errors_throttling_and_timeouts_are_unavailable_other_refusals_refused() {
    let fake = fake_google(|_| {
        FakeResponse::json(
            503,
            json!({"error": {"code": 503, "message": "Backend Error"}}),
        )
        .with_header("retry-after", "30")
    })
    .await;
    let fixture = calendar_over(&fake, Arc::default(), Duration::from_millis(500));
    let (from, to) = (at("2026-03-30T00:00:00Z"), at("2026-03-31T00:00:00Z"));
    assert_eq!(
        fixture.calendar.free_busy(from, to).await.unwrap_err(),
        CalendarError::Unavailable {
            message: "Backend Error".into(),
            retry_after: Some(Duration::from_secs(30)),
        }
    );
    fake.enqueue(FakeResponse::json(
        429,
        json!({"error": {"code": 429, "message": "Too Many Requests"}}),
    ));
    assert!(matches!(
        fixture.calendar.free_busy(from, to).await.unwrap_err(),
        CalendarError::Unavailable {
            retry_after: None,
            ..
        }
    ));
    fake.enqueue(FakeResponse::json(
        403,
        json!({"error": {"code": 403, "message": "Rate Limit Exceeded",
                         "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded"}]}}),
    ));
    assert!(matches!(
        fixture.calendar.free_busy(from, to).await.unwrap_err(),
        CalendarError::Unavailable { .. }
    ));
    fake.enqueue(busy_answer().delayed(Duration::from_secs(2)));
    assert_eq!(
        fixture.calendar.free_busy(from, to).await.unwrap_err(),
        CalendarError::Unavailable {
            message: "Google did not answer in time".into(),
            retry_after: None,
        }
    );
    fake.enqueue(FakeResponse::json(
        400,
        json!({"error": {"code": 400, "message": "Invalid start time.",
                         "errors": [{"domain": "calendar", "reason": "timeRangeEmpty"}]}}),
    ));
    assert_eq!(
        fixture
            .calendar
            .insert_event(&event(AppointmentId::new(), None))
            .await
            .unwrap_err(),
        CalendarError::Refused {
            status: 400,
            message: "Invalid start time.".into()
        }
    );

    // The token endpoint failing is no disconnection.
    let down = FakeHttp::start(|_| FakeResponse::text(500, "oops")).await;
    let fixture = calendar(&down);
    assert_eq!(
        fixture.calendar.free_busy(from, to).await.unwrap_err(),
        CalendarError::Unavailable {
            message: "HTTP 500".into(),
            retry_after: None,
        }
    );
    down.respond_with(|_| {
        FakeResponse::json(
            401,
            json!({"error": "invalid_client",
                   "error_description": "The OAuth client was not found."}),
        )
    });
    assert_eq!(
        fixture.calendar.free_busy(from, to).await.unwrap_err(),
        CalendarError::Refused {
            status: 401,
            message: "invalid_client: The OAuth client was not found.".into()
        }
    );
    assert!(fixture.store.disconnections().is_empty());
    assert_eq!(fixture.calendar.refused_reason(), None);
}
