//! Reading the funnel's all-time figures per workflow: ever-reached counts from `funnel_totals`
//! and leads now from `funnel_current`. A few rows per workflow, however many leads and days
//! the tenant has, so an overview costs the same for ten thousand leads as for a million.

use std::collections::BTreeMap;

use anyhow::Context;
use sqlx::PgPool;
use uuid::Uuid;

use super::query::FunnelCounts;

/// One workflow's all-time funnel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkflowFunnel {
    /// Ever-reached stage counts and appointment outcome marks, over all days.
    pub reached: FunnelCounts,
    /// Leads in the workflow now, whatever their status.
    pub leads: i64,
}

/// The tenant's all-time funnel per workflow (the nil uuid: leads in none), for every workflow
/// that has leads now or ever counted a stage or an appointment outcome.
pub async fn totals(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
) -> anyhow::Result<BTreeMap<Uuid, WorkflowFunnel>> {
    let reached: Vec<(Uuid, String, i64)> = sqlx::query_as(&format!(
        "SELECT workflow_id, stage, count FROM {schema}.funnel_totals WHERE tenant_id = $1"
    ))
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("Failed to read the all-time funnel counts")?;
    let leads: Vec<(Uuid, i64)> = sqlx::query_as(&format!(
        "SELECT workflow_id, SUM(leads)::int8 FROM {schema}.funnel_current \
         WHERE tenant_id = $1 GROUP BY 1 HAVING SUM(leads) <> 0"
    ))
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("Failed to count the leads per workflow")?;
    let mut totals: BTreeMap<Uuid, WorkflowFunnel> = BTreeMap::new();
    for (workflow, stage, count) in reached {
        totals
            .entry(workflow)
            .or_default()
            .reached
            .add(&stage, count);
    }
    for (workflow, count) in leads {
        totals.entry(workflow).or_default().leads += count;
    }
    Ok(totals)
}

/// The names of the tenant's workflows among `ids`, read from the workflows model in
/// `workflows_schema` (one primary-key lookup each); ids it does not know are absent.
pub async fn workflow_names(
    pool: &PgPool,
    workflows_schema: &str,
    tenant: Uuid,
    ids: &[Uuid],
) -> anyhow::Result<BTreeMap<Uuid, String>> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(Uuid, String)> = sqlx::query_as(&format!(
        "SELECT workflow_id, name FROM {workflows_schema}.workflows \
         WHERE tenant_id = $1 AND workflow_id = ANY($2)"
    ))
    .bind(tenant)
    .bind(ids)
    .fetch_all(pool)
    .await
    .context("Failed to read the workflows' names")?;
    Ok(rows.into_iter().collect())
}
