//! `POST /api/v1/workflows/bulk` over HTTP: pause, resume and archive many workflows at once,
//! each id getting what its single endpoint does — done, skipped when already so, or failed with
//! the single endpoint's code — read back through the workflows API with the answer's position.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{TestApp, ADMIN};

const PATH: &str = "/api/v1/workflows/bulk";

/// Runs a lifecycle command on a workflow through its single endpoint.
async fn lifecycle(app: &TestApp, key: &str, workflow: &str, action: &str) {
    let reply = app
        .post(
            key,
            &format!("/api/v1/workflows/{workflow}/{action}"),
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{action}: {}", reply.text);
}

/// A workflow's status, read at `position`.
async fn status(app: &TestApp, key: &str, workflow: &str, position: i64) -> String {
    let reply = app
        .get(
            key,
            &format!("/api/v1/workflows/{workflow}?min_position={position}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["status"].as_str().unwrap().to_owned()
}

/// Posts a bulk action that must answer 200; returns the body.
async fn bulk(app: &TestApp, key: &str, action: &str, ids: &[&str]) -> Value {
    let reply = app
        .post(key, PATH, json!({"action": action, "ids": ids}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// The `(id, outcome, error code)` of each result.
fn outcomes(body: &Value) -> Vec<(String, String, Option<String>)> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| {
            (
                result["id"].as_str().unwrap().to_owned(),
                result["outcome"].as_str().unwrap().to_owned(),
                result["error"]["code"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn row(id: &str, outcome: &str, code: Option<&str>) -> (String, String, Option<String>) {
    (id.to_owned(), outcome.to_owned(), code.map(str::to_owned))
}

#[tokio::test]
async fn pause_resume_and_archive_many_workflows_each_as_its_single_endpoint_would() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Acme").await;
    let other = app.create_tenant("Other").await;
    let key = tenant.key.as_str();
    let active = app.create_workflow(key, "Active").await;
    let also_active = app.create_workflow(key, "Also active").await;
    let paused = app.create_workflow(key, "Paused").await;
    let draft = app.create_workflow(key, "Draft").await;
    let archived = app.create_workflow(key, "Archived").await;
    let theirs = app.create_workflow(&other.key, "Theirs").await;
    for workflow in [&active, &also_active, &paused] {
        lifecycle(&app, key, workflow, "activate").await;
    }
    lifecycle(&app, key, &paused, "pause").await;
    lifecycle(&app, key, &archived, "archive").await;
    lifecycle(&app, &other.key, &theirs, "activate").await;
    let unknown = Uuid::now_v7().to_string();

    // Pause: the active ones are paused, the paused one skipped, the others refused.
    let paused_all = bulk(
        &app,
        key,
        "pause",
        &[
            &active,
            &also_active,
            &paused,
            &draft,
            &archived,
            &theirs,
            &unknown,
            "not-an-id",
            &active,
        ],
    )
    .await;
    assert_eq!(
        outcomes(&paused_all),
        [
            row(&active, "done", None),
            row(&also_active, "done", None),
            row(&paused, "skipped", None),
            row(&draft, "failed", Some("invalid_state")),
            row(&archived, "failed", Some("invalid_state")),
            row(&theirs, "failed", Some("not_found")),
            row(&unknown, "failed", Some("not_found")),
            row("not-an-id", "failed", Some("not_found")),
        ],
        "a repeated id counts once: {paused_all}"
    );
    let results = paused_all["results"].as_array().unwrap();
    assert!(
        results[..3].iter().all(|r| r.get("error").is_none()),
        "{paused_all}"
    );
    assert_eq!(results[5]["error"]["message"], "workflow not found");
    assert!(results[3]["error"]["message"].as_str().unwrap().len() > 1);
    let position = paused_all["position"].as_i64().unwrap();
    for workflow in [&active, &also_active, &paused] {
        assert_eq!(status(&app, key, workflow, position).await, "paused");
    }
    assert_eq!(status(&app, key, &draft, position).await, "draft");
    let reply = app
        .get(&other.key, &format!("/api/v1/workflows/{theirs}"))
        .await;
    assert_eq!(
        reply.body["status"], "active",
        "another tenant's is untouched"
    );

    // Resume: the paused ones are active again; a draft cannot be resumed.
    let resumed = bulk(&app, key, "resume", &[&active, &paused, &draft]).await;
    assert_eq!(
        outcomes(&resumed),
        [
            row(&active, "done", None),
            row(&paused, "done", None),
            row(&draft, "failed", Some("invalid_state")),
        ]
    );
    let position = resumed["position"].as_i64().unwrap();
    assert_eq!(status(&app, key, &active, position).await, "active");
    assert_eq!(status(&app, key, &paused, position).await, "active");
    assert_eq!(status(&app, key, &also_active, position).await, "paused");
    let again = bulk(&app, key, "resume", &[&active, &paused]).await;
    assert_eq!(
        outcomes(&again),
        [row(&active, "skipped", None), row(&paused, "skipped", None)]
    );
    assert_eq!(again["position"], Value::Null, "nothing was written");

    // Archive: from any status but archived, which is skipped.
    let retired = bulk(
        &app,
        key,
        "archive",
        &[&active, &also_active, &draft, &archived],
    )
    .await;
    assert_eq!(
        outcomes(&retired),
        [
            row(&active, "done", None),
            row(&also_active, "done", None),
            row(&draft, "done", None),
            row(&archived, "skipped", None),
        ]
    );
    let position = retired["position"].as_i64().unwrap();
    for workflow in [&active, &also_active, &draft, &archived] {
        assert_eq!(status(&app, key, workflow, position).await, "archived");
    }
    let reply = app
        .get(
            key,
            &format!("/api/v1/workflows?status=paused&min_position={position}"),
        )
        .await;
    assert_eq!(reply.body["total"], 0, "{}", reply.text);
    app.stop().await;
}

#[tokio::test]
async fn a_bulk_workflow_request_is_checked_first() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Acme").await;
    let key = tenant.key.as_str();
    let workflow = app.create_workflow(key, "Enquiries").await;
    let events = app.event_count().await;
    let too_many: Vec<String> = (0..1_001).map(|_| Uuid::now_v7().to_string()).collect();
    for (body, field) in [
        (json!({"action": "pause", "ids": []}), Some("ids")),
        (json!({"action": "pause", "ids": too_many}), Some("ids")),
        (json!({"action": "stop", "ids": [workflow]}), Some("action")),
        (json!({"action": "pause"}), Some("ids")),
        (json!({"ids": [workflow]}), Some("action")),
        (
            json!({"action": "pause", "ids": [workflow], "force": true}),
            None,
        ),
    ] {
        let reply = app.post(key, PATH, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.text
        );
        if field.is_some() {
            assert_eq!(reply.error_field(), field, "{body}: {}", reply.text);
        }
    }
    let body = json!({"action": "pause", "ids": [workflow]});
    let reply = app.post(ADMIN, PATH, body.clone()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    let reply = app
        .send(reqwest::Method::POST, PATH, None, Some(&body))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert_eq!(
        app.event_count().await,
        events,
        "the refused requests changed nothing"
    );

    let spec = app
        .send(reqwest::Method::GET, "/api/openapi.json", None, None)
        .await;
    let operation = &spec.body["paths"][PATH]["post"];
    assert_eq!(
        operation["operationId"], "bulk_update_workflows",
        "{operation}"
    );
    assert!(operation["responses"]["200"].is_object(), "{operation}");
    app.stop().await;
}
