//! The timers read model — DESIGN.md's scheduled-command projection: for every lead engaged by an
//! active workflow, its next step (outreach, a follow-up, the unresponsive check) and when it is
//! due, one row per lead in `timers` (`timer:<lead>`); and for every confirmed appointment, each
//! reminder still to go (`reminder:<appointment>:<minutes before>`). The dispatchers
//! (`infrastructure::messaging::timers` and `::reminders`) claim them exactly like the tasks of
//! the outbox.
//!
//! Handler kind: replayable and stateful. Planning needs to know the lead, its workflow, its
//! conversations and its appointments, so the projection keeps its own compact state of each
//! (`leads`, `workflows`, `appointments`: JSON rows in its schema) and reads it back in the
//! batch's transaction; every write derives from events only (times are the events' own), so a
//! rebuild gives the same tables. See [`plan`] for what step is due when, [`reminder`] for which
//! reminder, and [`fold`] for why batching does not change the result.
//!
//! Version 2 added the appointments' reminders (the `appointments` table and the
//! `appointment_id` column).
//!
//! Workers are woken by `NOTIFY bookerbot_tasks` from a batch that planned something.

mod fold;
mod load;
mod plan;
pub mod query;
mod reminder;
mod reminder_fold;
mod reminder_rows;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use infrastructure::feed::RecordedEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::projection::{live_schema, Projection};
use crate::tasks::NOTIFY_CHANNEL;

use fold::{StoredTimer, Working};
pub use plan::{next_step, LeadState, Timer, TimerKind, WorkflowState};
pub use reminder::{reminders_due, AppointmentState, Reminder};
pub use reminder_rows::{reminder_key, REMINDER_KIND};

/// The timers projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimersProjection;

/// Its name.
pub const NAME: &str = "timers";
/// Its table layout version.
pub const VERSION: u32 = 2;

/// The live schema.
pub fn live() -> String {
    live_schema(NAME, VERSION)
}

/// The live table the dispatcher claims from (`schema.timers`).
pub fn live_table() -> String {
    format!("{}.timers", live())
}

/// The key of a lead's timer.
#[must_use]
pub fn timer_key(lead_id: Uuid) -> String {
    format!("timer:{lead_id}")
}

#[async_trait]
impl Projection for TimersProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        VERSION
    }

    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
        for statement in [
            format!(
                "CREATE TABLE IF NOT EXISTS {schema}.leads (
                    lead_id uuid PRIMARY KEY,
                    workflow_id uuid,
                    state jsonb NOT NULL
                )"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {schema}.workflows (
                    workflow_id uuid PRIMARY KEY,
                    state jsonb NOT NULL
                )"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {schema}.timers (
                    task_key text PRIMARY KEY,
                    tenant_id uuid NOT NULL,
                    kind text NOT NULL,
                    lead_id uuid NOT NULL,
                    workflow_id uuid NOT NULL,
                    conversation_id text NOT NULL,
                    message_id uuid NOT NULL,
                    due_at timestamptz NOT NULL,
                    attempt int4 NOT NULL,
                    revision int8 NOT NULL,
                    priority int2 NOT NULL,
                    appointment_id uuid
                )"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {schema}.appointments (
                    appointment_id uuid PRIMARY KEY,
                    lead_id uuid NOT NULL,
                    workflow_id uuid NOT NULL,
                    state jsonb NOT NULL
                )"
            ),
        ] {
            sqlx::query(&statement)
                .execute(&mut *conn)
                .await
                .context("Failed to create the timers tables")?;
        }
        Ok(())
    }

    fn indexes(&self, schema: &str) -> Vec<String> {
        vec![
            format!("CREATE INDEX IF NOT EXISTS timers_by_due ON {schema}.timers (priority, due_at, task_key)"),
            format!(
                "CREATE INDEX IF NOT EXISTS timers_by_tenant ON {schema}.timers (tenant_id, due_at, task_key)"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS timer_leads_by_workflow ON {schema}.leads (workflow_id)"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS timers_by_appointment ON {schema}.timers (appointment_id) \
                 WHERE appointment_id IS NOT NULL"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS timer_appointments_by_lead \
                 ON {schema}.appointments (lead_id)"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS timer_appointments_by_workflow \
                 ON {schema}.appointments (workflow_id)"
            ),
        ]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()> {
        let mut decoded = Vec::new();
        for event in events {
            if let Some(payload) = fold::decode(event)? {
                decoded.push((event, payload));
            }
        }
        if decoded.is_empty() {
            return Ok(());
        }
        let mut working = load::load(tx, schema, &decoded).await?;
        for (event, payload) in decoded {
            working.apply(
                event.metadata.tenant_id,
                event.position.global_position,
                event.metadata.occurred_at,
                payload,
            );
        }
        write(tx, schema, &working).await
    }
}

async fn write(tx: &mut PgConnection, schema: &str, working: &Working) -> anyhow::Result<()> {
    let mut ids = Vec::new();
    let mut workflows: Vec<Option<Uuid>> = Vec::new();
    let mut states = Vec::new();
    for id in &working.changed_leads {
        if let Some(state) = working.leads.get(id) {
            ids.push(*id);
            workflows.push(state.workflow_id);
            states.push(serde_json::to_value(state)?);
        }
    }
    if !ids.is_empty() {
        sqlx::query(&format!(
            "INSERT INTO {schema}.leads (lead_id, workflow_id, state) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::jsonb[]) \
             ON CONFLICT (lead_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id, state = EXCLUDED.state"
        ))
        .bind(&ids)
        .bind(&workflows)
        .bind(&states)
        .execute(&mut *tx)
        .await
        .context("Failed to write the timers' leads")?;
    }
    let mut ids = Vec::new();
    let mut states = Vec::new();
    for id in &working.changed_workflows {
        if let Some(state) = working.workflows.get(id) {
            ids.push(*id);
            states.push(serde_json::to_value(state)?);
        }
    }
    if !ids.is_empty() {
        sqlx::query(&format!(
            "INSERT INTO {schema}.workflows (workflow_id, state) \
             SELECT * FROM UNNEST($1::uuid[], $2::jsonb[]) \
             ON CONFLICT (workflow_id) DO UPDATE SET state = EXCLUDED.state"
        ))
        .bind(&ids)
        .bind(&states)
        .execute(&mut *tx)
        .await
        .context("Failed to write the timers' workflows")?;
    }
    let planned = write_timers(tx, schema, working).await?;
    let reminded = reminder_rows::write(tx, schema, working).await?;
    if planned || reminded {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(NOTIFY_CHANNEL)
            .execute(&mut *tx)
            .await
            .context("Failed to notify the workers")?;
    }
    Ok(())
}

/// Writes the leads' timers the batch changed; whether one was put.
async fn write_timers(
    tx: &mut PgConnection,
    schema: &str,
    working: &Working,
) -> anyhow::Result<bool> {
    let mut gone = Vec::new();
    let mut put = TimerColumns::default();
    for lead_id in &working.changed_timers {
        match working.timers.get(lead_id).and_then(Option::as_ref) {
            None => gone.push(timer_key(*lead_id)),
            Some(stored) => put.push(*lead_id, stored),
        }
    }
    if !gone.is_empty() {
        sqlx::query(&format!(
            "DELETE FROM {schema}.timers WHERE task_key = ANY($1)"
        ))
        .bind(&gone)
        .execute(&mut *tx)
        .await
        .context("Failed to delete timers")?;
    }
    if put.keys.is_empty() {
        return Ok(false);
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.timers \
           (task_key, tenant_id, kind, lead_id, workflow_id, conversation_id, message_id, due_at, \
            attempt, revision, priority) \
         SELECT k, t, kd, l, w, c, '00000000-0000-0000-0000-000000000000'::uuid, d, a, r, p \
         FROM UNNEST($1::text[], $2::uuid[], $3::text[], $4::uuid[], $5::uuid[], $6::text[], \
                     $7::timestamptz[], $8::int4[], $9::int8[], $10::int2[]) \
              AS x(k, t, kd, l, w, c, d, a, r, p) \
         ON CONFLICT (task_key) DO UPDATE SET \
           kind = EXCLUDED.kind, workflow_id = EXCLUDED.workflow_id, \
           conversation_id = EXCLUDED.conversation_id, due_at = EXCLUDED.due_at, \
           attempt = EXCLUDED.attempt, revision = EXCLUDED.revision, priority = EXCLUDED.priority"
    ))
    .bind(&put.keys)
    .bind(&put.tenants)
    .bind(&put.kinds)
    .bind(&put.leads)
    .bind(&put.workflows)
    .bind(&put.conversations)
    .bind(&put.due)
    .bind(&put.steps)
    .bind(&put.revisions)
    .bind(&put.priorities)
    .execute(&mut *tx)
    .await
    .context("Failed to write timers")?;
    Ok(true)
}

/// Timer rows as parallel arrays, for `UNNEST`.
#[derive(Default)]
struct TimerColumns {
    keys: Vec<String>,
    tenants: Vec<Uuid>,
    kinds: Vec<&'static str>,
    leads: Vec<Uuid>,
    workflows: Vec<Uuid>,
    conversations: Vec<String>,
    due: Vec<DateTime<Utc>>,
    steps: Vec<i32>,
    revisions: Vec<i64>,
    priorities: Vec<i16>,
}

impl TimerColumns {
    fn push(&mut self, lead_id: Uuid, stored: &StoredTimer) {
        let timer = &stored.timer;
        self.keys.push(timer_key(lead_id));
        self.tenants.push(stored.tenant_id);
        self.kinds.push(timer.kind.as_str());
        self.leads.push(lead_id);
        self.workflows.push(timer.workflow_id);
        self.conversations
            .push(format!("{lead_id}:{}", timer.channel));
        self.due.push(timer.due_at);
        self.steps
            .push(i32::try_from(timer.step).unwrap_or(i32::MAX));
        self.revisions.push(stored.revision);
        self.priorities.push(timer.priority);
    }
}
