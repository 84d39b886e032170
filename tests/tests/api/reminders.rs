//! Appointment reminders end to end over HTTP, with the server's workers and an injected clock:
//! `GET /api/v1/scheduled` lists each reminder still to go; each goes out through the sandbox
//! at its time, in the lead's zone, and not a second earlier; a reschedule moves them (one
//! already sent goes again for the new time); a cancel removes them; one already past at booking
//! is never planned, and after an outage only the latest due one goes, never after the start; an
//! opted-out lead gets none; the workflow's own offsets are used, fixed at booking; a reminder
//! run twice queues one message.

use std::sync::Arc;
use std::time::Duration;

use api::settings::Settings;
use api::state::AppState;
use chrono::{DateTime, Utc};
use infrastructure::messaging::reminders::{self, ReminderOutcome};
use infrastructure::messaging::task_queue::ClaimedTask;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;

use crate::helpers::{TestApp, TestTenant, ADMIN};
use crate::messaging::{conversation, eventually, post_ok, sandbox, sandbox_shows, BRAND, WAIT};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

/// Monday 2026-03-30, 10:00 UTC (11:00 in London).
fn monday_morning() -> DateTime<Utc> {
    at("2026-03-30T10:00:00Z")
}

/// Thursday 2 April 2026, 15:00 in London (BST): three days and some hours after
/// [`monday_morning`].
fn thursday_three_pm() -> DateTime<Utc> {
    at("2026-04-02T14:00:00Z")
}

/// The reminder of an appointment with [`BRAND`] at `when` in London.
fn text(when: &str) -> String {
    format!("Reminder: your appointment with {BRAND} is {when} (Europe/London).")
}

/// A London tenant branded [`BRAND`], a workflow (`extra` fields added) and a lead with a UK
/// phone (so its zone is London) in no workflow (so nothing but reminders is sent to it).
async fn world(app: &TestApp, extra: Value) -> (TestTenant, String, String) {
    app.clock.set(monday_morning());
    let reply = app
        .post(
            ADMIN,
            "/api/v1/tenants",
            json!({"name": "Clinic", "brand_name": BRAND, "timezone": "Europe/London"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let tenant = TestTenant {
        id: reply.body["tenant"]["id"].as_str().unwrap().to_owned(),
        key: reply.body["api_key"].as_str().unwrap().to_owned(),
    };
    let mut body =
        json!({"name": "Visits", "channel": "sms", "initial_message": "Hi {first_name}"});
    for (field, value) in extra.as_object().unwrap() {
        body[field] = value.clone();
    }
    let created = post_ok(
        app,
        &tenant.key,
        "/api/v1/workflows",
        body,
        StatusCode::CREATED,
    )
    .await;
    let workflow = created["id"].as_str().unwrap().to_owned();
    let lead = capture(app, &tenant.key, "+44 7700 900101").await;
    (tenant, workflow, lead)
}

/// Captures Sam with `phone`, in no workflow; the lead's id.
async fn capture(app: &TestApp, key: &str, phone: &str) -> String {
    app.capture_new(key, json!({"first_name": "Sam", "phone": phone}))
        .await
        .0
}

/// Books `lead` at `start` through `workflow`; the appointment's id.
async fn book(
    app: &TestApp,
    key: &str,
    lead: &str,
    workflow: &str,
    start: DateTime<Utc>,
) -> String {
    let booked = post_ok(
        app,
        key,
        "/api/v1/appointments",
        json!({"lead_id": lead, "workflow_id": workflow, "start": start.to_rfc3339()}),
        StatusCode::CREATED,
    )
    .await;
    booked["id"].as_str().unwrap().to_owned()
}

/// The appointment's reminders listed by `GET /api/v1/scheduled?kind=reminder`, as
/// `(offset_minutes, due_at)`, once they are `expected`.
async fn reminders_are(
    app: &TestApp,
    key: &str,
    appointment: &str,
    expected: &[(i64, DateTime<Utc>)],
) {
    let listed = eventually(&format!("reminders {expected:?}"), WAIT, || async {
        let reply = app.get(key, "/api/v1/scheduled?kind=reminder").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let items: Vec<Value> = reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["appointment_id"] == appointment)
            .cloned()
            .collect();
        let seen: Vec<(i64, DateTime<Utc>)> = items
            .iter()
            .map(|item| {
                (
                    item["offset_minutes"].as_i64().unwrap(),
                    item["due_at"].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect();
        (seen == expected).then_some(items)
    })
    .await;
    for item in listed {
        assert_eq!(item["kind"], "reminder");
        assert_eq!(item["channel"], "sms");
        assert!(item["step"].is_null(), "{item}");
        assert!(item["id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("reminder:{appointment}:")));
    }
}

/// Lets the workers run a while; the lead must still have exactly `count` messages.
async fn still_sent(app: &TestApp, key: &str, lead: &str, count: usize) {
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(sandbox(app, key, lead).await.len(), count);
}

/// The appointment's reminder events: `(event type, offset, reason)`, in order.
async fn reminder_events(app: &TestApp, appointment: &str) -> Vec<(String, i64, Option<String>)> {
    let rows: Vec<(String, Value)> = sqlx::query_as(
        "SELECT event_type, payload::jsonb FROM events \
         WHERE aggregate_id = $1 AND event_type LIKE 'AppointmentReminder%' ORDER BY sequence",
    )
    .bind(appointment)
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    rows.into_iter()
        .map(|(kind, payload)| {
            let body = &payload[&kind];
            let reason = body["reason"].as_str().map(str::to_owned);
            (kind, body["offset_minutes"].as_i64().unwrap(), reason)
        })
        .collect()
}

fn sent(offset: i64) -> (String, i64, Option<String>) {
    ("AppointmentReminderSent".to_owned(), offset, None)
}

#[tokio::test]
async fn reminders_go_a_day_and_an_hour_before_and_move_with_a_reschedule() {
    let app = TestApp::spawn().await;
    let (tenant, workflow, lead) = world(&app, json!({})).await;
    let key = tenant.key.as_str();
    let start = thursday_three_pm();
    let appointment = book(&app, key, &lead, &workflow, start).await;
    let day_before = start - minutes(1440);
    let hour_before = start - minutes(60);
    reminders_are(
        &app,
        key,
        &appointment,
        &[(1440, day_before), (60, hour_before)],
    )
    .await;

    app.clock.set(day_before - chrono::Duration::seconds(1));
    still_sent(&app, key, &lead, 0).await;
    app.clock.set(day_before);
    assert_eq!(
        sandbox_shows(&app, key, &lead, 1).await,
        [text("Thu 2 Apr at 15:00")]
    );
    reminders_are(&app, key, &appointment, &[(60, hour_before)]).await;
    let shown = eventually("the reminder in the conversation", WAIT, || async {
        conversation(&app, key, &lead).await["messages"]
            .as_array()
            .unwrap()
            .first()
            .cloned()
    })
    .await;
    assert_eq!(shown["origin"], "reminder");

    // Moved to Friday at the same time: both reminders again, the day's one included.
    let friday = start + chrono::Duration::days(1);
    post_ok(
        &app,
        key,
        &format!("/api/v1/appointments/{appointment}/reschedule"),
        json!({"start": friday.to_rfc3339()}),
        StatusCode::OK,
    )
    .await;
    reminders_are(
        &app,
        key,
        &appointment,
        &[(1440, friday - minutes(1440)), (60, friday - minutes(60))],
    )
    .await;
    still_sent(&app, key, &lead, 1).await;
    app.clock.set(friday - minutes(1440));
    let moved = text("Fri 3 Apr at 15:00");
    assert_eq!(sandbox_shows(&app, key, &lead, 2).await[1], moved);
    app.clock.set(friday - minutes(60));
    assert_eq!(sandbox_shows(&app, key, &lead, 3).await[2], moved);
    reminders_are(&app, key, &appointment, &[]).await;
    app.clock.set(friday + minutes(30));
    still_sent(&app, key, &lead, 3).await;
    assert_eq!(
        reminder_events(&app, &appointment).await,
        [sent(1440), sent(1440), sent(60)]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_cancelled_appointment_sends_no_reminder() {
    let app = TestApp::spawn().await;
    let (tenant, workflow, lead) = world(&app, json!({})).await;
    let key = tenant.key.as_str();
    let start = thursday_three_pm();
    let appointment = book(&app, key, &lead, &workflow, start).await;
    reminders_are(
        &app,
        key,
        &appointment,
        &[(1440, start - minutes(1440)), (60, start - minutes(60))],
    )
    .await;
    post_ok(
        &app,
        key,
        &format!("/api/v1/appointments/{appointment}/cancel"),
        json!({"reason": "the lead cannot come"}),
        StatusCode::OK,
    )
    .await;
    reminders_are(&app, key, &appointment, &[]).await;
    app.clock.set(start - minutes(1440));
    still_sent(&app, key, &lead, 0).await;
    app.clock.set(start - minutes(60));
    still_sent(&app, key, &lead, 0).await;
    assert_eq!(reminder_events(&app, &appointment).await, []);
    app.stop().await;
}

#[tokio::test]
async fn a_reminder_past_at_booking_is_never_sent_and_after_an_outage_only_the_latest_goes() {
    let app = TestApp::spawn().await;
    let (tenant, workflow, lead) = world(&app, json!({})).await;
    let key = tenant.key.as_str();
    // Booked three hours ahead: only the hour's reminder.
    let soon = monday_morning() + chrono::Duration::hours(3);
    let short = book(&app, key, &lead, &workflow, soon).await;
    reminders_are(&app, key, &short, &[(60, soon - minutes(60))]).await;
    app.clock.set(soon - minutes(60));
    assert_eq!(
        sandbox_shows(&app, key, &lead, 1).await,
        [text("Mon 30 Mar at 14:00")]
    );
    assert_eq!(reminder_events(&app, &short).await, [sent(60)]);

    // The workers were down from before either reminder fell due until half an hour before the
    // start: the hour's reminder goes, the day's is moot.
    let other = capture(&app, key, "+44 7700 900102").await;
    let start = thursday_three_pm();
    let long = book(&app, key, &other, &workflow, start).await;
    reminders_are(
        &app,
        key,
        &long,
        &[(1440, start - minutes(1440)), (60, start - minutes(60))],
    )
    .await;
    app.clock.set(start - minutes(30));
    assert_eq!(
        sandbox_shows(&app, key, &other, 1).await,
        [text("Thu 2 Apr at 15:00")]
    );
    reminders_are(&app, key, &long, &[]).await;
    still_sent(&app, key, &other, 1).await;
    assert_eq!(reminder_events(&app, &long).await, [sent(60)]);

    // …and never after the start: found only once the meeting began, it is passed over.
    let third = capture(&app, key, "+44 7700 900103").await;
    let later = start + chrono::Duration::hours(2);
    let missed = book(&app, key, &third, &workflow, later).await;
    reminders_are(&app, key, &missed, &[(60, later - minutes(60))]).await;
    app.clock.set(later + minutes(1));
    reminders_are(&app, key, &missed, &[]).await;
    still_sent(&app, key, &third, 0).await;
    assert_eq!(
        reminder_events(&app, &missed).await,
        [(
            "AppointmentReminderSkipped".to_owned(),
            60,
            Some("started".to_owned())
        )]
    );
    app.stop().await;
}

#[tokio::test]
async fn an_opted_out_lead_gets_no_reminder() {
    let app = TestApp::spawn().await;
    let (tenant, workflow, lead) = world(&app, json!({})).await;
    let key = tenant.key.as_str();
    let start = thursday_three_pm();
    let appointment = book(&app, key, &lead, &workflow, start).await;
    reminders_are(
        &app,
        key,
        &appointment,
        &[(1440, start - minutes(1440)), (60, start - minutes(60))],
    )
    .await;
    post_ok(
        &app,
        key,
        &format!("/api/v1/leads/{lead}/opt-out"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    reminders_are(&app, key, &appointment, &[]).await;
    app.clock.set(start - minutes(1440));
    still_sent(&app, key, &lead, 0).await;
    app.clock.set(start - minutes(60));
    still_sent(&app, key, &lead, 0).await;
    assert_eq!(reminder_events(&app, &appointment).await, []);
    app.stop().await;
}

#[tokio::test]
async fn the_workflows_offsets_are_used_as_they_were_at_booking() {
    let app = TestApp::spawn().await;
    let settings = json!({
        "reminder_offsets_minutes": [30, 120],
        "appointment_buffer_minutes": 15,
        "booking_notice_minutes": 90
    });
    let (tenant, workflow, lead) = world(&app, settings).await;
    let key = tenant.key.as_str();
    let shown = eventually("the workflow in its read model", WAIT, || async {
        let reply = app.get(key, &format!("/api/v1/workflows/{workflow}")).await;
        (reply.status == StatusCode::OK).then_some(reply.body)
    })
    .await;
    assert_eq!(shown["reminder_offsets_minutes"], json!([120, 30]));
    assert_eq!(shown["appointment_buffer_minutes"], 15);
    assert_eq!(shown["booking_notice_minutes"], 90);

    let start = thursday_three_pm();
    let first = book(&app, key, &lead, &workflow, start).await;
    let changed = app
        .patch(
            key,
            &format!("/api/v1/workflows/{workflow}"),
            json!({"reminder_offsets_minutes": [45]}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    let position = changed.body["position"].as_i64().unwrap();
    let shown = app
        .get(
            key,
            &format!("/api/v1/workflows/{workflow}?min_position={position}"),
        )
        .await;
    assert_eq!(shown.body["reminder_offsets_minutes"], json!([45]));
    assert_eq!(shown.body["booking_notice_minutes"], 90);
    let other = capture(&app, key, "+44 7700 900104").await;
    let later = start + chrono::Duration::hours(2);
    let second = book(&app, key, &other, &workflow, later).await;
    reminders_are(
        &app,
        key,
        &first,
        &[(120, start - minutes(120)), (30, start - minutes(30))],
    )
    .await;
    reminders_are(&app, key, &second, &[(45, later - minutes(45))]).await;

    app.clock.set(start - minutes(120));
    assert_eq!(
        sandbox_shows(&app, key, &lead, 1).await,
        [text("Thu 2 Apr at 15:00")]
    );
    still_sent(&app, key, &other, 0).await;
    assert_eq!(reminder_events(&app, &first).await, [sent(120)]);
    app.stop().await;
}

#[tokio::test]
async fn booking_settings_out_of_bounds_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (tenant, workflow, _) = world(&app, json!({})).await;
    let key = tenant.key.as_str();
    let cases = [
        (
            json!({"reminder_offsets_minutes": [60, 4]}),
            "reminder_offsets_minutes",
        ),
        (
            json!({"reminder_offsets_minutes": [60, 60]}),
            "reminder_offsets_minutes",
        ),
        (
            json!({"reminder_offsets_minutes": [5, 10, 15, 20, 25, 30]}),
            "reminder_offsets_minutes",
        ),
        (
            json!({"reminder_offsets_minutes": [60, -1]}),
            "reminder_offsets_minutes[1]",
        ),
        (
            json!({"appointment_buffer_minutes": 241}),
            "appointment_buffer_minutes",
        ),
        (
            json!({"booking_notice_minutes": 10081}),
            "booking_notice_minutes",
        ),
        (
            json!({"booking_notice_minutes": -5}),
            "booking_notice_minutes",
        ),
    ];
    for (fields, field) in cases {
        let mut body = json!({"name": "Bad", "channel": "sms", "initial_message": "Hi"});
        for (name, value) in fields.as_object().unwrap() {
            body[name] = value.clone();
        }
        let created = app.post(key, "/api/v1/workflows", body).await;
        assert_eq!(
            created.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields}: {}",
            created.text
        );
        assert_eq!(created.error_field(), Some(field), "{fields}");
        let patched = app
            .patch(
                key,
                &format!("/api/v1/workflows/{workflow}"),
                fields.clone(),
            )
            .await;
        assert_eq!(
            patched.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields}: {}",
            patched.text
        );
        assert_eq!(patched.error_field(), Some(field), "{fields}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_reminder_run_twice_at_once_queues_one_message() {
    let app = TestApp::spawn_with(|settings| settings.run_workers = false).await;
    let (tenant, workflow, lead) = world(&app, json!({"reminder_offsets_minutes": [1440]})).await;
    let key = tenant.key.as_str();
    let start = thursday_three_pm();
    let appointment = book(&app, key, &lead, &workflow, start).await;
    reminders_are(&app, key, &appointment, &[(1440, start - minutes(1440))]).await;
    let row: (
        String,
        uuid::Uuid,
        String,
        uuid::Uuid,
        String,
        uuid::Uuid,
        DateTime<Utc>,
        i32,
    ) = sqlx::query_as(&format!(
        "SELECT task_key, tenant_id, kind, lead_id, conversation_id, message_id, due_at, attempt \
             FROM {} WHERE appointment_id = $1::uuid",
        projections::timers::live_table()
    ))
    .bind(&appointment)
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    let task = ClaimedTask {
        task_key: row.0,
        tenant_id: row.1,
        kind: row.2,
        lead_id: row.3,
        conversation_id: row.4,
        message_id: row.5,
        due_at: row.6,
        attempt: row.7,
    };
    app.clock.set(start - minutes(1440));
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect(app.db.url())
        .await
        .unwrap();
    let state = AppState::new(
        pool,
        Arc::new(app.clock.clone()),
        Settings::for_tests(app.db.url().to_string(), ADMIN),
    )
    .unwrap();
    let (one, two) = futures::future::join(
        reminders::run(&state.messaging, &task),
        reminders::run(&state.messaging, &task),
    )
    .await;
    let mut outcomes = vec![one.unwrap(), two.unwrap()];
    outcomes.sort_by_key(|outcome| format!("{outcome:?}"));
    assert_eq!(
        outcomes,
        [
            ReminderOutcome::NothingToDo("done"),
            ReminderOutcome::Sent(1440)
        ]
    );
    assert_eq!(
        reminders::run(&state.messaging, &task).await.unwrap(),
        ReminderOutcome::NothingToDo("done")
    );
    let queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'OutboundMessageQueued' \
           AND payload::jsonb -> 'OutboundMessageQueued' ->> 'origin' = 'reminder'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(queued, 1);
    assert_eq!(reminder_events(&app, &appointment).await, [sent(1440)]);
    state.pool.close().await;
    app.stop().await;
}
