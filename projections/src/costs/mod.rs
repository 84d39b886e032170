//! The AI cost read model: per tenant, UTC day, workflow and model, the AI calls, tokens and
//! cost in exact integer micro-USD; and per tenant, UTC day, channel and direction, the messages
//! received and sent. Dashboards read sums over a few rows per day, however many leads a tenant
//! has.
//!
//! Handler kind: replayable and stateful, with incremental UPSERT sums only (no scans).
//! - **Workflow**: an AI call counts under its lead's workflow *at the time of the call* (nil
//!   uuid when none), so the projection keeps each lead's workflow (`lead_workflows`) from
//!   `LeadCaptured` and `LeadWorkflowAssigned`; the lead is read off the conversation id.
//! - **Day**: the UTC calendar day of the call's own time (`at`), or of the message's
//!   `received_at` / `sent_at`. UTC keeps the projection free of reads of the tenant's zone.
//! - **Model**: the model's name; the rules engine (no model) counts as `rules`.
//! - **Conversations**: `ai_cost_conversations` keeps each (tenant, day, workflow, model,
//!   conversation) that spent once; a row's `conversations` is how many it holds, and queries
//!   over several rows count distinct conversations there, so an average per conversation is
//!   exact whatever the grouping.
//! - **All time** (`ai_costs_totals`, `ai_tenant_conversations`): the same sums over every day,
//!   kept as counters (see [`all_time`]) so all-time figures read a few rows per workflow,
//!   however many conversations and days the tenant has.
//! - **Message prices and all-time messages** (see [`messages`]): what providers reported
//!   outbound messages cost, per day, channel and currency, and messages per channel over all
//!   time.

pub mod all_time;
pub mod fold;
pub mod messages;
pub mod query;
pub mod totals;

use std::collections::BTreeMap;

use anyhow::Context;
use async_trait::async_trait;
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use domain::conversation::Conversation;
use domain::Lead;
use infrastructure::feed::RecordedEvent;
use sqlx::{Executor, PgConnection};
use uuid::Uuid;

use crate::projection::{live_schema, Projection};
use fold::{CostKey, State};

/// The costs projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct CostsProjection;

/// Its name.
pub const NAME: &str = "costs";
/// Its table layout version.
pub const VERSION: u32 = 2;

/// The schema queries read from.
pub fn live() -> String {
    live_schema(NAME, VERSION)
}

#[async_trait]
impl Projection for CostsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        VERSION
    }

    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {schema}.lead_workflows (
                tenant_id uuid NOT NULL,
                lead_id uuid NOT NULL,
                workflow_id uuid NOT NULL,
                PRIMARY KEY (tenant_id, lead_id)
            );
            CREATE TABLE IF NOT EXISTS {schema}.ai_costs_daily (
                tenant_id uuid NOT NULL,
                day date NOT NULL,
                workflow_id uuid NOT NULL,
                model text NOT NULL,
                calls bigint NOT NULL,
                input_tokens bigint NOT NULL,
                cached_input_tokens bigint NOT NULL,
                output_tokens bigint NOT NULL,
                cost_micros bigint NOT NULL,
                conversations bigint NOT NULL,
                PRIMARY KEY (tenant_id, day, workflow_id, model)
            );
            CREATE TABLE IF NOT EXISTS {schema}.ai_cost_conversations (
                tenant_id uuid NOT NULL,
                day date NOT NULL,
                workflow_id uuid NOT NULL,
                model text NOT NULL,
                conversation_id text NOT NULL,
                PRIMARY KEY (tenant_id, day, workflow_id, model, conversation_id)
            );
            CREATE TABLE IF NOT EXISTS {schema}.messages_daily (
                tenant_id uuid NOT NULL,
                day date NOT NULL,
                channel text NOT NULL,
                direction text NOT NULL,
                messages bigint NOT NULL,
                PRIMARY KEY (tenant_id, day, channel, direction)
            )"
        );
        conn.execute(ddl.as_str())
            .await
            .context("Failed to create the costs tables")?;
        conn.execute(all_time::ddl(schema).as_str())
            .await
            .context("Failed to create the all-time costs tables")?;
        conn.execute(messages::ddl(schema).as_str())
            .await
            .context("Failed to create the message tables")?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()> {
        let relevant: Vec<&RecordedEvent> = events
            .iter()
            .filter(|e| e.aggregate_type == Lead::TYPE || e.aggregate_type == Conversation::TYPE)
            .collect();
        if relevant.is_empty() {
            return Ok(());
        }
        let mut state = State {
            workflows: load_workflows(tx, schema, &relevant).await?,
            ..State::default()
        };
        for event in relevant {
            if event.aggregate_type == Lead::TYPE {
                state.apply_lead(event)?;
            } else {
                state.apply_conversation(event)?;
            }
        }
        write_workflows(tx, schema, &state).await?;
        let fresh = record_conversations(tx, schema, &state).await?;
        write_costs(tx, schema, &state, &fresh).await?;
        all_time::write_costs(tx, schema, &state).await?;
        write_messages(tx, schema, &state).await?;
        messages::write(tx, schema, &state).await
    }
}

/// The workflows of the leads the batch's events concern.
async fn load_workflows(
    tx: &mut PgConnection,
    schema: &str,
    events: &[&RecordedEvent],
) -> anyhow::Result<BTreeMap<(Uuid, Uuid), Uuid>> {
    let mut keys = Vec::with_capacity(events.len());
    for event in events {
        let lead = if event.aggregate_type == Lead::TYPE {
            event.aggregate_uuid()?
        } else {
            let id: domain::conversation::ConversationId = event
                .aggregate_id
                .parse()
                .with_context(|| format!("conversation id {}", event.aggregate_id))?;
            id.lead_id().as_uuid()
        };
        keys.push((event.metadata.tenant_id, lead));
    }
    keys.sort_unstable();
    keys.dedup();
    let (tenants, leads): (Vec<Uuid>, Vec<Uuid>) = keys.into_iter().unzip();
    let rows: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(&format!(
        "SELECT tenant_id, lead_id, workflow_id FROM {schema}.lead_workflows \
         WHERE (tenant_id, lead_id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))"
    ))
    .bind(&tenants)
    .bind(&leads)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to read the leads' workflows")?;
    Ok(rows
        .into_iter()
        .map(|(tenant, lead, workflow)| ((tenant, lead), workflow))
        .collect())
}

async fn write_workflows(tx: &mut PgConnection, schema: &str, state: &State) -> anyhow::Result<()> {
    if state.changed_leads.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = state.changed_leads.keys().map(|(t, _)| *t).collect();
    let leads: Vec<Uuid> = state.changed_leads.keys().map(|(_, l)| *l).collect();
    let workflows: Vec<Uuid> = state.changed_leads.values().copied().collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.lead_workflows (tenant_id, lead_id, workflow_id) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[]) \
         ON CONFLICT (tenant_id, lead_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id"
    ))
    .bind(&tenants)
    .bind(&leads)
    .bind(&workflows)
    .execute(&mut *tx)
    .await
    .context("Failed to write the leads' workflows")?;
    Ok(())
}

/// Records the conversations that spent, and returns how many were new in each key.
async fn record_conversations(
    tx: &mut PgConnection,
    schema: &str,
    state: &State,
) -> anyhow::Result<BTreeMap<CostKey, i64>> {
    let mut tenants = Vec::new();
    let mut days = Vec::new();
    let mut workflows = Vec::new();
    let mut models = Vec::new();
    let mut conversations = Vec::new();
    for ((tenant, day, workflow, model), ids) in &state.conversations {
        for id in ids {
            tenants.push(*tenant);
            days.push(*day);
            workflows.push(*workflow);
            models.push(model.clone());
            conversations.push(id.clone());
        }
    }
    if tenants.is_empty() {
        return Ok(BTreeMap::new());
    }
    let inserted: Vec<(Uuid, NaiveDate, Uuid, String)> = sqlx::query_as(&format!(
        "INSERT INTO {schema}.ai_cost_conversations \
           (tenant_id, day, workflow_id, model, conversation_id) \
         SELECT * FROM UNNEST($1::uuid[], $2::date[], $3::uuid[], $4::text[], $5::text[]) \
         ON CONFLICT DO NOTHING \
         RETURNING tenant_id, day, workflow_id, model"
    ))
    .bind(&tenants)
    .bind(&days)
    .bind(&workflows)
    .bind(&models)
    .bind(&conversations)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to record the conversations that spent")?;
    let mut fresh = BTreeMap::new();
    for key in inserted {
        *fresh.entry(key).or_insert(0) += 1;
    }
    Ok(fresh)
}

async fn write_costs(
    tx: &mut PgConnection,
    schema: &str,
    state: &State,
    fresh: &BTreeMap<CostKey, i64>,
) -> anyhow::Result<()> {
    if state.costs.is_empty() {
        return Ok(());
    }
    let mut tenants = Vec::new();
    let mut days = Vec::new();
    let mut workflows = Vec::new();
    let mut models = Vec::new();
    let mut calls = Vec::new();
    let mut input = Vec::new();
    let mut cached = Vec::new();
    let mut output = Vec::new();
    let mut cost = Vec::new();
    let mut new_conversations = Vec::new();
    for (key, sums) in &state.costs {
        let (tenant, day, workflow, model) = key;
        tenants.push(*tenant);
        days.push(*day);
        workflows.push(*workflow);
        models.push(model.clone());
        calls.push(sums.calls);
        input.push(sums.input_tokens);
        cached.push(sums.cached_input_tokens);
        output.push(sums.output_tokens);
        cost.push(sums.cost_micros);
        new_conversations.push(fresh.get(key).copied().unwrap_or(0));
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.ai_costs_daily \
           (tenant_id, day, workflow_id, model, calls, input_tokens, cached_input_tokens, \
            output_tokens, cost_micros, conversations) \
         SELECT * FROM UNNEST($1::uuid[], $2::date[], $3::uuid[], $4::text[], $5::int8[], \
                              $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[]) \
         ON CONFLICT (tenant_id, day, workflow_id, model) DO UPDATE SET \
           calls = ai_costs_daily.calls + EXCLUDED.calls, \
           input_tokens = ai_costs_daily.input_tokens + EXCLUDED.input_tokens, \
           cached_input_tokens = ai_costs_daily.cached_input_tokens + EXCLUDED.cached_input_tokens, \
           output_tokens = ai_costs_daily.output_tokens + EXCLUDED.output_tokens, \
           cost_micros = ai_costs_daily.cost_micros + EXCLUDED.cost_micros, \
           conversations = ai_costs_daily.conversations + EXCLUDED.conversations"
    ))
    .bind(&tenants)
    .bind(&days)
    .bind(&workflows)
    .bind(&models)
    .bind(&calls)
    .bind(&input)
    .bind(&cached)
    .bind(&output)
    .bind(&cost)
    .bind(&new_conversations)
    .execute(&mut *tx)
    .await
    .context("Failed to add AI costs")?;
    Ok(())
}

async fn write_messages(tx: &mut PgConnection, schema: &str, state: &State) -> anyhow::Result<()> {
    if state.messages.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = state.messages.keys().map(|k| k.0).collect();
    let days: Vec<NaiveDate> = state.messages.keys().map(|k| k.1).collect();
    let channels: Vec<&str> = state.messages.keys().map(|k| k.2).collect();
    let directions: Vec<&str> = state.messages.keys().map(|k| k.3).collect();
    let counts: Vec<i64> = state.messages.values().copied().collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.messages_daily (tenant_id, day, channel, direction, messages) \
         SELECT * FROM UNNEST($1::uuid[], $2::date[], $3::text[], $4::text[], $5::int8[]) \
         ON CONFLICT (tenant_id, day, channel, direction) DO UPDATE SET \
           messages = messages_daily.messages + EXCLUDED.messages"
    ))
    .bind(&tenants)
    .bind(&days)
    .bind(&channels)
    .bind(&directions)
    .bind(&counts)
    .execute(&mut *tx)
    .await
    .context("Failed to add message counts")?;
    Ok(())
}
