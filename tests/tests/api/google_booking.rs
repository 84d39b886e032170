//! Appointments in a tenant's Google calendar, end to end against a fake Google: availability
//! leaves out Google's busy times (with the workflow's buffer) and offers nothing when Google
//! cannot say what is busy; a booking Google reports busy is refused; after a booking commits
//! the workers write the event (with a Meet link, under an id derived from the appointment),
//! move it on a reschedule and delete it on a cancel; an outage is retried.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bookerbot_tests::{FakeHttp, FakeResponse, RecordedRequest};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{TestApp, TestTenant, ADMIN};
use crate::messaging::{eventually, post_ok, WAIT};

const CALENDAR: &str = "team@example.com";
const EVENTS_PATH: &str = "/calendar/v3/calendars/team%40example.com/events";
const MEET: &str = "https://meet.google.com/aaa-bbbb-ccc";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn instant(value: &Value) -> DateTime<Utc> {
    at(value.as_str().unwrap())
}

/// What the fake Google answers.
#[derive(Debug, Default)]
struct Google {
    /// Busy blocks of the calendar (RFC 3339 UTC).
    busy: Vec<(String, String)>,
    /// Answer freeBusy with a per-calendar error.
    calendar_error: bool,
    /// Answer this many event inserts with 503 first.
    failing_inserts: u32,
}

fn answer(state: &Mutex<Google>, request: &RecordedRequest) -> FakeResponse {
    let mut google = state.lock().unwrap();
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/token") => FakeResponse::json(
            200,
            json!({"access_token": "ya29.token", "expires_in": 3599, "token_type": "Bearer"}),
        ),
        ("POST", "/calendar/v3/freeBusy") => {
            let calendar = if google.calendar_error {
                json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []})
            } else {
                let busy: Vec<Value> = google
                    .busy
                    .iter()
                    .map(|(start, end)| json!({"start": start, "end": end}))
                    .collect();
                json!({"busy": busy})
            };
            FakeResponse::json(
                200,
                json!({"kind": "calendar#freeBusy", "calendars": {CALENDAR: calendar}}),
            )
        }
        ("POST", EVENTS_PATH) if google.failing_inserts > 0 => {
            google.failing_inserts -= 1;
            FakeResponse::json(
                503,
                json!({"error": {"code": 503, "message": "Backend Error"}}),
            )
        }
        ("POST", EVENTS_PATH) => {
            let body = request.json();
            FakeResponse::json(
                200,
                json!({"id": body["id"], "status": "confirmed",
                       "htmlLink": "https://calendar.google.com/event?eid=x",
                       "hangoutLink": MEET,
                       "conferenceData": {
                           "createRequest": {"status": {"statusCode": "success"}},
                           "entryPoints": [{"entryPointType": "video", "uri": MEET}],
                           "conferenceId": "aaa-bbbb-ccc"}}),
            )
        }
        ("PATCH", path) if path.starts_with(EVENTS_PATH) => FakeResponse::json(
            200,
            json!({"id": path.rsplit('/').next(), "status": "confirmed"}),
        ),
        ("DELETE", path) if path.starts_with(EVENTS_PATH) => FakeResponse::text(204, ""),
        _ => FakeResponse::json(404, json!({"error": {"code": 404, "message": "Not Found"}})),
    }
}

/// A server whose Google endpoints are a fake answering from `state`.
async fn app_with_google() -> (TestApp, FakeHttp, Arc<Mutex<Google>>) {
    let state = Arc::new(Mutex::new(Google::default()));
    let shared = state.clone();
    let google = FakeHttp::start(move |request| answer(&shared, request)).await;
    let (token_url, api_base) = (format!("{}/token", google.base), google.base.clone());
    let app = TestApp::spawn_with(|settings| {
        settings.google_token_url = token_url;
        settings.google_api_base = api_base;
    })
    .await;
    // Sunday 29 March 2026, 12:00 UTC: London is on summer time (BST) since 01:00 UTC.
    app.clock.set(at("2026-03-29T12:00:00Z"));
    (app, google, state)
}

/// A London tenant connected to the fake Google, with a workflow of 30-minute appointments kept
/// 15 minutes apart from anything busy, and a lead.
async fn tenant_with_google(app: &TestApp) -> (TestTenant, String, String) {
    let reply = app
        .post(
            ADMIN,
            "/api/v1/tenants",
            json!({"name": "Google", "brand_name": "Acme Solar", "timezone": "Europe/London"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let tenant = TestTenant {
        id: reply.body["tenant"]["id"].as_str().unwrap().to_owned(),
        key: reply.body["api_key"].as_str().unwrap().to_owned(),
    };
    let connected = app
        .patch(
            &tenant.key,
            &format!("/api/v1/tenants/{}", tenant.id),
            json!({"calendar": {"google": {"client_id": "id.apps.googleusercontent.com",
                                           "client_secret": "secret", "refresh_token": "1//r",
                                           "calendar_id": CALENDAR}}}),
        )
        .await;
    assert_eq!(connected.status, StatusCode::OK, "{}", connected.text);
    let workflow = post_ok(
        app,
        &tenant.key,
        "/api/v1/workflows",
        json!({"name": "Visits", "channel": "sms", "initial_message": "Hi {first_name}",
               "appointment_duration_minutes": 30, "appointment_buffer_minutes": 15}),
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lead = app
        .capture_new(
            &tenant.key,
            json!({"first_name": "Ada", "last_name": "Lovelace", "phone": "+44 7700 900401",
                   "email": "ada@example.com"}),
        )
        .await
        .0;
    (tenant, workflow, lead)
}

async fn monday(app: &TestApp, key: &str, workflow: &str) -> Value {
    let reply = app
        .get(
            key,
            &format!(
                "/api/v1/availability?workflow_id={workflow}\
                 &from=2026-03-30T00:00:00Z&to=2026-03-31T00:00:00Z"
            ),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

fn starts(availability: &Value) -> Vec<DateTime<Utc>> {
    availability["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| instant(&slot["start"]))
        .collect()
}

/// Google's requests of `method` to the events path, once there are `count`.
async fn event_requests(google: &FakeHttp, method: &str, count: usize) -> Vec<RecordedRequest> {
    eventually(&format!("{count} {method} to the events"), WAIT, || async {
        let found: Vec<RecordedRequest> = google
            .requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.starts_with(EVENTS_PATH))
            .collect();
        (found.len() >= count).then_some(found)
    })
    .await
}

#[tokio::test]
async fn availability_leaves_out_googles_busy_times_with_the_buffer() {
    let (app, google, state) = app_with_google().await;
    let (tenant, workflow, _) = tenant_with_google(&app).await;
    // 10:00-11:00 BST is busy in Google.
    state.lock().unwrap().busy = vec![(
        "2026-03-30T09:00:00Z".to_owned(),
        "2026-03-30T10:00:00Z".to_owned(),
    )];
    let free = monday(&app, &tenant.key, &workflow).await;
    assert_eq!(free["calendar"], format!("google:{CALENDAR}"));
    assert_eq!(free["unknown_reason"], Value::Null);
    // 09:00-17:00 BST is 08:00-16:00 UTC; 15 minutes must stay clear on both sides of the
    // busy hour: 08:30 (ends 09:00) and 10:00 (starts at its end) go, 08:00 and 10:30 stay.
    let mut expected = vec![at("2026-03-30T08:00:00Z")];
    expected
        .extend((0..11).map(|i| at("2026-03-30T10:30:00Z") + chrono::Duration::minutes(30 * i)));
    assert_eq!(starts(&free), expected);
    // Google was asked about the range widened by the buffer.
    let asked: Vec<Value> = google
        .requests()
        .iter()
        .filter(|r| r.path == "/calendar/v3/freeBusy")
        .map(RecordedRequest::json)
        .collect();
    assert_eq!(asked.len(), 1);
    assert_eq!(instant(&asked[0]["timeMin"]), at("2026-03-29T23:45:00Z"));
    assert_eq!(instant(&asked[0]["timeMax"]), at("2026-03-31T00:15:00Z"));
    assert_eq!(asked[0]["items"], json!([{"id": CALENDAR}]));
    let token = google.requests().into_iter().find(|r| r.path == "/token");
    assert_eq!(
        token.unwrap().form_value("grant_type").as_deref(),
        Some("refresh_token")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_per_calendar_error_offers_nothing_and_refuses_bookings() {
    let (app, _google, state) = app_with_google().await;
    let (tenant, workflow, lead) = tenant_with_google(&app).await;
    state.lock().unwrap().calendar_error = true;
    let free = monday(&app, &tenant.key, &workflow).await;
    assert_eq!(free["slots"], json!([]));
    assert_eq!(free["unknown_reason"], "Google reported notFound");
    let refused = app
        .post(
            &tenant.key,
            "/api/v1/appointments",
            json!({"lead_id": lead, "workflow_id": workflow, "start": "2026-03-30T08:00:00Z"}),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.text
    );
    assert_eq!(refused.body["error"]["code"], "calendar_unavailable");
    let written: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_type = 'appointment'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(written, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_time_google_reports_busy_is_refused_with_alternatives() {
    let (app, _google, state) = app_with_google().await;
    let (tenant, workflow, lead) = tenant_with_google(&app).await;
    state.lock().unwrap().busy = vec![(
        "2026-03-30T08:15:00Z".to_owned(),
        "2026-03-30T08:45:00Z".to_owned(),
    )];
    let refused = app
        .post(
            &tenant.key,
            "/api/v1/appointments",
            json!({"lead_id": lead, "workflow_id": workflow, "start": "2026-03-30T08:00:00Z"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.body["error"]["code"], "slot_taken");
    let alternatives = &refused.body["error"]["details"]["alternatives"];
    assert_eq!(
        instant(&alternatives[0]["start"]),
        at("2026-03-30T09:00:00Z")
    );
    app.stop().await;
}

#[tokio::test]
async fn the_event_is_written_with_a_meet_link_then_moved_and_deleted() {
    let (app, google, _state) = app_with_google().await;
    let (tenant, workflow, lead) = tenant_with_google(&app).await;
    let booked = post_ok(
        &app,
        &tenant.key,
        "/api/v1/appointments",
        json!({"lead_id": lead, "workflow_id": workflow, "start": "2026-03-30T08:00:00Z",
               "notes": "Side gate"}),
        StatusCode::CREATED,
    )
    .await;
    let id = booked["id"].as_str().unwrap().to_owned();

    let inserted = event_requests(&google, "POST", 1).await;
    assert_eq!(inserted.len(), 1);
    assert_eq!(
        inserted[0].query,
        "conferenceDataVersion=1&sendUpdates=none"
    );
    assert_eq!(
        inserted[0].header("authorization"),
        Some("Bearer ya29.token")
    );
    let body = inserted[0].json();
    let simple = id.replace('-', "");
    assert_eq!(body["id"], simple.as_str());
    assert_eq!(
        body["conferenceData"],
        json!({"createRequest": {"requestId": format!("bookerbot-{id}"),
                                 "conferenceSolutionKey": {"type": "hangoutsMeet"}}})
    );
    assert_eq!(
        body["start"],
        json!({"dateTime": "2026-03-30T09:00:00+01:00", "timeZone": "Europe/London"})
    );
    assert_eq!(
        body["end"],
        json!({"dateTime": "2026-03-30T09:30:00+01:00", "timeZone": "Europe/London"})
    );
    assert_eq!(body["summary"], "Appointment with Ada Lovelace");
    assert_eq!(
        body["description"],
        "Booked by BookerBot for Acme Solar.\nPhone: +447700900401\nNotes: Side gate"
    );
    assert_eq!(body["attendees"], json!([{"email": "ada@example.com"}]));
    // The Meet link comes back onto the appointment.
    eventually("the meeting link on the appointment", WAIT, || async {
        let read = app
            .get(&tenant.key, &format!("/api/v1/appointments/{id}"))
            .await;
        (read.body["meeting_link"] == MEET).then_some(())
    })
    .await;

    post_ok(
        &app,
        &tenant.key,
        &format!("/api/v1/appointments/{id}/reschedule"),
        json!({"start": "2026-03-30T13:00:00Z"}),
        StatusCode::OK,
    )
    .await;
    let patched = event_requests(&google, "PATCH", 1).await;
    assert_eq!(patched[0].path, format!("{EVENTS_PATH}/{simple}"));
    assert_eq!(
        patched[0].json()["start"],
        json!({"dateTime": "2026-03-30T14:00:00+01:00", "timeZone": "Europe/London"})
    );

    post_ok(
        &app,
        &tenant.key,
        &format!("/api/v1/appointments/{id}/cancel"),
        json!({"reason": "Changed plans"}),
        StatusCode::OK,
    )
    .await;
    let deleted = event_requests(&google, "DELETE", 1).await;
    assert_eq!(deleted[0].path, format!("{EVENTS_PATH}/{simple}"));
    tokio::time::sleep(Duration::from_millis(800)).await;
    // Each change was written once, and each sync recorded.
    assert_eq!(event_requests(&google, "POST", 1).await.len(), 1);
    assert_eq!(event_requests(&google, "PATCH", 1).await.len(), 1);
    assert_eq!(event_requests(&google, "DELETE", 1).await.len(), 1);
    let synced: Vec<i64> = sqlx::query_scalar(
        "SELECT (payload::jsonb -> 'AppointmentCalendarSynced' ->> 'through_version')::int8 \
         FROM events WHERE event_type = 'AppointmentCalendarSynced' ORDER BY global_position",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(synced.len(), 3, "{synced:?}");
    app.stop().await;
}

#[tokio::test]
async fn an_outage_is_retried_and_the_event_written_once() {
    let (app, google, state) = app_with_google().await;
    let (tenant, workflow, lead) = tenant_with_google(&app).await;
    state.lock().unwrap().failing_inserts = 1;
    let booked = post_ok(
        &app,
        &tenant.key,
        "/api/v1/appointments",
        json!({"lead_id": lead, "workflow_id": workflow, "start": "2026-03-30T08:00:00Z"}),
        StatusCode::CREATED,
    )
    .await;
    let id = booked["id"].as_str().unwrap().to_owned();
    event_requests(&google, "POST", 1).await;
    let failed: Value = eventually("the failure recorded", WAIT, || async {
        sqlx::query_scalar::<_, Value>(
            "SELECT payload::jsonb -> 'AppointmentCalendarSyncFailed' FROM events \
             WHERE event_type = 'AppointmentCalendarSyncFailed'",
        )
        .fetch_optional(app.db.pool())
        .await
        .unwrap()
    })
    .await;
    assert_eq!(failed["attempt"], 1);
    assert_eq!(instant(&failed["retry_at"]), at("2026-03-29T12:00:30Z"));
    // Nothing is tried again before the retry time; at it, the event is written.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(event_requests(&google, "POST", 1).await.len(), 1);
    app.clock.set(at("2026-03-29T12:00:30Z"));
    event_requests(&google, "POST", 2).await;
    eventually("the meeting link on the appointment", WAIT, || async {
        let read = app
            .get(&tenant.key, &format!("/api/v1/appointments/{id}"))
            .await;
        (read.body["meeting_link"] == MEET).then_some(())
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn appointments_keep_their_time_when_the_tenant_changes_calendar() {
    let (app, _google, _state) = app_with_google().await;
    let (tenant, workflow, lead) = tenant_with_google(&app).await;
    post_ok(
        &app,
        &tenant.key,
        "/api/v1/appointments",
        json!({"lead_id": lead, "workflow_id": workflow, "start": "2026-03-30T08:00:00Z"}),
        StatusCode::CREATED,
    )
    .await;
    // Back to the built-in calendar: the Google-held appointment still takes its time.
    let disconnected = app
        .patch(
            &tenant.key,
            &format!("/api/v1/tenants/{}", tenant.id),
            json!({"calendar": {"google": null}}),
        )
        .await;
    assert_eq!(disconnected.status, StatusCode::OK, "{}", disconnected.text);
    let free = monday(&app, &tenant.key, &workflow).await;
    assert_eq!(free["calendar"], "builtin");
    assert_eq!(
        starts(&free)[0],
        at("2026-03-30T09:00:00Z"),
        "08:00 and its buffer are taken"
    );
    let again = app
        .post(
            &tenant.key,
            "/api/v1/appointments",
            json!({"lead_id": lead, "workflow_id": workflow, "start": "2026-03-30T08:15:00Z"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert_eq!(again.body["error"]["code"], "slot_taken");
    app.stop().await;
}
