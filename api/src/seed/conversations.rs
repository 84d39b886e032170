//! AI-answered SMS conversations for a seeded tenant's leads, so the cost model has spend to
//! count: a share of the leads text in one to three times after their capture, and the AI (a
//! model, or the rules engine for free) answers each with tokens and a cost in micro-USD; the
//! answers are sent. Each conversation's events are decided by the Conversation aggregate itself
//! and written after the leads' own events with `append_many`, a few hundred conversations per
//! statement. The same seed gives the same choices.

use std::collections::BTreeMap;

use anyhow::Context;
use application::{Actor, CommandContext};
use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use domain::conversation::{
    AiTurn, Conversation, ConversationCommand, ConversationEvent, ConversationId, Intent,
    MessageContent,
};
use domain::values::{LeadId, MessageId, TenantId};
use domain::Channel;
use futures::StreamExt;
use infrastructure::event_store::{append_many, NewEvents};
use infrastructure::metadata::EventMetadata;
use sqlx::PgPool;

use super::rng::Rng;

/// Conversations written per statement.
const CHUNK: usize = 500;

/// The models answering, with their price per million input and output tokens in micro-USD
/// (an empty model is the rules engine, which costs nothing).
const MODELS: [(&str, i64, i64); 3] = [
    ("gpt-4o-mini", 150_000, 600_000),
    ("gpt-4o", 2_500_000, 10_000_000),
    ("", 0, 0),
];

/// What [`seed_ai_turns`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AiSeedReport {
    /// Conversations that spent.
    pub conversations: u64,
    /// AI answers.
    pub calls: u64,
    /// Their cost in micro-USD.
    pub cost_micros: i64,
    /// Conversation events written.
    pub events: u64,
}

/// Gives `percent` of the tenant's leads an AI-answered SMS conversation; `progress` hears the
/// conversations written so far.
pub async fn seed_ai_turns(
    pool: &PgPool,
    tenant: TenantId,
    percent: u64,
    seed: u64,
    progress: &mut (dyn FnMut(u64) + Send),
) -> anyhow::Result<AiSeedReport> {
    let now = Utc::now();
    let ctx = CommandContext {
        tenant_id: tenant,
        actor: Actor::System("seed"),
        request_id: format!("seed-ai-{seed}"),
        issued_at: now,
    };
    let mut rng = Rng::new(&[seed, 0xA1]);
    let mut report = AiSeedReport::default();
    let mut chunk: Vec<(String, Vec<ConversationEvent>, DateTime<Utc>)> = Vec::new();
    let mut captures = sqlx::query_as::<_, (String, DateTime<Utc>)>(
        "SELECT aggregate_id, (metadata ->> 'occurred_at')::timestamptz FROM events \
         WHERE tenant_id = $1 AND aggregate_type = 'lead' AND event_type = 'LeadCaptured' \
         ORDER BY global_position",
    )
    .bind(tenant.as_uuid())
    .fetch(pool);
    let mut pending: Vec<(String, DateTime<Utc>)> = Vec::new();
    while let Some(row) = captures.next().await {
        let (lead, captured) = row.context("Failed to read the seeded leads")?;
        if rng.below(100) < percent {
            pending.push((lead, captured));
        }
    }
    drop(captures);
    for (lead, captured) in pending {
        let lead: LeadId = lead
            .parse()
            .map_err(|e| anyhow::anyhow!("seeded lead id {lead}: {e}"))?;
        let (events, last, spend) = conversation(&mut rng, lead, captured, now).await?;
        report.conversations += 1;
        report.calls += spend.0;
        report.cost_micros += spend.1;
        report.events += events.len() as u64;
        let id = ConversationId::new(lead, Channel::Sms).to_string();
        chunk.push((id, events, last));
        if chunk.len() == CHUNK {
            write(pool, &ctx, &std::mem::take(&mut chunk)).await?;
            progress(report.conversations);
        }
    }
    write(pool, &ctx, &chunk).await?;
    progress(report.conversations);
    Ok(report)
}

/// One lead's conversation: its events, the time of the last, and (answers, cost).
async fn conversation(
    rng: &mut Rng,
    lead: LeadId,
    captured: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<(Vec<ConversationEvent>, DateTime<Utc>, (u64, i64))> {
    let mut aggregate = Conversation::default();
    let mut events = Vec::new();
    let mut at = captured;
    let (mut calls, mut cost) = (0u64, 0i64);
    for _ in 0..=rng.below(3) {
        at = (at + Duration::minutes(5 + rng.below(24 * 60) as i64)).min(now);
        let question = MessageId::new();
        let reply = MessageId::new();
        let (model, input_price, output_price) = *rng.pick(&MODELS).unwrap_or(&MODELS[0]);
        let rules = model.is_empty();
        let input = if rules { 0 } else { 400 + rng.below(2_600) };
        let cached = input / 2 * rng.below(2);
        let output = if rules { 0 } else { 20 + rng.below(180) };
        let cost_micros = (input as i64 * input_price + output as i64 * output_price) / 1_000_000;
        let commands = [
            ConversationCommand::ReceiveInbound {
                lead_id: lead,
                channel: Channel::Sms,
                message_id: question,
                provider: "twilio".into(),
                provider_message_id: format!("SM{}", question.as_uuid().simple()),
                body: "Do you have a time next week?".into(),
                received_at: at,
                engage_ai: true,
            },
            ConversationCommand::RecordAiTurn {
                turn: AiTurn {
                    in_reply_to: question,
                    engine: if rules { "rules" } else { "openai" }.into(),
                    model: model.into(),
                    input_tokens: u32::try_from(input)?,
                    cached_input_tokens: u32::try_from(cached)?,
                    output_tokens: u32::try_from(output)?,
                    cost_micros,
                    price_version: "2026-01".into(),
                    latency_ms: 400,
                    intent: Intent::Question,
                    answers: BTreeMap::new(),
                    reply_message_id: Some(reply),
                    at,
                },
                reply: Some(MessageContent::text(
                    "We have Tuesday at 3pm or Thursday at 10am.",
                )?),
            },
            ConversationCommand::RecordSent {
                message_id: reply,
                provider: "twilio".into(),
                provider_message_id: format!("SM{}", reply.as_uuid().simple()),
                sent_at: at,
            },
        ];
        for command in commands {
            let sink = EventSink::default();
            aggregate
                .handle(command, &(), &sink)
                .await
                .map_err(|e| anyhow::anyhow!("a seeded conversation was refused: {e}"))?;
            events.extend(sink.collect().await);
        }
        calls += 1;
        cost += cost_micros;
    }
    Ok((events, at, (calls, cost)))
}

/// Writes a chunk of new conversations in one statement, recorded at its latest time.
async fn write(
    pool: &PgPool,
    ctx: &CommandContext,
    chunk: &[(String, Vec<ConversationEvent>, DateTime<Utc>)],
) -> anyhow::Result<()> {
    let Some(latest) = chunk.iter().map(|c| c.2).max() else {
        return Ok(());
    };
    let batch: Vec<NewEvents<'_, ConversationEvent>> = chunk
        .iter()
        .map(|(id, events, _)| NewEvents {
            id,
            version: 0,
            events,
        })
        .collect();
    let metadata = EventMetadata {
        occurred_at: latest,
        ..EventMetadata::from_context(ctx)
    };
    let mut tx = pool.begin().await.context("Failed to begin")?;
    append_many::<Conversation>(&mut tx, &batch, &metadata)
        .await
        .context("Failed to append seeded conversations")?;
    tx.commit()
        .await
        .context("Failed to commit seeded conversations")?;
    Ok(())
}
