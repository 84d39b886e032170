//! Reading the workflows model, with lead counts per status.

use std::collections::BTreeMap;

use anyhow::Context;
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use super::fold::WorkflowRow;

/// A workflow and how many of its leads are in each status.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowView {
    /// The workflow.
    pub row: WorkflowRow,
    /// Leads per status (statuses with no lead are absent).
    pub lead_counts: BTreeMap<String, i64>,
}

/// A page of workflows and the total.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowPage {
    /// Newest first.
    pub items: Vec<WorkflowView>,
    /// How many match in all.
    pub total: i64,
}

const SELECT: &str = "SELECT to_jsonb(w), \
     COALESCE((SELECT jsonb_object_agg(c.status, c.leads) FROM {schema}.workflow_lead_counts c \
               WHERE c.tenant_id = w.tenant_id AND c.workflow_id = w.workflow_id AND c.leads <> 0), \
              '{}'::jsonb)";

type ViewRow = (Json<WorkflowRow>, Json<BTreeMap<String, i64>>);

fn view((row, counts): ViewRow) -> WorkflowView {
    WorkflowView {
        row: row.0,
        lead_counts: counts.0,
    }
}

/// One page (1-based) of the tenant's workflows, optionally only those in `status`.
pub async fn list(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    status: Option<&str>,
    page: u32,
    page_size: u32,
) -> anyhow::Result<WorkflowPage> {
    let select = SELECT.replace("{schema}", schema);
    let offset = i64::from(page.saturating_sub(1)) * i64::from(page_size);
    let rows: Vec<ViewRow> = sqlx::query_as(&format!(
        "{select} FROM {schema}.workflows w \
         WHERE w.tenant_id = $1 AND ($2::text IS NULL OR w.status = $2) \
         ORDER BY w.created_at DESC, w.workflow_id DESC LIMIT $3 OFFSET $4"
    ))
    .bind(tenant)
    .bind(status)
    .bind(i64::from(page_size))
    .bind(offset)
    .fetch_all(pool)
    .await
    .context("Failed to list workflows")?;
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {schema}.workflows w \
         WHERE w.tenant_id = $1 AND ($2::text IS NULL OR w.status = $2)"
    ))
    .bind(tenant)
    .bind(status)
    .fetch_one(pool)
    .await
    .context("Failed to count workflows")?;
    Ok(WorkflowPage {
        items: rows.into_iter().map(view).collect(),
        total,
    })
}

/// The tenant's workflow `id`, if the model has it.
pub async fn get(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    id: Uuid,
) -> anyhow::Result<Option<WorkflowView>> {
    let select = SELECT.replace("{schema}", schema);
    let row: Option<ViewRow> = sqlx::query_as(&format!(
        "{select} FROM {schema}.workflows w WHERE w.tenant_id = $1 AND w.workflow_id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(pool)
    .await
    .context("Failed to read a workflow")?;
    Ok(row.map(view))
}
