//! The contacts read model: one row per lead with everything the list filters on — status,
//! workflow, sources, tags, custom fields, created/updated, last activity, and from the lead's
//! conversations the times of its last messages and the follow-ups sent.
//!
//! Indexes: every list is scoped to a tenant and, by default, hides archived leads, so the
//! ordered indexes lead with `tenant_id` and are partial (`WHERE NOT archived`): the default
//! listing of any sort is an index scan that stops after a page, whatever the tenant's size.
//!
//! Handler kind: replayable (lead events idempotent per lead by aggregate sequence; conversation
//! events by the runner's exactly-once batches, see [`messages`]; no external calls).
//! A batch is applied set-wise: the rows of the leads it touches are read in one statement,
//! folded in memory ([`fold`]), and written back in one multi-row upsert.

pub mod export;
pub mod fold;
pub mod messages;
pub mod query;
pub mod tags;

use std::collections::HashMap;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::Lead;
use infrastructure::feed::RecordedEvent;
use sqlx::{Executor, PgConnection};
use uuid::Uuid;

use crate::projection::{live_schema, Projection};
use fold::ContactRow;

/// The contacts projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContactsProjection;

/// Its name.
pub const NAME: &str = "contacts";
/// Its table layout version.
pub const VERSION: u32 = 3;

/// The schema queries read from.
pub fn live() -> String {
    live_schema(NAME, VERSION)
}

/// The contacts table's columns, in order: what is written and what [`ContactRow`] reads.
pub const COLUMNS: &str =
    "tenant_id, lead_id, first_name, last_name, phone, email, status, workflow_id, \
     source, additional_sources, tags, custom_fields, created_at, updated_at, last_activity_at, \
     last_message_at, last_contacted_at, last_inbound_at, follow_ups_sent, archived, version";

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
                last_message_at timestamptz,
                last_contacted_at timestamptz,
                last_inbound_at timestamptz,
                follow_ups_sent integer NOT NULL,
                archived boolean NOT NULL,
                version bigint NOT NULL,
                PRIMARY KEY (tenant_id, lead_id)
            );
            CREATE TABLE IF NOT EXISTS {schema}.tag_counts (
                tenant_id uuid NOT NULL,
                tag text NOT NULL,
                leads bigint NOT NULL,
                PRIMARY KEY (tenant_id, tag)
            );
            CREATE TABLE IF NOT EXISTS {schema}.status_counts (
                tenant_id uuid NOT NULL,
                status text NOT NULL,
                leads bigint NOT NULL,
                PRIMARY KEY (tenant_id, status)
            );"
        );
        conn.execute(ddl.as_str())
            .await
            .context("Failed to create the contacts tables")?;
        Ok(())
    }

    fn indexes(&self, schema: &str) -> Vec<String> {
        let name = query::NAME_KEY;
        let search = query::SEARCH_TEXT;
        [
            (
                "contacts_by_created",
                "(tenant_id, created_at, lead_id) WHERE NOT archived",
            ),
            (
                "contacts_by_activity",
                "(tenant_id, last_activity_at, lead_id) WHERE NOT archived",
            ),
            (
                "contacts_by_name",
                &format!("(tenant_id, {name}, lead_id) WHERE NOT archived"),
            ),
            (
                "contacts_by_status",
                "(tenant_id, status, created_at, lead_id) WHERE NOT archived",
            ),
            (
                "contacts_by_workflow",
                "(tenant_id, workflow_id, created_at, lead_id) WHERE NOT archived",
            ),
            (
                "contacts_archived",
                "(tenant_id, created_at, lead_id) WHERE archived",
            ),
            ("contacts_by_tags", "USING gin (tags)"),
            (
                "contacts_by_custom_fields",
                "USING gin (custom_fields jsonb_path_ops)",
            ),
            (
                "contacts_search",
                &format!("USING gin (({search}) gin_trgm_ops)"),
            ),
        ]
        .into_iter()
        .map(|(index, definition)| {
            format!("CREATE INDEX IF NOT EXISTS {index} ON {schema}.contacts {definition}")
        })
        .collect()
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()> {
        let mut relevant: Vec<(&RecordedEvent, Option<Uuid>)> = Vec::new();
        let mut keys: Vec<(Uuid, Uuid)> = Vec::new();
        for event in events {
            let (lead_id, conversation) = if event.aggregate_type == Lead::TYPE {
                (event.aggregate_uuid()?, None)
            } else if let Some(lead_id) = messages::lead_of(event)? {
                (lead_id, Some(lead_id))
            } else {
                continue;
            };
            keys.push((event.metadata.tenant_id, lead_id));
            relevant.push((event, conversation));
        }
        if relevant.is_empty() {
            return Ok(());
        }
        keys.sort_unstable();
        keys.dedup();
        let (tenants, ids): (Vec<Uuid>, Vec<Uuid>) = keys.into_iter().unzip();
        let existing: Vec<ContactRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM {schema}.contacts c \
             WHERE (tenant_id, lead_id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))"
        ))
        .bind(&tenants)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await
        .context("Failed to read contacts")?;
        let before: HashMap<Uuid, ContactRow> =
            existing.into_iter().map(|row| (row.lead_id, row)).collect();
        let mut rows = before.clone();
        for (event, conversation) in relevant {
            match conversation {
                None => fold::apply(&mut rows, event)?,
                Some(lead_id) => messages::apply(&mut rows, lead_id, event)?,
            }
        }
        let tags = fold::tag_count_deltas(&before, &rows);
        write_counts(tx, schema, "tag_counts", "tag", &tags).await?;
        let statuses = fold::status_count_deltas(&before, &rows);
        write_counts(tx, schema, "status_counts", "status", &statuses).await?;
        write_contacts(tx, schema, rows.values()).await
    }
}

/// Upserts `rows` in one statement: a typed array per column, unnested by PostgreSQL (several
/// times cheaper than parsing the rows from JSON). Tags and sources cannot contain commas, so
/// each row's list travels as one comma-joined text.
async fn write_contacts<'a>(
    tx: &mut PgConnection,
    schema: &str,
    rows: impl ExactSizeIterator<Item = &'a ContactRow>,
) -> anyhow::Result<()> {
    let mut c = ContactColumns::with_capacity(rows.len());
    for row in rows {
        c.push(row)?;
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.contacts ({COLUMNS}) \
         SELECT t, l, f, n, p, e, s, w, src, string_to_array(srcs, ','), string_to_array(tg, ','), \
                cf::jsonb, ca, ua, la, lm, lc, li, fu, ar, v \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], \
                     $7::text[], $8::uuid[], $9::text[], $10::text[], $11::text[], $12::text[], \
                     $13::timestamptz[], $14::timestamptz[], $15::timestamptz[], \
                     $16::timestamptz[], $17::timestamptz[], $18::timestamptz[], $19::int4[], \
                     $20::bool[], $21::int8[]) \
              AS r(t, l, f, n, p, e, s, w, src, srcs, tg, cf, ca, ua, la, lm, lc, li, fu, ar, v) \
         ON CONFLICT (tenant_id, lead_id) DO UPDATE SET \
           first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, \
           phone = EXCLUDED.phone, email = EXCLUDED.email, status = EXCLUDED.status, \
           workflow_id = EXCLUDED.workflow_id, source = EXCLUDED.source, \
           additional_sources = EXCLUDED.additional_sources, tags = EXCLUDED.tags, \
           custom_fields = EXCLUDED.custom_fields, updated_at = EXCLUDED.updated_at, \
           last_activity_at = EXCLUDED.last_activity_at, \
           last_message_at = EXCLUDED.last_message_at, \
           last_contacted_at = EXCLUDED.last_contacted_at, \
           last_inbound_at = EXCLUDED.last_inbound_at, \
           follow_ups_sent = EXCLUDED.follow_ups_sent, archived = EXCLUDED.archived, \
           version = EXCLUDED.version"
    ))
    .bind(c.tenant_id)
    .bind(c.lead_id)
    .bind(c.first_name)
    .bind(c.last_name)
    .bind(c.phone)
    .bind(c.email)
    .bind(c.status)
    .bind(c.workflow_id)
    .bind(c.source)
    .bind(c.additional_sources)
    .bind(c.tags)
    .bind(c.custom_fields)
    .bind(c.created_at)
    .bind(c.updated_at)
    .bind(c.last_activity_at)
    .bind(c.last_message_at)
    .bind(c.last_contacted_at)
    .bind(c.last_inbound_at)
    .bind(c.follow_ups_sent)
    .bind(c.archived)
    .bind(c.version)
    .execute(&mut *tx)
    .await
    .context("Failed to write contacts")?;
    Ok(())
}

/// Contact rows turned column-wise, for [`write_contacts`].
#[derive(Default)]
struct ContactColumns {
    tenant_id: Vec<Uuid>,
    lead_id: Vec<Uuid>,
    first_name: Vec<String>,
    last_name: Vec<String>,
    phone: Vec<Option<String>>,
    email: Vec<Option<String>>,
    status: Vec<String>,
    workflow_id: Vec<Option<Uuid>>,
    source: Vec<String>,
    additional_sources: Vec<String>,
    tags: Vec<String>,
    custom_fields: Vec<String>,
    created_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    last_activity_at: Vec<DateTime<Utc>>,
    last_message_at: Vec<Option<DateTime<Utc>>>,
    last_contacted_at: Vec<Option<DateTime<Utc>>>,
    last_inbound_at: Vec<Option<DateTime<Utc>>>,
    follow_ups_sent: Vec<i32>,
    archived: Vec<bool>,
    version: Vec<i64>,
}

impl ContactColumns {
    fn with_capacity(n: usize) -> Self {
        Self {
            tenant_id: Vec::with_capacity(n),
            lead_id: Vec::with_capacity(n),
            first_name: Vec::with_capacity(n),
            last_name: Vec::with_capacity(n),
            phone: Vec::with_capacity(n),
            email: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            workflow_id: Vec::with_capacity(n),
            source: Vec::with_capacity(n),
            additional_sources: Vec::with_capacity(n),
            tags: Vec::with_capacity(n),
            custom_fields: Vec::with_capacity(n),
            created_at: Vec::with_capacity(n),
            updated_at: Vec::with_capacity(n),
            last_activity_at: Vec::with_capacity(n),
            last_message_at: Vec::with_capacity(n),
            last_contacted_at: Vec::with_capacity(n),
            last_inbound_at: Vec::with_capacity(n),
            follow_ups_sent: Vec::with_capacity(n),
            archived: Vec::with_capacity(n),
            version: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, row: &ContactRow) -> anyhow::Result<()> {
        self.tenant_id.push(row.tenant_id);
        self.lead_id.push(row.lead_id);
        self.first_name.push(row.first_name.clone());
        self.last_name.push(row.last_name.clone());
        self.phone.push(row.phone.clone());
        self.email.push(row.email.clone());
        self.status.push(row.status.clone());
        self.workflow_id.push(row.workflow_id);
        self.source.push(row.source.clone());
        self.additional_sources
            .push(row.additional_sources.join(","));
        self.tags.push(row.tags.join(","));
        self.custom_fields.push(
            serde_json::to_string(&row.custom_fields).context("Failed to encode custom fields")?,
        );
        self.created_at.push(row.created_at);
        self.updated_at.push(row.updated_at);
        self.last_activity_at.push(row.last_activity_at);
        self.last_message_at.push(row.last_message_at);
        self.last_contacted_at.push(row.last_contacted_at);
        self.last_inbound_at.push(row.last_inbound_at);
        self.follow_ups_sent.push(row.follow_ups_sent);
        self.archived.push(row.archived);
        self.version.push(row.version);
        Ok(())
    }
}

/// Adds a batch's changes to a count table (`tag_counts`, `status_counts`: live leads per
/// tenant and `key`) in one statement, and drops the counts that reach zero, so the table holds
/// the same rows however the events were batched.
async fn write_counts(
    tx: &mut PgConnection,
    schema: &str,
    table: &str,
    key: &str,
    deltas: &fold::CountDeltas,
) -> anyhow::Result<()> {
    if deltas.is_empty() {
        return Ok(());
    }
    let mut tenants = Vec::with_capacity(deltas.len());
    let mut keys = Vec::with_capacity(deltas.len());
    let mut changes = Vec::with_capacity(deltas.len());
    for ((tenant, value), delta) in deltas {
        tenants.push(*tenant);
        keys.push(value.as_str());
        changes.push(*delta);
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.{table} (tenant_id, {key}, leads) \
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::bigint[]) \
         ON CONFLICT (tenant_id, {key}) DO UPDATE SET leads = {table}.leads + EXCLUDED.leads"
    ))
    .bind(&tenants)
    .bind(&keys)
    .bind(&changes)
    .execute(&mut *tx)
    .await
    .with_context(|| format!("Failed to update {table}"))?;
    sqlx::query(&format!(
        "DELETE FROM {schema}.{table} \
         WHERE (tenant_id, {key}) IN (SELECT * FROM UNNEST($1::uuid[], $2::text[])) AND leads = 0"
    ))
    .bind(&tenants)
    .bind(&keys)
    .execute(&mut *tx)
    .await
    .with_context(|| format!("Failed to drop empty counts of {table}"))?;
    Ok(())
}
