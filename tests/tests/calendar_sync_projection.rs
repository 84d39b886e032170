//! The calendar-sync read model, fed by real Appointment commands through the event store: a task
//! for every change of an appointment in an external calendar (none for the built-in one), kept
//! while a later change waits, moved by a failure's retry time, removed by the sync that shows
//! its version or by giving up; and a rebuild (one batch, three events a batch) equal to the live
//! model applied one event per batch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use application::{Actor, CommandContext};
use bookerbot_tests::{assert_same_schemas, rebuild, wait_for_feed_to_settle, TestDb};
use chrono::{DateTime, Duration, Utc};
use domain::values::{AppointmentId, LeadId, TenantId, Timezone, WorkflowId};
use domain::{Appointment, AppointmentCommand, CalendarRef};
use infrastructure::executor::{CommandExecutor, Existence};
use projections::calendar_sync::CalendarSyncProjection;
use projections::runner::{catch_up, prepare};
use projections::Target;
use sqlx::PgPool;
use uuid::Uuid;

const LIVE: &str = "live_calendar_sync";

fn h(n: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-20T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + Duration::hours(n)
}

async fn run(
    executor: &CommandExecutor,
    tenant: TenantId,
    id: AppointmentId,
    at: DateTime<Utc>,
    command: AppointmentCommand,
) {
    let ctx = CommandContext {
        tenant_id: tenant,
        actor: Actor::System("tests"),
        request_id: format!("req-{}", Uuid::new_v4().simple()),
        issued_at: at,
    };
    executor
        .execute::<Appointment>(&ctx, &id.to_string(), Existence::MayCreate, command)
        .await
        .unwrap();
}

async fn book(
    executor: &CommandExecutor,
    tenant: TenantId,
    calendar: &str,
    start: DateTime<Utc>,
) -> AppointmentId {
    let id = AppointmentId::new();
    run(
        executor,
        tenant,
        id,
        h(0),
        AppointmentCommand::Book {
            lead_id: LeadId::new(),
            workflow_id: WorkflowId::new(),
            start,
            end: start + Duration::minutes(30),
            timezone: Timezone::parse("Europe/London").unwrap(),
            calendar: CalendarRef::parse(calendar).unwrap(),
            location: None,
            meeting_link: None,
            notes: String::new(),
            reminder_offsets_minutes: vec![],
            now: h(0),
        },
    )
    .await;
    id
}

fn synced(version: i64, at: DateTime<Utc>) -> AppointmentCommand {
    AppointmentCommand::RecordCalendarSync {
        through_version: version,
        event_id: (version == 1).then(|| "evt1".to_owned()),
        meeting_link: None,
        at,
    }
}

/// (appointment, due, attempt, sequence) of every task, by appointment.
async fn tasks(pool: &PgPool, schema: &str) -> Vec<(Uuid, DateTime<Utc>, i32, i64)> {
    sqlx::query_as(&format!(
        "SELECT message_id, due_at, attempt, sequence FROM {schema}.tasks \
         WHERE kind = 'calendar' AND task_key = 'calendar:' || message_id ORDER BY message_id"
    ))
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn external_appointments_get_a_task_per_change_until_synced_and_a_rebuild_is_equal() {
    let db = TestDb::new().await;
    let pool = db.pool().clone();
    let executor = CommandExecutor::new(pool.clone(), 10);
    let live = Target::in_schema(Arc::new(CalendarSyncProjection), LIVE);
    prepare(&pool, &live).await.unwrap();
    let sync = || async {
        wait_for_feed_to_settle(&pool).await;
        catch_up(&pool, &live, 1).await.unwrap();
    };
    let tenant = TenantId::new();
    let google = "google:team@example.com";

    let builtin = book(&executor, tenant, "builtin", h(24)).await;
    let a = book(&executor, tenant, google, h(48)).await;
    let b = book(&executor, tenant, google, h(72)).await;
    sync().await;
    let mut expected = vec![(a.as_uuid(), h(0), 0, 1), (b.as_uuid(), h(0), 0, 1)];
    expected.sort();
    assert_eq!(
        tasks(&pool, LIVE).await,
        expected,
        "none for the built-in calendar"
    );

    // a: synced, then moved while nothing is in flight → a new task for version 3.
    run(&executor, tenant, a, h(1), synced(1, h(1))).await;
    sync().await;
    assert_eq!(tasks(&pool, LIVE).await, vec![(b.as_uuid(), h(0), 0, 1)]);
    run(
        &executor,
        tenant,
        a,
        h(2),
        AppointmentCommand::Reschedule {
            start: h(50),
            end: None,
            now: h(2),
        },
    )
    .await;
    // b: moved while its first sync was in flight; that sync shows version 1 only.
    run(
        &executor,
        tenant,
        b,
        h(2),
        AppointmentCommand::Reschedule {
            start: h(74),
            end: None,
            now: h(2),
        },
    )
    .await;
    run(&executor, tenant, b, h(3), synced(1, h(3))).await;
    sync().await;
    let mut expected = vec![(a.as_uuid(), h(2), 0, 3), (b.as_uuid(), h(2), 0, 2)];
    expected.sort();
    assert_eq!(
        tasks(&pool, LIVE).await,
        expected,
        "b still waits for version 2"
    );

    // a: an outage moves its task to the retry time; giving up removes it.
    run(
        &executor,
        tenant,
        a,
        h(4),
        AppointmentCommand::RecordCalendarSyncFailed {
            for_version: 3,
            error: "Google answered 503".into(),
            retry_at: Some(h(5)),
            at: h(4),
        },
    )
    .await;
    // b: synced through version 2, then cancelled → a task to delete the event.
    run(&executor, tenant, b, h(4), synced(2, h(4))).await;
    run(
        &executor,
        tenant,
        b,
        h(6),
        AppointmentCommand::Cancel {
            reason: "moved away".into(),
            at: h(6),
        },
    )
    .await;
    sync().await;
    let mut expected = vec![(a.as_uuid(), h(5), 1, 3), (b.as_uuid(), h(6), 0, 5)];
    expected.sort();
    assert_eq!(tasks(&pool, LIVE).await, expected);
    run(
        &executor,
        tenant,
        a,
        h(5),
        AppointmentCommand::RecordCalendarSyncFailed {
            for_version: 3,
            error: "the calendar is disconnected".into(),
            retry_at: None,
            at: h(5),
        },
    )
    .await;
    sync().await;
    assert_eq!(tasks(&pool, LIVE).await, vec![(b.as_uuid(), h(6), 0, 5)]);
    let known: Vec<Uuid> = sqlx::query_scalar(&format!(
        "SELECT appointment_id FROM {LIVE}.external ORDER BY appointment_id"
    ))
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut external = vec![a.as_uuid(), b.as_uuid()];
    external.sort();
    assert_eq!(known, external);
    assert!(!known.contains(&builtin.as_uuid()));

    rebuild(
        &pool,
        Arc::new(CalendarSyncProjection),
        "rebuilt_calendar_sync",
    )
    .await;
    assert_same_schemas(&pool, LIVE, "rebuilt_calendar_sync").await;
    let small = Target::in_schema(
        Arc::new(CalendarSyncProjection),
        "rebuilt_calendar_sync_by_3",
    );
    prepare(&pool, &small).await.unwrap();
    catch_up(&pool, &small, 3).await.unwrap();
    assert_same_schemas(&pool, LIVE, "rebuilt_calendar_sync_by_3").await;
}
