//! What operators and SDK generators rely on: the OpenAPI document, Swagger UI, health,
//! metrics, projection status, request ids.

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, ADMIN};

#[tokio::test]
async fn the_spec_docs_health_metrics_and_projection_status_answer() {
    let app = TestApp::spawn().await;
    let spec = app.send(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(spec.status, StatusCode::OK);
    let paths = spec.body["paths"].as_object().unwrap();
    for path in [
        "/api/v1/leads",
        "/api/v1/leads/{id}/history",
        "/api/v1/workflows/{id}/activate",
        "/api/v1/tenants",
    ] {
        assert!(paths.contains_key(path), "the spec documents {path}");
    }
    assert_eq!(
        spec.body["paths"]["/api/v1/leads"]["post"]["operationId"],
        "capture_lead"
    );
    let docs = app.send(Method::GET, "/docs", None, None).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.text.to_lowercase().contains("swagger"));
    let live = app.send(Method::GET, "/health/live", None, None).await;
    assert_eq!(live.status, StatusCode::OK);
    let ready = app.send(Method::GET, "/health/ready", None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
    assert_eq!(ready.body["migrations"], true);
    let metrics = app.send(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics
            .text
            .contains("bookerbot_projection_lag_events{target=\"rm_contacts_v3\"}"),
        "{}",
        metrics.text
    );
    assert!(metrics.text.contains("bookerbot_http_requests_total"));
    let projections = app.get(ADMIN, "/api/v1/admin/projections").await;
    assert_eq!(projections.status, StatusCode::OK, "{}", projections.text);
    let targets: Vec<&str> = projections
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["target"].as_str().unwrap())
        .collect();
    assert!(
        targets.contains(&"rm_contacts_v3") && targets.contains(&"rm_workflows_v1"),
        "{targets:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_request_id_is_echoed_or_made_up() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let echoed = client
        .get(format!("{}/health/live", app.base))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "req-123");
    let made = client
        .get(format!("{}/health/live", app.base))
        .send()
        .await
        .unwrap();
    assert!(!made.headers()["x-request-id"].is_empty());
    app.stop().await;
}
