//! `GET /api/v1/analytics/costs`: a tenant's AI spend per day, workflow or model, and its
//! messages with the prices providers reported, end to end. Leads are captured over HTTP; AI
//! calls and price reports are written by executing Conversation commands against the app's
//! database, with the messaging workers off so nothing else spends.

use std::collections::BTreeMap;

use bookerbot_tests::tenant_ctx;
use chrono::{DateTime, Utc};
use domain::conversation::{
    AiTurn, Conversation, ConversationCommand, ConversationId, Intent, MessageContent,
    MessagePricing,
};
use domain::values::{LeadId, MessageId, Price, TenantId};
use domain::Channel;
use infrastructure::executor::{CommandExecutor, Existence};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;

/// Runs AI turns, remembering the last position written.
struct Spender {
    executor: CommandExecutor,
    position: i64,
}

impl Spender {
    async fn run(&mut self, tenant: &str, lead: &str, command: ConversationCommand) {
        let lead: LeadId = lead.parse().unwrap();
        let tenant: TenantId = tenant.parse().unwrap();
        let committed = self
            .executor
            .execute::<Conversation>(
                &tenant_ctx(tenant),
                &ConversationId::new(lead, Channel::Sms).to_string(),
                Existence::MayCreate,
                command,
            )
            .await
            .unwrap_or_else(|error| panic!("a conversation command failed: {error}"));
        self.position = committed.position.unwrap_or(self.position);
    }

    /// The lead writes and the AI answers at `at` with `model`, these tokens and cost; returns
    /// the reply queued.
    async fn turn(
        &mut self,
        tenant: &str,
        lead: &str,
        at: &str,
        model: &str,
        tokens: (u32, u32, u32),
        cost_micros: i64,
    ) -> MessageId {
        let at: DateTime<Utc> = at.parse().unwrap();
        let question = MessageId::new();
        let lead_id: LeadId = lead.parse().unwrap();
        self.run(
            tenant,
            lead,
            ConversationCommand::ReceiveInbound {
                lead_id,
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
        let (input_tokens, cached_input_tokens, output_tokens) = tokens;
        let reply = MessageId::new();
        self.run(
            tenant,
            lead,
            ConversationCommand::RecordAiTurn {
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
            },
        )
        .await;
        reply
    }

    /// A provider prices the lead's message at `at`: an amount, or whether it bills.
    async fn priced(
        &mut self,
        tenant: &str,
        lead: &str,
        message_id: MessageId,
        at: &str,
        price: Option<Price>,
        billable: Option<bool>,
    ) {
        let command = ConversationCommand::RecordMessagePrice {
            message_id,
            provider: "twilio".into(),
            pricing: MessagePricing::new(price, billable, None),
            at: at.parse().unwrap(),
        };
        self.run(tenant, lead, command).await;
    }
}

fn figures(
    calls: i64,
    tokens: (i64, i64, i64),
    cost_micros: i64,
    cost: &str,
    conversations: i64,
) -> Value {
    let (input, cached, output) = tokens;
    #[allow(clippy::cast_precision_loss)]
    let average = (input + output) as f64 / conversations as f64;
    json!({
        "calls": calls,
        "input_tokens": input,
        "cached_input_tokens": cached,
        "output_tokens": output,
        "cost_micros": cost_micros,
        "cost": cost,
        "conversations": conversations,
        "average_tokens_per_conversation": average,
    })
}

fn row(key: &str, figures: Value) -> Value {
    let mut row = figures;
    row["key"] = json!(key);
    row
}

#[tokio::test]
async fn costs_are_exact_per_day_workflow_and_model_and_scoped_to_the_tenant() {
    let app = TestApp::spawn_with(|settings| settings.run_workers = false).await;
    let acme = app.create_tenant("Acme").await;
    let other = app.create_tenant("Other").await;
    let spring = app.create_workflow(&acme.key, "Spring").await;
    let (ada, _) = app
        .capture_new(
            &acme.key,
            json!({"phone": "+44 7700 900201", "workflow_id": spring}),
        )
        .await;
    let (bob, _) = app
        .capture_new(&acme.key, json!({"phone": "+44 7700 900202"}))
        .await;
    let (eve, _) = app
        .capture_new(&other.key, json!({"phone": "+44 7700 900203"}))
        .await;
    let mut spender = Spender {
        executor: CommandExecutor::new(app.db.pool().clone(), 10),
        position: 0,
    };
    spender
        .turn(
            &acme.id,
            &ada,
            "2026-03-01T23:59:59Z",
            "gpt-4o",
            (1_200, 1_000, 80),
            1_234,
        )
        .await;
    let ada_reply = spender
        .turn(
            &acme.id,
            &ada,
            "2026-03-02T00:00:01Z",
            "gpt-4o",
            (1_500, 1_200, 95),
            2_999_999,
        )
        .await;
    let bob_reply = spender
        .turn(
            &acme.id,
            &bob,
            "2026-03-02T10:00:00Z",
            "gpt-4o-mini",
            (900, 0, 41),
            333,
        )
        .await;
    let price = Price::from_micros(7_500, "USD").unwrap();
    spender
        .priced(
            &acme.id,
            &ada,
            ada_reply,
            "2026-03-02T00:00:02Z",
            Some(price),
            None,
        )
        .await;
    spender
        .priced(
            &acme.id,
            &bob,
            bob_reply,
            "2026-03-02T10:00:01Z",
            None,
            Some(true),
        )
        .await;
    let acme_at = spender.position;
    spender
        .turn(
            &other.id,
            &eve,
            "2026-03-02T10:00:00Z",
            "gpt-4o",
            (5_000, 0, 500),
            7_000_000,
        )
        .await;
    let other_at = spender.position;

    let by_model = app
        .get(
            &acme.key,
            &format!("/api/v1/analytics/costs?group_by=model&from=2026-03-01&to=2026-03-31&min_position={acme_at}"),
        )
        .await;
    assert_eq!(by_model.status, StatusCode::OK, "{}", by_model.text);
    assert_eq!(
        by_model.body,
        json!({
            "group_by": "model",
            "from": "2026-03-01",
            "to": "2026-03-31",
            "rows": [
                row("gpt-4o", figures(2, (2_700, 2_200, 175), 3_001_233, "3.001233", 1)),
                row("gpt-4o-mini", figures(1, (900, 0, 41), 333, "0.000333", 1)),
            ],
            "total": figures(3, (3_600, 2_200, 216), 3_001_566, "3.001566", 2),
            "messages": [{
                "channel": "sms",
                "received": 3,
                "sent": 0,
                "priced": 2,
                "billable": 1,
                "amounts": [{"currency": "USD", "amount_micros": 7_500, "amount": "0.007500"}],
            }],
        })
    );

    // By UTC day; `from`/`to` as RFC 3339 times count their UTC days.
    let by_day = app
        .get(
            &acme.key,
            "/api/v1/analytics/costs?group_by=day&from=2026-03-02T00:00:00%2B00:00&to=2026-03-02T23:00:00Z",
        )
        .await;
    assert_eq!(by_day.status, StatusCode::OK, "{}", by_day.text);
    assert_eq!(
        by_day.body["rows"],
        json!([row(
            "2026-03-02",
            figures(2, (2_400, 1_200, 136), 3_000_332, "3.000332", 2)
        )])
    );

    let by_workflow = app
        .get(
            &acme.key,
            "/api/v1/analytics/costs?group_by=workflow&from=2026-03-01&to=2026-03-01",
        )
        .await;
    assert_eq!(by_workflow.status, StatusCode::OK, "{}", by_workflow.text);
    assert_eq!(
        by_workflow.body["rows"],
        json!([row(
            &spring,
            figures(1, (1_200, 1_000, 80), 1_234, "0.001234", 1)
        )])
    );
    let bob_workflow = app
        .get(
            &acme.key,
            "/api/v1/analytics/costs?group_by=workflow&from=2026-03-02&to=2026-03-02",
        )
        .await;
    let keys: Vec<&str> = bob_workflow.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["key"].as_str().unwrap())
        .collect();
    let mut expected = vec!["00000000-0000-0000-0000-000000000000", spring.as_str()];
    expected.sort_unstable();
    assert_eq!(keys, expected, "Bob is in no workflow");

    // The other tenant sees only its own spend.
    let theirs = app
        .get(
            &other.key,
            &format!("/api/v1/analytics/costs?group_by=model&from=2026-03-01&to=2026-03-31&min_position={other_at}"),
        )
        .await;
    assert_eq!(
        theirs.body["total"],
        figures(1, (5_000, 0, 500), 7_000_000, "7.000000", 1)
    );
    assert_eq!(theirs.body["messages"][0]["priced"], json!(0));
    assert_eq!(theirs.body["messages"][0]["amounts"], json!([]));
    let empty = app
        .get(
            &acme.key,
            "/api/v1/analytics/costs?from=2026-04-01&to=2026-04-30",
        )
        .await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    assert_eq!(empty.body["group_by"], "day");
    assert_eq!(empty.body["rows"], json!([]));
    assert_eq!(empty.body["messages"], json!([]));
    assert_eq!(empty.body["total"]["cost"], "0.000000");
    assert_eq!(
        empty.body["total"]["average_tokens_per_conversation"],
        Value::Null
    );

    // Bad input: 422 naming the field.
    for (query, field) in [
        ("group_by=week", "group_by"),
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-03-05&to=2026-03-04", "from"),
    ] {
        let reply = app
            .get(&acme.key, &format!("/api/v1/analytics/costs?{query}"))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            reply.text
        );
        assert_eq!(reply.error_field(), Some(field), "{query}");
    }
    let anonymous = app
        .send(reqwest::Method::GET, "/api/v1/analytics/costs", None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
