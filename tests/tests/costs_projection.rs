//! The AI cost read model, fed by real Lead and Conversation commands for two tenants, several
//! workflows (one lead moving between two, one in none), models (the rules engine among them)
//! and UTC days (calls a second either side of midnight): every stored figure, and every report
//! of the query for several ranges and groupings, equals an independent recount over the raw
//! `events` table, and so do the all-time tables (sums and distinct conversations per tenant and
//! workflow, messages per channel) and what the all-time query reads from them; the totals
//! equal the exact sums of what the test fed, to the micro-unit; and
//! the live model applied one event per batch equals rebuilds in one batch and three a batch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use bookerbot_tests::{
    assert_same_schemas, new_lead, query_difference, rebuild, tenant_ctx, wait_for_feed_to_settle,
    TestDb,
};
use chrono::{DateTime, NaiveDate, Utc};
use domain::conversation::{
    AiFollowUp, AiTurn, Conversation, ConversationCommand, ConversationEvent, ConversationId,
    Intent, MessageContent, MessageOrigin,
};
use domain::lead::{Lead, LeadCommand};
use domain::values::{LeadId, MessageId, TenantId, WorkflowId};
use domain::Channel;
use infrastructure::event_store::{append_many, NewEvents};
use infrastructure::executor::{CommandExecutor, Existence};
use infrastructure::metadata::EventMetadata;
use projections::costs::messages::{self, in_range, PriceSums};
use projections::costs::query::{costs, CostRow, CostSums, GroupBy};
use projections::costs::totals::totals;
use projections::costs::CostsProjection;
use projections::runner::{catch_up, prepare};
use projections::Target;
use sqlx::PgPool;
use uuid::Uuid;

const LIVE: &str = "live_costs";

fn t(raw: &str) -> DateTime<Utc> {
    raw.parse().unwrap()
}

fn day(raw: &str) -> NaiveDate {
    raw.parse().unwrap()
}

/// Writes a tenant's leads and conversations.
struct Writer {
    executor: CommandExecutor,
}

impl Writer {
    async fn lead(&self, tenant: TenantId, n: u32, workflow: Option<WorkflowId>) -> LeadId {
        let lead = LeadId::new();
        let mut new = new_lead(n);
        new.workflow_id = workflow;
        self.lead_command(tenant, lead, LeadCommand::CaptureLead(new))
            .await;
        lead
    }

    async fn lead_command(&self, tenant: TenantId, lead: LeadId, command: LeadCommand) {
        self.executor
            .execute::<Lead>(
                &tenant_ctx(tenant),
                &lead.to_string(),
                Existence::MayCreate,
                command,
            )
            .await
            .unwrap();
    }

    async fn run(
        &self,
        tenant: TenantId,
        lead: LeadId,
        channel: Channel,
        command: ConversationCommand,
    ) {
        self.executor
            .execute::<Conversation>(
                &tenant_ctx(tenant),
                &ConversationId::new(lead, channel).to_string(),
                Existence::MayCreate,
                command,
            )
            .await
            .unwrap_or_else(|error| panic!("a conversation command failed: {error}"));
    }

    /// The lead writes at `at`; the AI answers with `model` and these figures, and its reply
    /// is sent.
    #[allow(clippy::too_many_arguments)]
    async fn answered(
        &self,
        tenant: TenantId,
        lead: LeadId,
        channel: Channel,
        at: &str,
        model: &str,
        tokens: (u32, u32, u32),
        cost_micros: i64,
    ) {
        let at = t(at);
        let question = MessageId::new();
        self.run(
            tenant,
            lead,
            channel,
            ConversationCommand::ReceiveInbound {
                lead_id: lead,
                channel,
                message_id: question,
                provider: "twilio".into(),
                provider_message_id: format!("SM{}", question.as_uuid().simple()),
                body: "Any times?".into(),
                received_at: at,
                engage_ai: true,
            },
        )
        .await;
        let reply = MessageId::new();
        let (input_tokens, cached_input_tokens, output_tokens) = tokens;
        self.run(
            tenant,
            lead,
            channel,
            ConversationCommand::RecordAiTurn {
                turn: AiTurn {
                    in_reply_to: question,
                    engine: if model.is_empty() { "rules" } else { "openai" }.into(),
                    model: model.into(),
                    input_tokens,
                    cached_input_tokens,
                    output_tokens,
                    cost_micros,
                    price_version: "2026-01".into(),
                    latency_ms: 300,
                    intent: Intent::Question,
                    answers: BTreeMap::new(),
                    reply_message_id: Some(reply),
                    at,
                },
                reply: Some(MessageContent::text("3pm?").unwrap()),
            },
        )
        .await;
        self.run(
            tenant,
            lead,
            channel,
            ConversationCommand::RecordSent {
                message_id: reply,
                provider: "twilio".into(),
                provider_message_id: format!("SM{}", reply.as_uuid().simple()),
                sent_at: at,
            },
        )
        .await;
    }

    /// A provider's price report at `at` for a message of the lead's conversation on
    /// `channel`: appended as the conversation's next event (the projection takes prices as
    /// they come; the aggregate's once-per-message rule is the domain's to test).
    async fn priced(
        &self,
        tenant: TenantId,
        lead: LeadId,
        channel: Channel,
        at: &str,
        amount: Option<(i64, &str)>,
        billable: Option<bool>,
    ) {
        let id = ConversationId::new(lead, channel).to_string();
        let pool = self.executor.pool();
        let version: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(sequence), 0) FROM events \
             WHERE aggregate_type = 'conversation' AND aggregate_id = $1",
        )
        .bind(&id)
        .fetch_one(pool)
        .await
        .unwrap();
        let event = ConversationEvent::OutboundMessagePriced {
            message_id: MessageId::new(),
            provider: if billable.is_some() {
                "whatsapp_cloud"
            } else {
                "twilio"
            }
            .into(),
            amount_micros: amount.map(|(micros, _)| micros),
            currency: amount.map(|(_, currency)| currency.to_owned()),
            billable,
            category: billable.map(|_| "utility".to_owned()),
            at: t(at),
        };
        let mut tx = pool.begin().await.unwrap();
        let events = [event];
        append_many::<Conversation>(
            &mut tx,
            &[NewEvents {
                id: &id,
                version,
                events: &events,
            }],
            &EventMetadata::from_context(&tenant_ctx(tenant)),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    /// A follow-up written at `at` by `model` (the rules engine when empty), not sent.
    async fn follow_up(
        &self,
        tenant: TenantId,
        lead: LeadId,
        at: &str,
        model: &str,
        tokens: (u32, u32, u32),
        cost_micros: i64,
    ) {
        let at = t(at);
        let message_id = MessageId::new();
        self.run(
            tenant,
            lead,
            Channel::Sms,
            ConversationCommand::QueueOutbound {
                lead_id: lead,
                channel: Channel::Sms,
                message_id,
                content: MessageContent::text("Still keen?").unwrap(),
                origin: MessageOrigin::FollowUp,
                now: at,
            },
        )
        .await;
        let (input_tokens, cached_input_tokens, output_tokens) = tokens;
        self.run(
            tenant,
            lead,
            Channel::Sms,
            ConversationCommand::RecordAiFollowUp {
                follow_up: AiFollowUp {
                    message_id,
                    number: 1,
                    of: 2,
                    engine: if model.is_empty() { "rules" } else { "openai" }.into(),
                    model: model.into(),
                    input_tokens,
                    cached_input_tokens,
                    output_tokens,
                    cost_micros,
                    price_version: String::new(),
                    latency_ms: 5,
                    fallback_reason: None,
                    at,
                },
            },
        )
        .await;
    }
}

/// The recount of `message_prices_daily` (`by_day`) or `message_prices_totals`: priced
/// messages, billable ones and amounts per tenant, (UTC day of the report,) channel and
/// currency.
fn prices_recount(by_day: bool) -> String {
    let day = if by_day {
        "((p ->> 'at')::timestamptz AT TIME ZONE 'UTC')::date, "
    } else {
        ""
    };
    let groups = if by_day { "1, 2, 3, 4" } else { "1, 2, 3" };
    format!(
        "SELECT tenant_id, {day}split_part(aggregate_id, ':', 2), COALESCE(p ->> 'currency', ''), \
                COUNT(*)::int8, COUNT(*) FILTER (WHERE (p ->> 'billable')::boolean)::int8, \
                COALESCE(SUM((p ->> 'amount_micros')::int8), 0)::int8 \
         FROM (SELECT tenant_id, aggregate_id, payload -> 'OutboundMessagePriced' AS p \
               FROM events WHERE aggregate_type = 'conversation' \
                 AND event_type = 'OutboundMessagePriced') e \
         GROUP BY {groups}"
    )
}

/// AI calls of the `events` table, each with its lead's workflow at the time (the latest
/// capture or assignment before it), UTC day, model key and figures.
const AI_CALLS: &str = "\
    WITH ai AS ( \
      SELECT e.tenant_id, e.global_position, e.aggregate_id AS conversation_id, \
             split_part(e.aggregate_id, ':', 1) AS lead, \
             COALESCE(e.payload -> 'AiTurnRecorded', e.payload -> 'AiFollowUpWritten') AS p \
      FROM events e \
      WHERE e.aggregate_type = 'conversation' \
        AND e.event_type IN ('AiTurnRecorded', 'AiFollowUpWritten')) \
    SELECT ai.tenant_id, ai.conversation_id, \
           ((ai.p ->> 'at')::timestamptz AT TIME ZONE 'UTC')::date AS day, \
           COALESCE((SELECT COALESCE(l.payload -> 'LeadCaptured' ->> 'workflow_id', \
                                     l.payload -> 'LeadWorkflowAssigned' ->> 'workflow_id')::uuid \
                     FROM events l \
                     WHERE l.aggregate_type = 'lead' AND l.aggregate_id = ai.lead \
                       AND l.tenant_id = ai.tenant_id \
                       AND l.event_type IN ('LeadCaptured', 'LeadWorkflowAssigned') \
                       AND l.global_position < ai.global_position \
                     ORDER BY l.global_position DESC LIMIT 1), \
                    '00000000-0000-0000-0000-000000000000'::uuid) AS workflow_id, \
           COALESCE(NULLIF(ai.p ->> 'model', ''), 'rules') AS model, \
           (ai.p ->> 'input_tokens')::int8 AS input_tokens, \
           (ai.p ->> 'cached_input_tokens')::int8 AS cached_input_tokens, \
           (ai.p ->> 'output_tokens')::int8 AS output_tokens, \
           (ai.p ->> 'cost_micros')::int8 AS cost_micros \
    FROM ai";

/// The recount of `ai_costs_daily`, row for row.
fn daily_recount() -> String {
    format!(
        "SELECT tenant_id, day, workflow_id, model, COUNT(*)::int8, SUM(input_tokens)::int8, \
                SUM(cached_input_tokens)::int8, SUM(output_tokens)::int8, SUM(cost_micros)::int8, \
                COUNT(DISTINCT conversation_id)::int8 \
         FROM ({AI_CALLS}) c GROUP BY 1, 2, 3, 4"
    )
}

/// The recount of `messages_daily`: messages received and sent per UTC day and channel.
const MESSAGES_RECOUNT: &str = "\
    SELECT tenant_id, \
           (COALESCE(payload -> 'InboundMessageReceived' ->> 'received_at', \
                     payload -> 'OutboundMessageSent' ->> 'sent_at')::timestamptz \
            AT TIME ZONE 'UTC')::date, \
           split_part(aggregate_id, ':', 2), \
           CASE event_type WHEN 'InboundMessageReceived' THEN 'inbound' ELSE 'outbound' END, \
           COUNT(*)::int8 \
    FROM events \
    WHERE aggregate_type = 'conversation' \
      AND event_type IN ('InboundMessageReceived', 'OutboundMessageSent') \
    GROUP BY 1, 2, 3, 4";

/// The recount of `ai_costs_totals`: sums and distinct conversations per tenant and workflow.
fn totals_recount() -> String {
    format!(
        "SELECT tenant_id, workflow_id, COUNT(*)::int8, SUM(input_tokens)::int8, \
                SUM(cached_input_tokens)::int8, SUM(output_tokens)::int8, SUM(cost_micros)::int8, \
                COUNT(DISTINCT conversation_id)::int8 \
         FROM ({AI_CALLS}) c GROUP BY 1, 2"
    )
}

/// The recount of `ai_tenant_conversations`: distinct conversations that spent per tenant.
fn tenant_conversations_recount() -> String {
    format!(
        "SELECT tenant_id, COUNT(DISTINCT conversation_id)::int8 FROM ({AI_CALLS}) c GROUP BY 1"
    )
}

/// The recount of `messages_totals`: messages per tenant, channel and direction, all days.
const MESSAGES_TOTALS_RECOUNT: &str = "\
    SELECT tenant_id, split_part(aggregate_id, ':', 2), \
           CASE event_type WHEN 'InboundMessageReceived' THEN 'inbound' ELSE 'outbound' END, \
           COUNT(*)::int8 \
    FROM events \
    WHERE aggregate_type = 'conversation' \
      AND event_type IN ('InboundMessageReceived', 'OutboundMessageSent') \
    GROUP BY 1, 2, 3";

fn sums(row: (i64, i64, i64, i64, i64, i64)) -> CostSums {
    CostSums {
        calls: row.0,
        input_tokens: row.1,
        cached_input_tokens: row.2,
        output_tokens: row.3,
        cost_micros: row.4,
        conversations: row.5,
    }
}

/// The report the query should give, recounted from the events.
async fn recount(
    pool: &PgPool,
    tenant: TenantId,
    from: NaiveDate,
    to: NaiveDate,
    key: &str,
) -> (Vec<CostRow>, CostSums) {
    let figures = "COUNT(*)::int8, SUM(input_tokens)::int8, SUM(cached_input_tokens)::int8, \
                   SUM(output_tokens)::int8, SUM(cost_micros)::int8, \
                   COUNT(DISTINCT conversation_id)::int8";
    let filter = "tenant_id = $1 AND day BETWEEN $2 AND $3";
    let rows: Vec<(String, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(&format!(
        "SELECT {key}, {figures} FROM ({AI_CALLS}) c WHERE {filter} GROUP BY 1 ORDER BY 1"
    ))
    .bind(tenant.as_uuid())
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .unwrap();
    let total: (i64, i64, i64, i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT COUNT(*)::int8, COALESCE(SUM(input_tokens), 0)::int8, \
                COALESCE(SUM(cached_input_tokens), 0)::int8, COALESCE(SUM(output_tokens), 0)::int8, \
                COALESCE(SUM(cost_micros), 0)::int8, COUNT(DISTINCT conversation_id)::int8 \
         FROM ({AI_CALLS}) c WHERE {filter}"
    ))
    .bind(tenant.as_uuid())
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await
    .unwrap();
    let rows = rows
        .into_iter()
        .map(|(key, a, b, c, d, e, f)| CostRow {
            key,
            sums: sums((a, b, c, d, e, f)),
        })
        .collect();
    (rows, sums(total))
}

#[tokio::test]
async fn costs_equal_a_recount_of_the_events_to_the_micro_unit_and_a_rebuild() {
    let db = TestDb::new().await;
    let pool = db.pool().clone();
    let writer = Writer {
        executor: CommandExecutor::new(pool.clone(), 10),
    };
    let live = Target::in_schema(Arc::new(CostsProjection), LIVE);
    prepare(&pool, &live).await.unwrap();
    let sync = || async {
        wait_for_feed_to_settle(&pool).await;
        catch_up(&pool, &live, 1).await.unwrap();
    };
    let (a, b) = (TenantId::new(), TenantId::new());
    let (wa1, wa2, wb) = (WorkflowId::new(), WorkflowId::new(), WorkflowId::new());
    use Channel::{Sms, Whatsapp};

    let ada = writer.lead(a, 1, Some(wa1)).await;
    let bob = writer.lead(a, 2, Some(wa2)).await;
    let cy = writer.lead(a, 3, None).await;
    let dee = writer.lead(b, 4, Some(wb)).await;
    let eve = writer.lead(b, 5, None).await;

    // Tenant A, 2026-03-01 (a second before midnight) and 2026-03-02.
    writer
        .answered(
            a,
            ada,
            Sms,
            "2026-03-01T23:59:59Z",
            "gpt-4o",
            (1_200, 1_000, 80),
            1_234,
        )
        .await;
    writer
        .answered(
            a,
            ada,
            Sms,
            "2026-03-02T00:00:01Z",
            "gpt-4o",
            (1_500, 1_200, 95),
            1_567,
        )
        .await;
    sync().await;
    writer
        .answered(
            a,
            ada,
            Whatsapp,
            "2026-03-02T10:00:00Z",
            "gpt-4o-mini",
            (900, 0, 40),
            333,
        )
        .await;
    writer
        .follow_up(a, ada, "2026-03-02T11:00:00Z", "", (0, 0, 0), 0)
        .await;
    writer
        .answered(
            a,
            bob,
            Sms,
            "2026-03-02T12:00:00Z",
            "gpt-4o",
            (2_000, 0, 150),
            2_999_999,
        )
        .await;
    writer
        .answered(a, cy, Sms, "2026-03-03T09:00:00Z", "", (0, 0, 0), 0)
        .await;
    sync().await;
    // Ada moves to workflow 2: her later calls count there, her earlier ones stay in 1.
    writer
        .lead_command(
            a,
            ada,
            LeadCommand::AssignWorkflow {
                workflow_id: Some(wa2),
            },
        )
        .await;
    writer
        .answered(
            a,
            ada,
            Sms,
            "2026-03-03T10:00:00Z",
            "gpt-4o",
            (1_000, 500, 60),
            1_000_001,
        )
        .await;
    writer
        .follow_up(
            a,
            bob,
            "2026-03-04T08:00:00Z",
            "gpt-4o-mini",
            (700, 100, 30),
            77,
        )
        .await;
    // Tenant B, interleaved.
    writer
        .answered(
            b,
            dee,
            Sms,
            "2026-03-02T09:00:00Z",
            "gpt-4o",
            (3_000, 2_000, 200),
            4_321,
        )
        .await;
    writer
        .answered(
            b,
            dee,
            Sms,
            "2026-03-02T09:30:00Z",
            "gpt-4o",
            (3_100, 2_100, 210),
            4_444,
        )
        .await;
    writer
        .answered(
            b,
            eve,
            Whatsapp,
            "2026-03-03T09:00:00Z",
            "claude-3",
            (800, 0, 50),
            999,
        )
        .await;
    // Cy is taken out of no workflow into none again: no event; then into workflow 1.
    writer
        .lead_command(a, cy, LeadCommand::AssignWorkflow { workflow_id: None })
        .await;
    writer
        .lead_command(
            a,
            cy,
            LeadCommand::AssignWorkflow {
                workflow_id: Some(wa1),
            },
        )
        .await;
    writer
        .answered(
            a,
            cy,
            Whatsapp,
            "2026-03-04T09:00:00Z",
            "gpt-4o",
            (100, 0, 10),
            11,
        )
        .await;
    // Providers price messages: Twilio amounts on SMS (one a second before midnight), WhatsApp
    // billing without an amount, a second currency, and the other tenant.
    let priced = [
        (
            a,
            ada,
            Sms,
            "2026-03-02T10:00:00Z",
            Some((7_500, "USD")),
            None,
        ),
        (
            a,
            ada,
            Sms,
            "2026-03-02T23:59:59Z",
            Some((7_500, "USD")),
            None,
        ),
        (
            a,
            bob,
            Sms,
            "2026-03-03T00:00:00Z",
            Some((12_345, "EUR")),
            None,
        ),
        (a, ada, Whatsapp, "2026-03-03T09:00:00Z", None, Some(true)),
        (a, cy, Whatsapp, "2026-03-04T09:00:00Z", None, Some(false)),
        (
            b,
            dee,
            Sms,
            "2026-03-02T09:00:00Z",
            Some((999_999, "USD")),
            Some(true),
        ),
    ];
    for (tenant, lead, channel, at, amount, billable) in priced {
        writer
            .priced(tenant, lead, channel, at, amount, billable)
            .await;
    }
    sync().await;

    // Every stored row equals the recount over the events.
    let stored = format!(
        "SELECT tenant_id, day, workflow_id, model, calls, input_tokens, cached_input_tokens, \
                output_tokens, cost_micros, conversations FROM {LIVE}.ai_costs_daily"
    );
    let difference = query_difference(&pool, &stored, &daily_recount()).await;
    assert!(
        difference.is_empty(),
        "ai_costs_daily vs recount:\n{difference}"
    );
    let stored_messages =
        format!("SELECT tenant_id, day, channel, direction, messages FROM {LIVE}.messages_daily");
    let difference = query_difference(&pool, &stored_messages, MESSAGES_RECOUNT).await;
    assert!(
        difference.is_empty(),
        "messages_daily vs recount:\n{difference}"
    );
    for (stored, recount) in [
        (
            format!(
                "SELECT tenant_id, workflow_id, calls, input_tokens, cached_input_tokens, \
                        output_tokens, cost_micros, conversations FROM {LIVE}.ai_costs_totals"
            ),
            totals_recount(),
        ),
        (
            format!("SELECT tenant_id, conversations FROM {LIVE}.ai_tenant_conversations"),
            tenant_conversations_recount(),
        ),
        (
            format!("SELECT tenant_id, channel, direction, messages FROM {LIVE}.messages_totals"),
            MESSAGES_TOTALS_RECOUNT.to_owned(),
        ),
    ] {
        let difference = query_difference(&pool, &stored, &recount).await;
        assert!(difference.is_empty(), "{stored} vs recount:\n{difference}");
    }
    let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {LIVE}.ai_costs_daily"))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 11, "one row per tenant, day, workflow and model");

    // Exact sums of what was fed, to the micro-unit.
    let all = (day("2026-01-01"), day("2026-12-31"));
    let report_a = costs(&pool, LIVE, a.as_uuid(), all.0, all.1, GroupBy::Model)
        .await
        .unwrap();
    assert_eq!(
        report_a.total,
        CostSums {
            calls: 9,
            input_tokens: 1_200 + 1_500 + 900 + 2_000 + 1_000 + 700 + 100,
            cached_input_tokens: 1_000 + 1_200 + 500 + 100,
            output_tokens: 80 + 95 + 40 + 150 + 60 + 30 + 10,
            cost_micros: 1_234 + 1_567 + 333 + 2_999_999 + 1_000_001 + 77 + 11,
            conversations: 5,
        }
    );
    let by_model: Vec<(&str, i64, i64)> = report_a
        .rows
        .iter()
        .map(|row| (row.key.as_str(), row.sums.calls, row.sums.cost_micros))
        .collect();
    assert_eq!(
        by_model,
        vec![
            ("gpt-4o", 5, 1_234 + 1_567 + 2_999_999 + 1_000_001 + 11),
            ("gpt-4o-mini", 2, 333 + 77),
            ("rules", 2, 0),
        ]
    );
    let report_a = costs(&pool, LIVE, a.as_uuid(), all.0, all.1, GroupBy::Workflow)
        .await
        .unwrap();
    let by_workflow: BTreeMap<String, i64> = report_a
        .rows
        .iter()
        .map(|row| (row.key.clone(), row.sums.cost_micros))
        .collect();
    assert_eq!(
        by_workflow,
        BTreeMap::from([
            (Uuid::nil().to_string(), 0),
            (wa1.to_string(), 1_234 + 1_567 + 333 + 11),
            (wa2.to_string(), 2_999_999 + 1_000_001 + 77),
        ])
    );

    // The all-time figures: equal to the all-range report, conversations counted once per
    // tenant (Ada's SMS thread spent in both workflows) and once per workflow.
    let all_time = totals(&pool, LIVE, a.as_uuid()).await.unwrap();
    assert_eq!(all_time.total, report_a.total);
    let per_workflow: BTreeMap<String, (i64, i64)> = all_time
        .by_workflow
        .iter()
        .map(|(id, sums)| (id.to_string(), (sums.cost_micros, sums.conversations)))
        .collect();
    assert_eq!(
        per_workflow,
        BTreeMap::from([
            (Uuid::nil().to_string(), (0, 1)),
            (wa1.to_string(), (1_234 + 1_567 + 333 + 11, 3)),
            (wa2.to_string(), (2_999_999 + 1_000_001 + 77, 2)),
        ])
    );
    for tenant in [a, b] {
        let all_time = totals(&pool, LIVE, tenant.as_uuid()).await.unwrap();
        let (_, total) = recount(&pool, tenant, all.0, all.1, "model").await;
        assert_eq!(all_time.total, total, "{tenant}");
        let messages: Vec<(String, String, i64)> = sqlx::query_as(&format!(
            "SELECT m.channel, m.direction, m.messages \
             FROM ({MESSAGES_TOTALS_RECOUNT}) m(tenant_id, channel, direction, messages) \
             WHERE m.tenant_id = $1"
        ))
        .bind(tenant.as_uuid())
        .fetch_all(&pool)
        .await
        .unwrap();
        let messages: BTreeMap<(String, String), i64> =
            messages.into_iter().map(|(c, d, n)| ((c, d), n)).collect();
        let read: BTreeMap<(String, String), i64> = all_time
            .messages
            .iter()
            .flat_map(|m| {
                [
                    ((m.channel.clone(), "inbound".to_owned()), m.received),
                    ((m.channel.clone(), "outbound".to_owned()), m.sent),
                ]
            })
            .filter(|(_, count)| *count != 0)
            .collect();
        assert_eq!(read, messages, "{tenant}");
    }

    // Message prices, exact to the micro-unit, for a range and over all time.
    for (stored, recount) in [
        (
            format!(
                "SELECT tenant_id, day, channel, currency, priced, billable, amount_micros \
                 FROM {LIVE}.message_prices_daily"
            ),
            prices_recount(true),
        ),
        (
            format!(
                "SELECT tenant_id, channel, currency, priced, billable, amount_micros \
                 FROM {LIVE}.message_prices_totals"
            ),
            prices_recount(false),
        ),
    ] {
        let difference = query_difference(&pool, &stored, &recount).await;
        assert!(difference.is_empty(), "{stored} vs recount:\n{difference}");
    }
    let usd = |priced, billable, amount_micros| {
        BTreeMap::from([(
            "USD".to_owned(),
            PriceSums {
                priced,
                billable,
                amount_micros,
            },
        )])
    };
    let march_2 = in_range(
        &pool,
        LIVE,
        a.as_uuid(),
        day("2026-03-02"),
        day("2026-03-02"),
    )
    .await
    .unwrap();
    let sms = march_2.iter().find(|m| m.channel == "sms").unwrap();
    assert_eq!(sms.prices, usd(2, 0, 15_000));
    let whole = messages::all_time(&pool, LIVE, a.as_uuid()).await.unwrap();
    let prices: Vec<(&str, &BTreeMap<String, PriceSums>)> = whole
        .iter()
        .map(|m| (m.channel.as_str(), &m.prices))
        .collect();
    let sms_prices = BTreeMap::from([
        (
            "EUR".to_owned(),
            PriceSums {
                priced: 1,
                billable: 0,
                amount_micros: 12_345,
            },
        ),
        (
            "USD".to_owned(),
            PriceSums {
                priced: 2,
                billable: 0,
                amount_micros: 15_000,
            },
        ),
    ]);
    let whatsapp_prices = BTreeMap::from([(
        String::new(),
        PriceSums {
            priced: 2,
            billable: 1,
            amount_micros: 0,
        },
    )]);
    assert_eq!(
        prices,
        vec![("sms", &sms_prices), ("whatsapp", &whatsapp_prices)]
    );
    assert_eq!(
        whole,
        in_range(&pool, LIVE, a.as_uuid(), all.0, all.1)
            .await
            .unwrap()
    );
    let theirs = messages::all_time(&pool, LIVE, b.as_uuid()).await.unwrap();
    assert_eq!(
        theirs.iter().map(|m| m.prices.clone()).collect::<Vec<_>>(),
        vec![usd(1, 1, 999_999), BTreeMap::new()]
    );

    // Every report, for both tenants, several ranges and each grouping, equals the recount.
    let ranges = [
        all,
        (day("2026-03-01"), day("2026-03-01")),
        (day("2026-03-02"), day("2026-03-03")),
        (day("2026-03-04"), day("2026-03-31")),
        (day("2026-04-01"), day("2026-04-30")),
    ];
    let groupings = [
        (GroupBy::Day, "day::text"),
        (GroupBy::Workflow, "workflow_id::text"),
        (GroupBy::Model, "model"),
    ];
    for tenant in [a, b] {
        for (from, to) in ranges {
            for (group, key) in groupings {
                let report = costs(&pool, LIVE, tenant.as_uuid(), from, to, group)
                    .await
                    .unwrap();
                let (rows, total) = recount(&pool, tenant, from, to, key).await;
                assert_eq!(report.rows, rows, "{group:?} {from}..{to}");
                assert_eq!(report.total, total, "{group:?} {from}..{to}");
            }
        }
    }
    let empty = costs(
        &pool,
        LIVE,
        b.as_uuid(),
        day("2026-04-01"),
        day("2026-04-30"),
        GroupBy::Day,
    )
    .await
    .unwrap();
    assert!(empty.rows.is_empty());
    assert_eq!(empty.total, CostSums::default());

    // Live (one event a batch) == rebuilds in one batch and three a batch.
    rebuild(&pool, Arc::new(CostsProjection), "rebuilt_costs").await;
    assert_same_schemas(&pool, LIVE, "rebuilt_costs").await;
    let small = Target::in_schema(Arc::new(CostsProjection), "rebuilt_costs_by_3");
    prepare(&pool, &small).await.unwrap();
    catch_up(&pool, &small, 3).await.unwrap();
    assert_same_schemas(&pool, LIVE, "rebuilt_costs_by_3").await;
}
