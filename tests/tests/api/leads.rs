//! Leads over HTTP: capture, dedupe by phone, the list and its filters, status changes, tags,
//! opt-out and history — reading each write back through `min_position`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

fn ids(reply: &crate::helpers::Reply) -> Vec<String> {
    let mut ids: Vec<String> = reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<&String>) -> Vec<String> {
    ids.sort();
    ids.into_iter().cloned().collect()
}

#[tokio::test]
async fn a_tenant_captures_leads_lists_them_by_every_filter_changes_status_and_reads_history() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Acme Dental").await;
    let key = &tenant.key;
    let workflow = app.create_workflow(key, "Enquiries").await;

    let (amelia, _) = app
        .capture_new(
            key,
            json!({"first_name": "Amelia", "last_name": "Hughes", "phone": "+44 7700 900123",
                   "email": "Amelia@Example.com", "source": "website", "tags": ["VIP", "spring"],
                   "workflow_id": workflow, "custom_fields": {"plan": "gold", "visits": 3}}),
        )
        .await;
    app.clock.advance(chrono::Duration::minutes(1));
    let (oliver, _) = app
        .capture_new(
            key,
            json!({"first_name": "Oliver", "last_name": "Patel", "phone": "07700 900456",
                   "source": "referral", "tags": ["spring"]}),
        )
        .await;
    app.clock.advance(chrono::Duration::minutes(1));
    let (noah, last) = app
        .capture_new(
            key,
            json!({"first_name": "Noah", "last_name": "Williams", "email": "noah@example.org",
                   "workflow_id": workflow}),
        )
        .await;

    let all = app
        .get(key, &format!("/api/v1/leads?min_position={last}"))
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(all.body["total"], 3);
    assert_eq!(all.body["page"], 1);
    assert_eq!(all.body["page_size"], 50);
    // Newest first.
    assert_eq!(all.body["items"][0]["id"], noah.as_str());

    let lead = app.get(key, &format!("/api/v1/leads/{amelia}")).await;
    assert_eq!(lead.status, StatusCode::OK);
    assert_eq!(lead.body["phone"], "+447700900123");
    assert_eq!(lead.body["email"], "Amelia@example.com");
    assert_eq!(lead.body["status"], "pending");
    assert_eq!(lead.body["source"], "website");
    assert_eq!(lead.body["tags"], json!(["spring", "vip"]));
    assert_eq!(lead.body["workflow_id"], workflow.as_str());
    assert_eq!(
        lead.body["custom_fields"],
        json!({"plan": "gold", "visits": 3})
    );
    let created: chrono::DateTime<chrono::Utc> =
        lead.body["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        created,
        crate::helpers::start_time(),
        "times come from the injected clock"
    );
    for field in [
        "id",
        "first_name",
        "last_name",
        "additional_sources",
        "created_at",
        "updated_at",
    ] {
        assert!(lead.body.get(field).is_some(), "lead has {field}");
    }

    let cases = [
        (
            format!("workflow_id={workflow}"),
            sorted(vec![&amelia, &noah]),
        ),
        ("tag=spring".to_string(), sorted(vec![&amelia, &oliver])),
        ("tag=VIP".to_string(), vec![amelia.clone()]),
        ("source=referral".to_string(), vec![oliver.clone()]),
        ("source=api".to_string(), vec![noah.clone()]),
        ("q=patel".to_string(), vec![oliver.clone()]),
        ("q=900123".to_string(), vec![amelia.clone()]),
        ("q=EXAMPLE.ORG".to_string(), vec![noah.clone()]),
        (
            "status=pending".to_string(),
            sorted(vec![&amelia, &oliver, &noah]),
        ),
        ("status=booked".to_string(), vec![]),
        (
            format!("tag=spring&workflow_id={workflow}"),
            vec![amelia.clone()],
        ),
    ];
    for (query, expected) in cases {
        let reply = app.get(key, &format!("/api/v1/leads?{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text);
        assert_eq!(ids(&reply), expected, "filter {query}");
        assert_eq!(reply.body["total"], expected.len(), "total for {query}");
    }

    let changed = app
        .post(
            key,
            &format!("/api/v1/leads/{oliver}/status"),
            json!({"status": "qualified", "reason": "called the office"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    let position = changed.body["position"].as_i64().unwrap();
    let qualified = app
        .get(
            key,
            &format!("/api/v1/leads?status=qualified,booked&min_position={position}"),
        )
        .await;
    assert_eq!(ids(&qualified), vec![oliver.clone()]);
    let several = app
        .get(key, "/api/v1/leads?status=qualified&status=pending")
        .await;
    assert_eq!(several.body["total"], 3);

    let paged = app.get(key, "/api/v1/leads?page=2&page_size=2").await;
    assert_eq!(paged.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(paged.body["total"], 3);

    let history = app
        .get(key, &format!("/api/v1/leads/{oliver}/history"))
        .await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.text);
    let events = history.body.as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["event_type"], "LeadCaptured");
    assert_eq!(events[1]["event_type"], "LeadStatusOverridden");
    assert_eq!(events[1]["data"]["reason"], "called the office");
    assert_eq!(events[1]["data"]["to"], "qualified");
    assert!(events[1]["actor"].as_str().unwrap().starts_with("api_key:"));
    assert!(events[1]["occurred_at"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn the_same_phone_written_two_ways_is_one_lead_with_two_sources() {
    let app = TestApp::spawn().await;
    let key = app.create_tenant("Dedupe").await.key;
    let (id, _) = app
        .capture_new(
            key.as_str(),
            json!({"first_name": "Ann", "phone": "+44 7700 900123", "source": "website"}),
        )
        .await;
    let again = app
        .capture(
            &key,
            json!({"phone": "07700 900123", "source": "facebook_lead_ad"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["merged"], true);
    assert_eq!(again.body["id"], id.as_str());
    let position = again.body["position"].as_i64().unwrap();
    let list = app
        .get(&key, &format!("/api/v1/leads?min_position={position}"))
        .await;
    assert_eq!(list.body["total"], 1);
    let lead = &list.body["items"][0];
    assert_eq!(lead["source"], "website");
    assert_eq!(lead["additional_sources"], json!(["facebook_lead_ad"]));
    assert_eq!(lead["phone"], "+447700900123");
    app.stop().await;
}

#[tokio::test]
async fn concurrent_captures_of_one_phone_make_exactly_one_lead() {
    let app = TestApp::spawn().await;
    let key = app.create_tenant("Race").await.key;
    let sources = [
        "website",
        "referral",
        "api",
        "inbound",
        "wa_direct",
        "csv_import",
    ];
    let replies =
        futures::future::join_all(sources.iter().map(|source| {
            app.capture(&key, json!({"phone": "+44 7700 900777", "source": source}))
        }))
        .await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let merged = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!((created, merged), (1, sources.len() - 1), "{replies:?}");
    let id = &replies[0].body["id"];
    assert!(replies.iter().all(|r| &r.body["id"] == id));
    let last = replies
        .iter()
        .filter_map(|r| r.body["position"].as_i64())
        .max()
        .unwrap();
    let list = app
        .get(&key, &format!("/api/v1/leads?min_position={last}"))
        .await;
    assert_eq!(list.body["total"], 1);
    assert_eq!(
        list.body["items"][0]["additional_sources"]
            .as_array()
            .unwrap()
            .len(),
        sources.len() - 1
    );
    app.stop().await;
}

#[tokio::test]
async fn details_tags_workflow_and_opt_out_change_through_their_own_routes() {
    let app = TestApp::spawn().await;
    let key = app.create_tenant("Changes").await.key;
    let workflow = app.create_workflow(&key, "Flow").await;
    let (id, _) = app
        .capture_new(
            &key,
            json!({"first_name": "Zoe", "phone": "+44 7700 900555"}),
        )
        .await;
    let patched = app
        .patch(
            &key,
            &format!("/api/v1/leads/{id}"),
            json!({"last_name": "Baker", "email": "zoe@example.com", "workflow_id": workflow,
                   "custom_fields": {"plan": "silver"}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let tagged = app
        .post(
            &key,
            &format!("/api/v1/leads/{id}/tags"),
            json!({"tag": "Hot"}),
        )
        .await;
    assert_eq!(tagged.status, StatusCode::OK, "{}", tagged.text);
    let again = app
        .post(
            &key,
            &format!("/api/v1/leads/{id}/tags"),
            json!({"tag": "hot"}),
        )
        .await;
    assert_eq!(
        again.body["position"],
        serde_json::Value::Null,
        "adding a tag twice changes nothing"
    );
    let removed = app
        .delete(&key, &format!("/api/v1/leads/{id}/tags/hot"))
        .await;
    assert_eq!(removed.status, StatusCode::OK);
    let opted = app
        .post(
            &key,
            &format!("/api/v1/leads/{id}/opt-out"),
            json!({"reason": "asked by phone"}),
        )
        .await;
    assert_eq!(opted.status, StatusCode::OK, "{}", opted.text);
    let position = opted.body["position"].as_i64().unwrap();
    let lead = app
        .get(&key, &format!("/api/v1/leads/{id}?min_position={position}"))
        .await;
    assert_eq!(lead.body["last_name"], "Baker");
    assert_eq!(lead.body["email"], "zoe@example.com");
    assert_eq!(lead.body["workflow_id"], workflow.as_str());
    assert_eq!(lead.body["custom_fields"], json!({"plan": "silver"}));
    assert_eq!(lead.body["tags"], json!([]));
    assert_eq!(lead.body["status"], "opted_out");

    let refused = app
        .post(
            &key,
            &format!("/api/v1/leads/{id}/status"),
            json!({"status": "contacted", "reason": "try again"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);

    let workflow_view = app
        .get(
            &key,
            &format!("/api/v1/workflows/{workflow}?min_position={position}"),
        )
        .await;
    assert_eq!(
        workflow_view.body["lead_counts"]["opted_out"], 1,
        "{}",
        workflow_view.text
    );

    let cleared = app
        .patch(&key, &format!("/api/v1/leads/{id}"), json!({"phone": null}))
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text);
    let (other, _) = app
        .capture_new(&key, json!({"phone": "+44 7700 900555"}))
        .await;
    assert_ne!(other, id, "a released phone can be captured as a new lead");
    let taken = app
        .patch(
            &key,
            &format!("/api/v1/leads/{id}"),
            json!({"phone": "07700 900555"}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.text);
    assert_eq!(taken.error_code(), Some("already_taken"));
    app.stop().await;
}

#[tokio::test]
async fn two_leads_swapping_phones_at_once_never_fail_with_a_500_nor_share_a_number() {
    let app = TestApp::spawn().await;
    let key = app.create_tenant("Swap").await.key;
    for round in 0..5 {
        let (a, _) = app
            .capture_new(&key, json!({"phone": format!("+44 7700 90031{round}")}))
            .await;
        let (b, _) = app
            .capture_new(&key, json!({"phone": format!("+44 7700 90032{round}")}))
            .await;
        let (path_a, path_b) = (format!("/api/v1/leads/{a}"), format!("/api/v1/leads/{b}"));
        let (to_b, to_a) = futures::join!(
            app.patch(
                &key,
                &path_a,
                json!({"phone": format!("+44 7700 90032{round}")})
            ),
            app.patch(
                &key,
                &path_b,
                json!({"phone": format!("+44 7700 90031{round}")})
            ),
        );
        for reply in [&to_b, &to_a] {
            assert!(
                reply.status == StatusCode::OK || reply.status == StatusCode::CONFLICT,
                "round {round}: {} {}",
                reply.status,
                reply.text
            );
        }
        let owners: Vec<(String, String)> = sqlx::query_as(
            "SELECT phone, lead_id::text FROM lead_phones WHERE phone LIKE $1 ORDER BY phone",
        )
        .bind(format!("+4477009003_{round}"))
        .fetch_all(app.db.pool())
        .await
        .unwrap();
        assert_eq!(owners.len(), 2, "round {round}: {owners:?}");
        assert_ne!(owners[0].1, owners[1].1, "round {round}: one number each");
    }
    app.stop().await;
}
