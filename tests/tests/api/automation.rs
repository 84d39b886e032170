//! Automation end to end over HTTP with the server's workers and an injected clock: outreach as
//! soon as a lead is captured (or at the next opening of its sending window, across the
//! daylight-saving changes of London and New York), follow-ups at their delays, `unresponsive`
//! after the last, and everything that stops them — a reply, STOP, a paused workflow — with a
//! resume re-planning and an overdue follow-up spread out instead of blasted. What is planned is
//! read from `GET /api/v1/scheduled` and the lead's `next_action`.

use std::time::Duration;

use application::Clock;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{TestApp, TestTenant, ADMIN};
use crate::messaging::{
    conversation, conversation_events, eventually, inbound, post_ok, sandbox, sandbox_shows,
    status_becomes, BRAND, WAIT,
};

const OUTREACH: &str = "Hi Sam, this is Acme Solar.";
const FOLLOW_UP_1: &str = "Still keen, Sam?";
const FOLLOW_UP_2: &str = "Last nudge from Acme Solar.";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Monday 2026-03-30, 10:00 UTC (11:00 in London): inside the default sending window.
fn monday_morning() -> DateTime<Utc> {
    at("2026-03-30T10:00:00Z")
}

pub(crate) async fn tenant_in(app: &TestApp, name: &str, timezone: &str) -> TestTenant {
    let reply = app
        .post(
            ADMIN,
            "/api/v1/tenants",
            json!({"name": name, "brand_name": BRAND, "timezone": timezone}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    TestTenant {
        id: reply.body["tenant"]["id"].as_str().unwrap().to_owned(),
        key: reply.body["api_key"].as_str().unwrap().to_owned(),
    }
}

/// An active SMS workflow with two follow-ups a day apart, plus `extra` fields.
pub(crate) async fn active_workflow(app: &TestApp, key: &str, extra: Value) -> String {
    let mut body = json!({
        "name": "Solar",
        "channel": "sms",
        "initial_message": "Hi {first_name}, this is {brand_name}.",
        "follow_up_count": 2,
        "follow_up_delay_hours": 24,
        "follow_up_templates": ["Still keen, {first_name}?", "Last nudge from {brand_name}."],
    });
    for (field, value) in extra.as_object().unwrap() {
        body[field] = value.clone();
    }
    let created = post_ok(app, key, "/api/v1/workflows", body, StatusCode::CREATED).await;
    let workflow = created["id"].as_str().unwrap().to_owned();
    post_ok(
        app,
        key,
        &format!("/api/v1/workflows/{workflow}/activate"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    workflow
}

pub(crate) async fn capture(app: &TestApp, key: &str, workflow: &str, phone: &str) -> String {
    app.capture_new(
        key,
        json!({"first_name": "Sam", "phone": phone, "workflow_id": workflow}),
    )
    .await
    .0
}

/// `GET /api/v1/scheduled?<query>` items.
async fn scheduled(app: &TestApp, key: &str, query: &str) -> Vec<Value> {
    let reply = app.get(key, &format!("/api/v1/scheduled?{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["items"].as_array().unwrap().clone()
}

/// Waits until the lead's timer satisfies `ready` (`None`: until it has none).
async fn timer_when(
    app: &TestApp,
    key: &str,
    lead: &str,
    what: &str,
    ready: impl Fn(Option<&Value>) -> bool,
) -> Option<Value> {
    eventually(what, WAIT, || async {
        let items = scheduled(app, key, &format!("lead_id={lead}")).await;
        let timer = items.iter().find(|item| item["kind"] != "message").cloned();
        ready(timer.as_ref()).then_some(timer)
    })
    .await
}

/// Waits for the lead's timer of `kind` due at `due_at`.
pub(crate) async fn timer_is(
    app: &TestApp,
    key: &str,
    lead: &str,
    kind: &str,
    due_at: DateTime<Utc>,
) {
    timer_when(
        app,
        key,
        lead,
        &format!("a {kind} timer due at {due_at}"),
        |timer| timer.is_some_and(|t| t["kind"] == kind && instant(&t["due_at"]) == due_at),
    )
    .await;
}

async fn no_timer(app: &TestApp, key: &str, lead: &str) {
    timer_when(app, key, lead, "no timer", |timer| timer.is_none()).await;
}

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// Lets the workers run a while; nothing new may have been sent to the lead.
async fn still_sent(app: &TestApp, key: &str, lead: &str, count: usize) {
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(sandbox(app, key, lead).await.len(), count);
}

/// The lead's outreach message, once the conversations model shows it sent.
async fn sent_outreach(app: &TestApp, key: &str, lead: &str) -> Value {
    eventually("the outreach shown sent", WAIT, || async {
        conversation(app, key, lead).await["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["origin"] == "outreach" && m["sent_at"].is_string())
            .cloned()
    })
    .await
}

#[tokio::test]
async fn a_pending_lead_gets_its_outreach_when_captured_inside_the_window() {
    let app = TestApp::spawn().await;
    app.clock.set(monday_morning());
    let tenant = tenant_in(&app, "Now", "Europe/London").await;
    let workflow = active_workflow(&app, &tenant.key, json!({})).await;
    let lead = capture(&app, &tenant.key, &workflow, "+44 7700 900101").await;

    assert_eq!(sandbox_shows(&app, &tenant.key, &lead, 1).await, [OUTREACH]);
    // The clock never moved: the outreach was queued and sent at the capture's own instant.
    let outreach = sent_outreach(&app, &tenant.key, &lead).await;
    assert_eq!(instant(&outreach["created_at"]), monday_morning());
    assert_eq!(instant(&outreach["sent_at"]), monday_morning());
    status_becomes(&app, &tenant.key, &lead, "contacted").await;
    let deferred: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'LeadEngagementDeferred'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(deferred, 0);
    app.stop().await;
}

#[tokio::test]
async fn outreach_outside_the_window_goes_at_the_next_opening_across_dst_changes() {
    let app = TestApp::spawn().await;
    // (zone, phone, captured on a Saturday, the next opening: Monday 09:00 local)
    let cases = [
        // London springs forward on 29 March: Monday 09:00 is 08:00 UTC (BST).
        (
            "Europe/London",
            "+44 7700 900201",
            "2026-03-28T12:00:00Z",
            "2026-03-30T08:00:00Z",
        ),
        // …and falls back on 25 October: Monday 09:00 is 09:00 UTC (GMT).
        (
            "Europe/London",
            "+44 7700 900202",
            "2026-10-24T12:00:00Z",
            "2026-10-26T09:00:00Z",
        ),
        // New York springs forward on 8 March: Monday 09:00 is 13:00 UTC (EDT).
        (
            "America/New_York",
            "+1 415 555 0123",
            "2026-03-07T17:00:00Z",
            "2026-03-09T13:00:00Z",
        ),
        // …and falls back on 1 November: Monday 09:00 is 14:00 UTC (EST).
        (
            "America/New_York",
            "+1 415 555 0124",
            "2026-10-31T16:00:00Z",
            "2026-11-02T14:00:00Z",
        ),
    ];
    for (index, (zone, phone, captured, opening)) in cases.into_iter().enumerate() {
        app.clock.set(at(captured));
        let tenant = tenant_in(&app, &format!("Window {index}"), zone).await;
        let workflow = active_workflow(&app, &tenant.key, json!({})).await;
        let lead = capture(&app, &tenant.key, &workflow, phone).await;
        timer_is(&app, &tenant.key, &lead, "outreach", at(opening)).await;
        still_sent(&app, &tenant.key, &lead, 0).await;

        app.clock.set(at(opening) - chrono::Duration::seconds(1));
        still_sent(&app, &tenant.key, &lead, 0).await;
        app.clock.set(at(opening));
        assert_eq!(
            sandbox_shows(&app, &tenant.key, &lead, 1).await,
            [OUTREACH],
            "{zone} {captured}"
        );
        let outreach = sent_outreach(&app, &tenant.key, &lead).await;
        assert_eq!(instant(&outreach["sent_at"]), at(opening), "{zone}");
    }
    app.stop().await;
}

#[tokio::test]
async fn follow_ups_come_at_their_delays_then_the_silent_lead_is_unresponsive() {
    let app = TestApp::spawn().await;
    app.clock.set(monday_morning());
    let tenant = tenant_in(&app, "Cadence", "Europe/London").await;
    let key = tenant.key.as_str();
    let workflow = active_workflow(&app, key, json!({})).await;
    let lead = capture(&app, key, &workflow, "+44 7700 900301").await;
    sandbox_shows(&app, key, &lead, 1).await;

    let day = chrono::Duration::hours(24);
    timer_is(&app, key, &lead, "follow_up", monday_morning() + day).await;
    let shown = app.get(key, &format!("/api/v1/leads/{lead}")).await.body;
    assert_eq!(shown["next_action"]["kind"], "follow_up");
    assert_eq!(shown["next_action"]["step"], 1);
    assert_eq!(instant(&shown["next_follow_up_at"]), monday_morning() + day);

    app.clock
        .set(monday_morning() + day - chrono::Duration::seconds(1));
    still_sent(&app, key, &lead, 1).await;
    app.clock.set(monday_morning() + day);
    assert_eq!(sandbox_shows(&app, key, &lead, 2).await[1], FOLLOW_UP_1);
    timer_is(&app, key, &lead, "follow_up", monday_morning() + day * 2).await;
    app.clock.set(monday_morning() + day * 2);
    assert_eq!(sandbox_shows(&app, key, &lead, 3).await[2], FOLLOW_UP_2);

    // The last follow-up stays unanswered for one more delay.
    timer_is(&app, key, &lead, "unresponsive", monday_morning() + day * 3).await;
    app.clock.set(monday_morning() + day * 3);
    status_becomes(&app, key, &lead, "unresponsive").await;
    no_timer(&app, key, &lead).await;
    let shown = app.get(key, &format!("/api/v1/leads/{lead}")).await.body;
    assert_eq!(shown["follow_ups_sent"], 2);
    assert!(shown["next_action"].is_null());
    app.clock.set(monday_morning() + day * 10);
    still_sent(&app, key, &lead, 3).await;
    app.stop().await;
}

#[tokio::test]
async fn a_reply_cancels_the_follow_ups_left() {
    let app = TestApp::spawn().await;
    app.clock.set(monday_morning());
    let tenant = tenant_in(&app, "Reply", "Europe/London").await;
    let key = tenant.key.as_str();
    let workflow = active_workflow(&app, key, json!({})).await;
    let lead = capture(&app, key, &workflow, "+44 7700 900401").await;
    sandbox_shows(&app, key, &lead, 1).await;
    let day = chrono::Duration::hours(24);
    app.clock.set(monday_morning() + day);
    sandbox_shows(&app, key, &lead, 2).await;

    inbound(&app, key, &lead, "Who is this?").await;
    status_becomes(&app, key, &lead, "in_conversation").await;
    no_timer(&app, key, &lead).await;
    app.clock.set(monday_morning() + day * 6);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let follow_ups = conversation_events(&app, &lead, "OutboundMessageQueued")
        .await
        .into_iter()
        .filter(|event| event["origin"] == "follow_up")
        .count();
    assert_eq!(follow_ups, 1);
    app.stop().await;
}

#[tokio::test]
async fn stop_cancels_every_follow_up() {
    let app = TestApp::spawn().await;
    app.clock.set(monday_morning());
    let tenant = tenant_in(&app, "Stop", "Europe/London").await;
    let key = tenant.key.as_str();
    let workflow = active_workflow(&app, key, json!({})).await;
    let lead = capture(&app, key, &workflow, "+44 7700 900501").await;
    sandbox_shows(&app, key, &lead, 1).await;
    timer_when(&app, key, &lead, "a follow-up", |t| t.is_some()).await;

    inbound(&app, key, &lead, "STOP").await;
    status_becomes(&app, key, &lead, "opted_out").await;
    no_timer(&app, key, &lead).await;
    app.clock.set(monday_morning() + chrono::Duration::days(6));
    // The opt-out confirmation, nothing after it.
    still_sent(&app, key, &lead, 2).await;
    app.stop().await;
}

#[tokio::test]
async fn a_paused_workflow_stops_its_timers_and_resuming_re_plans_them() {
    let app = TestApp::spawn().await;
    app.clock.set(monday_morning());
    let tenant = tenant_in(&app, "Pause", "Europe/London").await;
    let key = tenant.key.as_str();
    let workflow = active_workflow(&app, key, json!({})).await;
    let contacted = capture(&app, key, &workflow, "+44 7700 900601").await;
    sandbox_shows(&app, key, &contacted, 1).await;

    post_ok(
        &app,
        key,
        &format!("/api/v1/workflows/{workflow}/pause"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    no_timer(&app, key, &contacted).await;
    // Captured while paused: no outreach either.
    let waiting = capture(&app, key, &workflow, "+44 7700 900602").await;
    let day = chrono::Duration::hours(24);
    app.clock.set(monday_morning() + day * 2);
    still_sent(&app, key, &contacted, 1).await;
    assert!(sandbox(&app, key, &waiting).await.is_empty());
    assert!(scheduled(&app, key, &format!("workflow_id={workflow}"))
        .await
        .is_empty());

    // Resumed on Wednesday: what fell due meanwhile is due now, once.
    let resumed_at = app.clock.now();
    post_ok(
        &app,
        key,
        &format!("/api/v1/workflows/{workflow}/resume"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        sandbox_shows(&app, key, &contacted, 2).await[1],
        FOLLOW_UP_1
    );
    assert_eq!(sandbox_shows(&app, key, &waiting, 1).await, [OUTREACH]);
    timer_is(&app, key, &contacted, "follow_up", resumed_at + day).await;
    app.stop().await;
}

#[tokio::test]
async fn an_overdue_follow_up_is_re_planned_instead_of_sent_late_in_a_burst() {
    let app = TestApp::spawn().await;
    app.clock.set(monday_morning());
    let tenant = tenant_in(&app, "Outage", "Europe/London").await;
    let key = tenant.key.as_str();
    let workflow = active_workflow(&app, key, json!({})).await;
    let lead = capture(&app, key, &workflow, "+44 7700 900701").await;
    sandbox_shows(&app, key, &lead, 1).await;

    // The workers were down from before the follow-up fell due (Tuesday 10:00) until 13:00.
    let back = at("2026-03-31T13:00:00Z");
    app.clock.set(back);
    let timer = timer_when(&app, &tenant.key, &lead, "a re-planned follow-up", |t| {
        t.is_some_and(|t| instant(&t["due_at"]) > back)
    })
    .await
    .unwrap();
    let due = instant(&timer["due_at"]);
    assert!(due <= back + chrono::Duration::minutes(15) + chrono::Duration::seconds(1));
    still_sent(&app, key, &lead, 1).await;
    let deferred: Vec<Value> = sqlx::query_scalar(
        "SELECT payload::jsonb -> 'LeadEngagementDeferred' FROM events \
         WHERE aggregate_id = $1 AND event_type = 'LeadEngagementDeferred'",
    )
    .bind(&lead)
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(deferred.len(), 1);
    assert_eq!(deferred[0]["reason"], "overdue");
    assert_eq!(deferred[0]["step"], 1);

    app.clock.set(due);
    assert_eq!(sandbox_shows(&app, key, &lead, 2).await[1], FOLLOW_UP_1);
    app.stop().await;
}

#[tokio::test]
async fn the_scheduled_list_filters_pages_and_stays_in_its_tenant() {
    let app = TestApp::spawn().await;
    // Saturday: every outreach waits for Monday 08:00 UTC.
    app.clock.set(at("2026-03-28T12:00:00Z"));
    let tenant = tenant_in(&app, "Listing", "Europe/London").await;
    let key = tenant.key.as_str();
    let first = active_workflow(&app, key, json!({})).await;
    let second = active_workflow(&app, key, json!({"name": "Second"})).await;
    let mut leads = Vec::new();
    for n in 0..3 {
        leads.push(capture(&app, key, &first, &format!("+44 7700 90080{n}")).await);
    }
    let other = capture(&app, key, &second, "+44 7700 900809").await;
    let opening = at("2026-03-30T08:00:00Z");
    for lead in leads.iter().chain([&other]) {
        timer_is(&app, key, lead, "outreach", opening).await;
    }

    let all = scheduled(&app, key, "").await;
    assert_eq!(all.len(), 4);
    assert!(all
        .iter()
        .all(|item| item["kind"] == "outreach" && item["step"] == 0));
    assert_eq!(
        scheduled(&app, key, &format!("workflow_id={first}"))
            .await
            .len(),
        3
    );
    let one = scheduled(&app, key, &format!("lead_id={other}")).await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["workflow_id"], second.as_str());
    assert_eq!(one[0]["channel"], "sms");
    assert!(scheduled(&app, key, "kind=follow_up").await.is_empty());
    assert_eq!(scheduled(&app, key, "kind=outreach").await.len(), 4);
    assert!(scheduled(&app, key, "due_to=2026-03-30T08:00:00Z")
        .await
        .is_empty());
    assert_eq!(
        scheduled(&app, key, "due_from=2026-03-30T08:00:00Z&due_to=2026-03-31")
            .await
            .len(),
        4
    );

    let page = app.get(key, "/api/v1/scheduled?limit=3").await.body;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app
        .get(key, &format!("/api/v1/scheduled?limit=3&cursor={cursor}"))
        .await
        .body;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let mut ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .map(|item| item["lead_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = leads.iter().chain([&other]).map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);

    for (query, field) in [
        ("lead_id=nope", "lead_id"),
        ("workflow_id=42", "workflow_id"),
        ("due_from=tomorrow", "due_from"),
        ("due_from=2026-04-02&due_to=2026-04-01", "due_from"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=zz", "cursor"),
    ] {
        let reply = app.get(key, &format!("/api/v1/scheduled?{query}")).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            reply.text
        );
        assert_eq!(reply.error_field(), Some(field), "{query}");
    }
    let reply = app.get(key, "/api/v1/scheduled?kind=later").await;
    assert!(reply.status.is_client_error(), "{}", reply.text);

    let stranger = tenant_in(&app, "Stranger", "Europe/London").await;
    assert!(scheduled(&app, &stranger.key, "").await.is_empty());
    assert!(scheduled(&app, &stranger.key, &format!("lead_id={other}"))
        .await
        .is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_sequence_runs_its_steps_at_their_own_delays_with_the_ai_writing_its_step() {
    let app = TestApp::spawn().await;
    app.clock.set(monday_morning());
    let tenant = tenant_in(&app, "Sequence", "Europe/London").await;
    let key = tenant.key.as_str();
    let workflow = active_workflow(
        &app,
        key,
        json!({
            "follow_up_templates": [],
            "qualification_questions": [
                {"key": "homeowner", "question": "Do you own your home?", "qualifying_answers": ["Yes"]}
            ],
            "follow_up_steps": [
                {"delay_hours": 2, "message": {"kind": "template", "template": "Quick one, {first_name}: still interested?"}},
                {"delay_hours": 3, "message": {"kind": "ai"}}
            ]
        }),
    )
    .await;
    let lead = capture(&app, key, &workflow, "+44 7700 900901").await;
    sandbox_shows(&app, key, &lead, 1).await;
    let hours = chrono::Duration::hours;

    timer_is(&app, key, &lead, "follow_up", monday_morning() + hours(2)).await;
    app.clock.set(monday_morning() + hours(2));
    assert_eq!(
        sandbox_shows(&app, key, &lead, 2).await[1],
        "Quick one, Sam: still interested?"
    );
    timer_is(&app, key, &lead, "follow_up", monday_morning() + hours(5)).await;
    app.clock.set(monday_morning() + hours(5));
    // Written by the rules engine (no model configured): the last follow-up re-asks the question.
    assert_eq!(
        sandbox_shows(&app, key, &lead, 3).await[2],
        "Hi Sam, this is our last follow-up — Do you own your home?"
    );
    let written = conversation_events(&app, &lead, "AiFollowUpWritten").await;
    assert_eq!(written.len(), 1);
    assert_eq!(written[0]["number"], 2);
    assert_eq!(written[0]["of"], 2);
    assert_eq!(written[0]["engine"], "rules");
    let shown = eventually("the follow-up's AI work shown", WAIT, || async {
        conversation(&app, key, &lead).await["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["ai_follow_up"].is_object())
            .cloned()
    })
    .await;
    assert_eq!(shown["origin"], "follow_up");
    assert_eq!(shown["ai_follow_up"]["engine"], "rules");
    assert_eq!(shown["ai_follow_up"]["cost_micros"], 0);

    // The last step's delay again, then unresponsive.
    timer_is(
        &app,
        key,
        &lead,
        "unresponsive",
        monday_morning() + hours(8),
    )
    .await;
    app.clock.set(monday_morning() + hours(8));
    status_becomes(&app, key, &lead, "unresponsive").await;
    app.stop().await;
}

#[tokio::test]
async fn a_queued_outreach_waiting_for_its_window_is_cancelled_by_a_pause_or_a_reply() {
    let app = TestApp::spawn().await;
    // Saturday: the outreach an operator sends waits in the outbox for Monday's opening.
    app.clock.set(at("2026-03-28T12:00:00Z"));
    let tenant = tenant_in(&app, "Waiting", "Europe/London").await;
    let key = tenant.key.as_str();
    let paused = active_workflow(&app, key, json!({})).await;
    let other = active_workflow(&app, key, json!({"name": "Other"})).await;
    let in_paused = capture(&app, key, &paused, "+44 7700 901001").await;
    let replying = capture(&app, key, &other, "+44 7700 901002").await;
    for lead in [&in_paused, &replying] {
        timer_is(&app, key, lead, "outreach", at("2026-03-30T08:00:00Z")).await;
        post_ok(
            &app,
            key,
            &format!("/api/v1/leads/{lead}/outreach"),
            json!({}),
            StatusCode::ACCEPTED,
        )
        .await;
    }
    for lead in [&in_paused, &replying] {
        eventually("the outreach deferred", WAIT, || async {
            let items = scheduled(&app, key, &format!("lead_id={lead}&kind=message")).await;
            items
                .iter()
                .any(|item| instant(&item["due_at"]) == at("2026-03-30T08:00:00Z"))
                .then_some(())
        })
        .await;
    }
    post_ok(
        &app,
        key,
        &format!("/api/v1/workflows/{paused}/pause"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    inbound(&app, key, &replying, "Is this about the solar panels?").await;
    status_becomes(&app, key, &replying, "in_conversation").await;

    app.clock.set(at("2026-03-30T08:00:00Z"));
    for (lead, reason) in [
        (&in_paused, "workflow_not_active"),
        (&replying, "lead_moved_on"),
    ] {
        let cancelled = eventually("the outreach cancelled", WAIT, || async {
            conversation(&app, key, lead).await["messages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["origin"] == "outreach" && m["status"] == "cancelled")
                .cloned()
        })
        .await;
        assert_eq!(cancelled["reason"], reason);
    }
    assert!(sandbox(&app, key, &in_paused).await.is_empty());
    assert!(!sandbox(&app, key, &replying)
        .await
        .iter()
        .any(|text| text == OUTREACH));
    app.stop().await;
}

#[tokio::test]
async fn a_whatsapp_step_that_could_only_be_refused_is_passed_over_not_retried_forever() {
    let app = TestApp::spawn().await;
    app.clock.set(monday_morning());
    let tenant = tenant_in(&app, "WhatsApp", "Europe/London").await;
    let key = tenant.key.as_str();
    let workflow = active_workflow(&app, key, json!({"channel": "whatsapp"})).await;
    let lead = capture(&app, key, &workflow, "+44 7700 901101").await;

    // Free text to a lead who never wrote is refused by WhatsApp: the outreach is passed over
    // once, and the plan moves on to the first follow-up a delay later.
    timer_is(
        &app,
        key,
        &lead,
        "follow_up",
        monday_morning() + chrono::Duration::hours(24),
    )
    .await;
    still_sent(&app, key, &lead, 0).await;
    let skipped: Vec<Value> = sqlx::query_scalar(
        "SELECT payload::jsonb -> 'LeadEngagementSkipped' FROM events \
         WHERE aggregate_id = $1 AND event_type = 'LeadEngagementSkipped'",
    )
    .bind(&lead)
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["step"], 0);
    assert_eq!(skipped[0]["reason"], "whatsapp_window_closed");
    app.stop().await;
}
