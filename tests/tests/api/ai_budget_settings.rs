//! A tenant's monthly AI budget in its settings: set at creation or by a change, read back
//! exactly (the limit as six-decimal dollars and as micro-USD), replaced whole, removed with
//! `null`; every bad value a 422 naming its field that writes nothing, and no other tenant's key
//! can see or change it.

use chrono::{DateTime, Utc};
use domain::budget::{AiBudget, ThresholdPercent};
use infrastructure::tenants::TenantStore;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{TestApp, ADMIN};

/// The `ai_budget` column and `updated_at` of tenant `id`, read past every cache.
async fn stored(app: &TestApp, id: &str) -> (Option<Value>, DateTime<Utc>) {
    sqlx::query_as("SELECT ai_budget, updated_at FROM tenants WHERE id = $1")
        .bind(Uuid::parse_str(id).unwrap())
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

/// The budget a fresh store (no cache shared with the server) loads for tenant `id`.
async fn loaded(app: &TestApp, id: &str) -> Option<AiBudget> {
    TenantStore::new(app.db.pool().clone(), None)
        .get(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .ai_budget
}

fn budget(limit_micros: i64, thresholds: &[i64], hard_stop: bool) -> AiBudget {
    let thresholds = thresholds
        .iter()
        .map(|p| ThresholdPercent::new(*p).unwrap())
        .collect();
    AiBudget::new(limit_micros, Some(thresholds), hard_stop).unwrap()
}

#[tokio::test]
async fn a_budget_is_set_read_back_exactly_replaced_and_removed() {
    let app = TestApp::spawn().await;
    let created = app
        .post(
            ADMIN,
            "/api/v1/tenants",
            json!({"name": "Budgeted", "ai_budget": {"monthly_limit": "50.00"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let defaults = json!({"monthly_limit": "50.000000", "monthly_limit_micros": 50_000_000,
                          "thresholds": [50, 80, 100], "hard_stop": false});
    assert_eq!(created.body["tenant"]["ai_budget"], defaults);
    let id = created.body["tenant"]["id"].as_str().unwrap().to_owned();
    let key = created.body["api_key"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/tenants/{id}");
    assert_eq!(app.get(&key, &path).await.body["ai_budget"], defaults);
    assert_eq!(
        stored(&app, &id).await.0,
        Some(
            json!({"monthly_limit_micros": 50_000_000, "thresholds": [50, 80, 100],
                    "hard_stop": false})
        )
    );

    let replaced = app
        .patch(
            &key,
            &path,
            json!({"ai_budget": {"monthly_limit": "12.345678", "thresholds": [100, 25, 90, 25],
                                 "hard_stop": true}}),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);
    let expected = json!({"monthly_limit": "12.345678", "monthly_limit_micros": 12_345_678,
                          "thresholds": [25, 90, 100], "hard_stop": true});
    assert_eq!(replaced.body["ai_budget"], expected);
    // The server's cached tenant saw the change, and the row holds exactly it.
    assert_eq!(app.get(&key, &path).await.body["ai_budget"], expected);
    assert_eq!(
        loaded(&app, &id).await,
        Some(budget(12_345_678, &[25, 90, 100], true))
    );

    // Other changes leave the budget as it is; a budget given again replaces it whole.
    let renamed = app
        .patch(&key, &path, json!({"brand_name": "Budgeted Dental"}))
        .await;
    assert_eq!(renamed.body["ai_budget"], expected);
    let whole = app
        .patch(
            &key,
            &path,
            json!({"ai_budget": {"monthly_limit": "0.000001"}}),
        )
        .await;
    assert_eq!(
        whole.body["ai_budget"],
        json!({"monthly_limit": "0.000001", "monthly_limit_micros": 1,
               "thresholds": [50, 80, 100], "hard_stop": false})
    );
    let no_alerts = app
        .patch(
            &key,
            &path,
            json!({"ai_budget": {"monthly_limit": "1000000", "thresholds": []}}),
        )
        .await;
    assert_eq!(no_alerts.body["ai_budget"]["thresholds"], json!([]));
    assert_eq!(
        loaded(&app, &id).await,
        Some(budget(1_000_000_000_000, &[], false))
    );

    let removed = app.patch(&key, &path, json!({"ai_budget": null})).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    assert_eq!(removed.body["ai_budget"], Value::Null);
    assert_eq!(app.get(&key, &path).await.body["ai_budget"], Value::Null);
    assert_eq!(stored(&app, &id).await.0, None);
    app.stop().await;
}

#[tokio::test]
async fn every_bad_budget_is_refused_naming_its_field_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Strict").await;
    let path = format!("/api/v1/tenants/{}", tenant.id);
    let set = app
        .patch(
            &tenant.key,
            &path,
            json!({"ai_budget": {"monthly_limit": "20", "thresholds": [75]}}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let before = stored(&app, &tenant.id).await;
    assert!(before.0.is_some());

    let limit = |raw: Value| json!({"monthly_limit": raw});
    let thresholds = |given: Value| json!({"monthly_limit": "20", "thresholds": given});
    let cases = [
        (limit(json!("abc")), "ai_budget.monthly_limit"),
        (limit(json!("")), "ai_budget.monthly_limit"),
        (limit(json!("1e3")), "ai_budget.monthly_limit"),
        (limit(json!("0")), "ai_budget.monthly_limit"),
        (limit(json!("0.000000")), "ai_budget.monthly_limit"),
        (limit(json!("-5.00")), "ai_budget.monthly_limit"),
        (limit(json!("0.0000001")), "ai_budget.monthly_limit"),
        (limit(json!("50.0000000")), "ai_budget.monthly_limit"),
        (limit(json!("1000000.000001")), "ai_budget.monthly_limit"),
        (
            limit(json!("99999999999999999999")),
            "ai_budget.monthly_limit",
        ),
        (limit(json!(50)), "ai_budget.monthly_limit"),
        (json!({"thresholds": [50]}), "ai_budget.monthly_limit"),
        (thresholds(json!([0])), "ai_budget.thresholds"),
        (thresholds(json!([1001])), "ai_budget.thresholds"),
        (thresholds(json!([-20])), "ai_budget.thresholds"),
        (
            thresholds(json!([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])),
            "ai_budget.thresholds",
        ),
    ];
    for (bad, field) in &cases {
        let refused = app
            .patch(
                &tenant.key,
                &path,
                json!({"ai_budget": bad, "brand_name": "Changed"}),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            refused.text
        );
        assert_eq!(
            refused.error_field(),
            Some(*field),
            "{bad}: {}",
            refused.text
        );
    }
    assert_eq!(stored(&app, &tenant.id).await, before);
    assert_eq!(
        app.get(&tenant.key, &path).await.body["brand_name"],
        "Strict"
    );

    // A refused budget at creation creates no tenant.
    let tenants_before = app.get(ADMIN, "/api/v1/tenants").await.body["total"].clone();
    for (bad, field) in &cases {
        let refused = app
            .post(
                ADMIN,
                "/api/v1/tenants",
                json!({"name": "Never", "ai_budget": bad}),
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(
            refused.error_field(),
            Some(*field),
            "{bad}: {}",
            refused.text
        );
    }
    assert_eq!(
        app.get(ADMIN, "/api/v1/tenants").await.body["total"],
        tenants_before
    );
    app.stop().await;
}

#[tokio::test]
async fn no_other_tenant_can_see_or_change_a_budget() {
    let app = TestApp::spawn().await;
    let owner = app.create_tenant("Owner").await;
    let intruder = app.create_tenant("Intruder").await;
    let path = format!("/api/v1/tenants/{}", owner.id);
    let set = app
        .patch(
            &owner.key,
            &path,
            json!({"ai_budget": {"monthly_limit": "30", "hard_stop": true}}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let before = stored(&app, &owner.id).await;

    for change in [
        json!({"ai_budget": null}),
        json!({"ai_budget": {"monthly_limit": "100000"}}),
    ] {
        let refused = app.patch(&intruder.key, &path, change).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.text);
    }
    assert_eq!(
        app.get(&intruder.key, &path).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(stored(&app, &owner.id).await, before);
    assert_eq!(
        loaded(&app, &owner.id).await,
        Some(budget(30_000_000, &[50, 80, 100], true))
    );
    let own = app
        .get(&intruder.key, &format!("/api/v1/tenants/{}", intruder.id))
        .await;
    assert_eq!(own.body["ai_budget"], Value::Null);
    app.stop().await;
}
