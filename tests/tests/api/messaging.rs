//! Conversations end to end over HTTP, with the server's workers running: the operator's
//! messaging endpoints, the sandbox playing the lead, the rules engine and an OpenAI-compatible
//! fake answering, model failures retried then handed off, STOP/START, handoff and resume, and
//! the refusals. Workers and projections run on their own, so every check of their effects
//! polls with a deadline ([`eventually`]).

use std::future::Future;
use std::time::{Duration, Instant};

use application::Clock;
use bookerbot_tests::{FakeHttp, FakeResponse};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{TestApp, TestTenant, ADMIN};

/// How long the workers and projections get to do something.
pub(crate) const WAIT: Duration = Duration::from_secs(10);
/// The server's model timeout in tests (`Settings::for_tests`): a slower answer is a timeout.
/// The model timeout of the failures test's server (short, so the test is quick).
const MODEL_TIMEOUT: Duration = Duration::from_secs(2);
/// What the workflow's leads are asked.
pub(crate) const Q1: &str = "Do you own your home?";
const Q2: &str = "When are you looking to start?";
pub(crate) const BRAND: &str = "Acme Solar";
pub(crate) const OPT_OUT_TEXT: &str = "You're unsubscribed from Acme Solar. No more messages.";

/// Polls `probe` until it answers `Some`, failing the test after `within`.
pub(crate) async fn eventually<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// A tenant with an active SMS workflow asking [`Q1`] then [`Q2`].
pub(crate) async fn tenant_with_workflow(app: &TestApp, name: &str) -> (TestTenant, String) {
    // A Monday, 11:00 in London: inside the default sending window, so outreach goes at once.
    app.clock.set(monday_morning());
    let reply = app
        .post(
            ADMIN,
            "/api/v1/tenants",
            json!({"name": name, "brand_name": BRAND}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let tenant = TestTenant {
        id: reply.body["tenant"]["id"].as_str().unwrap().to_owned(),
        key: reply.body["api_key"].as_str().unwrap().to_owned(),
    };
    let created = app
        .post(
            &tenant.key,
            "/api/v1/workflows",
            json!({
                "name": "Solar enquiries",
                "channel": "sms",
                "initial_message": "Hi {first_name}, this is {brand_name}. Want to book a visit?",
                "opt_out_message": OPT_OUT_TEXT,
                "qualification_questions": [
                    {"key": "homeowner", "question": Q1, "qualifying_answers": ["Yes"]},
                    {"key": "timeline", "question": Q2, "qualifying_answers": ["ASAP", "this month"]}
                ],
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let workflow = created.body["id"].as_str().unwrap().to_owned();
    let activated = app
        .post(
            &tenant.key,
            &format!("/api/v1/workflows/{workflow}/activate"),
            json!({}),
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    (tenant, workflow)
}

/// Monday 2026-03-30, 10:00 UTC (11:00 BST).
pub(crate) fn monday_morning() -> DateTime<Utc> {
    "2026-03-30T10:00:00Z".parse().unwrap()
}

/// Sam, in `workflow` (if any), on `phone`.
pub(crate) async fn capture_sam(
    app: &TestApp,
    key: &str,
    workflow: Option<&str>,
    phone: &str,
) -> String {
    let mut body = json!({"first_name": "Sam", "phone": phone});
    if let Some(workflow) = workflow {
        body["workflow_id"] = json!(workflow);
    }
    app.capture_new(key, body).await.0
}

/// Points the tenant's conversation model at `fake`.
pub(crate) async fn use_model(app: &TestApp, tenant: &TestTenant, fake: &FakeHttp) {
    let reply = app
        .patch(
            &tenant.key,
            &format!("/api/v1/tenants/{}", tenant.id),
            json!({"ai": {"base_url": fake.base, "model": "gpt-4o-mini", "api_key": "sk-test"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// A chat completion calling `respond_to_lead` with `arguments` (a JSON string).
pub(crate) fn tool_call(arguments: &str, usage: Value) -> FakeResponse {
    FakeResponse::json(
        200,
        json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_772_442_000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": null,
                    "tool_calls": [{
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "respond_to_lead", "arguments": arguments}
                    }]
                },
                "finish_reason": "tool_calls"
            }],
            "usage": usage
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Reading what happened
// ---------------------------------------------------------------------------------------------

pub(crate) async fn post_ok(
    app: &TestApp,
    key: &str,
    path: &str,
    body: Value,
    status: StatusCode,
) -> Value {
    let reply = app.post(key, path, body).await;
    assert_eq!(reply.status, status, "POST {path}: {}", reply.text);
    reply.body
}

/// The lead writes `body` through the sandbox.
pub(crate) async fn inbound(app: &TestApp, key: &str, lead: &str, body: &str) -> Value {
    post_ok(
        app,
        key,
        &format!("/api/v1/sandbox/leads/{lead}/inbound"),
        json!({"body": body}),
        StatusCode::OK,
    )
    .await
}

/// What the sandbox sent to the lead, oldest first.
pub(crate) async fn sandbox(app: &TestApp, key: &str, lead: &str) -> Vec<String> {
    let reply = app
        .get(key, &format!("/api/v1/sandbox/messages?lead_id={lead}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until the sandbox has sent the lead `count` messages, and returns them.
pub(crate) async fn sandbox_shows(
    app: &TestApp,
    key: &str,
    lead: &str,
    count: usize,
) -> Vec<String> {
    let sent = eventually(&format!("{count} sandbox messages"), WAIT, || async {
        let sent = sandbox(app, key, lead).await;
        (sent.len() >= count).then_some(sent)
    })
    .await;
    assert_eq!(sent.len(), count, "{sent:?}");
    sent
}

/// Waits until the contacts read model shows the lead in `status`.
pub(crate) async fn status_becomes(app: &TestApp, key: &str, lead: &str, status: &str) {
    eventually(&format!("lead status {status}"), WAIT, || async {
        let reply = app.get(key, &format!("/api/v1/leads/{lead}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        (reply.body["status"] == status).then_some(())
    })
    .await;
}

/// The lead's conversation (threads and messages).
pub(crate) async fn conversation(app: &TestApp, key: &str, lead: &str) -> Value {
    let reply = app
        .get(key, &format!("/api/v1/leads/{lead}/conversation"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// The lead's message of id `id` in its conversation, once `ready` holds for it.
async fn message_when(
    app: &TestApp,
    key: &str,
    lead: &str,
    id: &str,
    what: &str,
    within: Duration,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    eventually(what, within, || async {
        conversation(app, key, lead).await["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id && ready(m))
            .cloned()
    })
    .await
}

/// Events of `event_type` on the lead's SMS conversation, payloads unwrapped.
pub(crate) async fn conversation_events(app: &TestApp, lead: &str, event_type: &str) -> Vec<Value> {
    let payloads: Vec<Value> = sqlx::query_scalar(
        "SELECT payload::jsonb FROM events WHERE aggregate_type = 'conversation' \
         AND aggregate_id LIKE $1 AND event_type = $2 ORDER BY global_position",
    )
    .bind(format!("{lead}:%"))
    .bind(event_type)
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    payloads
        .into_iter()
        .map(|payload| payload[event_type].clone())
        .collect()
}

/// Moves the server's clock just past `at` (a retry time).
fn move_past(app: &TestApp, at: DateTime<Utc>) {
    let now = app.clock.now();
    if now <= at {
        app.clock.advance(at - now + chrono::Duration::seconds(1));
    }
}

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// Holds the tasks table so no worker claims anything (and the tasks projection waits) until
/// the returned transaction ends: what is queued meanwhile stays queued.
async fn hold_the_outbox(app: &TestApp) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = app.db.pool().begin().await.unwrap();
    sqlx::query(&format!(
        "LOCK TABLE {} IN EXCLUSIVE MODE",
        projections::tasks::live_table()
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    tx
}

// ---------------------------------------------------------------------------------------------
// Conversations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_rules_engine_qualifies_a_lead_over_the_sandbox() {
    let app = TestApp::spawn().await;
    let (tenant, workflow) = tenant_with_workflow(&app, "Rules").await;
    let key = tenant.key.as_str();
    let lead = capture_sam(&app, key, Some(&workflow), "+44 7700 900111").await;

    let queued = post_ok(
        &app,
        key,
        &format!("/api/v1/leads/{lead}/outreach"),
        json!({}),
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(queued["lead_id"], lead.as_str());
    assert_eq!(queued["channel"], "sms");
    assert_eq!(queued["status"], "queued");
    assert!(queued["position"].as_i64().is_some());
    let outreach = "Hi Sam, this is Acme Solar. Want to book a visit?";
    assert_eq!(sandbox_shows(&app, key, &lead, 1).await, [outreach]);
    status_becomes(&app, key, &lead, "contacted").await;
    let sent = app
        .get(key, &format!("/api/v1/sandbox/messages?lead_id={lead}"))
        .await;
    assert_eq!(sent.body["messages"][0]["message_id"], queued["message_id"]);
    assert_eq!(sent.body["messages"][0]["to"], "+447700900111");
    assert_eq!(sent.body["messages"][0]["channel"], "sms");

    let hello = inbound(&app, key, &lead, "Hello").await;
    assert_eq!(hello["lead_id"], lead.as_str());
    assert!(hello["message_id"].as_str().is_some());
    assert_eq!(hello["keyword"], Value::Null);
    let first_question = format!("Hi, Sam! {Q1}");
    assert_eq!(
        sandbox_shows(&app, key, &lead, 2).await,
        [outreach, first_question.as_str()]
    );
    status_becomes(&app, key, &lead, "in_conversation").await;

    let yes = inbound(&app, key, &lead, "Yes I do").await;
    assert_eq!(sandbox_shows(&app, key, &lead, 3).await[2], Q2);
    let asap = inbound(&app, key, &lead, "asap please").await;
    // Qualified: the reply offers free times (see conversation_booking.rs).
    assert_eq!(
        sandbox_shows(&app, key, &lead, 4).await[3],
        "Great news, Sam, you qualify! Would you like to book an appointment with Acme Solar? \
         Here are the next available times (Europe/London):\n1. Mon 30 Mar 12:00\n\
         2. Tue 31 Mar 09:00\n3. Wed 1 Apr 09:00\nReply with the number of the time that suits you."
    );
    status_becomes(&app, key, &lead, "qualified").await;

    let turn = |id: &Value| {
        let id = id.as_str().unwrap().to_owned();
        let (app, key, lead) = (&app, key, lead.as_str());
        async move {
            message_when(app, key, lead, &id, "the AI turn", WAIT, |m| {
                !m["ai_turn"].is_null()
            })
            .await["ai_turn"]
                .clone()
        }
    };
    let answered_yes = turn(&yes["message_id"]).await;
    assert_eq!(answered_yes["engine"], "rules");
    assert_eq!(answered_yes["intent"], "answer");
    assert_eq!(answered_yes["answers"], json!({"homeowner": "Yes"}));
    assert_eq!(answered_yes["cost_micros"], 0);
    let answered_asap = turn(&asap["message_id"]).await;
    assert_eq!(answered_asap["answers"], json!({"timeline": "ASAP"}));
    assert_eq!(turn(&hello["message_id"]).await["intent"], "other");
    app.stop().await;
}

#[tokio::test]
async fn an_llm_answers_with_exact_tokens_and_costs_and_sees_the_history() {
    let app = TestApp::spawn().await;
    let fake = FakeHttp::start(|_| {
        FakeResponse::json(500, json!({"error": {"message": "unexpected call"}}))
    })
    .await;
    let (tenant, workflow) = tenant_with_workflow(&app, "Llm").await;
    use_model(&app, &tenant, &fake).await;
    let key = tenant.key.as_str();
    let lead = capture_sam(&app, key, Some(&workflow), "+44 7700 900222").await;
    post_ok(
        &app,
        key,
        &format!("/api/v1/leads/{lead}/outreach"),
        json!({}),
        StatusCode::ACCEPTED,
    )
    .await;
    let outreach = "Hi Sam, this is Acme Solar. Want to book a visit?";
    sandbox_shows(&app, key, &lead, 1).await;

    fake.enqueue(tool_call(
        &json!({"intent": "other", "answers": {"homeowner": null, "timeline": null},
                "chosen_slot": null, "reply": format!("Hi Sam! {Q1}")})
        .to_string(),
        json!({"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050}),
    ));
    let hello = inbound(&app, key, &lead, "Hello").await;
    sandbox_shows(&app, key, &lead, 2).await;
    fake.enqueue(tool_call(
        &json!({"intent": "answer", "answers": {"homeowner": "Yes", "timeline": null},
                "chosen_slot": null, "reply": Q2})
        .to_string(),
        json!({
            "prompt_tokens": 1234,
            "completion_tokens": 56,
            "total_tokens": 1290,
            "prompt_tokens_details": {"cached_tokens": 200}
        }),
    ));
    let yes = inbound(&app, key, &lead, "Yes I do").await;
    assert_eq!(sandbox_shows(&app, key, &lead, 3).await[2], Q2);

    // (1000 × 0.15 + 50 × 0.60) $/M = 180 µ$; (1034 × 0.15 + 200 × 0.075 + 56 × 0.60) $/M =
    // 203.7 µ$, rounded half up to 204.
    let expected = [
        (&hello, 1000, 0, 50, 180, "other"),
        (&yes, 1234, 200, 56, 204, "answer"),
    ];
    for (reply, input, cached, output, cost, intent) in expected {
        let id = reply["message_id"].as_str().unwrap();
        let message = message_when(&app, key, &lead, id, "the AI turn", WAIT, |m| {
            !m["ai_turn"].is_null()
        })
        .await;
        let turn = &message["ai_turn"];
        assert_eq!(turn["engine"], "openai");
        assert_eq!(turn["model"], "gpt-4o-mini-2024-07-18");
        assert_eq!(turn["intent"], intent);
        assert_eq!(turn["input_tokens"], input);
        assert_eq!(turn["cached_input_tokens"], cached);
        assert_eq!(turn["output_tokens"], output);
        assert_eq!(turn["cost_micros"], cost);
        assert_eq!(turn["price_version"], "builtin-2026-11");
    }
    let recorded = conversation_events(&app, &lead, "AiTurnRecorded").await;
    let costs: Vec<&Value> = recorded.iter().map(|turn| &turn["cost_micros"]).collect();
    assert_eq!(costs, [&json!(180), &json!(204)]);

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let last = &requests[1];
    assert_eq!(last.method, "POST");
    assert_eq!(last.path, "/v1/chat/completions");
    assert_eq!(last.header("authorization"), Some("Bearer sk-test"));
    let body = last.json();
    assert_eq!(body["model"], "gpt-4o-mini");
    let history: Vec<(String, String)> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected_history = [
        ("assistant", outreach.to_owned()),
        ("user", "Hello".to_owned()),
        ("assistant", format!("Hi Sam! {Q1}")),
        ("user", "Yes I do".to_owned()),
    ]
    .map(|(role, text)| (role.to_owned(), text));
    assert_eq!(history, expected_history);
    assert_eq!(body["messages"][0]["role"], "system");
    app.stop().await;
}

#[tokio::test]
async fn a_workflow_may_name_its_own_model() {
    let fake = FakeHttp::start(|_| {
        tool_call(
            r#"{"intent": "other", "answers": {}, "chosen_slot": null, "reply": "Hello!"}"#,
            json!({"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}),
        )
    })
    .await;
    let app = TestApp::spawn().await;
    let (tenant, workflow) = tenant_with_workflow(&app, "Models").await;
    let key = tenant.key.as_str();
    use_model(&app, &tenant, &fake).await;
    let set = app
        .patch(
            key,
            &format!("/api/v1/workflows/{workflow}"),
            json!({"ai_model": "gpt-4.1-mini"}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let shown = app
        .get(
            key,
            &format!(
                "/api/v1/workflows/{workflow}?min_position={}",
                set.body["position"]
            ),
        )
        .await;
    assert_eq!(shown.body["ai_model"], "gpt-4.1-mini", "{}", shown.text);
    let lead = capture_sam(&app, key, Some(&workflow), "+44 7700 900333").await;
    inbound(&app, key, &lead, "Hi there").await;
    let model = eventually("the model to be asked", WAIT, || async {
        fake.requests().first().map(|r| r.json()["model"].clone())
    })
    .await;
    assert_eq!(model, "gpt-4.1-mini");

    let cleared = app
        .patch(
            key,
            &format!("/api/v1/workflows/{workflow}"),
            json!({"ai_model": null}),
        )
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text);
    inbound(&app, key, &lead, "Still there?").await;
    let model = eventually("the model to be asked again", WAIT, || async {
        fake.requests().get(1).map(|r| r.json()["model"].clone())
    })
    .await;
    assert_eq!(model, "gpt-4o-mini", "back to the tenant's model");
    app.stop().await;
}

#[tokio::test]
async fn a_reply_too_late_for_whatsapps_window_keeps_the_turn_and_sends_nothing() {
    let app = TestApp::spawn_with(|settings| settings.run_workers = false).await;
    let (tenant, workflow) = tenant_with_workflow(&app, "Late").await;
    let key = tenant.key.as_str();
    let moved = app
        .patch(
            key,
            &format!("/api/v1/workflows/{workflow}"),
            json!({"channel": "whatsapp"}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    let lead = capture_sam(&app, key, Some(&workflow), "+44 7700 900444").await;
    post_ok(
        &app,
        key,
        &format!("/api/v1/sandbox/leads/{lead}/inbound"),
        json!({"body": "Hi, is this still available?", "channel": "whatsapp"}),
        StatusCode::OK,
    )
    .await;
    // The workers were down for a day: the window has closed when the AI gets to answer.
    app.clock.advance(chrono::Duration::hours(25));
    let state = api::state::AppState::new(
        app.db.pool().clone(),
        std::sync::Arc::new(app.clock.clone()),
        api::settings::Settings::for_tests(app.db.url().to_string(), ADMIN),
    )
    .unwrap();
    let tasks = projections::tasks::live_table();
    eventually("the reply task to end", WAIT, || async {
        infrastructure::messaging::workers::run_once(&state.messaging, "late-worker")
            .await
            .unwrap();
        let left: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {tasks}"))
            .fetch_one(app.db.pool())
            .await
            .unwrap_or(1);
        let turns = conversation_events(&app, &lead, "AiTurnRecorded").await;
        (left == 0 && turns.len() == 1).then_some(())
    })
    .await;
    let turns = conversation_events(&app, &lead, "AiTurnRecorded").await;
    assert_eq!(turns[0]["reply_message_id"], Value::Null);
    assert_eq!(turns[0]["engine"], "rules");
    let queued = conversation_events(&app, &lead, "OutboundMessageQueued").await;
    assert!(queued.is_empty(), "{queued:?}");
    app.stop().await;
}

#[tokio::test]
async fn outreach_outside_the_sending_window_waits_for_it_to_open() {
    let app = TestApp::spawn().await;
    let (tenant, workflow) = tenant_with_workflow(&app, "Night").await;
    let key = tenant.key.as_str();
    let lead = capture_sam(&app, key, Some(&workflow), "+44 7700 900555").await;
    // 22:30 BST on Monday: after business hours and after 21:00 at the lead's (London) end.
    app.clock.set("2026-03-30T21:30:00Z".parse().unwrap());
    post_ok(
        &app,
        key,
        &format!("/api/v1/leads/{lead}/outreach"),
        json!({}),
        StatusCode::ACCEPTED,
    )
    .await;
    let deferred = eventually("the outreach to be deferred", WAIT, || async {
        conversation_events(&app, &lead, "OutboundSendDeferred")
            .await
            .first()
            .cloned()
    })
    .await;
    let until: DateTime<Utc> = deferred["until"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        until,
        "2026-03-31T08:00:00Z".parse::<DateTime<Utc>>().unwrap(),
        "09:00 BST"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        sandbox(&app, key, &lead).await.is_empty(),
        "nothing sent at night"
    );
    app.clock.set(until);
    let sent = sandbox_shows(&app, key, &lead, 1).await;
    assert!(sent[0].starts_with("Hi Sam"), "{sent:?}");
    app.stop().await;
}

#[tokio::test]
async fn model_failures_are_retried_after_the_backoff_then_handed_off() {
    let app = TestApp::spawn_with(|settings| settings.model_timeout = MODEL_TIMEOUT).await;
    let fake = FakeHttp::start(|_| {
        FakeResponse::json(500, json!({"error": {"message": "unexpected call"}}))
    })
    .await;
    fake.enqueue(FakeResponse::json(
        500,
        json!({"error": {"message": "upstream overloaded"}}),
    ));
    fake.enqueue(
        tool_call(
            r#"{"intent":"other","answers":{"homeowner":null,"timeline":null},"chosen_slot":null,"reply":"Too late"}"#,
            json!({"prompt_tokens": 10, "completion_tokens": 2}),
        )
        .delayed(MODEL_TIMEOUT + Duration::from_secs(5)),
    );
    fake.enqueue(tool_call(
        r#"{"intent": "answer", "answers": "#,
        json!({"prompt_tokens": 10, "completion_tokens": 2}),
    ));
    let (tenant, workflow) = tenant_with_workflow(&app, "Flaky").await;
    use_model(&app, &tenant, &fake).await;
    let key = tenant.key.as_str();
    let lead = capture_sam(&app, key, Some(&workflow), "+44 7700 900333").await;
    let hello = inbound(&app, key, &lead, "Hello").await;
    let id = hello["message_id"].as_str().unwrap().to_owned();

    let failures_reach = |count: usize, within: Duration| {
        let (app, id, lead) = (&app, id.clone(), lead.clone());
        async move {
            message_when(
                app,
                key,
                &lead,
                &id,
                &format!("{count} AI failures"),
                within,
                |m| m["ai_failures"].as_array().unwrap().len() >= count,
            )
            .await
        }
    };
    let first = failures_reach(1, WAIT).await;
    assert_eq!(first["direction"], "inbound");
    assert_eq!(first["body"], "Hello", "the lead's message is kept");
    let failure = &first["ai_failures"][0];
    assert_eq!(failure["attempt"], 1);
    assert!(
        failure["error"]
            .as_str()
            .unwrap()
            .contains("upstream overloaded"),
        "{failure}"
    );
    let retry_at = instant(&failure["retry_at"]);
    assert!(retry_at > app.clock.now(), "{failure}");

    // Not before the backoff…
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fake.requests().len(), 1);
    // …but once it has passed.
    move_past(&app, retry_at);
    assert!(app.clock.now() > retry_at);
    let second = failures_reach(2, MODEL_TIMEOUT + WAIT * 2).await;
    let failure = &second["ai_failures"][1];
    assert_eq!(failure["attempt"], 2);
    assert!(
        failure["error"]
            .as_str()
            .unwrap()
            .contains("did not answer within"),
        "{failure}"
    );
    let retry_at = instant(&failure["retry_at"]);
    move_past(&app, retry_at);
    assert!(app.clock.now() > retry_at);
    let third = failures_reach(3, WAIT).await;
    let failure = &third["ai_failures"][2];
    assert_eq!(failure["attempt"], 3);
    assert!(
        failure["error"].as_str().unwrap().contains("unusable"),
        "{failure}"
    );
    assert_eq!(failure["retry_at"], Value::Null, "given up: {failure}");
    assert!(third["ai_turn"].is_null());
    status_becomes(&app, key, &lead, "handed_off").await;
    let thread = &conversation(&app, key, &lead).await["threads"][0];
    assert_eq!(thread["handed_off"], true);
    assert_eq!(thread["handed_off_reason"], "ai_unavailable");
    assert_eq!(
        conversation_events(&app, &lead, "AiTurnFailed").await.len(),
        3
    );

    // Still serving, and the model is not asked again.
    let later = inbound(&app, key, &lead, "Hello?").await;
    assert!(later["message_id"].as_str().is_some());
    assert_eq!(fake.requests().len(), 3);
    assert!(sandbox(&app, key, &lead).await.is_empty());
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Opt-out, handoff, retry
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn stop_cancels_what_is_queued_and_start_resubscribes() {
    let app = TestApp::spawn().await;
    let (tenant, workflow) = tenant_with_workflow(&app, "Stop").await;
    let key = tenant.key.as_str();
    let lead = capture_sam(&app, key, Some(&workflow), "+44 7700 900444").await;

    let outbox = hold_the_outbox(&app).await;
    let queued = post_ok(
        &app,
        key,
        &format!("/api/v1/leads/{lead}/messages"),
        json!({"body": "Sam, are you free on Tuesday?"}),
        StatusCode::ACCEPTED,
    )
    .await;
    let stop = inbound(&app, key, &lead, "STOP").await;
    assert_eq!(stop["keyword"], "opt_out");
    outbox.commit().await.unwrap();

    assert_eq!(sandbox_shows(&app, key, &lead, 1).await, [OPT_OUT_TEXT]);
    let operator = message_when(
        &app,
        key,
        &lead,
        queued["message_id"].as_str().unwrap(),
        "the operator message cancelled",
        WAIT,
        |m| m["status"] == "cancelled",
    )
    .await;
    assert_eq!(operator["reason"], "opted_out");
    status_becomes(&app, key, &lead, "opted_out").await;

    let refused = app
        .post(
            key,
            &format!("/api/v1/leads/{lead}/messages"),
            json!({"body": "One more thing"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.error_code(), Some("opted_out"));
    let refused = app
        .post(key, &format!("/api/v1/leads/{lead}/outreach"), json!({}))
        .await;
    assert_eq!(refused.error_code(), Some("opted_out"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sandbox(&app, key, &lead).await, [OPT_OUT_TEXT]);

    let start = inbound(&app, key, &lead, "start").await;
    assert_eq!(start["keyword"], "opt_in");
    // Back to pending in an active workflow: the outreach the STOP cancelled goes out now.
    let mut sent = sandbox_shows(&app, key, &lead, 3).await;
    sent[1..].sort();
    assert_eq!(
        sent[1..],
        [
            "Acme Solar: you are subscribed to messages again. Reply STOP to opt out.",
            "Hi Sam, this is Acme Solar. Want to book a visit?"
        ]
    );
    post_ok(
        &app,
        key,
        &format!("/api/v1/leads/{lead}/messages"),
        json!({"body": "Welcome back, Sam!"}),
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(
        sandbox_shows(&app, key, &lead, 4).await[3],
        "Welcome back, Sam!"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_ai_is_silent_while_handed_off_and_answers_once_resumed() {
    let app = TestApp::spawn().await;
    let (tenant, workflow) = tenant_with_workflow(&app, "Handoff").await;
    let key = tenant.key.as_str();
    let lead = capture_sam(&app, key, Some(&workflow), "+44 7700 900555").await;
    inbound(&app, key, &lead, "Hello").await;
    sandbox_shows(&app, key, &lead, 1).await;

    let handed = post_ok(
        &app,
        key,
        &format!("/api/v1/leads/{lead}/handoff"),
        json!({"reason": "vip customer"}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(handed["lead_id"], lead.as_str());
    assert!(handed["position"].as_i64().is_some());
    status_becomes(&app, key, &lead, "handed_off").await;
    let silent = inbound(&app, key, &lead, "Yes I do").await;
    let received = conversation_events(&app, &lead, "InboundMessageReceived").await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[1]["message_id"], silent["message_id"]);
    assert_eq!(received[1]["ai_reply_expected"], false);
    let thread = eventually("the thread handed off", WAIT, || async {
        let thread = conversation(&app, key, &lead).await["threads"][0].clone();
        (thread["handed_off"] == true).then_some(thread)
    })
    .await;
    assert_eq!(thread["handed_off_reason"], "vip customer");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sandbox(&app, key, &lead).await.len(), 1, "no AI reply");

    let resumed = post_ok(
        &app,
        key,
        &format!("/api/v1/leads/{lead}/resume-ai"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    assert!(resumed["position"].as_i64().is_some());
    status_becomes(&app, key, &lead, "in_conversation").await;
    inbound(&app, key, &lead, "Yes").await;
    assert_eq!(sandbox_shows(&app, key, &lead, 2).await[1], Q2);
    app.stop().await;
}

#[tokio::test]
async fn a_failed_message_is_retried_once_it_can_be_sent() {
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_workflow(&app, "Retry").await;
    let key = tenant.key.as_str();
    let (lead, _) = app
        .capture_new(
            key,
            json!({"first_name": "Sam", "phone": "+44 7700 900666", "email": "sam@example.com"}),
        )
        .await;

    // The number goes while the message waits: sending it fails for good.
    let outbox = hold_the_outbox(&app).await;
    let queued = post_ok(
        &app,
        key,
        &format!("/api/v1/leads/{lead}/messages"),
        json!({"body": "Your quote is ready"}),
        StatusCode::ACCEPTED,
    )
    .await;
    let id = queued["message_id"].as_str().unwrap().to_owned();
    let cleared = app
        .patch(
            key,
            &format!("/api/v1/leads/{lead}"),
            json!({"phone": null}),
        )
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text);
    outbox.commit().await.unwrap();
    let failed = message_when(&app, key, &lead, &id, "the failure", WAIT, |m| {
        m["status"] == "failed"
    })
    .await;
    assert_eq!(failed["reason"], "no_phone");

    let retry = format!("/api/v1/messages/{id}/retry");
    let refused = app.post(key, &retry, json!({})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.error_code(), Some("no_phone"));
    let restored = app
        .patch(
            key,
            &format!("/api/v1/leads/{lead}"),
            json!({"phone": "+44 7700 900666"}),
        )
        .await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.text);
    let retried = post_ok(&app, key, &retry, json!({}), StatusCode::ACCEPTED).await;
    assert_eq!(retried["message_id"], id.as_str());
    assert_eq!(retried["lead_id"], lead.as_str());
    assert_eq!(retried["status"], "queued");
    assert_eq!(
        sandbox_shows(&app, key, &lead, 1).await,
        ["Your quote is ready"]
    );
    message_when(&app, key, &lead, &id, "the resend", WAIT, |m| {
        m["status"] == "delivered"
    })
    .await;

    let again = app.post(key, &retry, json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert_eq!(again.error_code(), Some("not_retryable"));
    assert_eq!(again.body["error"]["details"]["status"], "delivered");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn bad_messages_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (tenant, workflow) = tenant_with_workflow(&app, "Fields").await;
    let key = tenant.key.as_str();
    let lead = capture_sam(&app, key, Some(&workflow), "+44 7700 900777").await;
    let send = format!("/api/v1/leads/{lead}/messages");
    let cases = [
        (json!({}), "body"),
        (json!({"body": "   "}), "body"),
        (json!({"body": "x".repeat(1601)}), "body"),
        (
            json!({"body": "Hi", "template": {"name": "t", "language": "en"}}),
            "body",
        ),
        (json!({"body": "Hi", "channel": "fax"}), "channel"),
        (
            json!({"template": {"name": " ", "language": "en_US"}}),
            "template.name",
        ),
        (
            json!({"template": {"name": "welcome", "language": ""}}),
            "template.language",
        ),
        (
            json!({"template": {"name": "welcome", "language": "en", "variables": vec!["v"; 21]}}),
            "template.variables",
        ),
    ];
    for (body, field) in cases {
        let reply = app.post(key, &send, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.text
        );
        assert_eq!(reply.error_field(), Some(field), "{body}: {}", reply.text);
    }
    let handoff = app
        .post(
            key,
            &format!("/api/v1/leads/{lead}/handoff"),
            json!({"reason": ""}),
        )
        .await;
    assert_eq!(handoff.error_field(), Some("reason"), "{}", handoff.text);
    let inbound_path = format!("/api/v1/sandbox/leads/{lead}/inbound");
    for (body, field) in [
        (json!({"body": ""}), "body"),
        (json!({"body": "Hi", "message_id": " "}), "message_id"),
        (json!({"channel": "sms"}), "body"),
    ] {
        let reply = app.post(key, &inbound_path, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.text
        );
        assert_eq!(reply.error_field(), Some(field), "{body}: {}", reply.text);
    }
    let limit = app.get(key, "/api/v1/sandbox/messages?limit=0").await;
    assert_eq!(limit.error_field(), Some("limit"), "{}", limit.text);
    let admin = app.post(ADMIN, &send, json!({"body": "Hi"})).await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN, "{}", admin.text);
    app.stop().await;
}

#[tokio::test]
async fn the_leads_state_refuses_sends_with_its_reason() {
    let app = TestApp::spawn().await;
    let (tenant, workflow) = tenant_with_workflow(&app, "States").await;
    let key = tenant.key.as_str();
    let no_workflow = capture_sam(&app, key, None, "+44 7700 900888").await;
    let refused = app
        .post(
            key,
            &format!("/api/v1/leads/{no_workflow}/outreach"),
            json!({}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.error_code(), Some("no_workflow"));

    let never_wrote = app
        .post(
            key,
            &format!("/api/v1/leads/{no_workflow}/messages"),
            json!({"body": "Hi", "channel": "whatsapp"}),
        )
        .await;
    assert_eq!(
        never_wrote.status,
        StatusCode::CONFLICT,
        "{}",
        never_wrote.text
    );
    assert_eq!(never_wrote.error_code(), Some("whatsapp_window_closed"));
    let template = post_ok(
        &app,
        key,
        &format!("/api/v1/leads/{no_workflow}/messages"),
        json!({"template": {"name": "welcome", "language": "en_US", "variables": ["Sam"]},
               "channel": "whatsapp"}),
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(template["channel"], "whatsapp");
    let shown = eventually("the template in the sandbox", WAIT, || async {
        let reply = app
            .get(
                key,
                &format!("/api/v1/sandbox/messages?lead_id={no_workflow}"),
            )
            .await;
        reply.body["messages"].as_array().unwrap().first().cloned()
    })
    .await;
    assert_eq!(shown["channel"], "whatsapp");
    assert_eq!(shown["body"], "[template welcome: Sam]");

    let (email_only, _) = app
        .capture_new(
            key,
            json!({"first_name": "Eve", "email": "eve@example.com", "workflow_id": workflow}),
        )
        .await;
    let no_phone = app
        .post(
            key,
            &format!("/api/v1/leads/{email_only}/messages"),
            json!({"body": "Hi"}),
        )
        .await;
    assert_eq!(no_phone.error_code(), Some("no_phone"), "{}", no_phone.text);

    let archived = capture_sam(&app, key, Some(&workflow), "+44 7700 900999").await;
    post_ok(
        &app,
        key,
        &format!("/api/v1/leads/{archived}/archive"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    let refused = app
        .post(
            key,
            &format!("/api/v1/leads/{archived}/messages"),
            json!({"body": "Hi"}),
        )
        .await;
    assert_eq!(refused.error_code(), Some("archived"), "{}", refused.text);
    app.stop().await;
}

#[tokio::test]
async fn another_tenants_leads_and_messages_are_not_found() {
    let app = TestApp::spawn().await;
    let (owner, workflow) = tenant_with_workflow(&app, "Owner").await;
    let (other, _) = tenant_with_workflow(&app, "Other").await;
    let lead = capture_sam(&app, &owner.key, Some(&workflow), "+44 7700 900100").await;
    let queued = post_ok(
        &app,
        &owner.key,
        &format!("/api/v1/leads/{lead}/outreach"),
        json!({}),
        StatusCode::ACCEPTED,
    )
    .await;
    sandbox_shows(&app, &owner.key, &lead, 1).await;
    let message = queued["message_id"].as_str().unwrap();

    let attempts = [
        (
            format!("/api/v1/leads/{lead}/messages"),
            json!({"body": "Hi"}),
        ),
        (format!("/api/v1/leads/{lead}/outreach"), json!({})),
        (format!("/api/v1/leads/{lead}/handoff"), json!({})),
        (format!("/api/v1/leads/{lead}/resume-ai"), json!({})),
        (format!("/api/v1/messages/{message}/retry"), json!({})),
        (
            format!("/api/v1/sandbox/leads/{lead}/inbound"),
            json!({"body": "STOP"}),
        ),
    ];
    for (path, body) in &attempts {
        let reply = app.post(&other.key, path, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.text
        );
    }
    let listed = app
        .get(
            &other.key,
            &format!("/api/v1/sandbox/messages?lead_id={lead}"),
        )
        .await;
    assert_eq!(listed.status, StatusCode::NOT_FOUND, "{}", listed.text);
    let everything = app.get(&other.key, "/api/v1/sandbox/messages").await;
    assert_eq!(
        everything.body["messages"],
        json!([]),
        "{}",
        everything.text
    );
    for path in [
        format!("/api/v1/leads/{}/messages", uuid::Uuid::now_v7()),
        "/api/v1/leads/not-a-lead/messages".to_owned(),
        format!("/api/v1/messages/{}/retry", uuid::Uuid::now_v7()),
        "/api/v1/messages/nope/retry".to_owned(),
    ] {
        let reply = app.post(&owner.key, &path, json!({"body": "Hi"})).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.text
        );
    }

    // The owner's lead is untouched: not opted out, still messageable.
    assert_eq!(sandbox(&app, &owner.key, &lead).await.len(), 1);
    let reply = app
        .post(
            &owner.key,
            &format!("/api/v1/leads/{lead}/messages"),
            json!({"body": "Still there?"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    app.stop().await;
}

#[tokio::test]
async fn the_sandbox_records_a_provider_id_once_and_only_for_sandbox_tenants() {
    let app = TestApp::spawn().await;
    let (tenant, workflow) = tenant_with_workflow(&app, "Dedup").await;
    let key = tenant.key.as_str();
    let lead = capture_sam(&app, key, Some(&workflow), "+44 7700 900200").await;
    let path = format!("/api/v1/sandbox/leads/{lead}/inbound");
    let body = json!({"body": "Hello", "message_id": "SM0001"});
    let first = post_ok(&app, key, &path, body.clone(), StatusCode::OK).await;
    assert!(first["message_id"].as_str().is_some());
    let again = post_ok(&app, key, &path, body, StatusCode::OK).await;
    assert_eq!(again["message_id"], Value::Null);
    assert_eq!(again["position"], Value::Null);
    assert_eq!(
        conversation_events(&app, &lead, "InboundMessageReceived")
            .await
            .len(),
        1
    );

    let configured = app
        .patch(
            key,
            &format!("/api/v1/tenants/{}", tenant.id),
            json!({"channels": {"twilio": {
                "account_sid": "AC0123456789abcdef0123456789abcdef",
                "auth_token": "twilio-auth-token", "from_number": "+14155550100"}}}),
        )
        .await;
    assert_eq!(configured.status, StatusCode::OK, "{}", configured.text);
    let refused = app.post(key, &path, json!({"body": "START"})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.error_code(), Some("sandbox_disabled"));
    app.stop().await;
}
