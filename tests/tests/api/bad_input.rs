//! Bad input gets a clear error: the right status, the one JSON shape, the field that was wrong —
//! and nothing is written (the event count does not move).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::TestApp;

/// A case: name, method, path, body, expected status, expected `details.field`.
type BadInput = (
    &'static str,
    Method,
    String,
    Value,
    StatusCode,
    Option<&'static str>,
);

#[tokio::test]
async fn every_bad_lead_input_gets_its_4xx_naming_the_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let key = app.create_tenant("Strict").await.key;
    let workflow = app.create_workflow(&key, "Flow").await;
    let (lead, _) = app
        .capture_new(&key, json!({"phone": "+44 7700 900100"}))
        .await;
    let big: serde_json::Map<String, Value> =
        (0..101).map(|i| (format!("k{i}"), json!("v"))).collect();
    let unknown = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    let cases: Vec<BadInput> = vec![
        (
            "wrong type",
            Method::POST,
            "/api/v1/leads".into(),
            json!({"phone": 447700900101u64}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("phone"),
        ),
        (
            "unknown source",
            Method::POST,
            "/api/v1/leads".into(),
            json!({"phone": "+44 7700 900102", "source": "carrier_pigeon"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("source"),
        ),
        (
            "invalid phone",
            Method::POST,
            "/api/v1/leads".into(),
            json!({"phone": "12"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("phone"),
        ),
        (
            "long last name",
            Method::POST,
            "/api/v1/leads".into(),
            json!({"phone": "+44 7700 900110", "last_name": "x".repeat(101)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("last_name"),
        ),
        (
            "invalid email",
            Method::POST,
            "/api/v1/leads".into(),
            json!({"email": "not-an-email"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("email"),
        ),
        (
            "no contact",
            Method::POST,
            "/api/v1/leads".into(),
            json!({"first_name": "Nobody"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("phone"),
        ),
        (
            "oversized custom fields",
            Method::POST,
            "/api/v1/leads".into(),
            json!({"phone": "+44 7700 900103", "custom_fields": big}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("custom_fields"),
        ),
        (
            "nested custom field",
            Method::POST,
            "/api/v1/leads".into(),
            json!({"phone": "+44 7700 900104", "custom_fields": {"a": {"b": 1}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("custom_fields"),
        ),
        (
            "custom fields not an object",
            Method::POST,
            "/api/v1/leads".into(),
            json!({"phone": "+44 7700 900105", "custom_fields": [1]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("custom_fields"),
        ),
        (
            "bad tag",
            Method::POST,
            "/api/v1/leads".into(),
            json!({"phone": "+44 7700 900106", "tags": ["ok", ""]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("tags[1]"),
        ),
        (
            "unknown workflow",
            Method::POST,
            "/api/v1/leads".into(),
            json!({"phone": "+44 7700 900107", "workflow_id": unknown}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("workflow_id"),
        ),
        (
            "malformed workflow id",
            Method::POST,
            "/api/v1/leads".into(),
            json!({"phone": "+44 7700 900108", "workflow_id": "nope"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("workflow_id"),
        ),
        (
            "unknown field",
            Method::POST,
            "/api/v1/leads".into(),
            json!({"phone": "+44 7700 900109", "fone": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("fone"),
        ),
        (
            "unknown status",
            Method::POST,
            format!("/api/v1/leads/{lead}/status"),
            json!({"status": "married", "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("status"),
        ),
        (
            "status without reason",
            Method::POST,
            format!("/api/v1/leads/{lead}/status"),
            json!({"status": "qualified"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("reason"),
        ),
        (
            "blank reason",
            Method::POST,
            format!("/api/v1/leads/{lead}/status"),
            json!({"status": "qualified", "reason": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("reason"),
        ),
        (
            "opt out through status",
            Method::POST,
            format!("/api/v1/leads/{lead}/status"),
            json!({"status": "opted_out", "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("status"),
        ),
        (
            "not allowed transition",
            Method::POST,
            format!("/api/v1/leads/{lead}/status"),
            json!({"status": "pending", "reason": "x"}),
            StatusCode::CONFLICT,
            None,
        ),
        (
            "patch bad email",
            Method::PATCH,
            format!("/api/v1/leads/{lead}"),
            json!({"email": "@"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("email"),
        ),
        (
            "patch clears the only contact",
            Method::PATCH,
            format!("/api/v1/leads/{lead}"),
            json!({"phone": null}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("phone"),
        ),
        (
            "unknown lead",
            Method::PATCH,
            format!("/api/v1/leads/{unknown}"),
            json!({"first_name": "X"}),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "malformed lead id",
            Method::POST,
            "/api/v1/leads/not-a-uuid/tags".into(),
            json!({"tag": "x"}),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "unknown workflow id",
            Method::POST,
            format!("/api/v1/workflows/{unknown}/activate"),
            json!({}),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "workflow unknown merge field",
            Method::POST,
            "/api/v1/workflows".into(),
            json!({"name": "W", "channel": "sms", "initial_message": "Hi {favourite_colour}"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("initial_message"),
        ),
        (
            "workflow unknown channel",
            Method::POST,
            "/api/v1/workflows".into(),
            json!({"name": "W", "channel": "fax", "initial_message": "Hi"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("channel"),
        ),
        (
            "workflow follow-ups out of range",
            Method::POST,
            "/api/v1/workflows".into(),
            json!({"name": "W", "channel": "sms", "initial_message": "Hi", "follow_up_count": 99}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("follow_up_count"),
        ),
        (
            "workflow patch bad template",
            Method::PATCH,
            format!("/api/v1/workflows/{workflow}"),
            json!({"initial_message": "Hi {first_name"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("initial_message"),
        ),
    ];
    let before = app.event_count().await;
    for (name, method, path, body, status, field) in cases {
        let reply = app.send(method, &path, Some(&key), Some(&body)).await;
        assert_eq!(reply.status, status, "{name}: {}", reply.text);
        assert!(
            reply.body["error"]["message"].is_string(),
            "{name}: JSON error shape: {}",
            reply.text
        );
        assert!(reply.error_code().is_some(), "{name}: error code");
        if let Some(field) = field {
            assert_eq!(reply.error_field(), Some(field), "{name}: {}", reply.text);
        }
        assert_eq!(app.event_count().await, before, "{name}: nothing written");
    }
    app.stop().await;
}

#[tokio::test]
async fn unreadable_requests_are_400s_in_the_json_error_shape() {
    let app = TestApp::spawn().await;
    let key = app.create_tenant("Unreadable").await.key;
    let before = app.event_count().await;
    let malformed = app
        .send_raw(
            Method::POST,
            "/api/v1/leads",
            &key,
            "application/json",
            "{\"phone\": ",
        )
        .await;
    assert_eq!(
        malformed.status,
        StatusCode::BAD_REQUEST,
        "{}",
        malformed.text
    );
    assert_eq!(malformed.error_code(), Some("malformed_json"));
    let empty = app
        .send_raw(Method::POST, "/api/v1/leads", &key, "application/json", "")
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.text);
    let not_json = app
        .send_raw(Method::POST, "/api/v1/leads", &key, "text/plain", "phone=1")
        .await;
    assert_eq!(
        not_json.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        not_json.text
    );
    assert!(not_json.error_code().is_some(), "{}", not_json.text);
    for query in [
        "page=0",
        "page=abc",
        "page_size=501",
        "status=married",
        "workflow_id=nope",
        "min_position=zero",
    ] {
        let reply = app.get(&key, &format!("/api/v1/leads?{query}")).await;
        assert!(reply.status.is_client_error(), "{query}: {}", reply.text);
        assert!(
            reply.error_code().is_some(),
            "{query}: JSON error shape: {}",
            reply.text
        );
        let name = query.split('=').next().unwrap();
        assert_eq!(reply.error_field(), Some(name), "{query}: {}", reply.text);
    }
    let unknown_position = app.get(&key, "/api/v1/leads?min_position=999999999").await;
    assert_eq!(
        unknown_position.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown_position.text
    );
    assert_eq!(unknown_position.error_field(), Some("min_position"));
    let wrong_method = app
        .send(Method::PUT, "/api/v1/leads", Some(&key), None)
        .await;
    assert_eq!(
        wrong_method.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "{}",
        wrong_method.text
    );
    assert_eq!(wrong_method.error_code(), Some("method_not_allowed"));
    let huge = serde_json::json!({"phone": "+44 7700 900111", "first_name": "x".repeat(300_000)});
    let too_large = app.post(&key, "/api/v1/leads", huge).await;
    assert_eq!(
        too_large.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        too_large.text
    );
    let no_route = app.get(&key, "/api/v1/nothing-here").await;
    assert_eq!(no_route.status, StatusCode::NOT_FOUND);
    assert_eq!(no_route.error_code(), Some("not_found"));
    assert_eq!(app.event_count().await, before);
    app.stop().await;
}
