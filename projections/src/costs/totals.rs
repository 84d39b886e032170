//! Reading the costs model's all-time figures: a tenant's AI spend per workflow and in all, and
//! its messages and their prices per channel. A few rows per workflow and channel, whatever the number of
//! conversations and days.

use std::collections::BTreeMap;

use anyhow::Context;
use sqlx::PgPool;
use uuid::Uuid;

use super::messages::{self, ChannelMessages};
use super::query::CostSums;

/// A tenant's all-time AI spend and messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CostTotals {
    /// In all; `conversations` counts each conversation once, whatever its workflows.
    pub total: CostSums,
    /// Per workflow (the nil uuid: leads in none) that spent.
    pub by_workflow: BTreeMap<Uuid, CostSums>,
    /// Messages and their prices per channel, by channel.
    pub messages: Vec<ChannelMessages>,
}

type TotalRow = (Uuid, i64, i64, i64, i64, i64, i64);

/// The tenant's all-time AI spend and messages.
pub async fn totals(pool: &PgPool, schema: &str, tenant: Uuid) -> anyhow::Result<CostTotals> {
    let rows: Vec<TotalRow> = sqlx::query_as(&format!(
        "SELECT workflow_id, calls, input_tokens, cached_input_tokens, output_tokens, \
                cost_micros, conversations \
         FROM {schema}.ai_costs_totals WHERE tenant_id = $1"
    ))
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("Failed to read the all-time AI costs")?;
    let conversations: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT conversations FROM {schema}.ai_tenant_conversations WHERE tenant_id = $1"
    ))
    .bind(tenant)
    .fetch_optional(pool)
    .await
    .context("Failed to read the conversations that spent")?;
    let messages = messages::all_time(pool, schema, tenant).await?;
    let mut totals = CostTotals {
        total: CostSums {
            conversations: conversations.unwrap_or(0),
            ..CostSums::default()
        },
        messages,
        ..CostTotals::default()
    };
    for (workflow, calls, input, cached, output, cost, conversations) in rows {
        let sums = CostSums {
            calls,
            input_tokens: input,
            cached_input_tokens: cached,
            output_tokens: output,
            cost_micros: cost,
            conversations,
        };
        totals.total.calls += sums.calls;
        totals.total.input_tokens += sums.input_tokens;
        totals.total.cached_input_tokens += sums.cached_input_tokens;
        totals.total.output_tokens += sums.output_tokens;
        totals.total.cost_micros += sums.cost_micros;
        totals.by_workflow.insert(workflow, sums);
    }
    Ok(totals)
}
