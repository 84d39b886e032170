//! The tasks read model: work that is due — a message waiting in the outbox, an inbound message
//! the AI has to answer — as rows with a due time, for the workers to claim
//! (`infrastructure::messaging::task_queue`). DESIGN.md's outbox and scheduled-command projections
//! are this one table: each row names what to do and when; the event that finishes the work
//! removes the row.
//!
//! Handler kind: replayable, and free of reads: every event either puts a task (upsert by key) or
//! takes one away, and the last word in feed order wins. That holds because an aggregate only
//! finishes the work it currently has (a reply is recorded only for the pending inbound message),
//! so a later event of the same key always reflects the latest state.
//!
//! Workers are woken by `NOTIFY bookerbot_tasks` from the batch that added due work.

mod fold;

use std::collections::BTreeMap;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use infrastructure::feed::RecordedEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::projection::{live_schema, Projection};

pub use fold::{TaskKind, TaskRow};

/// The tasks projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct TasksProjection;

/// Its name.
pub const NAME: &str = "tasks";
/// Its table layout version.
pub const VERSION: u32 = 2;
/// The channel workers listen on.
pub const NOTIFY_CHANNEL: &str = "bookerbot_tasks";

/// The live schema.
pub fn live() -> String {
    live_schema(NAME, VERSION)
}

/// The live table workers claim from (`schema.tasks`).
pub fn live_table() -> String {
    format!("{}.tasks", live())
}

#[async_trait]
impl Projection for TasksProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        VERSION
    }

    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {schema}.tasks (
                task_key text PRIMARY KEY,
                tenant_id uuid NOT NULL,
                kind text NOT NULL,
                lead_id uuid NOT NULL,
                conversation_id text NOT NULL,
                message_id uuid NOT NULL,
                due_at timestamptz NOT NULL,
                attempt int4 NOT NULL,
                revision int8 NOT NULL,
                priority int2 NOT NULL DEFAULT 0
            )"
        ))
        .execute(conn)
        .await
        .context("Failed to create the tasks table")?;
        Ok(())
    }

    fn indexes(&self, schema: &str) -> Vec<String> {
        vec![format!(
            "CREATE INDEX IF NOT EXISTS tasks_by_due ON {schema}.tasks (priority, due_at, task_key)"
        )]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()> {
        let mut changes: BTreeMap<String, Option<TaskRow>> = BTreeMap::new();
        for event in events {
            fold::apply(&mut changes, event)?;
        }
        if changes.is_empty() {
            return Ok(());
        }
        let (gone, put): (Vec<_>, Vec<_>) = changes.into_iter().partition(|(_, v)| v.is_none());
        let gone: Vec<String> = gone.into_iter().map(|(key, _)| key).collect();
        if !gone.is_empty() {
            sqlx::query(&format!(
                "DELETE FROM {schema}.tasks WHERE task_key = ANY($1)"
            ))
            .bind(&gone)
            .execute(&mut *tx)
            .await
            .context("Failed to delete tasks")?;
        }
        let put: Vec<TaskRow> = put.into_iter().filter_map(|(_, row)| row).collect();
        if !put.is_empty() {
            write(tx, schema, &put).await?;
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(NOTIFY_CHANNEL)
                .execute(&mut *tx)
                .await
                .context("Failed to notify the workers")?;
        }
        Ok(())
    }
}

async fn write(tx: &mut PgConnection, schema: &str, rows: &[TaskRow]) -> anyhow::Result<()> {
    let mut keys = Vec::with_capacity(rows.len());
    let mut tenants: Vec<Uuid> = Vec::with_capacity(rows.len());
    let mut kinds = Vec::with_capacity(rows.len());
    let mut leads: Vec<Uuid> = Vec::with_capacity(rows.len());
    let mut conversations = Vec::with_capacity(rows.len());
    let mut messages: Vec<Uuid> = Vec::with_capacity(rows.len());
    let mut due: Vec<DateTime<Utc>> = Vec::with_capacity(rows.len());
    let mut attempts: Vec<i32> = Vec::with_capacity(rows.len());
    let mut revisions: Vec<i64> = Vec::with_capacity(rows.len());
    for row in rows {
        keys.push(row.key());
        tenants.push(row.tenant_id);
        kinds.push(row.kind.as_str());
        leads.push(row.lead_id);
        conversations.push(row.conversation_id.clone());
        messages.push(row.message_id);
        due.push(row.due_at);
        attempts.push(row.attempt);
        revisions.push(row.revision);
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.tasks \
           (task_key, tenant_id, kind, lead_id, conversation_id, message_id, due_at, attempt, \
            revision) \
         SELECT * FROM UNNEST($1::text[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], \
                              $6::uuid[], $7::timestamptz[], $8::int4[], $9::int8[]) \
         ON CONFLICT (task_key) DO UPDATE SET \
           kind = EXCLUDED.kind, lead_id = EXCLUDED.lead_id, \
           conversation_id = EXCLUDED.conversation_id, message_id = EXCLUDED.message_id, \
           due_at = EXCLUDED.due_at, attempt = EXCLUDED.attempt, revision = EXCLUDED.revision"
    ))
    .bind(&keys)
    .bind(&tenants)
    .bind(&kinds)
    .bind(&leads)
    .bind(&conversations)
    .bind(&messages)
    .bind(&due)
    .bind(&attempts)
    .bind(&revisions)
    .execute(tx)
    .await
    .context("Failed to write tasks")?;
    Ok(())
}
