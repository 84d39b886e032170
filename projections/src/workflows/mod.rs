//! The workflows read model: a row per workflow (definition and status) and the number of its
//! leads in each status.
//!
//! Handler kind: replayable. Lead counts are kept incrementally: the projection remembers each
//! lead's (workflow, status) and turns every change of either into a -1/+1 pair of deltas.

pub mod fold;
pub mod query;

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::{Lead, Workflow};
use infrastructure::feed::RecordedEvent;
use sqlx::types::Json;
use sqlx::{Executor, PgConnection};
use uuid::Uuid;

use crate::projection::{aggregate_keys, live_schema, Projection};
use fold::{Membership, WorkflowRow};

/// The workflows projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkflowsProjection;

/// Its name.
pub const NAME: &str = "workflows";
/// Its table layout version.
pub const VERSION: u32 = 1;

/// The schema queries read from.
pub fn live() -> String {
    live_schema(NAME, VERSION)
}

const WORKFLOW_COLUMNS: &str =
    "tenant_id, workflow_id, name, description, channel, status, definition, created_at, updated_at, version";

#[async_trait]
impl Projection for WorkflowsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        VERSION
    }

    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {schema}.workflows (
                tenant_id uuid NOT NULL,
                workflow_id uuid NOT NULL,
                name text NOT NULL,
                description text NOT NULL,
                channel text NOT NULL,
                status text NOT NULL,
                definition jsonb NOT NULL,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                version bigint NOT NULL,
                PRIMARY KEY (tenant_id, workflow_id)
            );
            CREATE INDEX IF NOT EXISTS workflows_by_created
                ON {schema}.workflows (tenant_id, created_at DESC, workflow_id DESC);
            CREATE TABLE IF NOT EXISTS {schema}.workflow_members (
                lead_id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL,
                workflow_id uuid,
                status text NOT NULL,
                version bigint NOT NULL
            );
            CREATE TABLE IF NOT EXISTS {schema}.workflow_lead_counts (
                tenant_id uuid NOT NULL,
                workflow_id uuid NOT NULL,
                status text NOT NULL,
                leads bigint NOT NULL,
                PRIMARY KEY (tenant_id, workflow_id, status)
            );"
        );
        conn.execute(ddl.as_str())
            .await
            .context("Failed to create the workflows tables")?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()> {
        let workflow_events: Vec<&RecordedEvent> = events
            .iter()
            .filter(|e| e.aggregate_type == Workflow::TYPE)
            .collect();
        let lead_events: Vec<&RecordedEvent> = events
            .iter()
            .filter(|e| e.aggregate_type == Lead::TYPE)
            .collect();
        if !workflow_events.is_empty() {
            apply_workflow_events(tx, schema, &workflow_events).await?;
        }
        if !lead_events.is_empty() {
            apply_lead_events(tx, schema, &lead_events).await?;
        }
        Ok(())
    }
}

async fn apply_workflow_events(
    tx: &mut PgConnection,
    schema: &str,
    events: &[&RecordedEvent],
) -> anyhow::Result<()> {
    let (tenants, ids) = aggregate_keys(events.iter().copied())?;
    let existing: Vec<Json<WorkflowRow>> = sqlx::query_scalar(&format!(
        "SELECT to_jsonb(w) FROM {schema}.workflows w \
         WHERE (tenant_id, workflow_id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))"
    ))
    .bind(tenants)
    .bind(ids)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to read workflows")?;
    let mut rows: HashMap<Uuid, WorkflowRow> = existing
        .into_iter()
        .map(|row| (row.0.workflow_id, row.0))
        .collect();
    for event in events {
        fold::apply_workflow_event(&mut rows, event)?;
    }
    let rows: Vec<&WorkflowRow> = rows.values().collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.workflows ({WORKFLOW_COLUMNS}) \
         SELECT {WORKFLOW_COLUMNS} FROM jsonb_populate_recordset(NULL::{schema}.workflows, $1) \
         ON CONFLICT (tenant_id, workflow_id) DO UPDATE SET name = EXCLUDED.name, \
           description = EXCLUDED.description, channel = EXCLUDED.channel, \
           status = EXCLUDED.status, definition = EXCLUDED.definition, \
           updated_at = EXCLUDED.updated_at, version = EXCLUDED.version"
    ))
    .bind(Json(&rows))
    .execute(&mut *tx)
    .await
    .context("Failed to write workflows")?;
    Ok(())
}

async fn apply_lead_events(
    tx: &mut PgConnection,
    schema: &str,
    events: &[&RecordedEvent],
) -> anyhow::Result<()> {
    let existing: Vec<Json<Membership>> = sqlx::query_scalar(&format!(
        "SELECT to_jsonb(m) FROM {schema}.workflow_members m WHERE lead_id = ANY($1)"
    ))
    .bind(aggregate_keys(events.iter().copied())?.1)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to read workflow memberships")?;
    let before: HashMap<Uuid, Membership> = existing
        .into_iter()
        .map(|row| (row.0.lead_id, row.0))
        .collect();
    let mut after = before.clone();
    for event in events {
        fold::apply_lead_event(&mut after, event)?;
    }
    let deltas: BTreeMap<(Uuid, Uuid, String), i64> = fold::count_deltas(&before, &after);
    let changed: Vec<&Membership> = after
        .values()
        .filter(|m| before.get(&m.lead_id) != Some(*m))
        .collect();
    if !changed.is_empty() {
        sqlx::query(&format!(
            "INSERT INTO {schema}.workflow_members (lead_id, tenant_id, workflow_id, status, version) \
             SELECT lead_id, tenant_id, workflow_id, status, version \
             FROM jsonb_populate_recordset(NULL::{schema}.workflow_members, $1) \
             ON CONFLICT (lead_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id, \
               status = EXCLUDED.status, version = EXCLUDED.version"
        ))
        .bind(Json(&changed))
        .execute(&mut *tx)
        .await
        .context("Failed to write workflow memberships")?;
    }
    if !deltas.is_empty() {
        let (tenants, workflows, statuses, changes) = deltas.into_iter().fold(
            (Vec::new(), Vec::new(), Vec::new(), Vec::new()),
            |(mut t, mut w, mut s, mut c), ((tenant, workflow, status), delta)| {
                t.push(tenant);
                w.push(workflow);
                s.push(status);
                c.push(delta);
                (t, w, s, c)
            },
        );
        sqlx::query(&format!(
            "INSERT INTO {schema}.workflow_lead_counts AS c (tenant_id, workflow_id, status, leads) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::bigint[]) \
             ON CONFLICT (tenant_id, workflow_id, status) DO UPDATE SET leads = c.leads + EXCLUDED.leads"
        ))
        .bind(&tenants)
        .bind(&workflows)
        .bind(&statuses)
        .bind(&changes)
        .execute(&mut *tx)
        .await
        .context("Failed to write workflow lead counts")?;
        // A count back at zero is no row at all, as in a rebuild, whatever the batch boundaries.
        sqlx::query(&format!(
            "DELETE FROM {schema}.workflow_lead_counts WHERE leads = 0 AND tenant_id = ANY($1)"
        ))
        .bind(&tenants)
        .execute(&mut *tx)
        .await
        .context("Failed to drop empty workflow lead counts")?;
    }
    Ok(())
}
