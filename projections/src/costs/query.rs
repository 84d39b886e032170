//! Reading the costs model: a tenant's AI spend between two UTC days (both included), grouped by
//! day, workflow or model, with the total.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::NaiveDate;
use sqlx::PgPool;
use uuid::Uuid;

/// What the rows of a cost report are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// One row per UTC day (`YYYY-MM-DD`).
    Day,
    /// One row per workflow id (the nil uuid: calls of leads in no workflow).
    Workflow,
    /// One row per model (`rules` for the rules engine).
    Model,
}

impl GroupBy {
    /// The SQL expression giving a row's key as text.
    const fn key_sql(self) -> &'static str {
        match self {
            Self::Day => "day::text",
            Self::Workflow => "workflow_id::text",
            Self::Model => "model",
        }
    }
}

/// AI spend summed over some rows of the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostSums {
    /// AI calls (turns and follow-ups).
    pub calls: i64,
    /// Prompt tokens, cached ones included.
    pub input_tokens: i64,
    /// Prompt tokens served from the provider's cache.
    pub cached_input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
    /// Cost in micro-USD, exact.
    pub cost_micros: i64,
    /// Distinct conversations that spent.
    pub conversations: i64,
}

/// A group's key and sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostRow {
    /// The day, workflow id or model.
    pub key: String,
    /// Its sums.
    pub sums: CostSums,
}

/// A cost report: the groups in key order, and the total over all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostReport {
    /// One row per group that spent, by key.
    pub rows: Vec<CostRow>,
    /// The whole range.
    pub total: CostSums,
}

type SumTuple = (String, i64, i64, i64, i64, i64);

/// The tenant's AI spend from `from` to `to` (UTC days, both included), grouped by `group_by`.
pub async fn costs(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
) -> anyhow::Result<CostReport> {
    let key = group_by.key_sql();
    let sums: Vec<SumTuple> = sqlx::query_as(&format!(
        "SELECT {key}, SUM(calls)::int8, SUM(input_tokens)::int8, \
                SUM(cached_input_tokens)::int8, SUM(output_tokens)::int8, SUM(cost_micros)::int8 \
         FROM {schema}.ai_costs_daily \
         WHERE tenant_id = $1 AND day BETWEEN $2 AND $3 \
         GROUP BY 1"
    ))
    .bind(tenant)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .context("Failed to sum AI costs")?;
    let conversations: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT {key}, COUNT(DISTINCT conversation_id)::int8 \
         FROM {schema}.ai_cost_conversations \
         WHERE tenant_id = $1 AND day BETWEEN $2 AND $3 \
         GROUP BY 1"
    ))
    .bind(tenant)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .context("Failed to count the conversations that spent")?;
    let total_conversations: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(DISTINCT conversation_id)::int8 FROM {schema}.ai_cost_conversations \
         WHERE tenant_id = $1 AND day BETWEEN $2 AND $3"
    ))
    .bind(tenant)
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await
    .context("Failed to count the conversations that spent")?;
    let conversations: BTreeMap<String, i64> = conversations.into_iter().collect();
    let mut rows: Vec<CostRow> = sums
        .into_iter()
        .map(|(key, calls, input, cached, output, cost)| CostRow {
            sums: CostSums {
                calls,
                input_tokens: input,
                cached_input_tokens: cached,
                output_tokens: output,
                cost_micros: cost,
                conversations: conversations.get(&key).copied().unwrap_or(0),
            },
            key,
        })
        .collect();
    rows.sort_by(|a, b| a.key.cmp(&b.key));
    let mut total = CostSums {
        conversations: total_conversations,
        ..CostSums::default()
    };
    for row in &rows {
        total.calls += row.sums.calls;
        total.input_tokens += row.sums.input_tokens;
        total.cached_input_tokens += row.sums.cached_input_tokens;
        total.output_tokens += row.sums.output_tokens;
        total.cost_micros += row.sums.cost_micros;
    }
    Ok(CostReport { rows, total })
}
