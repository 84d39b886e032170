//! The contacts read model: one row per lead with everything the list filters on — status,
//! workflow, sources, tags, custom fields, created/updated and last activity.
//!
//! Handler kind: replayable (idempotent per lead by aggregate sequence; no external calls).
//! A batch is applied set-wise: the rows of the leads it touches are read in one statement,
//! folded in memory ([`fold`]), and written back in one multi-row upsert.

pub mod fold;
pub mod query;

use std::collections::HashMap;

use anyhow::Context;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::Lead;
use infrastructure::feed::RecordedEvent;
use sqlx::{Executor, PgConnection};
use uuid::Uuid;

use crate::projection::{aggregate_keys, live_schema, Projection};
use fold::ContactRow;

/// The contacts projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContactsProjection;

/// Its name.
pub const NAME: &str = "contacts";
/// Its table layout version.
pub const VERSION: u32 = 1;

/// The schema queries read from.
pub fn live() -> String {
    live_schema(NAME, VERSION)
}

const COLUMNS: &str = "tenant_id, lead_id, first_name, last_name, phone, email, status, workflow_id, \
     source, additional_sources, tags, custom_fields, created_at, updated_at, last_activity_at, version";

#[async_trait]
impl Projection for ContactsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        VERSION
    }

    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {schema}.contacts (
                tenant_id uuid NOT NULL,
                lead_id uuid NOT NULL,
                first_name text NOT NULL,
                last_name text NOT NULL,
                phone text,
                email text,
                status text NOT NULL,
                workflow_id uuid,
                source text NOT NULL,
                additional_sources text[] NOT NULL,
                tags text[] NOT NULL,
                custom_fields jsonb NOT NULL,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                last_activity_at timestamptz NOT NULL,
                version bigint NOT NULL,
                PRIMARY KEY (tenant_id, lead_id)
            );
            CREATE INDEX IF NOT EXISTS contacts_by_created
                ON {schema}.contacts (tenant_id, created_at DESC, lead_id DESC);
            CREATE INDEX IF NOT EXISTS contacts_by_status ON {schema}.contacts (tenant_id, status);
            CREATE INDEX IF NOT EXISTS contacts_by_workflow ON {schema}.contacts (tenant_id, workflow_id);
            CREATE INDEX IF NOT EXISTS contacts_by_tags ON {schema}.contacts USING gin (tags);
            CREATE INDEX IF NOT EXISTS contacts_search ON {schema}.contacts USING gin (
                (lower(first_name || ' ' || last_name || ' ' || coalesce(phone, '') || ' ' || coalesce(email, '')))
                gin_trgm_ops);"
        );
        conn.execute(ddl.as_str())
            .await
            .context("Failed to create the contacts table")?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()> {
        let leads: Vec<&RecordedEvent> = events
            .iter()
            .filter(|e| e.aggregate_type == Lead::TYPE)
            .collect();
        if leads.is_empty() {
            return Ok(());
        }
        let (tenants, ids) = aggregate_keys(leads.iter().copied())?;
        let existing: Vec<sqlx::types::Json<ContactRow>> = sqlx::query_scalar(&format!(
            "SELECT to_jsonb(c) FROM {schema}.contacts c \
             WHERE (tenant_id, lead_id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))"
        ))
        .bind(&tenants)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await
        .context("Failed to read contacts")?;
        let before: HashMap<Uuid, ContactRow> = existing
            .into_iter()
            .map(|row| (row.0.lead_id, row.0))
            .collect();
        let mut rows = before.clone();
        for event in leads {
            fold::apply(&mut rows, event)?;
        }
        write_tag_counts(tx, schema, &fold::tag_count_deltas(&before, &rows)).await?;
        let rows: Vec<&ContactRow> = rows.values().collect();
        sqlx::query(&format!(
            "INSERT INTO {schema}.contacts ({COLUMNS}) \
             SELECT {COLUMNS} FROM jsonb_populate_recordset(NULL::{schema}.contacts, $1) \
             ON CONFLICT (tenant_id, lead_id) DO UPDATE SET \
               first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, \
               phone = EXCLUDED.phone, email = EXCLUDED.email, status = EXCLUDED.status, \
               workflow_id = EXCLUDED.workflow_id, source = EXCLUDED.source, \
               additional_sources = EXCLUDED.additional_sources, tags = EXCLUDED.tags, \
               custom_fields = EXCLUDED.custom_fields, updated_at = EXCLUDED.updated_at, \
               last_activity_at = EXCLUDED.last_activity_at, \
               last_message_at = EXCLUDED.last_message_at, \
               last_contacted_at = EXCLUDED.last_contacted_at, \
               follow_ups_sent = EXCLUDED.follow_ups_sent, archived = EXCLUDED.archived, \
               version = EXCLUDED.version"
        ))
        .bind(sqlx::types::Json(&rows))
        .execute(&mut *tx)
        .await
        .context("Failed to write contacts")?;
        Ok(())
    }
}

/// Adds the batch's changes to the per-tag lead counts, in one statement.
async fn write_tag_counts(
    tx: &mut PgConnection,
    schema: &str,
    deltas: &std::collections::BTreeMap<(Uuid, String), i64>,
) -> anyhow::Result<()> {
    if deltas.is_empty() {
        return Ok(());
    }
    let mut tenants = Vec::with_capacity(deltas.len());
    let mut tags = Vec::with_capacity(deltas.len());
    let mut changes = Vec::with_capacity(deltas.len());
    for ((tenant, tag), delta) in deltas {
        tenants.push(*tenant);
        tags.push(tag.as_str());
        changes.push(*delta);
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.tag_counts (tenant_id, tag, leads) \
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::bigint[]) \
         ON CONFLICT (tenant_id, tag) DO UPDATE SET leads = tag_counts.leads + EXCLUDED.leads"
    ))
    .bind(&tenants)
    .bind(&tags)
    .bind(&changes)
    .execute(&mut *tx)
    .await
    .context("Failed to count tags")?;
    Ok(())
}
