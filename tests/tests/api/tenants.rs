//! Tenants: created by the platform admin with their first key, configured by themselves.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, ADMIN};

#[tokio::test]
async fn the_admin_creates_a_tenant_with_defaults_and_the_tenant_configures_itself() {
    let app = TestApp::spawn().await;
    let created = app
        .post(
            ADMIN,
            "/api/v1/tenants",
            json!({"name": "Bright Smile", "brand_name": "Bright Smile Dental"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let tenant = &created.body["tenant"];
    assert_eq!(tenant["timezone"], "Europe/London");
    assert_eq!(tenant["default_country"], "GB");
    assert_eq!(tenant["brand_name"], "Bright Smile Dental");
    assert_eq!(
        tenant["quiet_hours"],
        json!({"start": "08:00", "end": "21:00"})
    );
    assert_eq!(
        tenant["business_hours"]["monday"],
        json!({"start": "09:00", "end": "17:00"})
    );
    assert_eq!(tenant["business_hours"]["sunday"], serde_json::Value::Null);
    let id = tenant["id"].as_str().unwrap();
    let key = created.body["api_key"].as_str().unwrap();

    let patched = app
        .patch(
            key,
            &format!("/api/v1/tenants/{id}"),
            json!({"timezone": "America/New_York", "default_country": "us",
                   "business_hours": {"saturday": {"start": "10:00", "end": "14:00"}}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["timezone"], "America/New_York");
    assert_eq!(patched.body["default_country"], "US");
    assert_eq!(patched.body["business_hours"]["saturday"]["start"], "10:00");
    assert_eq!(
        patched.body["business_hours"]["monday"],
        serde_json::Value::Null
    );

    // National numbers now read as US numbers.
    let (lead, position) = app
        .capture_new(key, json!({"phone": "(201) 555-0123"}))
        .await;
    let read = app
        .get(
            key,
            &format!("/api/v1/leads/{lead}?min_position={position}"),
        )
        .await;
    assert_eq!(read.body["phone"], "+12015550123");

    for (body, field) in [
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"default_country": "XX"}), "default_country"),
        (
            json!({"quiet_hours": {"start": "22:00", "end": "07:00"}}),
            "quiet_hours",
        ),
    ] {
        let refused = app.patch(key, &format!("/api/v1/tenants/{id}"), body).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.text
        );
        assert!(
            refused.error_field().unwrap_or_default().starts_with(field),
            "{field}: {}",
            refused.text
        );
    }
    let listed = app.get(ADMIN, "/api/v1/tenants").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    app.stop().await;
}
