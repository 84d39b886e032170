//! The calendar-sync read model: appointments in an external calendar (Google) whose latest
//! change the calendar does not show yet, as tasks the workers claim
//! (`infrastructure::appointments::calendar_sync` writes, moves or removes the event, then
//! records `AppointmentCalendarSynced`). DESIGN.md's outbox, for calendars: the booking commits
//! first, the provider is called after, and nothing is lost if the process dies in between.
//!
//! Handler kind: replayable and stateful. Whether a reschedule or a cancel concerns an external
//! calendar is said only by the booking, so the projection keeps the external appointments
//! (`external`); a task remembers the appointment version it asks to show (`sequence`), and a
//! sync that reflects that version or a later one takes it away — a change made while a sync was
//! in flight leaves its task in place, to be synced next.
//!
//! Tasks are shaped like the tasks projection's (the worker loop claims them with the same
//! statement): `task_key` `calendar:<appointment>`, kind `calendar`, the appointment id in
//! `message_id`, the lead in `lead_id`, an empty `conversation_id`.

mod fold;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use infrastructure::feed::RecordedEvent;
use sqlx::{Executor, PgConnection};
use uuid::Uuid;

use crate::projection::{live_schema, Projection};

pub use fold::{SyncTask, KIND};

/// The calendar-sync projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct CalendarSyncProjection;

/// Its name.
pub const NAME: &str = "calendar_sync";
/// Its table layout version.
pub const VERSION: u32 = 1;

/// The live schema.
pub fn live() -> String {
    live_schema(NAME, VERSION)
}

/// The live table workers claim from (`schema.tasks`).
pub fn live_table() -> String {
    format!("{}.tasks", live())
}

#[async_trait]
impl Projection for CalendarSyncProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        VERSION
    }

    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {schema}.external (
                appointment_id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL,
                lead_id uuid NOT NULL
            );
            CREATE TABLE IF NOT EXISTS {schema}.tasks (
                task_key text PRIMARY KEY,
                tenant_id uuid NOT NULL,
                kind text NOT NULL,
                lead_id uuid NOT NULL,
                conversation_id text NOT NULL,
                message_id uuid NOT NULL,
                due_at timestamptz NOT NULL,
                attempt int4 NOT NULL,
                revision int8 NOT NULL,
                priority int2 NOT NULL DEFAULT 0,
                sequence int8 NOT NULL
            )"
        );
        conn.execute(ddl.as_str())
            .await
            .context("Failed to create the calendar-sync tables")?;
        Ok(())
    }

    fn indexes(&self, schema: &str) -> Vec<String> {
        vec![format!(
            "CREATE INDEX IF NOT EXISTS calendar_tasks_by_due ON {schema}.tasks \
             (priority, due_at, task_key)"
        )]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()> {
        let appointments: Vec<&RecordedEvent> = events
            .iter()
            .filter(|event| event.aggregate_type == "appointment")
            .collect();
        if appointments.is_empty() {
            return Ok(());
        }
        let ids: BTreeSet<Uuid> = appointments
            .iter()
            .map(|event| event.aggregate_uuid())
            .collect::<anyhow::Result<_>>()?;
        let ids: Vec<Uuid> = ids.into_iter().collect();
        let mut state = fold::State {
            external: load_external(tx, schema, &ids).await?,
            tasks: load_tasks(tx, schema, &ids).await?,
            ..fold::State::default()
        };
        for event in appointments {
            state.apply(event)?;
        }
        write(tx, schema, &state).await
    }
}

async fn load_external(
    tx: &mut PgConnection,
    schema: &str,
    ids: &[Uuid],
) -> anyhow::Result<BTreeMap<Uuid, (Uuid, Uuid)>> {
    let rows: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(&format!(
        "SELECT appointment_id, tenant_id, lead_id FROM {schema}.external \
         WHERE appointment_id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to read the external appointments")?;
    Ok(rows
        .into_iter()
        .map(|(id, tenant, lead)| (id, (tenant, lead)))
        .collect())
}

type TaskTuple = (Uuid, Uuid, Uuid, DateTime<Utc>, i32, i64, i64);

async fn load_tasks(
    tx: &mut PgConnection,
    schema: &str,
    ids: &[Uuid],
) -> anyhow::Result<BTreeMap<Uuid, Option<SyncTask>>> {
    let rows: Vec<TaskTuple> = sqlx::query_as(&format!(
        "SELECT message_id, tenant_id, lead_id, due_at, attempt, revision, sequence \
         FROM {schema}.tasks WHERE message_id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to read the calendar-sync tasks")?;
    Ok(rows
        .into_iter()
        .map(
            |(appointment_id, tenant_id, lead_id, due_at, attempt, revision, sequence)| {
                (
                    appointment_id,
                    Some(SyncTask {
                        appointment_id,
                        tenant_id,
                        lead_id,
                        due_at,
                        attempt,
                        revision,
                        sequence,
                    }),
                )
            },
        )
        .collect())
}

async fn write(tx: &mut PgConnection, schema: &str, state: &fold::State) -> anyhow::Result<()> {
    if !state.new_external.is_empty() {
        let ids: Vec<Uuid> = state.new_external.iter().map(|(id, _, _)| *id).collect();
        let tenants: Vec<Uuid> = state.new_external.iter().map(|(_, t, _)| *t).collect();
        let leads: Vec<Uuid> = state.new_external.iter().map(|(_, _, l)| *l).collect();
        sqlx::query(&format!(
            "INSERT INTO {schema}.external (appointment_id, tenant_id, lead_id) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[]) \
             ON CONFLICT (appointment_id) DO NOTHING"
        ))
        .bind(&ids)
        .bind(&tenants)
        .bind(&leads)
        .execute(&mut *tx)
        .await
        .context("Failed to record external appointments")?;
    }
    let changed: Vec<(&Uuid, &Option<SyncTask>)> = state
        .tasks
        .iter()
        .filter(|(id, _)| state.touched.contains(id))
        .collect();
    let gone: Vec<Uuid> = changed
        .iter()
        .filter(|(_, task)| task.is_none())
        .map(|(id, _)| **id)
        .collect();
    if !gone.is_empty() {
        sqlx::query(&format!(
            "DELETE FROM {schema}.tasks WHERE message_id = ANY($1)"
        ))
        .bind(&gone)
        .execute(&mut *tx)
        .await
        .context("Failed to delete calendar-sync tasks")?;
    }
    let put: Vec<&SyncTask> = changed
        .iter()
        .filter_map(|(_, task)| task.as_ref())
        .collect();
    if put.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = put.iter().map(|task| task.key()).collect();
    let tenants: Vec<Uuid> = put.iter().map(|task| task.tenant_id).collect();
    let leads: Vec<Uuid> = put.iter().map(|task| task.lead_id).collect();
    let appointments: Vec<Uuid> = put.iter().map(|task| task.appointment_id).collect();
    let due: Vec<DateTime<Utc>> = put.iter().map(|task| task.due_at).collect();
    let attempts: Vec<i32> = put.iter().map(|task| task.attempt).collect();
    let revisions: Vec<i64> = put.iter().map(|task| task.revision).collect();
    let sequences: Vec<i64> = put.iter().map(|task| task.sequence).collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.tasks \
           (task_key, tenant_id, kind, lead_id, conversation_id, message_id, due_at, attempt, \
            revision, sequence) \
         SELECT key, tenant, '{KIND}', lead, '', appointment, due, attempt, revision, sequence \
         FROM UNNEST($1::text[], $2::uuid[], $3::uuid[], $4::uuid[], $5::timestamptz[], \
                     $6::int4[], $7::int8[], $8::int8[]) \
           AS t(key, tenant, lead, appointment, due, attempt, revision, sequence) \
         ON CONFLICT (task_key) DO UPDATE SET \
           due_at = EXCLUDED.due_at, attempt = EXCLUDED.attempt, \
           revision = EXCLUDED.revision, sequence = EXCLUDED.sequence"
    ))
    .bind(&keys)
    .bind(&tenants)
    .bind(&leads)
    .bind(&appointments)
    .bind(&due)
    .bind(&attempts)
    .bind(&revisions)
    .bind(&sequences)
    .execute(&mut *tx)
    .await
    .context("Failed to write calendar-sync tasks")?;
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(crate::tasks::NOTIFY_CHANNEL)
        .execute(&mut *tx)
        .await
        .context("Failed to notify the workers")?;
    Ok(())
}
