//! Writing a folded batch of the conversations projection: one multi-row statement per table,
//! a typed array per column unnested by PostgreSQL (as the contacts projection writes).

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::rows::{AiTurnRow, MessageRow, ThreadRow};

/// Upserts `rows` into `threads`.
pub async fn threads<'a>(
    tx: &mut PgConnection,
    schema: &str,
    rows: impl Iterator<Item = &'a ThreadRow>,
) -> anyhow::Result<()> {
    let mut tenant_id = Vec::new();
    let mut lead_id = Vec::new();
    let mut channel = Vec::new();
    let mut handed_off = Vec::new();
    let mut handed_off_reason = Vec::new();
    let mut handed_off_at = Vec::new();
    let mut handoff_notified_at = Vec::new();
    let mut last_inbound_at = Vec::new();
    let mut last_outbound_at = Vec::new();
    let mut inbound_messages = Vec::new();
    let mut outbound_messages = Vec::new();
    let mut started_at = Vec::new();
    let mut version = Vec::new();
    for row in rows {
        tenant_id.push(row.tenant_id);
        lead_id.push(row.lead_id);
        channel.push(row.channel.as_str());
        handed_off.push(row.handed_off);
        handed_off_reason.push(row.handed_off_reason.as_deref());
        handed_off_at.push(row.handed_off_at);
        handoff_notified_at.push(row.handoff_notified_at);
        last_inbound_at.push(row.last_inbound_at);
        last_outbound_at.push(row.last_outbound_at);
        inbound_messages.push(row.inbound_messages);
        outbound_messages.push(row.outbound_messages);
        started_at.push(row.started_at);
        version.push(row.version);
    }
    if tenant_id.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.threads (tenant_id, lead_id, channel, handed_off, \
           handed_off_reason, handed_off_at, handoff_notified_at, last_inbound_at, \
           last_outbound_at, inbound_messages, outbound_messages, started_at, version) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::bool[], $5::text[], \
           $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], \
           $10::int4[], $11::int4[], $12::timestamptz[], $13::int8[]) \
         ON CONFLICT (tenant_id, lead_id, channel) DO UPDATE SET \
           handed_off = EXCLUDED.handed_off, handed_off_reason = EXCLUDED.handed_off_reason, \
           handed_off_at = EXCLUDED.handed_off_at, \
           handoff_notified_at = EXCLUDED.handoff_notified_at, last_inbound_at = EXCLUDED.last_inbound_at, \
           last_outbound_at = EXCLUDED.last_outbound_at, \
           inbound_messages = EXCLUDED.inbound_messages, \
           outbound_messages = EXCLUDED.outbound_messages, version = EXCLUDED.version"
    ))
    .bind(tenant_id)
    .bind(lead_id)
    .bind(channel)
    .bind(handed_off)
    .bind(handed_off_reason)
    .bind(handed_off_at)
    .bind(handoff_notified_at)
    .bind(last_inbound_at)
    .bind(last_outbound_at)
    .bind(inbound_messages)
    .bind(outbound_messages)
    .bind(started_at)
    .bind(version)
    .execute(&mut *tx)
    .await
    .context("Failed to write threads")?;
    Ok(())
}

/// Upserts `rows` into `messages`.
pub async fn messages<'a>(
    tx: &mut PgConnection,
    schema: &str,
    rows: impl Iterator<Item = &'a MessageRow>,
) -> anyhow::Result<()> {
    let mut c = MessageColumns::default();
    for row in rows {
        c.push(row);
    }
    if c.tenant_id.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.messages (tenant_id, message_id, lead_id, channel, direction, body, \
           content, origin, status, provider, provider_message_id, error_code, error, reason, \
           attempts, created_at, sent_at, delivered_at, read_at, failed_at, cancelled_at, \
           price_micros, price_currency, billable, billing_category) \
         SELECT t, m, l, ch, d, b, co::jsonb, o, s, p, pm, ec, e, r, a, ca, sa, da, ra, fa, xa, \
           pr, pc, bi, bc \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], \
           $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
           $13::text[], $14::text[], $15::int4[], $16::timestamptz[], $17::timestamptz[], \
           $18::timestamptz[], $19::timestamptz[], $20::timestamptz[], $21::timestamptz[], \
           $22::int8[], $23::text[], $24::bool[], $25::text[]) \
           AS r(t, m, l, ch, d, b, co, o, s, p, pm, ec, e, r, a, ca, sa, da, ra, fa, xa, \
             pr, pc, bi, bc) \
         ON CONFLICT (tenant_id, message_id) DO UPDATE SET \
           status = EXCLUDED.status, provider = EXCLUDED.provider, \
           provider_message_id = EXCLUDED.provider_message_id, \
           error_code = EXCLUDED.error_code, error = EXCLUDED.error, reason = EXCLUDED.reason, \
           attempts = EXCLUDED.attempts, sent_at = EXCLUDED.sent_at, \
           delivered_at = EXCLUDED.delivered_at, read_at = EXCLUDED.read_at, \
           failed_at = EXCLUDED.failed_at, cancelled_at = EXCLUDED.cancelled_at, \
           price_micros = EXCLUDED.price_micros, price_currency = EXCLUDED.price_currency, \
           billable = EXCLUDED.billable, billing_category = EXCLUDED.billing_category"
    ))
    .bind(c.tenant_id)
    .bind(c.message_id)
    .bind(c.lead_id)
    .bind(c.channel)
    .bind(c.direction)
    .bind(c.body)
    .bind(c.content)
    .bind(c.origin)
    .bind(c.status)
    .bind(c.provider)
    .bind(c.provider_message_id)
    .bind(c.error_code)
    .bind(c.error)
    .bind(c.reason)
    .bind(c.attempts)
    .bind(c.created_at)
    .bind(c.sent_at)
    .bind(c.delivered_at)
    .bind(c.read_at)
    .bind(c.failed_at)
    .bind(c.cancelled_at)
    .bind(c.price_micros)
    .bind(c.price_currency)
    .bind(c.billable)
    .bind(c.billing_category)
    .execute(&mut *tx)
    .await
    .context("Failed to write messages")?;
    Ok(())
}

/// Message rows turned column-wise, for [`messages`].
#[derive(Default)]
struct MessageColumns {
    tenant_id: Vec<Uuid>,
    message_id: Vec<Uuid>,
    lead_id: Vec<Uuid>,
    channel: Vec<String>,
    direction: Vec<String>,
    body: Vec<String>,
    content: Vec<Option<String>>,
    origin: Vec<Option<String>>,
    status: Vec<String>,
    provider: Vec<Option<String>>,
    provider_message_id: Vec<Option<String>>,
    error_code: Vec<Option<String>>,
    error: Vec<Option<String>>,
    reason: Vec<Option<String>>,
    attempts: Vec<i32>,
    created_at: Vec<DateTime<Utc>>,
    sent_at: Vec<Option<DateTime<Utc>>>,
    delivered_at: Vec<Option<DateTime<Utc>>>,
    read_at: Vec<Option<DateTime<Utc>>>,
    failed_at: Vec<Option<DateTime<Utc>>>,
    cancelled_at: Vec<Option<DateTime<Utc>>>,
    price_micros: Vec<Option<i64>>,
    price_currency: Vec<Option<String>>,
    billable: Vec<Option<bool>>,
    billing_category: Vec<Option<String>>,
}

impl MessageColumns {
    fn push(&mut self, row: &MessageRow) {
        self.tenant_id.push(row.tenant_id);
        self.message_id.push(row.message_id);
        self.lead_id.push(row.lead_id);
        self.channel.push(row.channel.clone());
        self.direction.push(row.direction.clone());
        self.body.push(row.body.clone());
        self.content
            .push(row.content.as_ref().map(serde_json::Value::to_string));
        self.origin.push(row.origin.clone());
        self.status.push(row.status.clone());
        self.provider.push(row.provider.clone());
        self.provider_message_id
            .push(row.provider_message_id.clone());
        self.error_code.push(row.error_code.clone());
        self.error.push(row.error.clone());
        self.reason.push(row.reason.clone());
        self.attempts.push(row.attempts);
        self.created_at.push(row.created_at);
        self.sent_at.push(row.sent_at);
        self.delivered_at.push(row.delivered_at);
        self.read_at.push(row.read_at);
        self.failed_at.push(row.failed_at);
        self.cancelled_at.push(row.cancelled_at);
        self.price_micros.push(row.price_micros);
        self.price_currency.push(row.price_currency.clone());
        self.billable.push(row.billable);
        self.billing_category.push(row.billing_category.clone());
    }
}

/// Inserts `rows` into `ai_turns` (each event records its own row, once).
pub async fn turns(tx: &mut PgConnection, schema: &str, rows: &[AiTurnRow]) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut c = TurnColumns::default();
    for row in rows {
        c.push(row);
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.ai_turns (tenant_id, in_reply_to, seq, lead_id, channel, outcome, \
           engine, model, input_tokens, cached_input_tokens, output_tokens, cost_micros, \
           price_version, latency_ms, intent, answers, reply_message_id, attempt, error, \
           retry_at, at) \
         SELECT t, i, s, l, ch, o, en, mo, it, ci, ot, cm, pv, lm, n, an::jsonb, rm, a, e, ra, at \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::uuid[], $5::text[], $6::text[], \
           $7::text[], $8::text[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], \
           $13::text[], $14::int8[], $15::text[], $16::text[], $17::uuid[], $18::int4[], \
           $19::text[], $20::timestamptz[], $21::timestamptz[]) \
           AS r(t, i, s, l, ch, o, en, mo, it, ci, ot, cm, pv, lm, n, an, rm, a, e, ra, at) \
         ON CONFLICT (tenant_id, in_reply_to, seq) DO NOTHING"
    ))
    .bind(c.tenant_id)
    .bind(c.in_reply_to)
    .bind(c.seq)
    .bind(c.lead_id)
    .bind(c.channel)
    .bind(c.outcome)
    .bind(c.engine)
    .bind(c.model)
    .bind(c.input_tokens)
    .bind(c.cached_input_tokens)
    .bind(c.output_tokens)
    .bind(c.cost_micros)
    .bind(c.price_version)
    .bind(c.latency_ms)
    .bind(c.intent)
    .bind(c.answers)
    .bind(c.reply_message_id)
    .bind(c.attempt)
    .bind(c.error)
    .bind(c.retry_at)
    .bind(c.at)
    .execute(&mut *tx)
    .await
    .context("Failed to write AI turns")?;
    Ok(())
}

/// AI turn rows turned column-wise, for [`turns`].
#[derive(Default)]
struct TurnColumns {
    tenant_id: Vec<Uuid>,
    in_reply_to: Vec<Uuid>,
    seq: Vec<i64>,
    lead_id: Vec<Uuid>,
    channel: Vec<String>,
    outcome: Vec<String>,
    engine: Vec<Option<String>>,
    model: Vec<Option<String>>,
    input_tokens: Vec<Option<i64>>,
    cached_input_tokens: Vec<Option<i64>>,
    output_tokens: Vec<Option<i64>>,
    cost_micros: Vec<Option<i64>>,
    price_version: Vec<Option<String>>,
    latency_ms: Vec<Option<i64>>,
    intent: Vec<Option<String>>,
    answers: Vec<Option<String>>,
    reply_message_id: Vec<Option<Uuid>>,
    attempt: Vec<Option<i32>>,
    error: Vec<Option<String>>,
    retry_at: Vec<Option<DateTime<Utc>>>,
    at: Vec<DateTime<Utc>>,
}

impl TurnColumns {
    fn push(&mut self, row: &AiTurnRow) {
        self.tenant_id.push(row.tenant_id);
        self.in_reply_to.push(row.in_reply_to);
        self.seq.push(row.seq);
        self.lead_id.push(row.lead_id);
        self.channel.push(row.channel.clone());
        self.outcome.push(row.outcome.clone());
        self.engine.push(row.engine.clone());
        self.model.push(row.model.clone());
        self.input_tokens.push(row.input_tokens);
        self.cached_input_tokens.push(row.cached_input_tokens);
        self.output_tokens.push(row.output_tokens);
        self.cost_micros.push(row.cost_micros);
        self.price_version.push(row.price_version.clone());
        self.latency_ms.push(row.latency_ms);
        self.intent.push(row.intent.clone());
        self.answers
            .push(row.answers.as_ref().map(serde_json::Value::to_string));
        self.reply_message_id.push(row.reply_message_id);
        self.attempt.push(row.attempt);
        self.error.push(row.error.clone());
        self.retry_at.push(row.retry_at);
        self.at.push(row.at);
    }
}
