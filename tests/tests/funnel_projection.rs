//! The funnel read model, fed by real Lead and Appointment commands at pinned times (each
//! command's `issued_at` is its event's `occurred_at`) for two tenants, several workflows (one
//! lead moving between two, some in none) and days (a second either side of midnight, ISO weeks
//! and months), with opt-out and re-subscribe, bookings, completed and no-show appointments:
//! every stored row (the all-time `funnel_totals` included), every report of the query for
//! several ranges, workflows and granularities, and the all-time figures per workflow, equal an
//! independent recount over the raw `events` table; the totals equal the figures worked out by
//! hand; and the live model applied one event per batch equals
//! rebuilds in one batch (500) and three a batch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use application::{Actor, CommandContext};
use bookerbot_tests::{
    assert_same_schemas, new_lead, query_difference, rebuild, wait_for_feed_to_settle, TestDb,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::values::{AppointmentId, LeadId, TenantId, Timezone, WorkflowId};
use domain::{Appointment, AppointmentCommand, CalendarRef, Lead, LeadCommand, LeadStatus};
use infrastructure::executor::{CommandExecutor, Existence};
use projections::funnel::query::{funnel, FunnelBucket, FunnelCounts, FunnelReport, Granularity};
use projections::funnel::totals::{totals, WorkflowFunnel};
use projections::funnel::FunnelProjection;
use projections::runner::{catch_up, prepare};
use projections::Target;
use sqlx::PgPool;
use uuid::Uuid;

const LIVE: &str = "live_funnel";

fn t(raw: &str) -> DateTime<Utc> {
    raw.parse().unwrap()
}

fn day(raw: &str) -> NaiveDate {
    raw.parse().unwrap()
}

fn ctx(tenant: TenantId, at: DateTime<Utc>) -> CommandContext {
    CommandContext {
        tenant_id: tenant,
        actor: Actor::System("tests"),
        request_id: format!("req-{}", Uuid::new_v4().simple()),
        issued_at: at,
    }
}

/// Runs a tenant's commands at pinned times.
struct Writer {
    executor: CommandExecutor,
}

impl Writer {
    async fn run<A>(&self, tenant: TenantId, id: &str, at: &str, command: A::Command)
    where
        A: cqrs_es::Aggregate<Services = ()> + 'static,
        A::Command: Clone + Send + std::fmt::Debug + 'static,
        A::Error: Send + std::fmt::Display,
    {
        let described = format!("{command:?}");
        self.executor
            .execute::<A>(&ctx(tenant, t(at)), id, Existence::MayCreate, command)
            .await
            .unwrap_or_else(|error| panic!("{described} failed: {error}"));
    }

    async fn lead(
        &self,
        tenant: TenantId,
        n: u32,
        workflow: Option<WorkflowId>,
        at: &str,
    ) -> LeadId {
        let lead = LeadId::new();
        let mut new = new_lead(n);
        new.workflow_id = workflow;
        self.lead_command(tenant, lead, at, LeadCommand::CaptureLead(new))
            .await;
        lead
    }

    async fn lead_command(&self, tenant: TenantId, lead: LeadId, at: &str, command: LeadCommand) {
        self.run::<Lead>(tenant, &lead.to_string(), at, command)
            .await;
    }

    async fn advance(&self, tenant: TenantId, lead: LeadId, at: &str, to: LeadStatus) {
        self.lead_command(tenant, lead, at, LeadCommand::AdvanceStatus { to })
            .await;
    }

    /// Books an appointment at `at` (starting an hour later) and marks it at `marked`:
    /// completed, or a no-show.
    async fn appointment(
        &self,
        tenant: TenantId,
        lead: LeadId,
        workflow: WorkflowId,
        at: &str,
        marked: &str,
        completed: bool,
    ) {
        let id = AppointmentId::new().to_string();
        let start = t(at) + Duration::hours(1);
        let book = AppointmentCommand::Book {
            lead_id: lead,
            workflow_id: workflow,
            start,
            end: start + Duration::minutes(30),
            timezone: Timezone::parse("Europe/London").unwrap(),
            calendar: CalendarRef::builtin(),
            location: None,
            meeting_link: None,
            notes: String::new(),
            reminder_offsets_minutes: Vec::new(),
            now: t(at),
        };
        self.run::<Appointment>(tenant, &id, at, book).await;
        let mark = if completed {
            AppointmentCommand::Complete { at: t(marked) }
        } else {
            AppointmentCommand::MarkNoShow { at: t(marked) }
        };
        self.run::<Appointment>(tenant, &id, marked, mark).await;
    }
}

/// Every lead event that sets a status, with the status it sets (`captured` for a capture),
/// the lead's workflow then (the latest capture or assignment up to it, nil when none) and the
/// UTC day of the command.
const LEAD_MOVES: &str = "\
    WITH moves AS ( \
      SELECT e.tenant_id, e.aggregate_id AS lead, e.global_position, \
             ((e.metadata ->> 'occurred_at')::timestamptz AT TIME ZONE 'UTC')::date AS day, \
             CASE e.event_type \
               WHEN 'LeadCaptured' THEN 'captured' \
               WHEN 'LeadOptedOut' THEN 'opted_out' \
               ELSE e.payload -> e.event_type ->> 'to' END AS status \
      FROM events e \
      WHERE e.aggregate_type = 'lead' \
        AND e.event_type IN ('LeadCaptured', 'LeadStatusChanged', 'LeadStatusOverridden', \
                             'LeadOptedOut', 'LeadResubscribed')) \
    SELECT m.*, \
           COALESCE((SELECT (l.payload -> l.event_type ->> 'workflow_id')::uuid \
                     FROM events l \
                     WHERE l.aggregate_type = 'lead' AND l.aggregate_id = m.lead \
                       AND l.event_type IN ('LeadCaptured', 'LeadWorkflowAssigned') \
                       AND l.global_position <= m.global_position \
                     ORDER BY l.global_position DESC LIMIT 1), \
                    '00000000-0000-0000-0000-000000000000'::uuid) AS workflow_id \
    FROM moves m";

/// The stages each status reaches.
const STAGE_OF: &str = "(VALUES ('captured', 'captured'), ('contacted', 'contacted'), \
    ('in_conversation', 'contacted'), ('in_conversation', 'replied'), \
    ('qualified', 'contacted'), ('qualified', 'replied'), ('qualified', 'qualified'), \
    ('booked', 'contacted'), ('booked', 'replied'), ('booked', 'booked'), \
    ('opted_out', 'opted_out'), ('unresponsive', 'unresponsive'), \
    ('handed_off', 'handed_off')) AS s(status, stage)";

/// One row per (lead, stage) it reached, at its first time, and one per appointment mark:
/// tenant, workflow, day, stage.
fn reached() -> String {
    format!(
        "(SELECT DISTINCT ON (m.tenant_id, m.lead, s.stage) \
                m.tenant_id, m.workflow_id, m.day, s.stage \
         FROM ({LEAD_MOVES}) m JOIN {STAGE_OF} ON s.status = m.status \
         ORDER BY m.tenant_id, m.lead, s.stage, m.global_position \
         ) UNION ALL ( \
         SELECT a.tenant_id, \
                COALESCE((SELECT (b.payload -> 'AppointmentBooked' ->> 'workflow_id')::uuid \
                          FROM events b WHERE b.aggregate_type = 'appointment' \
                            AND b.aggregate_id = a.aggregate_id \
                            AND b.event_type = 'AppointmentBooked'), \
                         '00000000-0000-0000-0000-000000000000'::uuid), \
                ((a.payload -> a.event_type ->> 'at')::timestamptz AT TIME ZONE 'UTC')::date, \
                CASE a.event_type WHEN 'AppointmentCompleted' THEN 'completed' ELSE 'no_show' END \
         FROM events a WHERE a.aggregate_type = 'appointment' \
           AND a.event_type IN ('AppointmentCompleted', 'AppointmentNoShow'))"
    )
}

/// The recount of `funnel_daily`, row for row.
fn daily_recount() -> String {
    format!(
        "SELECT tenant_id, workflow_id, day, stage, COUNT(*)::int8 \
         FROM ({}) r GROUP BY 1, 2, 3, 4",
        reached()
    )
}

/// The recount of the non-zero rows of `funnel_current`: each lead's last status and workflow.
const CURRENT_RECOUNT: &str = "\
    SELECT tenant_id, workflow, CASE status WHEN 'captured' THEN 'pending' ELSE status END, \
           COUNT(*)::int8 \
    FROM (SELECT DISTINCT ON (e.tenant_id, e.aggregate_id) e.tenant_id, \
                 CASE e.event_type \
                   WHEN 'LeadCaptured' THEN 'captured' \
                   WHEN 'LeadOptedOut' THEN 'opted_out' \
                   ELSE e.payload -> e.event_type ->> 'to' END AS status, \
                 COALESCE((SELECT (l.payload -> l.event_type ->> 'workflow_id')::uuid \
                           FROM events l \
                           WHERE l.aggregate_type = 'lead' AND l.aggregate_id = e.aggregate_id \
                             AND l.event_type IN ('LeadCaptured', 'LeadWorkflowAssigned') \
                           ORDER BY l.global_position DESC LIMIT 1), \
                          '00000000-0000-0000-0000-000000000000'::uuid) AS workflow \
          FROM events e \
          WHERE e.aggregate_type = 'lead' \
            AND e.event_type IN ('LeadCaptured', 'LeadStatusChanged', 'LeadStatusOverridden', \
                                 'LeadOptedOut', 'LeadResubscribed') \
          ORDER BY e.tenant_id, e.aggregate_id, e.global_position DESC) last \
    GROUP BY 1, 2, 3";

/// The recount of `funnel_totals`: every (lead, stage) reached and appointment mark, over all
/// days.
fn totals_recount() -> String {
    format!(
        "SELECT tenant_id, workflow_id, stage, COUNT(*)::int8 \
         FROM ({}) r GROUP BY 1, 2, 3",
        reached()
    )
}

/// The all-time figures per workflow the query should give, recounted from the events.
async fn totals_of(pool: &PgPool, tenant: TenantId) -> BTreeMap<Uuid, WorkflowFunnel> {
    let reached: Vec<(Uuid, String, i64)> = sqlx::query_as(&format!(
        "SELECT workflow_id, stage, count FROM ({}) t(tenant_id, workflow_id, stage, count) \
         WHERE tenant_id = $1",
        totals_recount()
    ))
    .bind(tenant.as_uuid())
    .fetch_all(pool)
    .await
    .unwrap();
    let leads: Vec<(Uuid, i64)> = sqlx::query_as(&format!(
        "SELECT workflow, SUM(count)::int8 FROM ({CURRENT_RECOUNT}) c(tenant_id, workflow, status, count) \
         WHERE tenant_id = $1 GROUP BY 1"
    ))
    .bind(tenant.as_uuid())
    .fetch_all(pool)
    .await
    .unwrap();
    let mut by_stage: BTreeMap<Uuid, BTreeMap<String, i64>> = BTreeMap::new();
    for (workflow, stage, count) in reached {
        by_stage.entry(workflow).or_default().insert(stage, count);
    }
    let mut expected: BTreeMap<Uuid, WorkflowFunnel> = by_stage
        .iter()
        .map(|(workflow, stages)| {
            let funnel = WorkflowFunnel {
                reached: counts(stages),
                leads: 0,
            };
            (*workflow, funnel)
        })
        .collect();
    for (workflow, count) in leads {
        expected.entry(workflow).or_default().leads = count;
    }
    expected
}

fn counts(by_stage: &BTreeMap<String, i64>) -> FunnelCounts {
    let get = |stage: &str| by_stage.get(stage).copied().unwrap_or(0);
    FunnelCounts {
        captured: get("captured"),
        contacted: get("contacted"),
        replied: get("replied"),
        qualified: get("qualified"),
        booked: get("booked"),
        opted_out: get("opted_out"),
        unresponsive: get("unresponsive"),
        handed_off: get("handed_off"),
        completed: get("completed"),
        no_show: get("no_show"),
    }
}

/// The report the query should give, recounted from the events.
async fn recount(
    pool: &PgPool,
    tenant: TenantId,
    workflow: Option<Uuid>,
    from: NaiveDate,
    to: NaiveDate,
    bucket: &str,
) -> FunnelReport {
    let rows: Vec<(NaiveDate, String, i64)> = sqlx::query_as(&format!(
        "SELECT {bucket}, stage, COUNT(*)::int8 FROM ({}) r(tenant_id, workflow_id, day, stage) \
         WHERE tenant_id = $1 AND day BETWEEN $2 AND $3 \
           AND ($4::uuid IS NULL OR workflow_id = $4) \
         GROUP BY 1, 2",
        reached()
    ))
    .bind(tenant.as_uuid())
    .bind(from)
    .bind(to)
    .bind(workflow)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut buckets: BTreeMap<NaiveDate, BTreeMap<String, i64>> = BTreeMap::new();
    let mut total: BTreeMap<String, i64> = BTreeMap::new();
    for (start, stage, count) in rows {
        *buckets
            .entry(start)
            .or_default()
            .entry(stage.clone())
            .or_default() += count;
        *total.entry(stage).or_default() += count;
    }
    let current: BTreeMap<String, i64> = sqlx::query_as(&format!(
        "SELECT status, SUM(count)::int8 FROM ({CURRENT_RECOUNT}) c(tenant_id, workflow, status, count) \
         WHERE tenant_id = $1 AND ($2::uuid IS NULL OR workflow = $2) GROUP BY 1"
    ))
    .bind(tenant.as_uuid())
    .bind(workflow)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    FunnelReport {
        buckets: buckets
            .iter()
            .map(|(start, by_stage)| FunnelBucket {
                start: *start,
                counts: counts(by_stage),
            })
            .collect(),
        total: counts(&total),
        current: LeadStatus::ALL
            .into_iter()
            .map(|status| (status, current.get(status.as_str()).copied().unwrap_or(0)))
            .collect(),
    }
}

#[tokio::test]
async fn funnel_counts_equal_a_recount_of_the_events_and_a_rebuild() {
    use LeadStatus::{Booked, Contacted, HandedOff, InConversation, Qualified, Unresponsive};
    let db = TestDb::new().await;
    let pool = db.pool().clone();
    let w = Writer {
        executor: CommandExecutor::new(pool.clone(), 10),
    };
    let live = Target::in_schema(Arc::new(FunnelProjection), LIVE);
    prepare(&pool, &live).await.unwrap();
    let sync = || async {
        wait_for_feed_to_settle(&pool).await;
        catch_up(&pool, &live, 1).await.unwrap();
    };
    let (a, b) = (TenantId::new(), TenantId::new());
    let (wa1, wa2, wb) = (WorkflowId::new(), WorkflowId::new(), WorkflowId::new());

    // Tenant A. Ada: workflow 1, all the way to booked, her appointment completed.
    let ada = w.lead(a, 1, Some(wa1), "2026-03-02T10:00:00Z").await;
    w.advance(a, ada, "2026-03-02T11:00:00Z", Contacted).await;
    w.advance(a, ada, "2026-03-03T09:00:00Z", InConversation)
        .await;
    w.advance(a, ada, "2026-03-04T09:00:00Z", Qualified).await;
    w.advance(a, ada, "2026-03-05T09:00:00Z", Booked).await;
    w.appointment(
        a,
        ada,
        wa1,
        "2026-03-05T09:00:00Z",
        "2026-03-05T12:00:00Z",
        true,
    )
    .await;
    sync().await;
    // Bob: workflow 1, opts out, re-subscribes, replies, moves to workflow 2, qualifies there.
    let bob = w.lead(a, 2, Some(wa1), "2026-03-02T10:30:00Z").await;
    w.advance(a, bob, "2026-03-02T11:30:00Z", Contacted).await;
    let opt_out = LeadCommand::OptOut {
        reason: "STOP".into(),
    };
    w.lead_command(a, bob, "2026-03-03T08:00:00Z", opt_out)
        .await;
    w.lead_command(a, bob, "2026-03-09T08:00:00Z", LeadCommand::Resubscribe)
        .await;
    w.advance(a, bob, "2026-03-09T09:00:00Z", InConversation)
        .await;
    let assign = LeadCommand::AssignWorkflow {
        workflow_id: Some(wa2),
    };
    w.lead_command(a, bob, "2026-03-10T08:00:00Z", assign).await;
    w.advance(a, bob, "2026-03-10T09:00:00Z", Qualified).await;
    // Cy: workflow 2, captured on a Sunday, unresponsive, then replies in April, handed off.
    let cy = w.lead(a, 3, Some(wa2), "2026-03-08T10:00:00Z").await;
    w.advance(a, cy, "2026-03-08T11:00:00Z", Contacted).await;
    w.advance(a, cy, "2026-03-09T11:00:00Z", Unresponsive).await;
    w.advance(a, cy, "2026-04-01T10:00:00Z", InConversation)
        .await;
    w.advance(a, cy, "2026-04-01T11:00:00Z", HandedOff).await;
    // Dan: no workflow, captured a second before April, writes first a second after.
    let dan = w.lead(a, 4, None, "2026-03-31T23:59:59Z").await;
    w.advance(a, dan, "2026-04-01T00:00:01Z", InConversation)
        .await;
    sync().await;
    // Eve: workflow 2, booked, no-show, back to qualified by hand, booked again and completed.
    let eve = w.lead(a, 5, Some(wa2), "2026-03-03T10:00:00Z").await;
    w.advance(a, eve, "2026-03-03T11:00:00Z", Contacted).await;
    w.advance(a, eve, "2026-03-04T10:00:00Z", InConversation)
        .await;
    w.advance(a, eve, "2026-03-04T11:00:00Z", Qualified).await;
    w.advance(a, eve, "2026-03-05T10:00:00Z", Booked).await;
    w.appointment(
        a,
        eve,
        wa2,
        "2026-03-05T10:00:00Z",
        "2026-03-06T09:00:00Z",
        false,
    )
    .await;
    let back = LeadCommand::OverrideStatus {
        to: Qualified,
        reason: "missed".into(),
    };
    w.lead_command(a, eve, "2026-03-06T10:00:00Z", back).await;
    w.advance(a, eve, "2026-03-07T10:00:00Z", Booked).await;
    w.appointment(
        a,
        eve,
        wa2,
        "2026-03-07T10:00:00Z",
        "2026-03-08T09:00:00Z",
        true,
    )
    .await;
    // Tenant B, interleaved: Fay opts out after contact; Gus (no workflow) is handed off.
    let fay = w.lead(b, 6, Some(wb), "2026-03-02T10:00:00Z").await;
    w.advance(b, fay, "2026-03-02T11:00:00Z", Contacted).await;
    let opt_out = LeadCommand::OptOut {
        reason: "STOP".into(),
    };
    w.lead_command(b, fay, "2026-03-02T12:00:00Z", opt_out)
        .await;
    let gus = w.lead(b, 7, None, "2026-03-05T10:00:00Z").await;
    let hand_off = LeadCommand::OverrideStatus {
        to: HandedOff,
        reason: "VIP".into(),
    };
    w.lead_command(b, gus, "2026-03-05T11:00:00Z", hand_off)
        .await;
    sync().await;

    // Every stored row equals the recount over the events.
    let stored =
        format!("SELECT tenant_id, workflow_id, day, stage, count FROM {LIVE}.funnel_daily");
    let difference = query_difference(&pool, &stored, &daily_recount()).await;
    assert!(
        difference.is_empty(),
        "funnel_daily vs recount:\n{difference}"
    );
    let stored = format!(
        "SELECT tenant_id, workflow_id, status, leads FROM {LIVE}.funnel_current WHERE leads <> 0"
    );
    let difference = query_difference(&pool, &stored, CURRENT_RECOUNT).await;
    assert!(
        difference.is_empty(),
        "funnel_current vs recount:\n{difference}"
    );
    let stored = format!("SELECT tenant_id, workflow_id, stage, count FROM {LIVE}.funnel_totals");
    let difference = query_difference(&pool, &stored, &totals_recount()).await;
    assert!(
        difference.is_empty(),
        "funnel_totals vs recount:\n{difference}"
    );
    for tenant in [a, b] {
        let all_time = totals(&pool, LIVE, tenant.as_uuid()).await.unwrap();
        assert_eq!(all_time, totals_of(&pool, tenant).await, "{tenant}");
    }
    let all_time_a = totals(&pool, LIVE, a.as_uuid()).await.unwrap();
    let leads_a: i64 = all_time_a.values().map(|w| w.leads).sum();
    assert_eq!(leads_a, 5, "tenant A's leads now, all statuses");

    // The totals worked out by hand.
    let all = (day("2026-01-01"), day("2026-12-31"));
    let report = funnel(
        &pool,
        LIVE,
        a.as_uuid(),
        None,
        all.0,
        all.1,
        Granularity::Month,
    )
    .await
    .unwrap();
    let march = FunnelCounts {
        captured: 5,
        contacted: 4,
        replied: 3,
        qualified: 3,
        booked: 2,
        opted_out: 1,
        unresponsive: 1,
        handed_off: 0,
        completed: 2,
        no_show: 1,
    };
    let april = FunnelCounts {
        contacted: 1,
        replied: 2,
        handed_off: 1,
        ..FunnelCounts::default()
    };
    assert_eq!(
        report.buckets,
        vec![
            FunnelBucket {
                start: day("2026-03-01"),
                counts: march,
            },
            FunnelBucket {
                start: day("2026-04-01"),
                counts: april,
            },
        ]
    );
    assert_eq!(
        report.current,
        vec![
            (LeadStatus::Pending, 0),
            (Contacted, 0),
            (InConversation, 1),
            (Qualified, 1),
            (Booked, 2),
            (LeadStatus::OptedOut, 0),
            (Unresponsive, 0),
            (HandedOff, 1),
        ]
    );
    // Bob qualified under workflow 2, after his move.
    let report = funnel(
        &pool,
        LIVE,
        a.as_uuid(),
        Some(wa2.as_uuid()),
        all.0,
        all.1,
        Granularity::Day,
    )
    .await
    .unwrap();
    assert_eq!(report.total.qualified, 2);
    assert_eq!(report.total.captured, 2);

    // Every report, for both tenants, several ranges, workflows and granularities, equals the
    // recount.
    let ranges = [
        all,
        (day("2026-03-02"), day("2026-03-02")),
        (day("2026-03-03"), day("2026-03-08")),
        (day("2026-03-04"), day("2026-03-31")),
        (day("2026-04-01"), day("2026-04-30")),
        (day("2026-05-01"), day("2026-05-31")),
    ];
    let granularities = [
        (Granularity::Day, "day"),
        (
            Granularity::Week,
            "date_trunc('week', day::timestamp)::date",
        ),
        (
            Granularity::Month,
            "date_trunc('month', day::timestamp)::date",
        ),
    ];
    let workflows = [
        None,
        Some(wa1.as_uuid()),
        Some(wa2.as_uuid()),
        Some(wb.as_uuid()),
        Some(Uuid::nil()),
    ];
    for tenant in [a, b] {
        for (from, to) in ranges {
            for (granularity, bucket) in granularities {
                for workflow in workflows {
                    let report = funnel(
                        &pool,
                        LIVE,
                        tenant.as_uuid(),
                        workflow,
                        from,
                        to,
                        granularity,
                    )
                    .await
                    .unwrap();
                    let expected = recount(&pool, tenant, workflow, from, to, bucket).await;
                    assert_eq!(
                        report, expected,
                        "{granularity:?} {from}..{to} {workflow:?}"
                    );
                }
            }
        }
    }
    let weeks = funnel(
        &pool,
        LIVE,
        a.as_uuid(),
        None,
        day("2026-03-03"),
        day("2026-03-09"),
        Granularity::Week,
    )
    .await
    .unwrap();
    let starts: Vec<NaiveDate> = weeks.buckets.iter().map(|b| b.start).collect();
    assert_eq!(starts, vec![day("2026-03-02"), day("2026-03-09")]);

    // Live (one event a batch) == rebuilds in one batch and three a batch.
    rebuild(&pool, Arc::new(FunnelProjection), "rebuilt_funnel").await;
    assert_same_schemas(&pool, LIVE, "rebuilt_funnel").await;
    let small = Target::in_schema(Arc::new(FunnelProjection), "rebuilt_funnel_by_3");
    prepare(&pool, &small).await.unwrap();
    catch_up(&pool, &small, 3).await.unwrap();
    assert_same_schemas(&pool, LIVE, "rebuilt_funnel_by_3").await;
}
