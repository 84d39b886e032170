//! The budgets projection fed with real commands — AI turns and follow-ups of two tenants on
//! either side of month ends, and `BudgetMonth` thresholds reached and notified — equals an
//! independent recount over the `events` table, and a rebuild at batch sizes 1, 3 and 500.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use bookerbot_tests::{
    assert_same_schemas, new_lead, query_difference, rebuild, tenant_ctx, wait_for_feed_to_settle,
    TestDb,
};
use chrono::{DateTime, NaiveDate, Utc};
use domain::budget::{budget_month_id, BudgetCommand, BudgetMonth, ThresholdPercent, UtcMonth};
use domain::conversation::{
    AiFollowUp, AiTurn, Conversation, ConversationCommand, ConversationId, Intent, MessageContent,
    MessageOrigin,
};
use domain::lead::{Lead, LeadCommand};
use domain::values::{LeadId, MessageId, TenantId};
use domain::Channel;
use infrastructure::executor::{CommandExecutor, Existence};
use projections::budgets::query::{month_spend, thresholds, MonthSpend};
use projections::budgets::BudgetsProjection;
use projections::runner::{catch_up, prepare};
use projections::Target;

const LIVE: &str = "live_budgets";

fn t(raw: &str) -> DateTime<Utc> {
    raw.parse().unwrap()
}

fn month(raw: &str) -> NaiveDate {
    format!("{raw}-01").parse().unwrap()
}

struct Writer {
    executor: CommandExecutor,
}

impl Writer {
    async fn lead(&self, tenant: TenantId, n: u32) -> LeadId {
        let lead = LeadId::new();
        self.executor
            .execute::<Lead>(
                &tenant_ctx(tenant),
                &lead.to_string(),
                Existence::MayCreate,
                LeadCommand::CaptureLead(new_lead(n)),
            )
            .await
            .unwrap();
        lead
    }

    async fn conversation(&self, tenant: TenantId, lead: LeadId, command: ConversationCommand) {
        self.executor
            .execute::<Conversation>(
                &tenant_ctx(tenant),
                &ConversationId::new(lead, Channel::Sms).to_string(),
                Existence::MayCreate,
                command,
            )
            .await
            .unwrap_or_else(|error| panic!("a conversation command failed: {error}"));
    }

    /// The lead writes at `at` and the AI answers, costing `cost_micros`.
    async fn answered(&self, tenant: TenantId, lead: LeadId, at: &str, cost_micros: i64) {
        let at = t(at);
        let question = MessageId::new();
        self.conversation(
            tenant,
            lead,
            ConversationCommand::ReceiveInbound {
                lead_id: lead,
                channel: Channel::Sms,
                message_id: question,
                provider: "twilio".into(),
                provider_message_id: format!("SM{}", question.as_uuid().simple()),
                body: "Any times?".into(),
                received_at: at,
                engage_ai: true,
            },
        )
        .await;
        self.conversation(
            tenant,
            lead,
            ConversationCommand::RecordAiTurn {
                turn: AiTurn {
                    in_reply_to: question,
                    engine: "openai".into(),
                    model: "gpt-4o".into(),
                    input_tokens: 900,
                    cached_input_tokens: 0,
                    output_tokens: 40,
                    cost_micros,
                    price_version: "2026-01".into(),
                    latency_ms: 300,
                    intent: Intent::Question,
                    answers: BTreeMap::new(),
                    reply_message_id: Some(MessageId::new()),
                    at,
                },
                reply: Some(MessageContent::text("3pm?").unwrap()),
            },
        )
        .await;
    }

    /// The AI writes a follow-up at `at`, costing `cost_micros`.
    async fn follow_up(&self, tenant: TenantId, lead: LeadId, at: &str, cost_micros: i64) {
        let message = MessageId::new();
        self.conversation(
            tenant,
            lead,
            ConversationCommand::QueueOutbound {
                lead_id: lead,
                channel: Channel::Sms,
                message_id: message,
                content: MessageContent::text("Still interested?").unwrap(),
                origin: MessageOrigin::FollowUp,
                now: t(at),
            },
        )
        .await;
        self.conversation(
            tenant,
            lead,
            ConversationCommand::RecordAiFollowUp {
                follow_up: AiFollowUp {
                    message_id: message,
                    number: 1,
                    of: 2,
                    engine: "openai".into(),
                    model: "gpt-4o-mini".into(),
                    input_tokens: 500,
                    cached_input_tokens: 0,
                    output_tokens: 30,
                    cost_micros,
                    price_version: "2026-01".into(),
                    latency_ms: 200,
                    fallback_reason: None,
                    at: t(at),
                },
            },
        )
        .await;
    }

    async fn budget(&self, tenant: TenantId, month: &str, command: BudgetCommand) {
        self.executor
            .execute::<BudgetMonth>(
                &tenant_ctx(tenant),
                &budget_month_id(tenant, UtcMonth::parse(month).unwrap()),
                Existence::MayCreate,
                command,
            )
            .await
            .unwrap_or_else(|error| panic!("a budget command failed: {error}"));
    }

    async fn reached(&self, tenant: TenantId, month: &str, percent: i64, spend: i64, at: &str) {
        self.budget(
            tenant,
            month,
            BudgetCommand::RecordThresholdReached {
                month: UtcMonth::parse(month).unwrap(),
                threshold_percent: ThresholdPercent::new(percent).unwrap(),
                monthly_limit_micros: 10_000,
                spend_micros: spend,
                hard_stop: percent == 100,
                at: t(at),
            },
        )
        .await;
    }

    async fn notified(&self, tenant: TenantId, month: &str, percent: i64, at: &str) {
        self.budget(
            tenant,
            month,
            BudgetCommand::RecordThresholdNotified {
                threshold_percent: ThresholdPercent::new(percent).unwrap(),
                notified: vec!["webhook".into()],
                failed: vec![],
                at: t(at),
            },
        )
        .await;
    }
}

/// The recount of `ai_spend_monthly`: AI calls and cost per tenant and UTC month.
const SPEND_RECOUNT: &str = "\
    SELECT tenant_id, \
           date_trunc('month', (COALESCE(payload -> 'AiTurnRecorded', \
                                          payload -> 'AiFollowUpWritten') ->> 'at')::timestamptz \
                               AT TIME ZONE 'UTC')::date AS month, \
           COUNT(*)::int8 AS calls, \
           SUM((COALESCE(payload -> 'AiTurnRecorded', payload -> 'AiFollowUpWritten') \
                ->> 'cost_micros')::int8)::int8 AS cost_micros \
    FROM events \
    WHERE aggregate_type = 'conversation' \
      AND event_type IN ('AiTurnRecorded', 'AiFollowUpWritten') \
    GROUP BY 1, 2";

/// The recount of `thresholds`: each reached event with its notice, if any.
const THRESHOLDS_RECOUNT: &str = "\
    SELECT r.tenant_id, \
           ((r.payload -> 'CostThresholdReached' ->> 'month') || '-01')::date AS month, \
           (r.payload -> 'CostThresholdReached' ->> 'threshold_percent')::int4, \
           (r.payload -> 'CostThresholdReached' ->> 'monthly_limit_micros')::int8, \
           (r.payload -> 'CostThresholdReached' ->> 'spend_micros')::int8, \
           (r.payload -> 'CostThresholdReached' ->> 'hard_stop')::bool, \
           (r.payload -> 'CostThresholdReached' ->> 'at')::timestamptz, \
           r.global_position, \
           (n.payload -> 'CostThresholdNotified' ->> 'at')::timestamptz, \
           COALESCE(ARRAY(SELECT json_array_elements_text( \
                      n.payload -> 'CostThresholdNotified' -> 'notified')), '{}'), \
           COALESCE(ARRAY(SELECT json_array_elements_text( \
                      n.payload -> 'CostThresholdNotified' -> 'failed')), '{}') \
    FROM events r \
    LEFT JOIN events n ON n.aggregate_type = 'budget_month' \
         AND n.aggregate_id = r.aggregate_id AND n.event_type = 'CostThresholdNotified' \
         AND (n.payload -> 'CostThresholdNotified' ->> 'threshold_percent') \
             = (r.payload -> 'CostThresholdReached' ->> 'threshold_percent') \
    WHERE r.aggregate_type = 'budget_month' AND r.event_type = 'CostThresholdReached'";

#[tokio::test]
async fn budgets_equal_a_recount_of_the_events_and_a_rebuild() {
    let db = TestDb::new().await;
    let pool = db.pool().clone();
    let writer = Writer {
        executor: CommandExecutor::new(pool.clone(), 10),
    };
    let live = Target::in_schema(Arc::new(BudgetsProjection), LIVE);
    prepare(&pool, &live).await.unwrap();
    let sync = || async {
        wait_for_feed_to_settle(&pool).await;
        catch_up(&pool, &live, 1).await.unwrap();
    };
    let (a, b) = (TenantId::new(), TenantId::new());
    let ada = writer.lead(a, 1).await;
    let bob = writer.lead(a, 2).await;
    let cy = writer.lead(b, 3).await;

    // A second before and after the end of February, and the end of March.
    writer.answered(a, ada, "2026-02-28T23:59:59Z", 4_000).await;
    writer.answered(a, ada, "2026-03-01T00:00:01Z", 1_234).await;
    writer
        .follow_up(a, bob, "2026-03-15T09:00:00Z", 3_766)
        .await;
    sync().await;
    writer
        .reached(a, "2026-03", 50, 5_000, "2026-03-15T09:00:01Z")
        .await;
    writer
        .answered(b, cy, "2026-03-31T23:59:59Z", 999_999)
        .await;
    writer.answered(a, bob, "2026-03-20T10:00:00Z", 3_000).await;
    writer
        .reached(a, "2026-03", 80, 8_000, "2026-03-20T10:00:01Z")
        .await;
    writer
        .notified(a, "2026-03", 50, "2026-03-20T10:00:02Z")
        .await;
    sync().await;
    writer.answered(b, cy, "2026-04-01T00:00:00Z", 1).await;
    writer
        .reached(b, "2026-03", 100, 999_999, "2026-04-01T00:10:00Z")
        .await;
    writer
        .notified(b, "2026-03", 100, "2026-04-01T00:10:01Z")
        .await;
    writer
        .notified(a, "2026-03", 80, "2026-04-01T00:11:00Z")
        .await;
    sync().await;

    let spend = query_difference(
        &pool,
        &format!("SELECT tenant_id, month, calls, cost_micros FROM {LIVE}.ai_spend_monthly"),
        SPEND_RECOUNT,
    )
    .await;
    assert!(spend.is_empty(), "{spend:?}");
    let reached = query_difference(
        &pool,
        &format!(
            "SELECT tenant_id, month, threshold_percent, monthly_limit_micros, spend_micros, \
                    hard_stop, reached_at, position, notified_at, notified, failed \
             FROM {LIVE}.thresholds"
        ),
        THRESHOLDS_RECOUNT,
    )
    .await;
    assert!(reached.is_empty(), "{reached:?}");

    // The queries read exactly what the events say.
    let expect = [
        (a, "2026-02", 1, 4_000),
        (a, "2026-03", 3, 8_000),
        (b, "2026-03", 1, 999_999),
        (b, "2026-04", 1, 1),
        (b, "2026-02", 0, 0),
    ];
    for (tenant, raw, calls, cost_micros) in expect {
        assert_eq!(
            month_spend(&pool, LIVE, tenant.as_uuid(), month(raw))
                .await
                .unwrap(),
            MonthSpend { calls, cost_micros },
            "{raw}"
        );
    }
    let listed = thresholds(&pool, LIVE, a.as_uuid(), None, 10)
        .await
        .unwrap();
    let summary: Vec<(i32, i64, bool)> = listed
        .iter()
        .map(|r| (r.threshold_percent, r.spend_micros, r.notified_at.is_some()))
        .collect();
    assert_eq!(
        summary,
        [(80, 8_000, true), (50, 5_000, true)],
        "newest first"
    );
    assert_eq!(
        thresholds(&pool, LIVE, a.as_uuid(), Some(month("2026-04")), 10)
            .await
            .unwrap(),
        []
    );
    let theirs = thresholds(&pool, LIVE, b.as_uuid(), Some(month("2026-03")), 10)
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    assert!(theirs[0].hard_stop);
    assert_eq!(theirs[0].notified, ["webhook"]);

    for (schema, batch) in [
        ("rebuilt_budgets_1", 1),
        ("rebuilt_budgets_3", 3),
        ("rebuilt_budgets_500", 500),
    ] {
        if batch == 500 {
            rebuild(&pool, Arc::new(BudgetsProjection), schema).await;
        } else {
            let target = Target::in_schema(Arc::new(BudgetsProjection), schema);
            prepare(&pool, &target).await.unwrap();
            catch_up(&pool, &target, batch).await.unwrap();
        }
        assert_same_schemas(&pool, LIVE, schema).await;
    }
}
