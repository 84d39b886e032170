//! The appointments read model, fed by real Appointment commands through the event store: a row
//! per appointment following booking, rescheduling, notes and outcomes; the list filters and the
//! cursor; and a rebuild from position zero (one batch, and three events a batch) equal to the
//! live model applied one event per batch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use application::{Actor, CommandContext};
use bookerbot_tests::{assert_same_schemas, rebuild, wait_for_feed_to_settle, TestDb};
use chrono::{DateTime, Duration, Utc};
use domain::values::{AppointmentId, LeadId, TenantId, Timezone, WorkflowId};
use domain::{Appointment, AppointmentCommand, CalendarRef};
use infrastructure::executor::{CommandExecutor, Existence};
use projections::appointments::query::{get, list, AppointmentFilter};
use projections::appointments::AppointmentsProjection;
use projections::runner::{catch_up, prepare};
use projections::Target;
use uuid::Uuid;

const LIVE: &str = "live_appointments";

fn base() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-20T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn h(n: i64) -> DateTime<Utc> {
    base() + Duration::hours(n)
}

fn ctx(tenant: TenantId, at: DateTime<Utc>) -> CommandContext {
    CommandContext {
        tenant_id: tenant,
        actor: Actor::System("tests"),
        request_id: format!("req-{}", Uuid::new_v4().simple()),
        issued_at: at,
    }
}

async fn run(
    executor: &CommandExecutor,
    tenant: TenantId,
    id: AppointmentId,
    at: DateTime<Utc>,
    command: AppointmentCommand,
) {
    executor
        .execute::<Appointment>(
            &ctx(tenant, at),
            &id.to_string(),
            Existence::MayCreate,
            command,
        )
        .await
        .unwrap();
}

async fn book(
    executor: &CommandExecutor,
    tenant: TenantId,
    lead: LeadId,
    workflow: WorkflowId,
    start: DateTime<Utc>,
) -> AppointmentId {
    let id = AppointmentId::new();
    run(
        executor,
        tenant,
        id,
        h(0),
        AppointmentCommand::Book {
            lead_id: lead,
            workflow_id: workflow,
            start,
            end: start + Duration::minutes(30),
            timezone: Timezone::parse("Europe/London").unwrap(),
            calendar: CalendarRef::builtin(),
            location: None,
            meeting_link: None,
            notes: "first call".into(),
            reminder_offsets_minutes: vec![],
            now: h(0),
        },
    )
    .await;
    id
}

#[tokio::test]
async fn appointments_follow_their_events_and_a_rebuild_equals_the_live_model() {
    let db = TestDb::new().await;
    let pool = db.pool().clone();
    let executor = CommandExecutor::new(pool.clone(), 10);
    let live = Target::in_schema(Arc::new(AppointmentsProjection), LIVE);
    prepare(&pool, &live).await.unwrap();
    let sync = || async {
        wait_for_feed_to_settle(&pool).await;
        catch_up(&pool, &live, 1).await.unwrap();
    };

    let tenant = TenantId::new();
    let other = TenantId::new();
    let (lead, lead2) = (LeadId::new(), LeadId::new());
    let (wf, wf2) = (WorkflowId::new(), WorkflowId::new());
    let a = book(&executor, tenant, lead, wf, h(24)).await;
    let b = book(&executor, tenant, lead2, wf2, h(48)).await;
    let c = book(&executor, tenant, lead, wf, h(72)).await;
    let foreign = book(&executor, other, lead, wf, h(24)).await;

    run(
        &executor,
        tenant,
        a,
        h(1),
        AppointmentCommand::Reschedule {
            start: h(26),
            end: None,
            now: h(1),
        },
    )
    .await;
    run(
        &executor,
        tenant,
        a,
        h(2),
        AppointmentCommand::EditNotes {
            notes: "bring the contract".into(),
        },
    )
    .await;
    run(
        &executor,
        tenant,
        b,
        h(49),
        AppointmentCommand::Complete { at: h(49) },
    )
    .await;
    run(
        &executor,
        tenant,
        c,
        h(3),
        AppointmentCommand::Cancel {
            reason: "lead asked".into(),
            at: h(3),
        },
    )
    .await;
    run(
        &executor,
        tenant,
        c,
        h(3),
        AppointmentCommand::RecordReminderSent {
            offset_minutes: 60,
            at: h(3),
        },
    )
    .await;
    sync().await;

    let row = get(&pool, LIVE, tenant.as_uuid(), a.as_uuid())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.start, row.end), (h(26), h(26) + Duration::minutes(30)));
    assert_eq!(row.notes, "bring the contract");
    assert_eq!(row.status, "confirmed");
    assert_eq!(
        (row.lead_id, row.workflow_id),
        (lead.as_uuid(), wf.as_uuid())
    );
    assert_eq!(
        (row.timezone.as_str(), row.calendar.as_str()),
        ("Europe/London", "builtin")
    );
    let row = get(&pool, LIVE, tenant.as_uuid(), c.as_uuid())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status.as_str(), row.cancel_reason.as_deref()),
        ("cancelled", Some("lead asked"))
    );
    assert_eq!(
        get(&pool, LIVE, tenant.as_uuid(), b.as_uuid())
            .await
            .unwrap()
            .unwrap()
            .status,
        "completed"
    );
    // Another tenant's appointment is not found.
    assert!(get(&pool, LIVE, tenant.as_uuid(), foreign.as_uuid())
        .await
        .unwrap()
        .is_none());

    let ids = |page: projections::appointments::query::AppointmentPage| {
        page.items.into_iter().map(|r| r.id).collect::<Vec<_>>()
    };
    let all = AppointmentFilter::default();
    let page = list(&pool, LIVE, tenant.as_uuid(), &all, 10, None)
        .await
        .unwrap();
    assert_eq!(page.next, None);
    assert_eq!(ids(page), vec![a.as_uuid(), b.as_uuid(), c.as_uuid()]);
    let first = list(&pool, LIVE, tenant.as_uuid(), &all, 2, None)
        .await
        .unwrap();
    let next = first.next;
    assert_eq!(ids(first), vec![a.as_uuid(), b.as_uuid()]);
    let second = list(&pool, LIVE, tenant.as_uuid(), &all, 2, next)
        .await
        .unwrap();
    assert_eq!((second.next, ids(second)), (None, vec![c.as_uuid()]));
    let by = |f: AppointmentFilter| {
        let pool = pool.clone();
        async move {
            ids(list(&pool, LIVE, tenant.as_uuid(), &f, 10, None)
                .await
                .unwrap())
        }
    };
    assert_eq!(
        by(AppointmentFilter {
            status: Some("cancelled".into()),
            ..all.clone()
        })
        .await,
        vec![c.as_uuid()]
    );
    assert_eq!(
        by(AppointmentFilter {
            workflow_id: Some(wf2.as_uuid()),
            ..all.clone()
        })
        .await,
        vec![b.as_uuid()]
    );
    assert_eq!(
        by(AppointmentFilter {
            lead_id: Some(lead.as_uuid()),
            ..all.clone()
        })
        .await,
        vec![a.as_uuid(), c.as_uuid()]
    );
    assert_eq!(
        by(AppointmentFilter {
            from: Some(h(26)),
            to: Some(h(72)),
            ..all.clone()
        })
        .await,
        vec![a.as_uuid(), b.as_uuid()]
    );

    rebuild(
        &pool,
        Arc::new(AppointmentsProjection),
        "rebuilt_appointments",
    )
    .await;
    assert_same_schemas(&pool, LIVE, "rebuilt_appointments").await;
    let small = Target::in_schema(
        Arc::new(AppointmentsProjection),
        "rebuilt_appointments_by_3",
    );
    prepare(&pool, &small).await.unwrap();
    catch_up(&pool, &small, 3).await.unwrap();
    assert_same_schemas(&pool, LIVE, "rebuilt_appointments_by_3").await;
}
