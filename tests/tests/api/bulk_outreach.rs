//! The bulk `outreach` action over HTTP, with the server's workers sending through the sandbox
//! channel: each eligible lead's workflow outreach reaches its phone exactly once however often
//! the action is sent — also when two jobs over the same leads run at the same time — and every
//! lead that cannot be contacted is a failure with the single endpoint's code.
//!
//! The leads contacted here are `contacted` before their workflow is activated: a `pending`
//! lead in an active workflow gets its outreach from the timers on their own, and these tests
//! are about the bulk action's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use api::job_runner::{BulkTarget, Worker};
use application::ManualClock;
use chrono::{DateTime, Utc};
use domain::lead::NewLead;
use domain::values::WorkflowId;
use infrastructure::bulk::BulkAction;
use infrastructure::jobs::{self, NewJob};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::bulk::{caught_up, lead, run_bulk, seed};
use crate::helpers::{TestApp, TestTenant, ADMIN};

const BRAND: &str = "Acme Solar";

/// Monday 2026-03-30, 10:00 UTC (11:00 in London): inside the default sending window.
fn monday_morning() -> DateTime<Utc> {
    "2026-03-30T10:00:00Z".parse().unwrap()
}

/// A tenant with a brand name, the server's clock inside the sending window.
async fn tenant(app: &TestApp, name: &str) -> TestTenant {
    app.clock.set(monday_morning());
    let reply = app
        .post(
            ADMIN,
            "/api/v1/tenants",
            json!({"name": name, "brand_name": BRAND}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    TestTenant {
        id: reply.body["tenant"]["id"].as_str().unwrap().to_owned(),
        key: reply.body["api_key"].as_str().unwrap().to_owned(),
    }
}

async fn activate(app: &TestApp, key: &str, workflow: &str) {
    let reply = app
        .post(
            key,
            &format!("/api/v1/workflows/{workflow}/activate"),
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// Moves `leads` to `contacted` (an operator's override), so the timers leave them alone.
async fn mark_contacted(app: &TestApp, key: &str, leads: &[String]) {
    let job = run_bulk(
        app,
        key,
        json!({"action": {"type": "set_status", "status": "contacted", "reason": "called"},
               "target": {"ids": leads}}),
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["succeeded"].as_u64(), Some(leads.len() as u64), "{job}");
}

/// What the sandbox sent to the lead's phone.
async fn sandbox(app: &TestApp, key: &str, lead: &str) -> Vec<String> {
    let reply = app
        .get(key, &format!("/api/v1/sandbox/messages?lead_id={lead}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until the sandbox has sent each of `leads` at least one message.
async fn each_reached(app: &TestApp, key: &str, leads: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    for lead in leads {
        while sandbox(app, key, lead).await.is_empty() {
            assert!(Instant::now() < deadline, "nothing reached {lead}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Outreach messages queued per lead, from the event store.
async fn outreach_per_lead(app: &TestApp) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT split_part(aggregate_id, ':', 1), count(*) FROM events \
         WHERE aggregate_type = 'conversation' AND event_type = 'OutboundMessageQueued' \
           AND payload -> 'OutboundMessageQueued' ->> 'origin' = 'outreach' \
         GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap()
}

/// Job `id` once it has completed, read from the database (the server may be busy).
async fn completed(app: &TestApp, tenant: Uuid, id: Uuid) -> jobs::Job {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let job = jobs::get(app.db.pool(), tenant, id).await.unwrap().unwrap();
        match job.status {
            jobs::JobStatus::Completed => return job,
            jobs::JobStatus::Failed => panic!("job {id} failed: {:?}", job.error),
            _ => {}
        }
        assert!(Instant::now() < deadline, "job {id} did not finish");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn outreach() -> Value {
    json!({"type": "outreach"})
}

#[tokio::test]
async fn bulk_outreach_reaches_each_eligible_lead_once_even_sent_twice_and_lists_the_others() {
    let app = TestApp::spawn().await;
    let tenant = tenant(&app, "Acme").await;
    let other = app.create_tenant("Other").await;
    let key = &tenant.key;
    let workflow = app.create_workflow(key, "Enquiries").await;
    let draft = app.create_workflow(key, "Not yet").await;
    let capture = |body: Value| {
        let app = &app;
        async move { app.capture_new(key, body).await.0 }
    };
    let ada =
        capture(json!({"first_name": "Ada", "phone": "+447700900101", "workflow_id": workflow}))
            .await;
    let bob =
        capture(json!({"first_name": "Bob", "phone": "+447700900102", "workflow_id": workflow}))
            .await;
    let cy =
        capture(json!({"first_name": "Cy", "phone": "+447700900103", "workflow_id": workflow}))
            .await;
    let no_workflow = capture(json!({"first_name": "Dee", "phone": "+447700900104"})).await;
    let opted_out = capture(json!({"phone": "+447700900105", "workflow_id": workflow})).await;
    let archived = capture(json!({"phone": "+447700900106", "workflow_id": workflow})).await;
    let no_phone = capture(json!({"email": "eve@example.com", "workflow_id": workflow})).await;
    let inactive = capture(json!({"phone": "+447700900108", "workflow_id": draft})).await;
    let missing = Uuid::now_v7().to_string();
    let theirs = app
        .capture_new(&other.key, json!({"phone": "+447700900109"}))
        .await
        .0;
    for (lead, action) in [(&opted_out, "opt-out"), (&archived, "archive")] {
        let reply = app
            .post(key, &format!("/api/v1/leads/{lead}/{action}"), json!({}))
            .await;
        assert!(reply.status.is_success(), "{action}: {}", reply.text);
    }
    let contacted = [ada.clone(), bob.clone(), cy.clone()];
    mark_contacted(&app, key, &contacted).await;
    activate(&app, key, &workflow).await;

    let ids = json!([
        ada,
        no_workflow,
        bob,
        opted_out,
        archived,
        no_phone,
        inactive,
        missing,
        theirs,
        cy,
        ada
    ]);
    let body = json!({"action": outreach(), "target": {"ids": ids}});
    let job = run_bulk(&app, key, body.clone()).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["action"], outreach());
    assert_eq!(job["total"], 10, "a repeated id counts once");
    assert_eq!(
        (&job["succeeded"], &job["skipped"], &job["failed"]),
        (&json!(3), &json!(0), &json!(7)),
        "{job}"
    );
    assert_eq!(
        job["failures"],
        json!([
            {"lead_id": no_workflow, "code": "no_workflow", "message": "the lead has no workflow"},
            {"lead_id": opted_out, "code": "opted_out",
             "message": "the lead has opted out; no message may be sent"},
            {"lead_id": archived, "code": "archived", "message": "the lead is archived"},
            {"lead_id": no_phone, "code": "no_phone", "message": "the lead has no phone number"},
            {"lead_id": inactive, "code": "no_workflow",
             "message": "the lead's workflow is not active"},
            {"lead_id": missing, "code": "not_found", "message": "no such lead"},
            {"lead_id": theirs, "code": "not_found", "message": "no such lead"},
        ])
    );
    let position = job["position"].as_i64().unwrap();

    each_reached(&app, key, &contacted).await;
    for (lead, name) in [(&ada, "Ada"), (&bob, "Bob"), (&cy, "Cy")] {
        assert_eq!(
            sandbox(&app, key, lead).await,
            [format!("Hi {name}, this is {BRAND}. Want to book a visit?")]
        );
    }

    // The same action again contacts nobody twice: the three are skipped.
    let again = run_bulk(&app, key, body).await;
    assert_eq!(again["status"], "completed", "{again}");
    assert_eq!(
        (&again["succeeded"], &again["skipped"], &again["failed"]),
        (&json!(0), &json!(3), &json!(7)),
        "{again}"
    );
    assert_eq!(again["position"], Value::Null, "nothing was written");
    // Give the outbox a moment to send anything it was (wrongly) given.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for lead in &contacted {
        assert_eq!(sandbox(&app, key, lead).await.len(), 1, "{lead}");
    }
    let mut expected: Vec<(String, i64)> = contacted.iter().map(|id| (id.clone(), 1)).collect();
    expected.sort();
    assert_eq!(outreach_per_lead(&app).await, expected);
    assert!(sandbox(&app, &other.key, &theirs).await.is_empty());

    // The conversation shows it as the workflow's outreach.
    let conversation = app
        .get(
            key,
            &format!("/api/v1/leads/{ada}/conversation?min_position={position}"),
        )
        .await;
    assert_eq!(conversation.status, StatusCode::OK, "{}", conversation.text);
    let messages = conversation.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["origin"], "outreach");
    app.stop().await;
}

#[tokio::test]
async fn two_outreach_jobs_over_the_same_leads_at_once_contact_each_lead_once() {
    // Nothing is sent: the test is about what is queued, and the outbox would only compete for
    // the test database's few connections.
    let app = TestApp::spawn_with(|settings| settings.run_workers = false).await;
    let tenant = tenant(&app, "Acme").await;
    let key = &tenant.key;
    let workflow = app.create_workflow(key, "Enquiries").await;
    let workflow_id: WorkflowId = workflow.parse().unwrap();
    let leads: Vec<NewLead> = (0..150)
        .map(|n| NewLead {
            workflow_id: Some(workflow_id),
            ..lead(n, &[])
        })
        .collect();
    let (ids, seeded) = seed(app.db.pool(), &tenant.id, &leads).await;
    caught_up(&app, key, seeded).await;
    mark_contacted(&app, key, &ids).await;
    activate(&app, key, &workflow).await;

    // Two jobs over the same leads, claimed at once by the server's worker and two more.
    let lead_ids: Vec<Uuid> = ids.iter().map(|id| Uuid::parse_str(id).unwrap()).collect();
    let tenant_id = Uuid::parse_str(&tenant.id).unwrap();
    let mut created = Vec::new();
    for n in 0..2 {
        let job = jobs::create(
            app.db.pool(),
            &NewJob {
                id: Uuid::now_v7(),
                tenant_id,
                kind: jobs::BULK_UPDATE,
                action: serde_json::to_value(BulkAction::Outreach).unwrap(),
                target: BulkTarget::Ids(lead_ids.clone()).to_value(),
                actor: "admin".into(),
                request_id: format!("twice-{n}"),
                created_at: monday_morning(),
            },
        )
        .await
        .unwrap();
        created.push(job.id);
    }
    // Each worker as if on an instance of its own, with its own pool.
    let worker = || async {
        let pool = infrastructure::db::connect(app.db.url(), 4).await.unwrap();
        let state = api::state::AppState::new(
            pool,
            Arc::new(ManualClock::new(monday_morning())),
            api::settings::Settings::for_tests(app.db.url().to_string(), ADMIN),
        )
        .unwrap();
        Worker::new(state)
    };
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let (first, second) = (worker().await, worker().await);
    let (a, b) = tokio::join!(first.run_next(&shutdown), second.run_next(&shutdown));
    a.unwrap();
    b.unwrap();

    let mut succeeded = 0;
    let mut skipped = 0;
    for id in created {
        let job = completed(&app, tenant_id, id).await;
        assert_eq!(job.failed, 0, "{job:?}");
        println!(
            "job {id}: {} queued, {} skipped",
            job.succeeded, job.skipped
        );
        succeeded += job.succeeded;
        skipped += job.skipped;
    }
    let per_lead = outreach_per_lead(&app).await;
    assert_eq!(per_lead.len(), 150);
    assert!(
        per_lead.iter().all(|(_, n)| *n == 1),
        "a lead was given outreach twice: {per_lead:?}"
    );
    assert_eq!((succeeded, skipped), (150, 150));
    app.stop().await;
}
