//! Tags over HTTP: defining, recolouring and deleting definitions, and lead counts that follow
//! tagging, untagging and archiving.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::bulk::run_bulk;
use crate::helpers::TestApp;

async fn tags(app: &TestApp, key: &str, position: i64) -> Value {
    let reply = app
        .get(key, &format!("/api/v1/tags?min_position={position}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

#[tokio::test]
async fn tags_are_defined_with_a_colour_and_counted_over_live_leads() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Acme").await;
    let other = app.create_tenant("Other").await;
    let key = &tenant.key;

    let created = app
        .post(
            key,
            "/api/v1/tags",
            json!({"name": " VIP ", "colour": "#FFAA00"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(
        created.body,
        json!({"name": "vip", "colour": "#ffaa00", "leads": 0})
    );
    let twice = app
        .post(
            key,
            "/api/v1/tags",
            json!({"name": "vip", "colour": "#000000"}),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(twice.error_code(), Some("already_defined"));
    for (body, field) in [
        (json!({"name": "a,b", "colour": "#000000"}), "name"),
        (json!({"name": "", "colour": "#000000"}), "name"),
        (json!({"name": "x", "colour": "red"}), "colour"),
        (json!({"name": "x", "colour": "#12345"}), "colour"),
        (json!({"name": "x"}), "colour"),
    ] {
        let reply = app.post(key, "/api/v1/tags", body.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.error_field(), Some(field), "{body}");
    }

    let (a, _) = app
        .capture_new(
            key,
            json!({"phone": "+447700900101", "tags": ["vip", "cold"]}),
        )
        .await;
    let (b, _) = app
        .capture_new(key, json!({"phone": "+447700900102", "tags": ["vip"]}))
        .await;
    let (_, position) = app
        .capture_new(key, json!({"phone": "+447700900103", "tags": ["hot"]}))
        .await;
    assert_eq!(
        tags(&app, key, position).await,
        json!([
            {"name": "cold", "colour": null, "leads": 1},
            {"name": "hot", "colour": null, "leads": 1},
            {"name": "vip", "colour": "#ffaa00", "leads": 2},
        ])
    );
    let theirs = app.get(&other.key, "/api/v1/tags").await;
    assert_eq!(theirs.body, json!([]), "tags are per tenant");

    // Archived leads are not counted; an undefined tag nobody live carries is not listed.
    let job = run_bulk(
        &app,
        key,
        json!({"action": {"type": "archive"}, "target": {"ids": [a]}}),
    )
    .await;
    let position = job["position"].as_i64().unwrap();
    assert_eq!(
        tags(&app, key, position).await,
        json!([
            {"name": "hot", "colour": null, "leads": 1},
            {"name": "vip", "colour": "#ffaa00", "leads": 1},
        ])
    );
    let untagged = app
        .delete(key, &format!("/api/v1/leads/{b}/tags/vip"))
        .await;
    assert_eq!(untagged.status, StatusCode::OK, "{}", untagged.text);
    let position = untagged.body["position"].as_i64().unwrap();
    assert_eq!(
        tags(&app, key, position).await,
        json!([
            {"name": "hot", "colour": null, "leads": 1},
            {"name": "vip", "colour": "#ffaa00", "leads": 0},
        ]),
        "a defined tag stays listed with no leads"
    );

    let recoloured = app
        .patch(key, "/api/v1/tags/VIP", json!({"colour": "#00ff00"}))
        .await;
    assert_eq!(recoloured.status, StatusCode::OK, "{}", recoloured.text);
    assert_eq!(
        recoloured.body,
        json!({"name": "vip", "colour": "#00ff00", "leads": 0})
    );
    let bad = app
        .patch(key, "/api/v1/tags/vip", json!({"colour": "#00ff0"}))
        .await;
    assert_eq!(bad.error_field(), Some("colour"));
    let undefined = app
        .patch(key, "/api/v1/tags/hot", json!({"colour": "#00ff00"}))
        .await;
    assert_eq!(undefined.status, StatusCode::NOT_FOUND);
    let theirs = app
        .patch(&other.key, "/api/v1/tags/vip", json!({"colour": "#000000"}))
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);

    // Deleting a definition leaves the leads' tags alone.
    let tagged = app
        .post(
            key,
            &format!("/api/v1/leads/{b}/tags"),
            json!({"tag": "vip"}),
        )
        .await;
    let position = tagged.body["position"].as_i64().unwrap();
    assert_eq!(
        app.delete(&other.key, "/api/v1/tags/vip").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(key, "/api/v1/tags/vip").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(key, "/api/v1/tags/vip").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        tags(&app, key, position).await,
        json!([
            {"name": "hot", "colour": null, "leads": 1},
            {"name": "vip", "colour": null, "leads": 1},
        ])
    );
    let lead = app.get(key, &format!("/api/v1/leads/{b}")).await;
    assert_eq!(lead.body["tags"], json!(["vip"]));
    app.stop().await;
}
