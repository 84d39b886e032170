//! Monthly AI budgets end to end: a tenant's `ai_budget`, its alert thresholds recorded once per
//! month however many instances check at once and after a rebuild of the read model, one
//! webhook notice each, the status and threshold list over HTTP, months kept apart, and the hard
//! stop handing replies to a person instead of calling the model.

use std::collections::BTreeMap;
use std::sync::Arc;

use api::settings::Settings;
use api::state::AppState;
use bookerbot_tests::{tenant_ctx, FakeHttp, FakeResponse};
use chrono::{DateTime, Utc};
use domain::conversation::{
    AiTurn, Conversation, ConversationCommand, ConversationId, Intent, MessageContent,
};
use domain::values::{LeadId, MessageId, TenantId};
use domain::Channel;
use infrastructure::executor::{CommandExecutor, Existence};
use infrastructure::messaging::budget;
use projections::rebuild::{find, rebuild, RebuildOptions};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::automation::{active_workflow, capture, tenant_in, timer_is};
use crate::helpers::{TestApp, TestTenant, ADMIN};
use crate::messaging::{
    capture_sam, conversation_events, eventually, inbound, monday_morning, post_ok, sandbox_shows,
    status_becomes, tenant_with_workflow, tool_call, use_model, Q1, WAIT,
};

/// The webhook event of a threshold.
const EVENT: &str = "ai_budget.threshold_reached";

fn t(raw: &str) -> DateTime<Utc> {
    raw.parse().unwrap()
}

/// The lead writes and the AI answers at `at`, costing `cost_micros`; returns the position.
async fn spend(app: &TestApp, tenant: &TestTenant, lead: &str, at: &str, cost_micros: i64) -> i64 {
    let executor = CommandExecutor::new(app.db.pool().clone(), 10);
    let tenant: TenantId = tenant.id.parse().unwrap();
    let lead: LeadId = lead.parse().unwrap();
    let id = ConversationId::new(lead, Channel::Sms).to_string();
    let at = t(at);
    let question = MessageId::new();
    let run = |command| {
        let executor = executor.clone();
        let id = id.clone();
        async move {
            executor
                .execute::<Conversation>(&tenant_ctx(tenant), &id, Existence::MayCreate, command)
                .await
                .unwrap_or_else(|error| panic!("a conversation command failed: {error}"))
                .position
                .unwrap()
        }
    };
    run(ConversationCommand::ReceiveInbound {
        lead_id: lead,
        channel: Channel::Sms,
        message_id: question,
        provider: "twilio".into(),
        provider_message_id: format!("SM{}", question.as_uuid().simple()),
        body: "Any times?".into(),
        received_at: at,
        engage_ai: true,
    })
    .await;
    run(ConversationCommand::RecordAiTurn {
        turn: AiTurn {
            in_reply_to: question,
            engine: "openai".into(),
            model: "gpt-4o".into(),
            input_tokens: 1_000,
            cached_input_tokens: 0,
            output_tokens: 50,
            cost_micros,
            price_version: "2026-01".into(),
            latency_ms: 200,
            intent: Intent::Question,
            answers: BTreeMap::new(),
            reply_message_id: Some(MessageId::new()),
            at,
        },
        reply: Some(MessageContent::text("3pm?").unwrap()),
    })
    .await
}

/// Instances of the app on the app's database, each with a pool of its own.
async fn instances(app: &TestApp, count: usize) -> Vec<AppState> {
    let mut states = Vec::with_capacity(count);
    for _ in 0..count {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(app.db.url())
            .await
            .unwrap();
        let settings = Settings::for_tests(app.db.url().to_string(), ADMIN);
        states.push(AppState::new(pool, Arc::new(app.clock.clone()), settings).unwrap());
    }
    states
}

/// Every instance checks three times at once; returns how many thresholds they recorded.
async fn check_everywhere(states: &[AppState]) -> usize {
    let runs = states
        .iter()
        .flat_map(|state| (0..3).map(move |_| budget::check(&state.messaging)));
    futures::future::join_all(runs)
        .await
        .into_iter()
        .map(|recorded| recorded.unwrap())
        .sum()
}

/// Every instance sends notices at once; returns how many notices they recorded.
async fn notify_everywhere(states: &[AppState]) -> usize {
    let runs = states.iter().enumerate().flat_map(|(i, state)| {
        (0..2).map(move |j| async move {
            budget::notify(&state.messaging, &format!("test-{i}-{j}")).await
        })
    });
    futures::future::join_all(runs)
        .await
        .into_iter()
        .map(|done| done.unwrap())
        .sum()
}

/// The payloads of the `BudgetMonth` events of `event_type`, in feed order.
async fn budget_events(app: &TestApp, event_type: &str) -> Vec<Value> {
    let payloads: Vec<Value> = sqlx::query_scalar(
        "SELECT payload::jsonb FROM events WHERE aggregate_type = 'budget_month' \
         AND event_type = $1 ORDER BY global_position",
    )
    .bind(event_type)
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    payloads
        .into_iter()
        .map(|p| p[event_type].clone())
        .collect()
}

/// `(threshold, spend)` of the reached events, by threshold.
async fn reached(app: &TestApp) -> Vec<(u64, i64, String)> {
    let mut reached: Vec<(u64, i64, String)> = budget_events(app, "CostThresholdReached")
        .await
        .iter()
        .map(|e| {
            (
                e["threshold_percent"].as_u64().unwrap(),
                e["spend_micros"].as_i64().unwrap(),
                e["month"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    reached.sort();
    reached
}

async fn status(app: &TestApp, key: &str, query: &str) -> Value {
    let reply = app
        .get(key, &format!("/api/v1/analytics/budget{query}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// The status with its thresholds in threshold order (equal events may be recorded by different
/// instances in either order).
fn by_threshold(mut status: Value) -> Value {
    if let Some(items) = status["thresholds_reached"].as_array_mut() {
        items.sort_by_key(|item| item["threshold_percent"].as_i64());
    }
    status
}

async fn set_budget(app: &TestApp, tenant: &TestTenant, body: Value) {
    let reply = app
        .patch(&tenant.key, &format!("/api/v1/tenants/{}", tenant.id), body)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn thresholds_are_recorded_and_notified_once_per_month_whoever_checks_and_after_a_rebuild() {
    let webhook = FakeHttp::start(|_| FakeResponse::json(200, json!({"ok": true}))).await;
    let app = TestApp::spawn_with(|settings| settings.run_workers = false).await;
    app.clock.set(t("2026-03-30T10:00:00Z"));
    let acme = app.create_tenant("Acme").await;
    let other = app.create_tenant("Other").await;
    set_budget(
        &app,
        &acme,
        json!({
            "webhook_url": format!("{}/hooks", webhook.base),
            "ai_budget": {"monthly_limit": "0.001", "thresholds": [100, 50, 80]},
        }),
    )
    .await;
    let (lead, _) = app
        .capture_new(&acme.key, json!({"phone": "+44 7700 900301"}))
        .await;
    let states = instances(&app, 4).await;

    // 600 of 1,000 µ$: 50 % reached, once, whoever checks.
    let at = spend(&app, &acme, &lead, "2026-03-30T10:00:00Z", 600).await;
    let before = status(&app, &acme.key, &format!("?min_position={at}")).await;
    assert_eq!(before["spend_micros"], 600);
    assert_eq!(check_everywhere(&states).await, 1);
    assert_eq!(check_everywhere(&states).await, 0);
    assert_eq!(reached(&app).await, [(50, 600, "2026-03".to_owned())]);

    // 1,100 µ$: 80 % and 100 % in the same round.
    let at = spend(&app, &acme, &lead, "2026-03-30T11:00:00Z", 500).await;
    status(&app, &acme.key, &format!("?min_position={at}")).await;
    assert_eq!(check_everywhere(&states).await, 2);
    assert_eq!(
        reached(&app).await,
        [
            (50, 600, "2026-03".to_owned()),
            (80, 1_100, "2026-03".to_owned()),
            (100, 1_100, "2026-03".to_owned()),
        ]
    );

    // One notice each, with a stable delivery id.
    let shown = eventually("the thresholds in the read model", WAIT, || async {
        let shown = status(&app, &acme.key, "").await;
        (shown["thresholds_reached"].as_array().unwrap().len() == 3).then_some(shown)
    })
    .await;
    assert_eq!(notify_everywhere(&states).await, 3);
    assert_eq!(notify_everywhere(&states).await, 0);
    let mut posts: Vec<(String, Value)> = webhook
        .requests()
        .iter()
        .map(|request| {
            assert_eq!(request.method, "POST");
            assert_eq!(request.path, "/hooks");
            assert_eq!(request.header("x-bookerbot-event"), Some(EVENT));
            (
                request.header("x-bookerbot-delivery").unwrap().to_owned(),
                request.json(),
            )
        })
        .collect();
    posts.sort_by_key(|(_, body)| body["threshold_percent"].as_i64());
    let reached_at = &shown["thresholds_reached"][0]["reached_at"];
    let expected: Vec<(String, Value)> = [(50, 600), (80, 1_100), (100, 1_100)]
        .into_iter()
        .map(|(threshold, spend)| {
            (
                format!("budget-notice:{}:2026-03-01:{threshold}", acme.id),
                json!({
                    "type": EVENT,
                    "tenant_id": acme.id,
                    "month": "2026-03",
                    "threshold_percent": threshold,
                    "monthly_limit_micros": 1_000,
                    "spend_micros": spend,
                    "hard_stop": false,
                    "ai_paused": false,
                    "at": t("2026-03-30T10:00:00Z"),
                }),
            )
        })
        .collect();
    assert_eq!(posts, expected);
    assert_eq!(budget_events(&app, "CostThresholdNotified").await.len(), 3);

    let settled = eventually("the notices in the read model", WAIT, || async {
        let shown = status(&app, &acme.key, "").await;
        shown["thresholds_reached"]
            .as_array()
            .unwrap()
            .iter()
            .all(|item| !item["notified_at"].is_null())
            .then_some(shown)
    })
    .await;
    let settled = by_threshold(settled);
    // Past every lease: a notice told is not told again.
    app.clock.advance(chrono::Duration::minutes(3));
    assert_eq!(notify_everywhere(&states).await, 0);
    assert_eq!(webhook.requests().len(), 3);
    let item = |threshold: i64, spend: i64| {
        json!({
            "month": "2026-03",
            "threshold_percent": threshold,
            "monthly_limit_micros": 1_000,
            "monthly_limit": "0.001000",
            "spend_micros": spend,
            "spend": format!("0.{spend:06}"),
            "hard_stop": false,
            "reached_at": reached_at,
            "notified": ["webhook"],
            "failed": [],
        })
    };
    let mut without_notice_times = settled.clone();
    for entry in without_notice_times["thresholds_reached"]
        .as_array_mut()
        .unwrap()
    {
        entry.as_object_mut().unwrap().remove("notified_at");
    }
    assert_eq!(
        without_notice_times,
        json!({
            "month": "2026-03",
            "budget": {
                "monthly_limit": "0.001000",
                "monthly_limit_micros": 1_000,
                "thresholds": [50, 80, 100],
                "hard_stop": false,
            },
            "calls": 2,
            "spend_micros": 1_100,
            "spend": "0.001100",
            "used": 1.1,
            "ai_paused": false,
            "thresholds_reached": [item(50, 600), item(80, 1_100), item(100, 1_100)],
        })
    );

    // A rebuild of the read model changes nothing and raises nothing again.
    rebuild(
        app.db.pool(),
        &find("budgets").unwrap(),
        RebuildOptions { batch_size: 3 },
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(by_threshold(status(&app, &acme.key, "").await), settled);
    assert_eq!(check_everywhere(&states).await, 0);
    assert_eq!(notify_everywhere(&states).await, 0);
    assert_eq!(reached(&app).await.len(), 3);
    assert_eq!(budget_events(&app, "CostThresholdNotified").await.len(), 3);
    assert_eq!(webhook.requests().len(), 3);

    // A new month starts from nothing; a budget changed later never reopens March, not even in
    // the first hour of April, when March is still checked for late spend.
    app.clock.set(t("2026-04-01T00:30:00Z"));
    set_budget(
        &app,
        &acme,
        json!({"ai_budget": {"monthly_limit": "0.0001", "thresholds": [10]}}),
    )
    .await;
    assert_eq!(check_everywhere(&states).await, 0);
    app.clock.set(t("2026-04-01T02:00:00Z"));
    assert_eq!(check_everywhere(&states).await, 0);
    let april = status(&app, &acme.key, "").await;
    assert_eq!(april["month"], "2026-04");
    assert_eq!(april["spend_micros"], 0);
    assert_eq!(april["thresholds_reached"], json!([]));
    let at = spend(&app, &acme, &lead, "2026-04-01T02:00:00Z", 50).await;
    let april = status(&app, &acme.key, &format!("?min_position={at}")).await;
    assert_eq!(april["spend_micros"], 50, "{april}");
    assert_eq!(april["used"], 0.5, "{april}");
    assert_eq!(check_everywhere(&states).await, 1);
    let months: Vec<String> = reached(&app).await.into_iter().map(|r| r.2).collect();
    assert_eq!(months, ["2026-04", "2026-03", "2026-03", "2026-03"]);
    let march = status(&app, &acme.key, "?month=2026-03").await;
    assert_eq!(march["thresholds_reached"].as_array().unwrap().len(), 3);
    assert_eq!(march["ai_paused"], false);
    let items = eventually("April's threshold in the read model", WAIT, || async {
        let listed = app
            .get(
                &acme.key,
                "/api/v1/analytics/budget/thresholds?month=2026-04",
            )
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
        let items = listed.body["items"].as_array().unwrap().clone();
        (!items.is_empty()).then_some(items)
    })
    .await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["month"], "2026-04");
    assert_eq!(items[0]["threshold_percent"], 10);
    assert_eq!(items[0]["spend_micros"], 50);
    let all = app
        .get(&acme.key, "/api/v1/analytics/budget/thresholds?limit=2")
        .await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(all.body["items"][0]["month"], "2026-04", "newest first");

    // Another tenant sees none of it; bad parameters name themselves.
    let theirs = status(&app, &other.key, "?month=2026-03").await;
    assert_eq!(theirs["budget"], Value::Null);
    assert_eq!(theirs["spend_micros"], 0);
    assert_eq!(theirs["thresholds_reached"], json!([]));
    let list = app
        .get(&other.key, "/api/v1/analytics/budget/thresholds")
        .await;
    assert_eq!(list.body, json!({"items": []}));
    for (path, field) in [
        ("/api/v1/analytics/budget?month=2026-13", "month"),
        ("/api/v1/analytics/budget/thresholds?month=March", "month"),
        ("/api/v1/analytics/budget/thresholds?limit=0", "limit"),
    ] {
        let reply = app.get(&acme.key, path).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert_eq!(reply.error_field(), Some(field), "{path}");
    }
    let anonymous = app.get("", "/api/v1/analytics/budget").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn the_hard_stop_hands_replies_to_a_person_until_the_limit_is_raised() {
    let webhook = FakeHttp::start(|_| FakeResponse::json(200, json!({"ok": true}))).await;
    let model = FakeHttp::start(|_| {
        FakeResponse::json(500, json!({"error": {"message": "unexpected call"}}))
    })
    .await;
    let app = TestApp::spawn().await;
    let (tenant, workflow) = tenant_with_workflow(&app, "Budgeted").await;
    use_model(&app, &tenant, &model).await;
    set_budget(
        &app,
        &tenant,
        json!({
            "webhook_url": format!("{}/hooks", webhook.base),
            "ai_budget": {"monthly_limit": "0.0005", "hard_stop": true},
        }),
    )
    .await;
    let key = tenant.key.as_str();
    let lead = capture_sam(&app, key, Some(&workflow), "+44 7700 900333").await;
    post_ok(
        &app,
        key,
        &format!("/api/v1/leads/{lead}/outreach"),
        json!({}),
        StatusCode::ACCEPTED,
    )
    .await;
    sandbox_shows(&app, key, &lead, 1).await;
    let answer = |reply: &str, homeowner: Value| {
        tool_call(
            &json!({"intent": "other", "answers": {"homeowner": homeowner, "timeline": null},
                    "chosen_slot": null, "reply": reply})
            .to_string(),
            json!({"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050}),
        )
    };
    let spent = |micros: i64, thresholds: usize| {
        let app = &app;
        async move {
            eventually(&format!("{micros} µ$ spent"), WAIT, || async {
                let shown = status(app, key, "").await;
                (shown["spend_micros"] == micros
                    && shown["thresholds_reached"].as_array().unwrap().len() == thresholds)
                    .then_some(shown)
            })
            .await
        }
    };

    // 180 µ$ of 500: nothing yet. 360: 50 %. 540: 80 % and 100 %, and the AI stops.
    model.enqueue(answer(&format!("Hi Sam! {Q1}"), Value::Null));
    inbound(&app, key, &lead, "Hello").await;
    sandbox_shows(&app, key, &lead, 2).await;
    let first = spent(180, 0).await;
    assert_eq!(first["ai_paused"], false);
    model.enqueue(answer(Q1, Value::Null));
    inbound(&app, key, &lead, "Sorry?").await;
    sandbox_shows(&app, key, &lead, 3).await;
    spent(360, 1).await;
    model.enqueue(answer(Q1, Value::Null));
    inbound(&app, key, &lead, "Hmm").await;
    sandbox_shows(&app, key, &lead, 4).await;
    let stopped = spent(540, 3).await;
    assert_eq!(stopped["ai_paused"], true);
    assert_eq!(stopped["used"], 1.08);

    inbound(&app, key, &lead, "Hello?").await;
    status_becomes(&app, key, &lead, "handed_off").await;
    let handoffs = conversation_events(&app, &lead, "ConversationHandedOff").await;
    assert_eq!(handoffs.len(), 1);
    assert_eq!(handoffs[0]["reason"], budget::BUDGET_EXHAUSTED);
    let skipped = conversation_events(&app, &lead, "AiReplySkipped").await;
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["reason"], budget::BUDGET_EXHAUSTED);
    assert_eq!(
        model.requests().len(),
        3,
        "no model call once the budget is spent"
    );
    assert_eq!(
        conversation_events(&app, &lead, "AiTurnRecorded")
            .await
            .len(),
        3
    );

    let notices = eventually("three threshold notices", WAIT, || async {
        let notices: Vec<Value> = webhook
            .requests()
            .iter()
            .filter(|r| r.header("x-bookerbot-event") == Some(EVENT))
            .map(|r| r.json())
            .collect();
        (notices.len() >= 3).then_some(notices)
    })
    .await;
    let mut seen: Vec<(i64, bool)> = notices
        .iter()
        .map(|n| {
            (
                n["threshold_percent"].as_i64().unwrap(),
                n["ai_paused"].as_bool().unwrap(),
            )
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, [(50, false), (80, true), (100, true)]);
    assert_eq!(budget_events(&app, "CostThresholdReached").await.len(), 3);

    set_budget(
        &app,
        &tenant,
        json!({"ai_budget": {"monthly_limit": "1.00", "hard_stop": true}}),
    )
    .await;
    let raised = status(&app, key, "").await;
    assert_eq!(raised["ai_paused"], false);
    assert_eq!(raised["used"], 0.0005);
    // The conversation stays with the person until resumed; then the model answers again.
    post_ok(
        &app,
        key,
        &format!("/api/v1/leads/{lead}/resume-ai"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    status_becomes(&app, key, &lead, "in_conversation").await;
    model.enqueue(answer("Welcome back!", Value::Null));
    inbound(&app, key, &lead, "Still there?").await;
    assert_eq!(sandbox_shows(&app, key, &lead, 5).await[4], "Welcome back!");
    assert_eq!(model.requests().len(), 4);
    app.stop().await;
}

#[tokio::test]
async fn a_refused_notice_is_recorded_as_failed_once_and_no_webhook_means_no_notice() {
    let webhook = FakeHttp::start(|_| FakeResponse::json(500, json!({"error": "down"}))).await;
    let app = TestApp::spawn_with(|settings| settings.run_workers = false).await;
    app.clock.set(t("2026-03-30T10:00:00Z"));
    let refusing = app.create_tenant("Refusing").await;
    let silent = app.create_tenant("Silent").await;
    set_budget(
        &app,
        &refusing,
        json!({
            "webhook_url": format!("{}/hooks", webhook.base),
            "ai_budget": {"monthly_limit": "0.001", "thresholds": [50]},
        }),
    )
    .await;
    set_budget(
        &app,
        &silent,
        json!({"ai_budget": {"monthly_limit": "0.001", "thresholds": [50]}}),
    )
    .await;
    let states = instances(&app, 2).await;
    for (tenant, phone) in [(&refusing, "+44 7700 900351"), (&silent, "+44 7700 900352")] {
        let (lead, _) = app.capture_new(&tenant.key, json!({"phone": phone})).await;
        let at = spend(&app, tenant, &lead, "2026-03-30T10:00:00Z", 700).await;
        status(&app, &tenant.key, &format!("?min_position={at}")).await;
    }
    assert_eq!(check_everywhere(&states).await, 2);
    for tenant in [&refusing, &silent] {
        eventually("the threshold in the read model", WAIT, || async {
            let shown = status(&app, &tenant.key, "").await;
            (shown["thresholds_reached"].as_array().unwrap().len() == 1).then_some(())
        })
        .await;
    }
    assert_eq!(notify_everywhere(&states).await, 1);
    assert_eq!(webhook.requests().len(), 1);
    let told = budget_events(&app, "CostThresholdNotified").await;
    assert_eq!(told.len(), 1);
    assert_eq!(told[0]["notified"], json!([]));
    assert_eq!(told[0]["failed"], json!(["webhook: HTTP 500"]));
    let failed = eventually("the failure in the read model", WAIT, || async {
        let shown = status(&app, &refusing.key, "").await;
        let item = shown["thresholds_reached"][0].clone();
        (!item["notified_at"].is_null()).then_some(item)
    })
    .await;
    assert_eq!(failed["failed"], json!(["webhook: HTTP 500"]));
    app.clock.advance(chrono::Duration::minutes(3));
    assert_eq!(notify_everywhere(&states).await, 0, "one attempt");
    assert_eq!(webhook.requests().len(), 1);
    let untold = status(&app, &silent.key, "").await;
    assert_eq!(untold["thresholds_reached"][0]["notified_at"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn under_a_spent_hard_stopped_budget_the_rules_engine_writes_ai_follow_ups_for_free() {
    let model = FakeHttp::start(|_| {
        FakeResponse::json(500, json!({"error": {"message": "unexpected call"}}))
    })
    .await;
    let app = TestApp::spawn().await;
    app.clock.set(monday_morning());
    let tenant = tenant_in(&app, "Spent", "Europe/London").await;
    use_model(&app, &tenant, &model).await;
    set_budget(
        &app,
        &tenant,
        json!({"ai_budget": {"monthly_limit": "0.0001", "hard_stop": true}}),
    )
    .await;
    let key = tenant.key.as_str();
    let earlier = app
        .capture_new(key, json!({"phone": "+44 7700 900341"}))
        .await
        .0;
    let at = spend(&app, &tenant, &earlier, "2026-03-30T09:00:00Z", 100).await;
    let spent = status(&app, key, &format!("?min_position={at}")).await;
    assert_eq!(spent["ai_paused"], true);

    let workflow = active_workflow(
        &app,
        key,
        json!({
            "follow_up_templates": [],
            "qualification_questions": [
                {"key": "homeowner", "question": "Do you own your home?", "qualifying_answers": ["Yes"]}
            ],
            "follow_up_steps": [{"delay_hours": 2, "message": {"kind": "ai"}}]
        }),
    )
    .await;
    let lead = capture(&app, key, &workflow, "+44 7700 900342").await;
    sandbox_shows(&app, key, &lead, 1).await;
    let follow_up_at = monday_morning() + chrono::Duration::hours(2);
    timer_is(&app, key, &lead, "follow_up", follow_up_at).await;
    app.clock.set(follow_up_at);
    assert_eq!(
        sandbox_shows(&app, key, &lead, 2).await[1],
        "Hi Sam, this is our last follow-up — Do you own your home?"
    );
    let written = conversation_events(&app, &lead, "AiFollowUpWritten").await;
    assert_eq!(written.len(), 1);
    assert_eq!(written[0]["engine"], "rules");
    assert_eq!(written[0]["cost_micros"], 0);
    assert_eq!(written[0]["fallback_reason"], budget::BUDGET_EXHAUSTED);
    assert!(model.requests().is_empty(), "the model is not asked");
    app.stop().await;
}
