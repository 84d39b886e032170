//! `GET /api/v1/analytics/funnel`: a tenant's lead funnel per day, ISO week or month, with rates
//! and current statuses, end to end. Leads, status moves and appointments are written by
//! executing commands at pinned times against the app's database (each command's time is its
//! event's day), with the messaging workers off so nothing else moves a lead.

use application::{Actor, CommandContext};
use chrono::{DateTime, Duration, Utc};
use domain::values::{AppointmentId, LeadId, TenantId, Timezone, WorkflowId};
use domain::{Appointment, AppointmentCommand, CalendarRef, Lead, LeadCommand, LeadStatus};
use infrastructure::executor::{CommandExecutor, Existence};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::TestApp;

/// Runs commands at pinned times, remembering the last position written.
struct Writer {
    executor: CommandExecutor,
    position: i64,
}

impl Writer {
    async fn run<A>(&mut self, tenant: &str, id: &str, at: &str, command: A::Command)
    where
        A: cqrs_es::Aggregate<Services = ()> + 'static,
        A::Command: Clone + Send + std::fmt::Debug + 'static,
        A::Error: Send + std::fmt::Display,
    {
        let ctx = CommandContext {
            tenant_id: tenant.parse::<TenantId>().unwrap(),
            actor: Actor::System("tests"),
            request_id: format!("req-{}", Uuid::new_v4().simple()),
            issued_at: at.parse().unwrap(),
        };
        let described = format!("{command:?}");
        let committed = self
            .executor
            .execute::<A>(&ctx, id, Existence::MayCreate, command)
            .await
            .unwrap_or_else(|error| panic!("{described} failed: {error}"));
        self.position = committed.position.unwrap_or(self.position);
    }

    async fn lead(&mut self, tenant: &str, n: u32, workflow: Option<&str>, at: &str) -> LeadId {
        let lead = LeadId::new();
        let mut new = bookerbot_tests::new_lead(n);
        new.workflow_id = workflow.map(|id| id.parse::<WorkflowId>().unwrap());
        self.run::<Lead>(tenant, &lead.to_string(), at, LeadCommand::CaptureLead(new))
            .await;
        lead
    }

    async fn lead_command(&mut self, tenant: &str, lead: LeadId, at: &str, command: LeadCommand) {
        self.run::<Lead>(tenant, &lead.to_string(), at, command)
            .await;
    }

    async fn advance(&mut self, tenant: &str, lead: LeadId, at: &str, to: LeadStatus) {
        self.lead_command(tenant, lead, at, LeadCommand::AdvanceStatus { to })
            .await;
    }

    /// Books an appointment at `at`, starting an hour later, and marks it completed at `done`.
    async fn completed(
        &mut self,
        tenant: &str,
        lead: LeadId,
        workflow: &str,
        at: &str,
        done: &str,
    ) {
        let id = AppointmentId::new().to_string();
        let now: DateTime<Utc> = at.parse().unwrap();
        let start = now + Duration::hours(1);
        let book = AppointmentCommand::Book {
            lead_id: lead,
            workflow_id: workflow.parse().unwrap(),
            start,
            end: start + Duration::minutes(30),
            timezone: Timezone::parse("Europe/London").unwrap(),
            calendar: CalendarRef::builtin(),
            location: None,
            meeting_link: None,
            notes: String::new(),
            reminder_offsets_minutes: Vec::new(),
            now,
        };
        self.run::<Appointment>(tenant, &id, at, book).await;
        let complete = AppointmentCommand::Complete {
            at: done.parse().unwrap(),
        };
        self.run::<Appointment>(tenant, &id, done, complete).await;
    }
}

/// Funnel counts in field order: captured, contacted, replied, qualified, booked, opted out,
/// unresponsive, handed off, completed, no-show.
fn counts(c: [i64; 10]) -> Value {
    json!({
        "captured": c[0], "contacted": c[1], "replied": c[2], "qualified": c[3], "booked": c[4],
        "opted_out": c[5], "unresponsive": c[6], "handed_off": c[7], "completed": c[8],
        "no_show": c[9],
    })
}

fn bucket(start: &str, c: [i64; 10]) -> Value {
    let mut bucket = counts(c);
    bucket["start"] = json!(start);
    bucket
}

/// Current statuses in lifecycle order: pending, contacted, in conversation, qualified, booked,
/// opted out, unresponsive, handed off.
fn current(c: [i64; 8]) -> Value {
    json!({
        "pending": c[0], "contacted": c[1], "in_conversation": c[2], "qualified": c[3],
        "booked": c[4], "opted_out": c[5], "unresponsive": c[6], "handed_off": c[7],
    })
}

#[tokio::test]
async fn the_funnel_counts_stages_per_week_with_rates_and_is_scoped_to_the_tenant() {
    use LeadStatus::{Booked, Contacted, HandedOff, InConversation, Qualified};
    let app = TestApp::spawn_with(|settings| settings.run_workers = false).await;
    let acme = app.create_tenant("Acme").await;
    let other = app.create_tenant("Other").await;
    let spring = app.create_workflow(&acme.key, "Spring").await;
    let mut w = Writer {
        executor: CommandExecutor::new(app.db.pool().clone(), 10),
        position: 0,
    };
    let a = acme.id.as_str();
    // Ada (Spring): contacted, replies, qualifies in the week of 2 March; booked on Monday 9
    // March and her appointment completed. Bob (no workflow) opts out after contact. Cy
    // (Spring) is contacted on 10 March.
    let ada = w.lead(a, 1, Some(&spring), "2026-03-02T10:00:00Z").await;
    w.advance(a, ada, "2026-03-02T11:00:00Z", Contacted).await;
    w.advance(a, ada, "2026-03-03T11:00:00Z", InConversation)
        .await;
    w.advance(a, ada, "2026-03-04T11:00:00Z", Qualified).await;
    w.advance(a, ada, "2026-03-09T09:00:00Z", Booked).await;
    w.completed(
        a,
        ada,
        &spring,
        "2026-03-09T09:00:00Z",
        "2026-03-09T12:00:00Z",
    )
    .await;
    let bob = w.lead(a, 2, None, "2026-03-03T10:00:00Z").await;
    w.advance(a, bob, "2026-03-03T11:00:00Z", Contacted).await;
    let opt_out = LeadCommand::OptOut {
        reason: "STOP".into(),
    };
    w.lead_command(a, bob, "2026-03-04T09:00:00Z", opt_out)
        .await;
    let cy = w.lead(a, 3, Some(&spring), "2026-03-10T10:00:00Z").await;
    w.advance(a, cy, "2026-03-10T11:00:00Z", Contacted).await;
    let acme_at = w.position;
    // The other tenant's lead is handed off straight away.
    let eve = w.lead(&other.id, 4, None, "2026-03-02T10:00:00Z").await;
    let hand_off = LeadCommand::OverrideStatus {
        to: HandedOff,
        reason: "VIP".into(),
    };
    w.lead_command(&other.id, eve, "2026-03-02T11:00:00Z", hand_off)
        .await;
    let other_at = w.position;

    let weekly = app
        .get(
            &acme.key,
            &format!("/api/v1/analytics/funnel?granularity=week&from=2026-03-01&to=2026-03-31&min_position={acme_at}"),
        )
        .await;
    assert_eq!(weekly.status, StatusCode::OK, "{}", weekly.text);
    assert_eq!(
        weekly.body,
        json!({
            "granularity": "week",
            "from": "2026-03-01",
            "to": "2026-03-31",
            "workflow_id": null,
            "buckets": [
                bucket("2026-03-02", [2, 2, 1, 1, 0, 1, 0, 0, 0, 0]),
                bucket("2026-03-09", [1, 1, 0, 0, 1, 0, 0, 0, 1, 0]),
            ],
            "total": counts([3, 3, 1, 1, 1, 1, 0, 0, 1, 0]),
            "rates": {
                "response_rate": 0.3333,
                "qualification_rate": 0.5,
                "booking_rate": 1.0,
                "opt_out_rate": 0.3333,
                "show_rate": 1.0,
            },
            "current": current([0, 1, 0, 0, 1, 1, 0, 0]),
        })
    );

    // One workflow, one week by day: no appointment marked, so no show rate.
    let spring_week = app
        .get(
            &acme.key,
            &format!("/api/v1/analytics/funnel?workflow_id={spring}&from=2026-03-02&to=2026-03-08"),
        )
        .await;
    assert_eq!(spring_week.status, StatusCode::OK, "{}", spring_week.text);
    assert_eq!(
        spring_week.body,
        json!({
            "granularity": "day",
            "from": "2026-03-02",
            "to": "2026-03-08",
            "workflow_id": spring,
            "buckets": [
                bucket("2026-03-02", [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
                bucket("2026-03-03", [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
                bucket("2026-03-04", [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
            ],
            "total": counts([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]),
            "rates": {
                "response_rate": 1.0,
                "qualification_rate": 1.0,
                "booking_rate": 0.0,
                "opt_out_rate": 0.0,
                "show_rate": null,
            },
            "current": current([0, 1, 0, 0, 1, 0, 0, 0]),
        })
    );
    let monthly = app
        .get(
            &acme.key,
            "/api/v1/analytics/funnel?granularity=month&from=2026-02-15&to=2026-04-30",
        )
        .await;
    assert_eq!(monthly.status, StatusCode::OK, "{}", monthly.text);
    assert_eq!(
        monthly.body["buckets"],
        json!([bucket("2026-03-01", [3, 3, 1, 1, 1, 1, 0, 0, 1, 0])])
    );

    // The other tenant sees only its own leads, even with Acme's workflow.
    let theirs = app
        .get(
            &other.key,
            &format!("/api/v1/analytics/funnel?granularity=month&from=2026-03-01&to=2026-03-31&min_position={other_at}"),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.text);
    assert_eq!(theirs.body["total"], counts([1, 0, 0, 0, 0, 0, 0, 1, 0, 0]));
    assert_eq!(
        theirs.body["rates"],
        json!({
            "response_rate": null,
            "qualification_rate": null,
            "booking_rate": null,
            "opt_out_rate": null,
            "show_rate": null,
        })
    );
    assert_eq!(theirs.body["current"], current([0, 0, 0, 0, 0, 0, 0, 1]));
    let borrowed = app
        .get(
            &other.key,
            &format!("/api/v1/analytics/funnel?workflow_id={spring}&from=2026-03-01&to=2026-03-31"),
        )
        .await;
    assert_eq!(borrowed.body["buckets"], json!([]));
    assert_eq!(borrowed.body["current"], current([0; 8]));

    // Bad input: 422 naming the field.
    for (query, field) in [
        ("granularity=year", "granularity"),
        ("workflow_id=spring", "workflow_id"),
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-03-05&to=2026-03-04", "from"),
    ] {
        let reply = app
            .get(&acme.key, &format!("/api/v1/analytics/funnel?{query}"))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            reply.text
        );
        assert_eq!(reply.error_field(), Some(field), "{query}");
    }
    let anonymous = app
        .send(reqwest::Method::GET, "/api/v1/analytics/funnel", None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
