//! The conversations read model: every message between a lead and the business, with how far
//! each outbound message got, the AI's answers (what they cost, what they understood) and its
//! failures, and per conversation whether a human has it and when the lead last wrote. It is
//! what an operator reads as the lead's thread.
//!
//! Tables (tenant first in every key): `threads` (one row per lead and channel), `messages`
//! (one row per message, either way, with what the provider said it costs; indexed by lead and
//! time for the thread) and `ai_turns`
//! (one row per AI answer or failed attempt, keyed by the inbound message it answers, and one
//! per follow-up the AI wrote, keyed by the follow-up).
//!
//! Handler kind: replayable. A batch reads the threads of its conversations and the messages
//! its events change in two statements, folds in memory ([`fold`]) and writes each table in one
//! multi-row statement ([`write`]). A thread's `version` (the conversation's sequence) makes the
//! fold skip what it applied before and refuse a gap.

pub mod fold;
pub mod query;
pub mod rows;
pub mod write;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::conversation::{Conversation, ConversationEvent};
use domain::Channel;
use infrastructure::feed::RecordedEvent;
use sqlx::types::Json;
use sqlx::{Executor, PgConnection};
use uuid::Uuid;

use crate::projection::{live_schema, Projection};
use fold::{Batch, ThreadKey};
use rows::{MessageRow, ThreadRow};

/// The conversations projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConversationsProjection;

/// Its name.
pub const NAME: &str = "conversations";
/// Its table layout version (2: providers' prices on `messages`).
pub const VERSION: u32 = 2;

/// The schema queries read from.
pub fn live() -> String {
    live_schema(NAME, VERSION)
}

#[async_trait]
impl Projection for ConversationsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        VERSION
    }

    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {schema}.threads (
                tenant_id uuid NOT NULL,
                lead_id uuid NOT NULL,
                channel text NOT NULL,
                handed_off boolean NOT NULL,
                handed_off_reason text,
                handed_off_at timestamptz,
                handoff_notified_at timestamptz,
                last_inbound_at timestamptz,
                last_outbound_at timestamptz,
                inbound_messages integer NOT NULL,
                outbound_messages integer NOT NULL,
                started_at timestamptz NOT NULL,
                version bigint NOT NULL,
                PRIMARY KEY (tenant_id, lead_id, channel)
            );
            CREATE TABLE IF NOT EXISTS {schema}.messages (
                tenant_id uuid NOT NULL,
                message_id uuid NOT NULL,
                lead_id uuid NOT NULL,
                channel text NOT NULL,
                direction text NOT NULL,
                body text NOT NULL,
                content jsonb,
                origin text,
                status text NOT NULL,
                provider text,
                provider_message_id text,
                error_code text,
                error text,
                reason text,
                attempts integer NOT NULL,
                created_at timestamptz NOT NULL,
                sent_at timestamptz,
                delivered_at timestamptz,
                read_at timestamptz,
                failed_at timestamptz,
                cancelled_at timestamptz,
                price_micros bigint,
                price_currency text,
                billable boolean,
                billing_category text,
                PRIMARY KEY (tenant_id, message_id)
            );
            CREATE TABLE IF NOT EXISTS {schema}.ai_turns (
                tenant_id uuid NOT NULL,
                in_reply_to uuid NOT NULL,
                seq bigint NOT NULL,
                lead_id uuid NOT NULL,
                channel text NOT NULL,
                outcome text NOT NULL,
                engine text,
                model text,
                input_tokens bigint,
                cached_input_tokens bigint,
                output_tokens bigint,
                cost_micros bigint,
                price_version text,
                latency_ms bigint,
                intent text,
                answers jsonb,
                reply_message_id uuid,
                attempt integer,
                error text,
                retry_at timestamptz,
                at timestamptz NOT NULL,
                PRIMARY KEY (tenant_id, in_reply_to, seq)
            );"
        );
        conn.execute(ddl.as_str())
            .await
            .context("Failed to create the conversations tables")?;
        Ok(())
    }

    fn indexes(&self, schema: &str) -> Vec<String> {
        vec![format!(
            "CREATE INDEX IF NOT EXISTS messages_by_lead \
             ON {schema}.messages (tenant_id, lead_id, created_at, message_id)"
        )]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()> {
        let mut decoded = Vec::new();
        let mut threads = BTreeSet::new();
        let mut messages = BTreeSet::new();
        for event in events
            .iter()
            .filter(|e| e.aggregate_type == Conversation::TYPE)
        {
            let payload: ConversationEvent = event.decode()?;
            threads.insert(fold::thread_key(event)?);
            if let Some(message_id) = fold::message_changed(&payload) {
                messages.insert((event.metadata.tenant_id, message_id));
            }
            decoded.push((event, payload));
        }
        if decoded.is_empty() {
            return Ok(());
        }
        let mut batch = Batch {
            threads: read_threads(tx, schema, &threads).await?,
            messages: read_messages(tx, schema, &messages).await?,
            turns: Vec::new(),
        };
        for (event, payload) in decoded {
            batch.apply(event, payload)?;
        }
        write::threads(tx, schema, batch.threads.values()).await?;
        write::messages(tx, schema, batch.messages.values()).await?;
        write::turns(tx, schema, &batch.turns).await
    }
}

/// The stored threads of `keys`.
async fn read_threads(
    tx: &mut PgConnection,
    schema: &str,
    keys: &BTreeSet<ThreadKey>,
) -> anyhow::Result<BTreeMap<ThreadKey, ThreadRow>> {
    let tenants: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
    let leads: Vec<Uuid> = keys.iter().map(|k| k.1).collect();
    let channels: Vec<&str> = keys.iter().map(|k| k.2).collect();
    let rows: Vec<Json<ThreadRow>> = sqlx::query_scalar(&format!(
        "SELECT to_jsonb(t) FROM {schema}.threads t WHERE (tenant_id, lead_id, channel) IN \
         (SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[]))"
    ))
    .bind(tenants)
    .bind(leads)
    .bind(channels)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to read threads")?;
    rows.into_iter()
        .map(|Json(row)| {
            let channel: Channel = row
                .channel
                .parse()
                .with_context(|| format!("Unknown channel {} in threads", row.channel))?;
            Ok(((row.tenant_id, row.lead_id, channel.as_str()), row))
        })
        .collect()
}

/// The stored messages of `keys` (tenant, message id).
async fn read_messages(
    tx: &mut PgConnection,
    schema: &str,
    keys: &BTreeSet<(Uuid, Uuid)>,
) -> anyhow::Result<BTreeMap<(Uuid, Uuid), MessageRow>> {
    if keys.is_empty() {
        return Ok(BTreeMap::new());
    }
    let (tenants, ids): (Vec<Uuid>, Vec<Uuid>) = keys.iter().copied().unzip();
    let rows: Vec<Json<MessageRow>> = sqlx::query_scalar(&format!(
        "SELECT to_jsonb(m) FROM {schema}.messages m WHERE (tenant_id, message_id) IN \
         (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))"
    ))
    .bind(tenants)
    .bind(ids)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to read messages")?;
    Ok(rows
        .into_iter()
        .map(|Json(row)| ((row.tenant_id, row.message_id), row))
        .collect())
}
