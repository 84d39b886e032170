//! The all-time AI tables of the costs model: per tenant and workflow the AI sums and the
//! distinct conversations that spent, and per tenant the distinct conversations. Distinct counts are counters: a conversation's first spend in a
//! tenant (`ai_spenders`) and in a workflow (`ai_workflow_spenders`) is recorded once, and only
//! a recording that inserts a row adds one. All-time reads then sum a few rows per workflow,
//! never a row per conversation or per day.

use std::collections::BTreeMap;

use anyhow::Context;
use sqlx::PgConnection;
use uuid::Uuid;

use super::fold::State;

/// The DDL of the all-time tables in `schema`.
pub fn ddl(schema: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {schema}.ai_costs_totals (
            tenant_id uuid NOT NULL,
            workflow_id uuid NOT NULL,
            calls bigint NOT NULL,
            input_tokens bigint NOT NULL,
            cached_input_tokens bigint NOT NULL,
            output_tokens bigint NOT NULL,
            cost_micros bigint NOT NULL,
            conversations bigint NOT NULL,
            PRIMARY KEY (tenant_id, workflow_id)
        );
        CREATE TABLE IF NOT EXISTS {schema}.ai_tenant_conversations (
            tenant_id uuid NOT NULL PRIMARY KEY,
            conversations bigint NOT NULL
        );
        CREATE TABLE IF NOT EXISTS {schema}.ai_spenders (
            tenant_id uuid NOT NULL,
            conversation_id text NOT NULL,
            PRIMARY KEY (tenant_id, conversation_id)
        );
        CREATE TABLE IF NOT EXISTS {schema}.ai_workflow_spenders (
            tenant_id uuid NOT NULL,
            workflow_id uuid NOT NULL,
            conversation_id text NOT NULL,
            PRIMARY KEY (tenant_id, workflow_id, conversation_id)
        )"
    )
}

/// Adds the batch's AI spend to the all-time tables, counting conversations seen for the first
/// time in their tenant and workflow.
pub async fn write_costs(tx: &mut PgConnection, schema: &str, state: &State) -> anyhow::Result<()> {
    let totals = state.totals();
    if totals.is_empty() {
        return Ok(());
    }
    let spenders = state.spenders();
    let tenants: Vec<Uuid> = spenders.iter().map(|s| s.0).collect();
    let workflows: Vec<Uuid> = spenders.iter().map(|s| s.1).collect();
    let conversations: Vec<&str> = spenders.iter().map(|s| s.2).collect();
    let fresh_in_workflows: Vec<(Uuid, Uuid)> = sqlx::query_as(&format!(
        "INSERT INTO {schema}.ai_workflow_spenders (tenant_id, workflow_id, conversation_id) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[]) \
         ON CONFLICT DO NOTHING RETURNING tenant_id, workflow_id"
    ))
    .bind(&tenants)
    .bind(&workflows)
    .bind(&conversations)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to record the conversations that spent per workflow")?;
    let mut fresh: BTreeMap<(Uuid, Uuid), i64> = BTreeMap::new();
    for key in fresh_in_workflows {
        *fresh.entry(key).or_default() += 1;
    }
    let mut tenants = Vec::new();
    let mut workflows = Vec::new();
    let mut calls = Vec::new();
    let mut input = Vec::new();
    let mut cached = Vec::new();
    let mut output = Vec::new();
    let mut cost = Vec::new();
    let mut new_conversations = Vec::new();
    for (key, sums) in &totals {
        tenants.push(key.0);
        workflows.push(key.1);
        calls.push(sums.calls);
        input.push(sums.input_tokens);
        cached.push(sums.cached_input_tokens);
        output.push(sums.output_tokens);
        cost.push(sums.cost_micros);
        new_conversations.push(fresh.get(key).copied().unwrap_or(0));
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.ai_costs_totals \
           (tenant_id, workflow_id, calls, input_tokens, cached_input_tokens, output_tokens, \
            cost_micros, conversations) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::int8[], $5::int8[], \
                              $6::int8[], $7::int8[], $8::int8[]) \
         ON CONFLICT (tenant_id, workflow_id) DO UPDATE SET \
           calls = ai_costs_totals.calls + EXCLUDED.calls, \
           input_tokens = ai_costs_totals.input_tokens + EXCLUDED.input_tokens, \
           cached_input_tokens = ai_costs_totals.cached_input_tokens + EXCLUDED.cached_input_tokens, \
           output_tokens = ai_costs_totals.output_tokens + EXCLUDED.output_tokens, \
           cost_micros = ai_costs_totals.cost_micros + EXCLUDED.cost_micros, \
           conversations = ai_costs_totals.conversations + EXCLUDED.conversations"
    ))
    .bind(&tenants)
    .bind(&workflows)
    .bind(&calls)
    .bind(&input)
    .bind(&cached)
    .bind(&output)
    .bind(&cost)
    .bind(&new_conversations)
    .execute(&mut *tx)
    .await
    .context("Failed to add all-time AI costs")?;
    write_tenant_conversations(tx, schema, state).await
}

/// Counts the conversations that spent for the first time in their tenant. Every tenant that
/// spent in the batch gets its row (a zero delta too), so the rows written do not depend on
/// how the feed was cut into batches.
async fn write_tenant_conversations(
    tx: &mut PgConnection,
    schema: &str,
    state: &State,
) -> anyhow::Result<()> {
    let mut spenders: Vec<(Uuid, &str)> = state
        .spenders()
        .into_iter()
        .map(|(tenant, _, conversation)| (tenant, conversation))
        .collect();
    spenders.sort_unstable();
    spenders.dedup();
    let tenants: Vec<Uuid> = spenders.iter().map(|s| s.0).collect();
    let conversations: Vec<&str> = spenders.iter().map(|s| s.1).collect();
    let fresh: Vec<Uuid> = sqlx::query_scalar(&format!(
        "INSERT INTO {schema}.ai_spenders (tenant_id, conversation_id) \
         SELECT * FROM UNNEST($1::uuid[], $2::text[]) \
         ON CONFLICT DO NOTHING RETURNING tenant_id"
    ))
    .bind(&tenants)
    .bind(&conversations)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to record the conversations that spent")?;
    let mut deltas: BTreeMap<Uuid, i64> = tenants.iter().map(|t| (*t, 0)).collect();
    for tenant in fresh {
        *deltas.entry(tenant).or_default() += 1;
    }
    let tenants: Vec<Uuid> = deltas.keys().copied().collect();
    let counts: Vec<i64> = deltas.values().copied().collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.ai_tenant_conversations (tenant_id, conversations) \
         SELECT * FROM UNNEST($1::uuid[], $2::int8[]) \
         ON CONFLICT (tenant_id) DO UPDATE SET \
           conversations = ai_tenant_conversations.conversations + EXCLUDED.conversations"
    ))
    .bind(&tenants)
    .bind(&counts)
    .execute(&mut *tx)
    .await
    .context("Failed to count the conversations that spent")?;
    Ok(())
}
