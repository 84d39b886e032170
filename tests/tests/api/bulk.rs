//! Bulk actions as jobs: a filter over 10k leads, explicit ids with failures, every action,
//! the checks made before a job is accepted, tenant isolation, and a job resumed after its
//! worker died — each effect read back through the list with the job's `position`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use api::job_runner::{BulkTarget, Worker};
use application::ManualClock;
use domain::lead::NewLead;
use domain::values::{CustomFields, LeadId, LeadSource};
use domain::{Lead, LeadEvent};
use infrastructure::event_store::{append_many, NewEvents};
use infrastructure::jobs::{self, NewJob};
use infrastructure::metadata::EventMetadata;
use infrastructure::tenants::{TenantSettings, TenantStore};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{start_time, Reply, TestApp, ADMIN};

/// Leads written straight to the event store (with their phone reservations), in batches: the
/// quick way to a large tenant. Returns their ids, in order, and the last position written.
pub(crate) async fn seed(pool: &PgPool, tenant: &str, leads: &[NewLead]) -> (Vec<String>, i64) {
    let tenant = Uuid::parse_str(tenant).unwrap();
    let metadata = EventMetadata {
        tenant_id: tenant,
        actor: "system:tests".to_string(),
        occurred_at: start_time(),
        request_id: "seed".to_string(),
    };
    let mut ids = Vec::with_capacity(leads.len());
    let mut position = 0;
    for chunk in leads.chunks(2_000) {
        let chunk_ids: Vec<String> = chunk.iter().map(|_| LeadId::new().to_string()).collect();
        let events: Vec<[LeadEvent; 1]> = chunk.iter().map(captured).collect();
        let batch: Vec<NewEvents<'_, LeadEvent>> = chunk_ids
            .iter()
            .zip(&events)
            .map(|(id, events)| NewEvents {
                id,
                version: 0,
                events,
            })
            .collect();
        let mut tx = pool.begin().await.unwrap();
        position = append_many::<Lead>(&mut tx, &batch, &metadata)
            .await
            .unwrap()
            .unwrap();
        let (phones, owners): (Vec<String>, Vec<Uuid>) = chunk
            .iter()
            .zip(&chunk_ids)
            .filter_map(|(lead, id)| {
                lead.phone
                    .as_ref()
                    .map(|p| (p.as_str().to_string(), Uuid::parse_str(id).unwrap()))
            })
            .unzip();
        sqlx::query(
            "INSERT INTO lead_phones (tenant_id, phone, lead_id) \
             SELECT $1, * FROM UNNEST($2::text[], $3::uuid[])",
        )
        .bind(tenant)
        .bind(&phones)
        .bind(&owners)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        ids.extend(chunk_ids);
    }
    (ids, position)
}

fn captured(lead: &NewLead) -> [LeadEvent; 1] {
    [LeadEvent::LeadCaptured {
        first_name: lead.first_name.clone(),
        last_name: lead.last_name.clone(),
        phone: lead.phone.clone(),
        email: lead.email.clone(),
        custom_fields: lead.custom_fields.clone(),
        source: lead.source,
        tags: lead.tags.clone(),
        workflow_id: lead.workflow_id,
    }]
}

/// Lead `n` with the given tags (names and custom fields from the shared fixture).
pub(crate) fn lead(n: u32, tags: &[&str]) -> NewLead {
    NewLead {
        tags: tags.iter().map(|t| bookerbot_tests::tag(t)).collect(),
        source: LeadSource::Website,
        custom_fields: CustomFields::default(),
        ..bookerbot_tests::new_lead(n)
    }
}

/// Waits until the contacts model includes `position` (the server's runners apply it).
pub(crate) async fn caught_up(app: &TestApp, key: &str, position: i64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let reply = app
            .get(
                key,
                &format!("/api/v1/leads?page_size=1&min_position={position}"),
            )
            .await;
        match reply.status {
            StatusCode::OK => return,
            StatusCode::SERVICE_UNAVAILABLE if Instant::now() < deadline => {}
            status => panic!(
                "the contacts model did not catch up: {status} {}",
                reply.text
            ),
        }
    }
}

/// Posts a bulk action; returns the reply and its `Location` header.
pub(crate) async fn post_bulk(app: &TestApp, key: &str, body: Value) -> (Reply, Option<String>) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/leads/bulk", app.base))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (Reply { status, body, text }, location)
}

/// Posts a bulk action that must be accepted, and waits for its job to finish.
pub(crate) async fn run_bulk(app: &TestApp, key: &str, body: Value) -> Value {
    let (reply, _) = post_bulk(app, key, body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    finished(app, key, reply.body["id"].as_str().unwrap()).await
}

/// Polls a job until it has completed or failed.
pub(crate) async fn finished(app: &TestApp, key: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let reply = app.get(key, &format!("/api/v1/jobs/{id}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        if matches!(reply.body["status"].as_str(), Some("completed" | "failed")) {
            return reply.body;
        }
        assert!(Instant::now() < deadline, "job {id} did not finish");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// `total` of a list query, read at `position`.
async fn total(app: &TestApp, key: &str, query: &str, position: i64) -> i64 {
    let reply = app
        .get(
            key,
            &format!("/api/v1/leads?{query}&page_size=1&min_position={position}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["total"].as_i64().unwrap()
}

#[tokio::test]
async fn a_bulk_action_selected_by_filter_over_10k_leads_completes_and_shows_in_the_list() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Big Clinic").await;
    let key = &tenant.key;
    let leads: Vec<NewLead> = (0..10_500)
        .map(|n| lead(n, if n < 10_000 { &["spring"] } else { &["autumn"] }))
        .collect();
    let (_, seeded) = seed(app.db.pool(), &tenant.id, &leads).await;
    caught_up(&app, key, seeded).await;

    let started = Instant::now();
    let (accepted, location) = post_bulk(
        &app,
        key,
        json!({"action": {"type": "set_status", "status": "booked", "reason": "spring campaign"},
               "target": {"filter": {"tag": ["spring"]}}}),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    let id = accepted.body["id"].as_str().unwrap();
    assert_eq!(
        location.as_deref(),
        Some(format!("/api/v1/jobs/{id}").as_str())
    );
    assert_eq!(accepted.body["status"], "queued");
    assert_eq!(accepted.body["kind"], "bulk_update");
    assert_eq!(
        accepted.body["action"],
        json!({"type": "set_status", "status": "booked", "reason": "spring campaign"})
    );
    let job = finished(&app, key, id).await;
    let elapsed = started.elapsed();
    println!(
        "bulk set_status over 10000 leads selected by filter: {:.2} s ({:.0} leads/s)",
        elapsed.as_secs_f64(),
        10_000.0 / elapsed.as_secs_f64()
    );
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["total"], 10_000);
    assert_eq!(job["processed"], 10_000);
    assert_eq!(job["succeeded"], 10_000);
    assert_eq!(job["skipped"], 0);
    assert_eq!(job["failed"], 0);
    assert_eq!(job["progress"], 100.0);
    assert_eq!(job["failures"], json!([]));
    assert!(job["started_at"].is_string() && job["finished_at"].is_string());
    let position = job["position"].as_i64().unwrap();
    assert!(position > seeded);

    assert_eq!(total(&app, key, "status=booked", position).await, 10_000);
    assert_eq!(
        total(&app, key, "status=booked&tag=spring", position).await,
        10_000
    );
    assert_eq!(total(&app, key, "status=pending", position).await, 500);
    assert_eq!(
        total(&app, key, "status=pending&tag=autumn", position).await,
        500
    );
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'LeadStatusOverridden'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(events, 10_000);
    app.stop().await;
}

#[tokio::test]
async fn explicit_ids_apply_to_every_lead_that_accepts_and_list_the_ones_that_refuse() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Acme").await;
    let key = &tenant.key;
    let (a, _) = app
        .capture_new(key, json!({"phone": "+447700900001"}))
        .await;
    let (b, _) = app
        .capture_new(key, json!({"phone": "+447700900002"}))
        .await;
    let (c, _) = app
        .capture_new(key, json!({"phone": "+447700900003"}))
        .await;
    let opted_out = app
        .post(key, &format!("/api/v1/leads/{b}/opt-out"), json!({}))
        .await;
    assert_eq!(opted_out.status, StatusCode::OK, "{}", opted_out.text);
    let missing = Uuid::now_v7().to_string();

    let job = run_bulk(
        &app,
        key,
        json!({"action": {"type": "set_status", "status": "qualified", "reason": "called back"},
               "target": {"ids": [a, b, missing, c, a]}}),
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["total"], 4, "a repeated id counts once");
    assert_eq!(job["processed"], 4);
    assert_eq!(job["succeeded"], 2);
    assert_eq!(job["failed"], 2);
    assert_eq!(job["skipped"], 0);
    assert_eq!(
        job["failures"],
        json!([
            {"lead_id": b, "code": "opted_out_is_final",
             "message": "the lead has opted out; only the lead re-subscribing (START) changes that"},
            {"lead_id": missing, "code": "not_found", "message": "no such lead"},
        ])
    );
    let position = job["position"].as_i64().unwrap();
    for (id, status) in [(&a, "qualified"), (&b, "opted_out"), (&c, "qualified")] {
        let lead = app
            .get(key, &format!("/api/v1/leads/{id}?min_position={position}"))
            .await;
        assert_eq!(lead.body["status"], status, "{id}");
    }
    let history = app.get(key, &format!("/api/v1/leads/{a}/history")).await;
    let last = history.body.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event_type"], "LeadStatusOverridden");
    assert_eq!(last["data"]["reason"], "called back");
    assert!(last["actor"].as_str().unwrap().starts_with("api_key:"));

    let page = app
        .get(
            key,
            &format!(
                "/api/v1/jobs/{}/failures?page=2&page_size=1",
                job["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.body["total"], 2);
    assert_eq!(page.body["items"], json!([job["failures"][1]]));
    app.stop().await;
}

#[tokio::test]
async fn every_action_type_changes_the_leads_and_a_repeat_is_counted_as_skipped() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Acme").await;
    let key = &tenant.key;
    let workflow = app.create_workflow(key, "Enquiries").await;
    let (a, _) = app
        .capture_new(key, json!({"phone": "+447700900011"}))
        .await;
    let (b, _) = app
        .capture_new(key, json!({"phone": "+447700900012", "tags": ["old"]}))
        .await;
    let ids = json!([a, b]);
    let lead = |position: i64, id: String| {
        let app = &app;
        async move {
            app.get(key, &format!("/api/v1/leads/{id}?min_position={position}"))
                .await
                .body
        }
    };
    let bulk = |action: Value| {
        let app = &app;
        let ids = ids.clone();
        async move {
            let job = run_bulk(app, key, json!({"action": action, "target": {"ids": ids}})).await;
            assert_eq!(job["status"], "completed", "{job}");
            job
        }
    };

    let job = bulk(json!({"type": "add_tag", "tag": "VIP"})).await;
    assert_eq!(
        (job["succeeded"].as_i64(), job["skipped"].as_i64()),
        (Some(2), Some(0))
    );
    let position = job["position"].as_i64().unwrap();
    assert_eq!(lead(position, a.clone()).await["tags"], json!(["vip"]));
    assert_eq!(
        lead(position, b.clone()).await["tags"],
        json!(["old", "vip"])
    );
    let again = bulk(json!({"type": "add_tag", "tag": "vip"})).await;
    assert_eq!(
        (again["succeeded"].as_i64(), again["skipped"].as_i64()),
        (Some(0), Some(2))
    );
    assert_eq!(again["position"], Value::Null, "nothing was written");

    let job = bulk(json!({"type": "remove_tag", "tag": "old"})).await;
    assert_eq!(
        (job["succeeded"].as_i64(), job["skipped"].as_i64()),
        (Some(1), Some(1))
    );
    let position = job["position"].as_i64().unwrap();
    assert_eq!(lead(position, b.clone()).await["tags"], json!(["vip"]));

    let job = bulk(json!({"type": "assign_workflow", "workflow_id": workflow})).await;
    let position = job["position"].as_i64().unwrap();
    assert_eq!(
        lead(position, a.clone()).await["workflow_id"],
        workflow.as_str()
    );
    let job = bulk(json!({"type": "assign_workflow", "workflow_id": null})).await;
    let position = job["position"].as_i64().unwrap();
    assert_eq!(lead(position, b.clone()).await["workflow_id"], Value::Null);

    let job = bulk(json!({"type": "set_status", "status": "contacted", "reason": "r"})).await;
    let position = job["position"].as_i64().unwrap();
    assert_eq!(lead(position, a.clone()).await["status"], "contacted");
    let again = bulk(json!({"type": "set_status", "status": "contacted", "reason": "r"})).await;
    assert_eq!(
        (again["skipped"].as_i64(), again["failed"].as_i64()),
        (Some(2), Some(0))
    );

    let job = bulk(json!({"type": "opt_out", "reason": "asked by phone"})).await;
    assert_eq!(job["succeeded"], 2);
    let position = job["position"].as_i64().unwrap();
    assert_eq!(lead(position, b.clone()).await["status"], "opted_out");
    let again = bulk(json!({"type": "opt_out"})).await;
    assert_eq!(
        (again["skipped"].as_i64(), again["failed"].as_i64()),
        (Some(2), Some(0))
    );

    let job = bulk(json!({"type": "archive"})).await;
    assert_eq!(job["succeeded"], 2);
    let position = job["position"].as_i64().unwrap();
    assert_eq!(total(&app, key, "archived=false", position).await, 0);
    assert_eq!(total(&app, key, "archived=true", position).await, 2);
    app.stop().await;
}

#[tokio::test]
async fn a_bulk_request_is_checked_before_a_job_is_accepted() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Acme").await;
    let other = app.create_tenant("Other").await;
    let key = &tenant.key;
    let (a, _) = app
        .capture_new(key, json!({"phone": "+447700900021"}))
        .await;
    let theirs = app.create_workflow(&other.key, "Theirs").await;
    let archived = app.create_workflow(key, "Old").await;
    let reply = app
        .post(
            key,
            &format!("/api/v1/workflows/{archived}/archive"),
            json!({}),
        )
        .await;
    assert!(reply.status.is_success(), "{}", reply.text);
    let ids = json!({"ids": [a]});
    let too_many: Vec<String> = (0..10_001).map(|_| Uuid::now_v7().to_string()).collect();
    let cases = [
        (
            json!({"type": "set_status", "status": "lost", "reason": "r"}),
            ids.clone(),
            "action.status",
        ),
        (
            json!({"type": "set_status", "status": "opted_out", "reason": "r"}),
            ids.clone(),
            "action.status",
        ),
        (
            json!({"type": "set_status", "status": "booked"}),
            ids.clone(),
            "action.reason",
        ),
        (
            json!({"type": "set_status", "status": "booked", "reason": " "}),
            ids.clone(),
            "action.reason",
        ),
        (
            json!({"type": "add_tag", "tag": "a,b"}),
            ids.clone(),
            "action.tag",
        ),
        (
            json!({"type": "remove_tag", "tag": ""}),
            ids.clone(),
            "action.tag",
        ),
        (
            json!({"type": "assign_workflow", "workflow_id": theirs}),
            ids.clone(),
            "action.workflow_id",
        ),
        (
            json!({"type": "assign_workflow", "workflow_id": archived}),
            ids.clone(),
            "action.workflow_id",
        ),
        (
            json!({"type": "assign_workflow"}),
            ids.clone(),
            "action.workflow_id",
        ),
        (json!({"type": "explode"}), ids.clone(), "action.type"),
        (json!({"type": "archive"}), json!({"ids": []}), "target.ids"),
        (
            json!({"type": "archive"}),
            json!({"ids": too_many}),
            "target.ids",
        ),
        (
            json!({"type": "archive"}),
            json!({"ids": [a, "nope"]}),
            "target.ids[1]",
        ),
        (json!({"type": "archive"}), json!({}), "target"),
        (
            json!({"type": "archive"}),
            json!({"ids": [a], "filter": {}}),
            "target",
        ),
        (
            json!({"type": "archive"}),
            json!({"filter": {"status": ["lost"]}}),
            "target.filter.status",
        ),
        (
            json!({"type": "archive"}),
            json!({"filter": {"colour": "red"}}),
            "target.filter.colour",
        ),
    ];
    for (action, target, field) in cases {
        let (reply, _) = post_bulk(&app, key, json!({"action": action, "target": target})).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{action} {}",
            reply.text
        );
        assert_eq!(reply.error_field(), Some(field), "{action} {}", reply.text);
    }
    let admin = app
        .post(
            ADMIN,
            "/api/v1/leads/bulk",
            json!({"action": {"type": "archive"}, "target": ids}),
        )
        .await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN);
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(jobs, 0, "no refused request left a job behind");
    app.stop().await;
}

#[tokio::test]
async fn a_tenant_can_neither_see_another_tenants_jobs_nor_act_on_its_leads() {
    let app = TestApp::spawn().await;
    let mine = app.create_tenant("Mine").await;
    let theirs = app.create_tenant("Theirs").await;
    let (their_lead, their_position) = app
        .capture_new(&theirs.key, json!({"phone": "+447700900031"}))
        .await;
    let job = run_bulk(
        &app,
        &mine.key,
        json!({"action": {"type": "archive"}, "target": {"ids": [their_lead]}}),
    )
    .await;
    assert_eq!(job["failed"], 1);
    assert_eq!(job["failures"][0]["code"], "not_found");
    let lead = app
        .get(
            &theirs.key,
            &format!("/api/v1/leads/{their_lead}?min_position={their_position}"),
        )
        .await;
    assert_eq!(lead.status, StatusCode::OK, "{}", lead.text);
    let history = app
        .get(&theirs.key, &format!("/api/v1/leads/{their_lead}/history"))
        .await;
    assert_eq!(
        history.body.as_array().unwrap().len(),
        1,
        "their lead was not touched"
    );

    let id = job["id"].as_str().unwrap();
    for path in [
        format!("/api/v1/jobs/{id}"),
        format!("/api/v1/jobs/{id}/failures"),
    ] {
        let reply = app.get(&theirs.key, &path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.error_code(), Some("not_found"));
    }
    let unknown = app.get(&mine.key, "/api/v1/jobs/not-a-uuid").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// A worker that died mid-job leaves its lease to expire; another worker resumes the job after
/// the last committed chunk, so no lead is acted on twice and the counts add up.
#[tokio::test]
async fn a_job_whose_worker_died_is_resumed_after_its_last_committed_chunk() {
    // No server: nothing but this test's workers may claim the job.
    let db = bookerbot_tests::TestDb::new().await;
    let pool = db.pool().clone();
    let (tenant, _) = TenantStore::new(pool.clone(), None)
        .create("Acme".into(), TenantSettings::default(), start_time())
        .await
        .unwrap();
    let tenant_id = tenant.id.as_uuid();
    let leads: Vec<NewLead> = (0..1_200).map(|n| lead(n, &[])).collect();
    let (ids, _) = seed(&pool, &tenant_id.to_string(), &leads).await;
    let action = infrastructure::bulk::BulkAction::AddTag {
        tag: bookerbot_tests::tag("resumed"),
    };
    let lead_ids: Vec<Uuid> = ids.iter().map(|id| Uuid::parse_str(id).unwrap()).collect();
    let job = jobs::create(
        &pool,
        &NewJob {
            id: Uuid::now_v7(),
            tenant_id,
            kind: jobs::BULK_UPDATE,
            action: serde_json::to_value(&action).unwrap(),
            target: BulkTarget::Ids(lead_ids.clone()).to_value(),
            actor: "system:tests".into(),
            request_id: "crash".into(),
            created_at: start_time(),
        },
    )
    .await
    .unwrap();

    // The first worker claims the job, resolves it and commits one chunk of 500, then dies.
    let dead = Uuid::new_v4();
    let lease = Duration::from_secs(30);
    let claimed = jobs::claim(&pool, dead, lease, start_time())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, job.id);
    assert!(jobs::set_targets(&pool, job.id, dead, &lead_ids)
        .await
        .unwrap());
    let metadata = EventMetadata {
        tenant_id,
        actor: "system:tests".into(),
        occurred_at: start_time(),
        request_id: "crash".into(),
    };
    let mut tx = pool.begin().await.unwrap();
    let chunk = jobs::next_chunk(&mut tx, job.id, dead, 500)
        .await
        .unwrap()
        .unwrap();
    let outcome = infrastructure::bulk::apply(&mut tx, tenant_id, &action, &chunk.leads, &metadata)
        .await
        .unwrap();
    assert!(
        jobs::record_chunk(&mut tx, job.id, dead, &chunk, &outcome, lease)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    // It had started the next chunk when it died: read, never committed.
    let mut tx = pool.begin().await.unwrap();
    let stale = jobs::next_chunk(&mut tx, job.id, dead, 500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stale.processed, 500);
    drop(tx);
    assert!(
        jobs::claim(&pool, Uuid::new_v4(), lease, start_time())
            .await
            .unwrap()
            .is_none(),
        "a job under a live lease is not claimable"
    );
    sqlx::query("UPDATE jobs SET lease_expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();

    // Another worker takes over and finishes.
    let state = api::state::AppState::new(
        pool.clone(),
        Arc::new(ManualClock::new(start_time())),
        api::settings::Settings::for_tests(db.url().to_string(), ADMIN),
    )
    .unwrap();
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    assert!(Worker::new(state).run_next(&shutdown).await.unwrap());
    let done = jobs::get(&pool, tenant_id, job.id).await.unwrap().unwrap();
    assert_eq!(done.status, jobs::JobStatus::Completed);
    assert_eq!(
        (
            done.total,
            done.processed,
            done.succeeded,
            done.skipped,
            done.failed
        ),
        (Some(1_200), 1_200, 1_200, 0, 0)
    );
    let listed: i64 = sqlx::query_scalar("SELECT count(*) FROM job_leads")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(listed, 0, "a finished job's list of leads is cleared");
    // The dead worker's progress can no longer land.
    let mut tx = pool.begin().await.unwrap();
    let late = infrastructure::bulk::ChunkOutcome::default();
    assert!(
        !jobs::record_chunk(&mut tx, job.id, dead, &stale, &late, lease)
            .await
            .unwrap()
    );
    drop(tx);
    let tagged: Vec<(String, i64)> = sqlx::query_as(
        "SELECT aggregate_id, count(*) FROM events WHERE event_type = 'LeadTagged' \
         GROUP BY aggregate_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(tagged.len(), 1_200);
    assert!(
        tagged.iter().all(|(_, n)| *n == 1),
        "a lead was tagged twice"
    );
}

#[tokio::test]
async fn the_spec_documents_bulk_actions_jobs_the_export_and_tags() {
    let app = TestApp::spawn().await;
    let spec = app
        .send(reqwest::Method::GET, "/api/openapi.json", None, None)
        .await;
    assert_eq!(spec.status, StatusCode::OK);
    let paths = &spec.body["paths"];
    for (path, method, operation) in [
        ("/api/v1/leads/bulk", "post", "bulk_update_leads"),
        ("/api/v1/jobs/{id}", "get", "get_job"),
        ("/api/v1/jobs/{id}/failures", "get", "list_job_failures"),
        ("/api/v1/leads/export.csv", "get", "export_leads"),
        ("/api/v1/tags", "get", "list_tags"),
        ("/api/v1/tags", "post", "create_tag"),
        ("/api/v1/tags/{name}", "patch", "update_tag"),
        ("/api/v1/tags/{name}", "delete", "delete_tag"),
    ] {
        assert_eq!(
            paths[path][method]["operationId"], operation,
            "{method} {path}"
        );
    }
    assert!(
        paths["/api/v1/leads/bulk"]["post"]["responses"]["202"]["headers"]["LOCATION"].is_object()
    );
    assert!(
        paths["/api/v1/leads/export.csv"]["get"]["responses"]["200"]["content"]
            ["text/csv; charset=utf-8"]
            .is_object(),
        "{}",
        paths["/api/v1/leads/export.csv"]
    );
    let action = &spec.body["components"]["schemas"]["BulkActionBody"];
    assert_eq!(action["discriminator"]["propertyName"], "type", "{action}");
    assert_eq!(
        action["oneOf"].as_array().map(Vec::len),
        Some(7),
        "{action}"
    );
    let mapping = action["discriminator"]["mapping"].as_object().unwrap();
    let mut types: Vec<&str> = mapping.keys().map(String::as_str).collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "add_tag",
            "archive",
            "assign_workflow",
            "opt_out",
            "outreach",
            "remove_tag",
            "set_status"
        ]
    );
    app.stop().await;
}
