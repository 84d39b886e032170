//! The timer dispatcher under concurrency and crashes, checked against the event store: three
//! dispatchers (each with its own pool, like three instances) share 10,000 due outreach timers
//! and every one runs exactly once; two dispatchers running the very same timers side by side
//! (no lease between them) queue each lead's outreach once; a dispatcher killed in the middle of its batch loses no timer
//! and sends nobody a message twice (the provider fake counts the requests per number).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use api::settings::Settings;
use api::state::AppState;
use bookerbot_tests::{FakeHttp, FakeResponse};
use chrono::{DateTime, Utc};
use infrastructure::messaging::task_queue::ClaimedTask;
use infrastructure::messaging::timers::{self, TimerOutcome};
use infrastructure::messaging::workers;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use helpers::{TestApp, TestTenant, ADMIN};

const SID: &str = "AC0123456789abcdef0123456789abcdef";

/// Monday 2026-03-30, 10:00 UTC: inside the default sending window in London.
fn monday_morning() -> DateTime<Utc> {
    "2026-03-30T10:00:00Z".parse().unwrap()
}

/// Polls `check` until it holds, failing the test after `within`.
async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A server running projections but no workers (the test runs the dispatchers), a tenant with
/// an active workflow, and `leads` leads imported into it: as many due outreach timers.
async fn world(leads: usize, twilio: Option<&FakeHttp>) -> (TestApp, TestTenant) {
    let twilio_base = twilio.map(|fake| fake.base.clone());
    let app = TestApp::spawn_with(|settings| {
        settings.run_workers = false;
        if let Some(base) = twilio_base {
            settings.twilio_api_base = base;
        }
    })
    .await;
    app.clock.set(monday_morning());
    let tenant = app.create_tenant("Dispatch").await;
    if twilio.is_some() {
        let reply = app
            .patch(
                ADMIN,
                &format!("/api/v1/tenants/{}", tenant.id),
                json!({"channels": {"twilio": {"account_sid": SID, "auth_token": "t", "from_number": "+14155550100"}}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    let created = app
        .post(
            &tenant.key,
            "/api/v1/workflows",
            json!({"name": "Dispatch", "channel": "sms", "initial_message": "Hi {first_name}", "follow_up_count": 0}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let workflow = created.body["id"].as_str().unwrap().to_owned();
    let activated = app
        .post(
            &tenant.key,
            &format!("/api/v1/workflows/{workflow}/activate"),
            json!({}),
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    let mut csv = String::from("first_name,phone\n");
    for n in 0..leads {
        csv.push_str(&format!("Lead{n},+447400{n:06}\n"));
    }
    let imported = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/leads/import?workflow_id={workflow}",
            app.base
        ))
        .bearer_auth(&tenant.key)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert!(imported.status().is_success(), "{}", imported.status());
    let table = projections::timers::live_table();
    let pool = app.db.pool().clone();
    eventually(
        &format!("{leads} outreach timers"),
        Duration::from_secs(120),
        || async {
            sqlx::query_scalar::<_, i64>(&format!(
                "SELECT count(*) FROM {table} WHERE kind = 'outreach'"
            ))
            .fetch_one(&pool)
            .await
            .unwrap_or(-1)
                == i64::try_from(leads).unwrap()
        },
    )
    .await;
    (app, tenant)
}

/// The state of one more "instance": its own pool on the test database, the server's clock.
async fn instance(app: &TestApp, twilio: Option<&FakeHttp>) -> AppState {
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .connect(app.db.url())
        .await
        .unwrap();
    let mut settings = Settings::for_tests(app.db.url().to_string(), ADMIN);
    settings.send_rate_per_second = 0;
    settings.max_connections = 20;
    if let Some(fake) = twilio {
        settings.twilio_api_base = fake.base.clone();
    }
    AppState::new(pool, Arc::new(app.clock.clone()), settings).unwrap()
}

/// `(outreach messages queued, leads they went to)` according to the event store.
async fn outreach_queued(app: &TestApp) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*), count(DISTINCT aggregate_id) FROM events \
         WHERE event_type = 'OutboundMessageQueued' \
           AND payload::jsonb -> 'OutboundMessageQueued' ->> 'origin' = 'outreach'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap()
}

/// Outreach messages that reached an end (sent, failed or cancelled).
async fn outreach_settled(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM events e WHERE e.event_type IN \
           ('OutboundMessageSent', 'OutboundMessageFailed', 'OutboundMessageCancelled')",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap()
}

/// Runs dispatcher rounds over the timers as `holder` until `done` holds; returns how many
/// timers this one ran.
async fn dispatch_until(state: &AppState, holder: &str, done: impl Fn() -> bool) -> usize {
    let table = projections::timers::live_table();
    let mut ran = 0;
    while !done() {
        let count = workers::run_from(&state.messaging, holder, &[&table])
            .await
            .unwrap();
        ran += count;
        if count == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    ran
}

#[tokio::test]
async fn three_dispatchers_run_each_of_10k_timers_exactly_once() {
    const LEADS: usize = 10_000;
    let (app, _tenant) = world(LEADS, None).await;
    let instances = [
        instance(&app, None).await,
        instance(&app, None).await,
        instance(&app, None).await,
    ];
    let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let pool = app.db.pool().clone();
        let finished = finished.clone();
        tokio::spawn(async move {
            let expected = i64::try_from(LEADS).unwrap();
            loop {
                let queued: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM events WHERE event_type = 'OutboundMessageQueued'",
                )
                .fetch_one(&pool)
                .await
                .unwrap();
                if queued >= expected {
                    finished.store(true, std::sync::atomic::Ordering::SeqCst);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let done = || finished.load(std::sync::atomic::Ordering::SeqCst);
    let runs = tokio::time::timeout(
        Duration::from_secs(600),
        futures::future::join3(
            dispatch_until(&instances[0], "dispatcher-a", done),
            dispatch_until(&instances[1], "dispatcher-b", done),
            dispatch_until(&instances[2], "dispatcher-c", done),
        ),
    )
    .await
    .expect("the dispatchers finish");
    watcher.await.unwrap();

    let expected = i64::try_from(LEADS).unwrap();
    assert_eq!(outreach_queued(&app).await, (expected, expected));
    // The timers model lets go of them all; nothing is left to run.
    let table = projections::timers::live_table();
    let pool = app.db.pool().clone();
    eventually("the timers to be gone", Duration::from_secs(60), || async {
        sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap_or(-1)
            == 0
    })
    .await;
    for (n, state) in instances.iter().enumerate() {
        let ran = workers::run_from(&state.messaging, &format!("late-{n}"), &[&table])
            .await
            .unwrap();
        assert_eq!(ran, 0);
    }
    assert_eq!(outreach_queued(&app).await, (expected, expected));
    // Every dispatcher took its share: claims spread, never overlapped.
    assert!(runs.0 > 0 && runs.1 > 0 && runs.2 > 0, "{runs:?}");
    for state in instances {
        state.pool.close().await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_dispatcher_killed_mid_batch_loses_no_timer_and_sends_nothing_twice() {
    const LEADS: usize = 60;
    let counter = std::sync::atomic::AtomicU32::new(0);
    let twilio = FakeHttp::start(move |_| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        FakeResponse::json(
            201,
            json!({"sid": format!("SM{n:032x}"), "status": "queued", "account_sid": SID}),
        )
        .delayed(Duration::from_millis(300))
    })
    .await;
    let (app, _tenant) = world(LEADS, Some(&twilio)).await;

    // The first dispatcher runs until a good part of the sends are at the provider, then dies.
    let doomed = instance(&app, Some(&twilio)).await;
    let running = tokio::spawn(async move {
        loop {
            workers::run_once(&doomed.messaging, "doomed")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    eventually("sends at the provider", Duration::from_secs(60), || async {
        twilio.requests().len() >= LEADS / 3
    })
    .await;
    running.abort();
    let _ = running.await;
    let at_the_kill = twilio.requests().len();
    assert!(at_the_kill < LEADS, "killed mid-way: {at_the_kill}");

    // Its leases run out; a second dispatcher finishes the work.
    app.clock.advance(chrono::Duration::minutes(3));
    let survivor = instance(&app, Some(&twilio)).await;
    let expected = i64::try_from(LEADS).unwrap();
    let pool = app.db.pool().clone();
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            workers::run_once(&survivor.messaging, "survivor")
                .await
                .unwrap();
            let queued = outreach_queued(&app).await;
            let settled: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM events WHERE event_type IN \
                   ('OutboundMessageSent', 'OutboundMessageFailed')",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            if queued.0 == expected && settled == expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the survivor finishes");

    // No timer lost: every lead's outreach was queued, once.
    assert_eq!(outreach_queued(&app).await, (expected, expected));
    // None sent twice: each number reached the provider at most once.
    let mut per_number = std::collections::BTreeMap::<String, usize>::new();
    for request in twilio.requests() {
        *per_number
            .entry(request.form_value("To").unwrap())
            .or_default() += 1;
    }
    assert!(
        per_number.values().all(|count| *count == 1),
        "{per_number:?}"
    );
    // What the killed dispatcher had at the provider is not sent again: failed as unknown.
    let unknown: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'OutboundMessageFailed' \
           AND payload::jsonb -> 'OutboundMessageFailed' ->> 'reason' = 'outcome_unknown'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    let sent: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'OutboundMessageSent'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(sent + unknown, expected);
    assert!(
        usize::try_from(sent).unwrap() <= per_number.len(),
        "every recorded send reached the provider"
    );
    assert_eq!(outreach_settled(&app).await, expected);
    survivor.pool.close().await;
    app.stop().await;
}

#[tokio::test]
async fn the_same_timers_run_by_two_dispatchers_at_once_act_once() {
    const LEADS: usize = 20;
    let (app, _tenant) = world(LEADS, None).await;
    let table = projections::timers::live_table();
    let tasks: Vec<ClaimedTask> = sqlx::query_as::<
        _,
        (String, Uuid, String, Uuid, String, Uuid, DateTime<Utc>, i32),
    >(&format!(
        "SELECT task_key, tenant_id, kind, lead_id, conversation_id, message_id, due_at, attempt \
             FROM {table}"
    ))
    .fetch_all(app.db.pool())
    .await
    .unwrap()
    .into_iter()
    .map(
        |(task_key, tenant_id, kind, lead_id, conversation_id, message_id, due_at, attempt)| {
            ClaimedTask {
                task_key,
                tenant_id,
                kind,
                lead_id,
                conversation_id,
                message_id,
                due_at,
                attempt,
            }
        },
    )
    .collect();
    assert_eq!(tasks.len(), LEADS);
    // No leases: both run every timer, side by side, as if each had claimed it.
    let (one, two) = (instance(&app, None).await, instance(&app, None).await);
    let run_all = |state: &AppState| {
        let messaging = state.messaging.clone();
        let tasks = tasks.clone();
        async move {
            let mut queued = 0;
            for task in &tasks {
                if timers::run(&messaging, task).await.unwrap() == TimerOutcome::Queued {
                    queued += 1;
                }
            }
            queued
        }
    };
    let (a, b) = tokio::join!(run_all(&one), run_all(&two));
    assert_eq!(a + b, LEADS, "each timer queued once: {a} + {b}");
    let expected = i64::try_from(LEADS).unwrap();
    assert_eq!(outreach_queued(&app).await, (expected, expected));
    app.stop().await;
}
