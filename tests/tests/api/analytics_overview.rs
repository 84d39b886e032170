//! `GET /api/v1/analytics`: a tenant's all-time overview end to end. Two tenants' leads are
//! captured, moved between workflows, given statuses and opted out over HTTP; AI answers, sent
//! replies and appointments are written by executing commands against the app's database, with
//! the messaging workers off so nothing else moves. Every figure of the answer — per tenant and
//! per workflow — equals an independent recount over the raw `events` table; the latest
//! activity is the activity feed's first page of ten; another tenant sees none of it, and a
//! request without a key is refused.

use std::collections::{BTreeMap, BTreeSet};

use bookerbot_tests::tenant_ctx;
use chrono::{DateTime, Duration, Utc};
use domain::conversation::{
    AiTurn, Conversation, ConversationCommand, ConversationId, Intent, MessageContent,
    MessagePricing,
};
use domain::values::{AppointmentId, LeadId, MessageId, Price, TenantId, Timezone};
use domain::{Appointment, AppointmentCommand, CalendarRef, Channel};
use infrastructure::executor::{CommandExecutor, Existence};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::TestApp;

const NIL: &str = "00000000-0000-0000-0000-000000000000";

/// Runs conversation and appointment commands, remembering the last position written.
struct Writer {
    executor: CommandExecutor,
    position: i64,
}

impl Writer {
    async fn conversation(
        &mut self,
        tenant: &str,
        lead: &str,
        channel: Channel,
        command: ConversationCommand,
    ) {
        let lead: LeadId = lead.parse().unwrap();
        let committed = self
            .executor
            .execute::<Conversation>(
                &tenant_ctx(tenant.parse::<TenantId>().unwrap()),
                &ConversationId::new(lead, channel).to_string(),
                Existence::MayCreate,
                command,
            )
            .await
            .unwrap_or_else(|error| panic!("a conversation command failed: {error}"));
        self.position = committed.position.unwrap_or(self.position);
    }

    /// The lead writes on `channel`, the AI answers with `model`, these tokens and cost, and
    /// the answer is sent when `sent`; returns the answer.
    #[allow(clippy::too_many_arguments)]
    async fn answered(
        &mut self,
        tenant: &str,
        lead: &str,
        channel: Channel,
        model: &str,
        tokens: (u32, u32, u32),
        cost_micros: i64,
        sent: bool,
    ) -> MessageId {
        let at: DateTime<Utc> = Utc::now();
        let lead_id: LeadId = lead.parse().unwrap();
        let question = MessageId::new();
        let inbound = ConversationCommand::ReceiveInbound {
            lead_id,
            channel,
            message_id: question,
            provider: "twilio".into(),
            provider_message_id: format!("SM{}", question.as_uuid().simple()),
            body: "Any times?".into(),
            received_at: at,
            engage_ai: true,
        };
        self.conversation(tenant, lead, channel, inbound).await;
        let reply = MessageId::new();
        let (input_tokens, cached_input_tokens, output_tokens) = tokens;
        let turn = ConversationCommand::RecordAiTurn {
            turn: AiTurn {
                in_reply_to: question,
                engine: "openai".into(),
                model: model.into(),
                input_tokens,
                cached_input_tokens,
                output_tokens,
                cost_micros,
                price_version: "2026-01".into(),
                latency_ms: 200,
                intent: Intent::Question,
                answers: BTreeMap::new(),
                reply_message_id: Some(reply),
                at,
            },
            reply: Some(MessageContent::text("3pm?").unwrap()),
        };
        self.conversation(tenant, lead, channel, turn).await;
        if sent {
            let sent = ConversationCommand::RecordSent {
                message_id: reply,
                provider: "twilio".into(),
                provider_message_id: format!("SM{}", reply.as_uuid().simple()),
                sent_at: at,
            };
            self.conversation(tenant, lead, channel, sent).await;
        }
        reply
    }

    /// A provider prices the lead's SMS `message`: an amount, or whether it bills.
    async fn priced(
        &mut self,
        tenant: &str,
        lead: &str,
        message: MessageId,
        price: Option<Price>,
        billable: Option<bool>,
    ) {
        let command = ConversationCommand::RecordMessagePrice {
            message_id: message,
            provider: "twilio".into(),
            pricing: MessagePricing::new(price, billable, Some("service")),
            at: Utc::now(),
        };
        self.conversation(tenant, lead, Channel::Sms, command).await;
    }

    /// Books an appointment of the lead under `workflow` and marks it completed or a no-show.
    async fn appointment(&mut self, tenant: &str, lead: &str, workflow: &str, completed: bool) {
        let id = AppointmentId::new().to_string();
        // Booked three hours ago for an hour later, so it can be marked now.
        let now = Utc::now();
        let booked_at = now - Duration::hours(3);
        let start = booked_at + Duration::hours(1);
        let book = AppointmentCommand::Book {
            lead_id: lead.parse().unwrap(),
            workflow_id: workflow.parse().unwrap(),
            start,
            end: start + Duration::minutes(30),
            timezone: Timezone::parse("Europe/London").unwrap(),
            calendar: CalendarRef::builtin(),
            location: None,
            meeting_link: None,
            notes: String::new(),
            reminder_offsets_minutes: Vec::new(),
            now: booked_at,
        };
        let mark = if completed {
            AppointmentCommand::Complete { at: now }
        } else {
            AppointmentCommand::MarkNoShow { at: now }
        };
        let ctx = tenant_ctx(tenant.parse::<TenantId>().unwrap());
        for command in [book, mark] {
            let committed = self
                .executor
                .execute::<Appointment>(&ctx, &id, Existence::MayCreate, command)
                .await
                .unwrap_or_else(|error| panic!("an appointment command failed: {error}"));
            self.position = committed.position.unwrap_or(self.position);
        }
    }
}

/// Captures a lead over HTTP, in `workflow` if given; returns its id.
async fn capture(app: &TestApp, key: &str, n: u32, workflow: Option<&str>) -> String {
    let mut body =
        json!({"first_name": format!("Lead{n}"), "phone": format!("+44 7700 9004{n:02}")});
    if let Some(workflow) = workflow {
        body["workflow_id"] = json!(workflow);
    }
    app.capture_new(key, body).await.0
}

/// Overrides a lead's status over HTTP; returns the position.
async fn set_status(app: &TestApp, key: &str, lead: &str, status: &str) -> i64 {
    let reply = app
        .post(
            key,
            &format!("/api/v1/leads/{lead}/status"),
            json!({"status": status, "reason": "called the office"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["position"].as_i64().unwrap()
}

/// Every lead event setting a status, with the status and the lead's workflow then (the latest
/// capture or assignment up to it; nil when none), of tenant `$1`.
const LEAD_MOVES: &str = "\
    SELECT m.lead, m.global_position, m.status, \
           COALESCE((SELECT (l.payload -> l.event_type ->> 'workflow_id')::uuid \
                     FROM events l \
                     WHERE l.aggregate_type = 'lead' AND l.aggregate_id = m.lead \
                       AND l.event_type IN ('LeadCaptured', 'LeadWorkflowAssigned') \
                       AND l.global_position <= m.global_position \
                     ORDER BY l.global_position DESC LIMIT 1), \
                    '00000000-0000-0000-0000-000000000000'::uuid) AS workflow_id \
    FROM (SELECT e.aggregate_id AS lead, e.global_position, \
                 CASE e.event_type \
                   WHEN 'LeadCaptured' THEN 'captured' \
                   WHEN 'LeadOptedOut' THEN 'opted_out' \
                   ELSE e.payload -> e.event_type ->> 'to' END AS status \
          FROM events e \
          WHERE e.tenant_id = $1 AND e.aggregate_type = 'lead' \
            AND e.event_type IN ('LeadCaptured', 'LeadStatusChanged', 'LeadStatusOverridden', \
                                 'LeadOptedOut', 'LeadResubscribed')) m";

/// The stages each status reaches (the product's definitions, written out again here).
const STAGE_OF: &str = "(VALUES ('captured', 'captured'), ('contacted', 'contacted'), \
    ('in_conversation', 'contacted'), ('in_conversation', 'replied'), \
    ('qualified', 'contacted'), ('qualified', 'replied'), ('qualified', 'qualified'), \
    ('booked', 'contacted'), ('booked', 'replied'), ('booked', 'booked'), \
    ('opted_out', 'opted_out'), ('unresponsive', 'unresponsive'), \
    ('handed_off', 'handed_off')) AS s(status, stage)";

/// Per workflow: leads that reached each stage (counted under the workflow of their first time)
/// and appointment marks (under the workflow they were booked through).
async fn reached(pool: &PgPool, tenant: &str) -> BTreeMap<(String, String), i64> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(&format!(
        "SELECT workflow_id::text, stage, COUNT(*)::int8 FROM ( \
           SELECT DISTINCT ON (m.lead, s.stage) m.workflow_id, s.stage \
           FROM ({LEAD_MOVES}) m JOIN {STAGE_OF} ON s.status = m.status \
           ORDER BY m.lead, s.stage, m.global_position) firsts \
         GROUP BY 1, 2 \
         UNION ALL \
         SELECT (b.payload -> 'AppointmentBooked' ->> 'workflow_id'), \
                CASE a.event_type WHEN 'AppointmentCompleted' THEN 'completed' ELSE 'no_show' END, \
                COUNT(*)::int8 \
         FROM events a JOIN events b ON b.aggregate_type = 'appointment' \
           AND b.aggregate_id = a.aggregate_id AND b.event_type = 'AppointmentBooked' \
         WHERE a.tenant_id = $1 AND a.aggregate_type = 'appointment' \
           AND a.event_type IN ('AppointmentCompleted', 'AppointmentNoShow') \
         GROUP BY 1, 2"
    ))
    .bind(tenant.parse::<Uuid>().unwrap())
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().map(|(w, s, n)| ((w, s), n)).collect()
}

/// Leads per workflow now: each lead under its latest capture or assignment.
async fn leads_now(pool: &PgPool, tenant: &str) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT COALESCE(workflow, '00000000-0000-0000-0000-000000000000'), COUNT(*)::int8 \
         FROM (SELECT DISTINCT ON (aggregate_id) payload -> event_type ->> 'workflow_id' AS workflow \
               FROM events WHERE tenant_id = $1 AND aggregate_type = 'lead' \
                 AND event_type IN ('LeadCaptured', 'LeadWorkflowAssigned') \
               ORDER BY aggregate_id, global_position DESC) last \
         GROUP BY 1",
    )
    .bind(tenant.parse::<Uuid>().unwrap())
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().collect()
}

/// AI calls per workflow (the lead's workflow at the call): calls, tokens (input + output),
/// cost, and the conversations that spent (ids, to count per workflow and in all).
async fn ai_calls(
    pool: &PgPool,
    tenant: &str,
) -> BTreeMap<String, (i64, i64, i64, BTreeSet<String>)> {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT COALESCE((SELECT l.payload -> l.event_type ->> 'workflow_id' \
                          FROM events l \
                          WHERE l.aggregate_type = 'lead' \
                            AND l.aggregate_id = split_part(e.aggregate_id, ':', 1) \
                            AND l.event_type IN ('LeadCaptured', 'LeadWorkflowAssigned') \
                            AND l.global_position < e.global_position \
                          ORDER BY l.global_position DESC LIMIT 1), \
                         '00000000-0000-0000-0000-000000000000'), \
                e.aggregate_id, \
                (e.payload -> e.event_type ->> 'input_tokens')::int8 \
                  + (e.payload -> e.event_type ->> 'output_tokens')::int8, \
                (e.payload -> e.event_type ->> 'cost_micros')::int8 \
         FROM events e \
         WHERE e.tenant_id = $1 AND e.aggregate_type = 'conversation' \
           AND e.event_type IN ('AiTurnRecorded', 'AiFollowUpWritten')",
    )
    .bind(tenant.parse::<Uuid>().unwrap())
    .fetch_all(pool)
    .await
    .unwrap();
    let mut calls: BTreeMap<String, (i64, i64, i64, BTreeSet<String>)> = BTreeMap::new();
    for (workflow, conversation, tokens, cost) in rows {
        let entry = calls.entry(workflow).or_default();
        entry.0 += 1;
        entry.1 += tokens;
        entry.2 += cost;
        entry.3.insert(conversation);
    }
    calls
}

/// A price report: channel, currency, billable, amount.
type PriceReport = (String, Option<String>, Option<bool>, Option<i64>);

/// A channel's received, sent, priced and billable messages and amounts per currency.
type ChannelRecount = (i64, i64, i64, i64, BTreeMap<String, i64>);

/// Messages per channel as the overview shows them: received, sent, and the prices reported.
async fn messaging(pool: &PgPool, tenant: &str) -> Vec<Value> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT split_part(aggregate_id, ':', 2), event_type, COUNT(*)::int8 FROM events \
         WHERE tenant_id = $1 AND aggregate_type = 'conversation' \
           AND event_type IN ('InboundMessageReceived', 'OutboundMessageSent') \
         GROUP BY 1, 2",
    )
    .bind(tenant.parse::<Uuid>().unwrap())
    .fetch_all(pool)
    .await
    .unwrap();
    let prices: Vec<PriceReport> = sqlx::query_as(
        "SELECT split_part(aggregate_id, ':', 2), p ->> 'currency', (p ->> 'billable')::boolean, \
                (p ->> 'amount_micros')::int8 \
         FROM (SELECT aggregate_id, payload -> 'OutboundMessagePriced' AS p FROM events \
               WHERE tenant_id = $1 AND aggregate_type = 'conversation' \
                 AND event_type = 'OutboundMessagePriced') e",
    )
    .bind(tenant.parse::<Uuid>().unwrap())
    .fetch_all(pool)
    .await
    .unwrap();
    let mut by_channel: BTreeMap<String, ChannelRecount> = BTreeMap::new();
    for (channel, kind, count) in rows {
        let entry = by_channel.entry(channel).or_default();
        if kind == "InboundMessageReceived" {
            entry.0 += count;
        } else {
            entry.1 += count;
        }
    }
    for (channel, currency, billable, amount) in prices {
        let entry = by_channel.entry(channel).or_default();
        entry.2 += 1;
        entry.3 += i64::from(billable == Some(true));
        if let Some(currency) = currency {
            *entry.4.entry(currency).or_default() += amount.unwrap_or(0);
        }
    }
    by_channel
        .into_iter()
        .map(|(channel, (received, sent, priced, billable, amounts))| {
            let amounts: Vec<Value> = amounts
                .into_iter()
                .map(|(currency, micros)| {
                    json!({"currency": currency, "amount_micros": micros, "amount": decimal(micros)})
                })
                .collect();
            json!({
                "channel": channel, "received": received, "sent": sent, "priced": priced,
                "billable": billable, "amounts": amounts,
            })
        })
        .collect()
}

/// Non-negative micro-units as a decimal string with six places.
fn decimal(micros: i64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// `part / whole` to four decimals, `null` without a positive denominator.
fn rate(part: i64, whole: i64) -> Value {
    if whole <= 0 {
        return Value::Null;
    }
    #[allow(clippy::cast_precision_loss)]
    let ratio = part as f64 / whole as f64;
    json!((ratio * 10_000.0).round() / 10_000.0)
}

fn rates(get: &dyn Fn(&str) -> i64) -> Value {
    let (contacted, replied, qualified) = (get("contacted"), get("replied"), get("qualified"));
    let (booked, opted_out) = (get("booked"), get("opted_out"));
    let (completed, no_show) = (get("completed"), get("no_show"));
    json!({
        "response_rate": rate(replied, contacted),
        "qualification_rate": rate(qualified, contacted - opted_out),
        "booking_rate": rate(booked, qualified),
        "opt_out_rate": rate(opted_out, contacted),
        "show_rate": rate(completed, completed + no_show),
    })
}

fn ai_usage(calls: i64, tokens: i64, cost: i64, conversations: i64) -> Value {
    #[allow(clippy::cast_precision_loss)]
    let average = (conversations > 0).then(|| tokens as f64 / conversations as f64);
    json!({
        "total_tokens": tokens,
        "total_cost": decimal(cost),
        "cost_micros": cost,
        "calls": calls,
        "conversations": conversations,
        "average_tokens_per_conversation": average,
    })
}

/// The overview the events say `tenant` has, `recent_activity` aside.
async fn recount(app: &TestApp, tenant: &str, names: &BTreeMap<String, String>) -> Value {
    let pool = app.db.pool();
    let reached = reached(pool, tenant).await;
    let leads = leads_now(pool, tenant).await;
    let calls = ai_calls(pool, tenant).await;
    let workflows: BTreeSet<String> = reached
        .keys()
        .map(|(w, _)| w.clone())
        .chain(leads.keys().cloned())
        .chain(calls.keys().cloned())
        .collect();
    let overview = |leads: i64, get: &dyn Fn(&str) -> i64| {
        json!({
            "total_contacts": leads,
            "contacted": get("contacted"),
            "qualified": get("qualified"),
            "booked": get("booked"),
            "opted_out": get("opted_out"),
        })
    };
    let by_workflow: Vec<Value> = workflows
        .iter()
        .map(|workflow| {
            let get = |stage: &str| {
                reached
                    .get(&(workflow.clone(), stage.to_owned()))
                    .copied()
                    .unwrap_or(0)
            };
            let (n, tokens, cost, conversations) = calls.get(workflow).cloned().unwrap_or_default();
            json!({
                "workflow_id": workflow,
                "name": names.get(workflow),
                "overview": overview(leads.get(workflow).copied().unwrap_or(0), &get),
                "rates": rates(&get),
                "ai_usage": ai_usage(n, tokens, cost, conversations.len() as i64),
            })
        })
        .collect();
    let all = |stage: &str| {
        reached
            .iter()
            .filter(|((_, s), _)| s == stage)
            .map(|(_, n)| n)
            .sum::<i64>()
    };
    let spent: BTreeSet<&String> = calls.values().flat_map(|c| c.3.iter()).collect();
    let (n, tokens, cost) = calls
        .values()
        .fold((0, 0, 0), |(a, b, c), v| (a + v.0, b + v.1, c + v.2));
    let messaging = messaging(pool, tenant).await;
    json!({
        "overview": overview(leads.values().sum(), &all),
        "rates": rates(&all),
        "ai_usage": ai_usage(n, tokens, cost, spent.len() as i64),
        "messaging": messaging,
        "by_workflow": by_workflow,
    })
}

#[tokio::test]
async fn the_overview_equals_a_recount_of_the_events_per_tenant_and_workflow() {
    use Channel::{Sms, Whatsapp};
    let app = TestApp::spawn_with(|settings| settings.run_workers = false).await;
    let acme = app.create_tenant("Acme").await;
    let other = app.create_tenant("Other").await;
    let spring = app.create_workflow(&acme.key, "Spring").await;
    let summer = app.create_workflow(&acme.key, "Summer").await;
    let theirs = app.create_workflow(&other.key, "Theirs").await;
    let mut w = Writer {
        executor: CommandExecutor::new(app.db.pool().clone(), 10),
        position: 0,
    };
    // Ada (Spring) goes all the way to booked; her appointment is attended.
    let ada = capture(&app, &acme.key, 1, Some(&spring)).await;
    for status in ["contacted", "in_conversation", "qualified", "booked"] {
        set_status(&app, &acme.key, &ada, status).await;
    }
    let reply = w
        .answered(
            &acme.id,
            &ada,
            Sms,
            "gpt-4o",
            (1_200, 1_000, 80),
            1_234,
            true,
        )
        .await;
    let price = Price::from_micros(7_500, "USD").unwrap();
    w.priced(&acme.id, &ada, reply, Some(price), None).await;
    w.answered(
        &acme.id,
        &ada,
        Whatsapp,
        "gpt-4o-mini",
        (900, 0, 40),
        333,
        false,
    )
    .await;
    w.appointment(&acme.id, &ada, &spring, true).await;
    // Bob is contacted in Spring, spends there, moves to Summer, spends again in the same
    // conversation and qualifies there; his appointment is missed.
    let bob = capture(&app, &acme.key, 2, Some(&spring)).await;
    set_status(&app, &acme.key, &bob, "contacted").await;
    let reply = w
        .answered(
            &acme.id,
            &bob,
            Sms,
            "gpt-4o",
            (2_000, 0, 150),
            2_999_999,
            true,
        )
        .await;
    w.priced(&acme.id, &bob, reply, None, Some(true)).await;
    let moved = app
        .patch(
            &acme.key,
            &format!("/api/v1/leads/{bob}"),
            json!({"workflow_id": summer}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    w.answered(
        &acme.id,
        &bob,
        Sms,
        "gpt-4o",
        (1_000, 500, 60),
        1_000_001,
        true,
    )
    .await;
    set_status(&app, &acme.key, &bob, "qualified").await;
    w.appointment(&acme.id, &bob, &summer, false).await;
    // Cy (no workflow) is contacted and opts out; Dee (Summer) is only captured.
    let cy = capture(&app, &acme.key, 3, None).await;
    set_status(&app, &acme.key, &cy, "contacted").await;
    let opted = app
        .post(
            &acme.key,
            &format!("/api/v1/leads/{cy}/opt-out"),
            json!({"reason": "asked by phone"}),
        )
        .await;
    assert_eq!(opted.status, StatusCode::OK, "{}", opted.text);
    capture(&app, &acme.key, 4, Some(&summer)).await;
    let acme_at = w.position.max(opted.body["position"].as_i64().unwrap());
    // The other tenant: Eve is contacted, spends and is handed off.
    let eve = capture(&app, &other.key, 5, Some(&theirs)).await;
    set_status(&app, &other.key, &eve, "contacted").await;
    w.answered(&other.id, &eve, Sms, "claude-3", (800, 0, 50), 999, true)
        .await;
    let other_at = set_status(&app, &other.key, &eve, "handed_off")
        .await
        .max(w.position);

    let names_acme = BTreeMap::from([
        (spring.clone(), "Spring".to_owned()),
        (summer.clone(), "Summer".to_owned()),
    ]);
    let names_other = BTreeMap::from([(theirs.clone(), "Theirs".to_owned())]);
    for (tenant, key, at, names) in [
        (&acme, &acme.key, acme_at, &names_acme),
        (&other, &other.key, other_at, &names_other),
    ] {
        let reply = app
            .get(key, &format!("/api/v1/analytics?min_position={at}"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let mut body = reply.body.clone();
        let recent = body
            .as_object_mut()
            .unwrap()
            .remove("recent_activity")
            .unwrap();
        assert_eq!(
            body,
            recount(&app, &tenant.id, names).await,
            "{}",
            tenant.id
        );
        // The latest activity is the feed's first page of ten, all of this tenant's.
        let feed = app.get(key, "/api/v1/activity?limit=10").await;
        assert_eq!(recent, feed.body["items"]);
        let positions: Vec<i64> = recent
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["position"].as_i64().unwrap())
            .collect();
        let owned: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE tenant_id = $1 AND global_position = ANY($2)",
        )
        .bind(tenant.id.parse::<Uuid>().unwrap())
        .bind(&positions)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert_eq!(owned, positions.len() as i64);
    }

    // Figures worked out by hand, so the recount itself is checked.
    let acme_body = app.get(&acme.key, "/api/v1/analytics").await.body;
    assert_eq!(
        acme_body["overview"],
        json!({"total_contacts": 4, "contacted": 3, "qualified": 2, "booked": 1, "opted_out": 1})
    );
    assert_eq!(acme_body["rates"]["show_rate"], json!(0.5));
    assert_eq!(acme_body["ai_usage"]["conversations"], json!(3));
    assert_eq!(
        acme_body["ai_usage"]["cost_micros"],
        json!(1_234 + 333 + 2_999_999 + 1_000_001)
    );
    assert_eq!(acme_body["recent_activity"].as_array().unwrap().len(), 10);
    assert_eq!(
        acme_body["messaging"][0],
        json!({
            "channel": "sms", "received": 3, "sent": 3, "priced": 2, "billable": 1,
            "amounts": [{"currency": "USD", "amount_micros": 7_500, "amount": "0.007500"}],
        })
    );
    let summer_row = acme_body["by_workflow"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["workflow_id"] == json!(summer))
        .unwrap();
    assert_eq!(summer_row["name"], json!("Summer"));
    assert_eq!(summer_row["overview"]["total_contacts"], json!(2));
    assert_eq!(summer_row["ai_usage"]["cost_micros"], json!(1_000_001));
    assert!(acme_body["by_workflow"]
        .as_array()
        .unwrap()
        .iter()
        .any(|row| row["workflow_id"] == json!(NIL) && row["name"].is_null()));
    let other_body = app.get(&other.key, "/api/v1/analytics").await.body;
    assert_eq!(other_body["overview"]["total_contacts"], json!(1));
    assert_eq!(other_body["ai_usage"]["cost_micros"], json!(999));

    let anonymous = app
        .send(reqwest::Method::GET, "/api/v1/analytics", None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
