//! Workflows over HTTP: create with defaults, edit, the lifecycle and its refusals, follow-up
//! sequences, and the read model's lead counts.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_workflow_goes_through_its_lifecycle_and_counts_its_leads() {
    let app = TestApp::spawn().await;
    let key = app.create_tenant("Flows").await.key;
    let created = app
        .post(
            &key,
            "/api/v1/workflows",
            json!({
                "name": "Spring campaign",
                "channel": "whatsapp",
                "initial_message": "Hi {first_name}, {brand_name} here. Your plan: {custom.plan}",
                "qualification_questions": [
                    {"key": "budget", "question": "What is your budget?", "qualifying_answers": ["over 500"]}
                ],
                "follow_up_templates": ["Still interested, {first_name}?"],
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_string();
    let position = created.body["position"].as_i64().unwrap();
    let view = app
        .get(
            &key,
            &format!("/api/v1/workflows/{id}?min_position={position}"),
        )
        .await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    assert_eq!(view.body["status"], "draft");
    assert_eq!(view.body["channel"], "whatsapp");
    assert_eq!(view.body["follow_up_count"], 3);
    assert_eq!(view.body["follow_up_delay_hours"], 24);
    assert_eq!(view.body["appointment_duration_minutes"], 30);
    assert_eq!(view.body["qualification_questions"][0]["key"], "budget");

    let refused = app
        .post(&key, &format!("/api/v1/workflows/{id}/pause"), json!({}))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::CONFLICT,
        "pausing a draft: {}",
        refused.text
    );
    for step in ["activate", "pause", "resume", "pause", "archive"] {
        let reply = app
            .post(&key, &format!("/api/v1/workflows/{id}/{step}"), json!({}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{step}: {}", reply.text);
    }
    let final_refusal = app
        .post(&key, &format!("/api/v1/workflows/{id}/activate"), json!({}))
        .await;
    assert_eq!(final_refusal.status, StatusCode::CONFLICT);
    let edit = app
        .patch(
            &key,
            &format!("/api/v1/workflows/{id}"),
            json!({"name": "Renamed"}),
        )
        .await;
    assert_eq!(
        edit.status,
        StatusCode::CONFLICT,
        "archived is final: {}",
        edit.text
    );

    let live = app.create_workflow(&key, "Live").await;
    let renamed = app
        .patch(
            &key,
            &format!("/api/v1/workflows/{live}"),
            json!({"name": "Live v2", "follow_up_count": 1}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    let mut last = 0;
    for n in 0..3 {
        let (lead, position) = app
            .capture_new(
                &key,
                json!({"phone": format!("+44 7700 90020{n}"), "workflow_id": live}),
            )
            .await;
        last = position;
        if n == 0 {
            let changed = app
                .post(
                    &key,
                    &format!("/api/v1/leads/{lead}/status"),
                    json!({"status": "contacted", "reason": "phoned"}),
                )
                .await;
            last = changed.body["position"].as_i64().unwrap();
        }
    }
    let list = app
        .get(&key, &format!("/api/v1/workflows?min_position={last}"))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["total"], 2);
    let live_view = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == live.as_str())
        .unwrap()
        .clone();
    assert_eq!(live_view["name"], "Live v2");
    assert_eq!(live_view["follow_up_count"], 1);
    assert_eq!(live_view["lead_counts"]["pending"], 2, "{live_view}");
    assert_eq!(live_view["lead_counts"]["contacted"], 1, "{live_view}");
    let archived = app.get(&key, "/api/v1/workflows?status=archived").await;
    assert_eq!(archived.body["total"], 1, "{}", archived.text);
    app.stop().await;
}

#[tokio::test]
async fn a_follow_up_sequence_is_set_read_back_refused_when_bad_and_cleared() {
    let app = TestApp::spawn().await;
    let key = app.create_tenant("Sequences").await.key;
    let steps = json!([
        {"delay_hours": 24, "message": {"kind": "template", "template": "Hi {first_name}, still keen?"}},
        {"delay_hours": 48, "message": {"kind": "ai"}},
    ]);
    let created = app
        .post(
            &key,
            "/api/v1/workflows",
            json!({
                "name": "Sequenced",
                "channel": "sms",
                "initial_message": "Hi {first_name}",
                "follow_up_steps": steps,
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_string();
    let position = created.body["position"].as_i64().unwrap();
    let view = app
        .get(
            &key,
            &format!("/api/v1/workflows/{id}?min_position={position}"),
        )
        .await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    assert_eq!(view.body["follow_up_steps"], steps, "{}", view.text);

    let bad_steps = [
        (
            json!([{"delay_hours": 24, "message": {"kind": "ai"}}, {"delay_hours": 0, "message": {"kind": "ai"}}]),
            "follow_up_steps[1].delay_hours",
        ),
        (
            json!([{"delay_hours": 721, "message": {"kind": "ai"}}]),
            "follow_up_steps[0].delay_hours",
        ),
        (
            json!([{"delay_hours": 1, "message": {"kind": "template", "template": "Hi {nick}"}}]),
            "follow_up_steps[0].message.template",
        ),
        (
            json!((0..11)
                .map(|_| json!({"delay_hours": 1, "message": {"kind": "ai"}}))
                .collect::<Vec<_>>()),
            "follow_up_steps",
        ),
    ];
    for (bad, field) in bad_steps {
        let refused = app
            .post(
                &key,
                "/api/v1/workflows",
                json!({"name": "Bad", "channel": "sms", "initial_message": "Hi", "follow_up_steps": bad}),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.text
        );
        assert_eq!(refused.error_field(), Some(field), "{}", refused.text);
    }
    let unknown_kind = app
        .post(
            &key,
            "/api/v1/workflows",
            json!({"name": "Bad", "channel": "sms", "initial_message": "Hi",
                   "follow_up_steps": [{"delay_hours": 1, "message": {"kind": "email"}}]}),
        )
        .await;
    assert_eq!(unknown_kind.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown_kind
            .error_field()
            .is_some_and(|f| f.starts_with("follow_up_steps[0]")),
        "{}",
        unknown_kind.text
    );

    let both = app
        .post(
            &key,
            "/api/v1/workflows",
            json!({"name": "Both", "channel": "sms", "initial_message": "Hi",
                   "follow_up_templates": ["Still there?"], "follow_up_steps": steps}),
        )
        .await;
    assert_eq!(
        both.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        both.text
    );
    assert_eq!(both.error_field(), Some("follow_up_steps"), "{}", both.text);
    let templates_onto_steps = app
        .patch(
            &key,
            &format!("/api/v1/workflows/{id}"),
            json!({"follow_up_templates": ["Still there?"]}),
        )
        .await;
    assert_eq!(
        templates_onto_steps.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        templates_onto_steps.text
    );
    assert_eq!(templates_onto_steps.error_field(), Some("follow_up_steps"));

    let cleared = app
        .patch(
            &key,
            &format!("/api/v1/workflows/{id}"),
            json!({"follow_up_steps": [], "follow_up_templates": ["Still there?"]}),
        )
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text);
    let position = cleared.body["position"].as_i64().unwrap();
    let view = app
        .get(
            &key,
            &format!("/api/v1/workflows/{id}?min_position={position}"),
        )
        .await;
    assert_eq!(view.body["follow_up_steps"], json!([]), "{}", view.text);
    assert_eq!(view.body["follow_up_templates"], json!(["Still there?"]));
    assert_eq!(view.body["follow_up_count"], 3);
    app.stop().await;
}

#[tokio::test]
async fn the_spec_documents_follow_up_steps() {
    let app = TestApp::spawn().await;
    let spec = app
        .send(reqwest::Method::GET, "/api/openapi.json", None, None)
        .await;
    assert_eq!(spec.status, StatusCode::OK);
    let schemas = &spec.body["components"]["schemas"];
    for request in ["CreateWorkflowRequest", "UpdateWorkflowRequest", "Workflow"] {
        let steps = &schemas[request]["properties"]["follow_up_steps"];
        assert!(
            steps["description"]
                .as_str()
                .is_some_and(|d| d.contains("follow_up")),
            "{request}: {steps}"
        );
    }
    let message = &schemas["FollowUpMessage"];
    assert_eq!(
        message["discriminator"]["propertyName"], "kind",
        "{message}"
    );
    assert!(
        schemas["TemplateFollowUp"]["properties"]["template"].is_object(),
        "{}",
        schemas["TemplateFollowUp"]
    );
    app.stop().await;
}
