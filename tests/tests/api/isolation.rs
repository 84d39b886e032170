//! Tenant isolation: another tenant's key sees none of a tenant's leads or workflows, and every
//! route answers 404 for their ids — the same as for ids that do not exist.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn another_tenants_key_gets_404_on_every_lead_and_workflow_route() {
    let app = TestApp::spawn().await;
    let owner = app.create_tenant("Owner").await;
    let intruder = app.create_tenant("Intruder").await;
    let workflow = app.create_workflow(&owner.key, "Private").await;
    let (lead, position) = app
        .capture_new(
            &owner.key,
            json!({"first_name": "Secret", "phone": "+44 7700 900999", "tags": ["x"], "workflow_id": workflow}),
        )
        .await;
    let events_before = app.event_count().await;

    let routes: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, format!("/api/v1/leads/{lead}"), None),
        (
            Method::PATCH,
            format!("/api/v1/leads/{lead}"),
            Some(json!({"first_name": "Hacked"})),
        ),
        (
            Method::POST,
            format!("/api/v1/leads/{lead}/status"),
            Some(json!({"status": "qualified", "reason": "x"})),
        ),
        (
            Method::POST,
            format!("/api/v1/leads/{lead}/tags"),
            Some(json!({"tag": "y"})),
        ),
        (Method::DELETE, format!("/api/v1/leads/{lead}/tags/x"), None),
        (
            Method::POST,
            format!("/api/v1/leads/{lead}/opt-out"),
            Some(json!({})),
        ),
        (Method::GET, format!("/api/v1/leads/{lead}/history"), None),
        (Method::GET, format!("/api/v1/workflows/{workflow}"), None),
        (
            Method::PATCH,
            format!("/api/v1/workflows/{workflow}"),
            Some(json!({"name": "Hacked"})),
        ),
        (
            Method::POST,
            format!("/api/v1/workflows/{workflow}/activate"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/workflows/{workflow}/pause"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/workflows/{workflow}/resume"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/workflows/{workflow}/archive"),
            Some(json!({})),
        ),
        (Method::GET, format!("/api/v1/tenants/{}", owner.id), None),
        (
            Method::PATCH,
            format!("/api/v1/tenants/{}", owner.id),
            Some(json!({"name": "Hacked"})),
        ),
        (
            Method::POST,
            format!("/api/v1/tenants/{}/api-keys", owner.id),
            Some(json!({})),
        ),
    ];
    for (method, path, body) in routes {
        let reply = app
            .send(method.clone(), &path, Some(&intruder.key), body.as_ref())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            reply.text
        );
        assert_eq!(reply.error_code(), Some("not_found"), "{method} {path}");
    }
    assert_eq!(
        app.event_count().await,
        events_before,
        "nothing was written"
    );

    // A lead of another tenant is not a dedupe target: the same phone is a new lead here.
    let (theirs, p2) = app
        .capture_new(&intruder.key, json!({"phone": "+44 7700 900999"}))
        .await;
    assert_ne!(theirs, lead);
    // Nor may a lead be put into another tenant's workflow.
    let foreign = app
        .capture(
            &intruder.key,
            json!({"phone": "+44 7700 900998", "workflow_id": workflow}),
        )
        .await;
    assert_eq!(
        foreign.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        foreign.text
    );
    assert_eq!(foreign.error_field(), Some("workflow_id"));

    let owner_list = app
        .get(
            &owner.key,
            &format!("/api/v1/leads?min_position={position}"),
        )
        .await;
    assert_eq!(owner_list.body["total"], 1);
    let intruder_list = app
        .get(&intruder.key, &format!("/api/v1/leads?min_position={p2}"))
        .await;
    assert_eq!(intruder_list.body["total"], 1);
    assert_eq!(intruder_list.body["items"][0]["id"], theirs.as_str());
    let intruder_workflows = app.get(&intruder.key, "/api/v1/workflows").await;
    assert_eq!(
        intruder_workflows.body["total"], 0,
        "{}",
        intruder_workflows.text
    );
    app.stop().await;
}

#[tokio::test]
async fn requests_without_a_valid_key_are_refused_in_the_json_error_shape() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Keys").await;
    let none = app.send(Method::GET, "/api/v1/leads", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{}", none.text);
    assert_eq!(none.error_code(), Some("unauthorized"));
    let wrong = app.get("bbk_not_a_key", "/api/v1/leads").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let tenant_on_admin = app
        .post(&tenant.key, "/api/v1/tenants", json!({"name": "Mine"}))
        .await;
    assert_eq!(
        tenant_on_admin.status,
        StatusCode::FORBIDDEN,
        "{}",
        tenant_on_admin.text
    );
    let admin_on_tenant_route = app.get(crate::helpers::ADMIN, "/api/v1/leads").await;
    assert_eq!(admin_on_tenant_route.status, StatusCode::FORBIDDEN);

    let issued = app
        .post(
            &tenant.key,
            &format!("/api/v1/tenants/{}/api-keys", tenant.id),
            json!({"name": "ci"}),
        )
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    let second = issued.body["api_key"].as_str().unwrap().to_string();
    let key_id = issued.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.get(&second, "/api/v1/leads").await.status,
        StatusCode::OK
    );
    let listed = app
        .get(
            &tenant.key,
            &format!("/api/v1/tenants/{}/api-keys", tenant.id),
        )
        .await;
    assert_eq!(listed.body["total"], 2, "{}", listed.text);
    assert!(!listed.text.contains(&second), "secrets are never listed");
    let revoked = app
        .delete(
            &tenant.key,
            &format!("/api/v1/tenants/{}/api-keys/{key_id}", tenant.id),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text);
    assert_eq!(
        app.get(&second, "/api/v1/leads").await.status,
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}
