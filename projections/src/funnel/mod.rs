//! The funnel read model: per tenant, workflow and UTC day, how many leads first reached each
//! stage (captured, contacted, replied, qualified, booked, opted out, unresponsive, handed off)
//! and how many appointments were marked completed or no-show; and per tenant and workflow, how
//! many leads are in each status now. Dashboards sum a few rows per day, however many leads a
//! tenant has.
//!
//! Handler kind: replayable and stateful, with incremental UPSERT sums only (no scans).
//! - **Ever reached** (`funnel_daily`): a lead counts once per stage, on the day and under the
//!   workflow it had when it first reached it. Stages follow the main path: reaching
//!   `in_conversation`, `qualified` or `booked` also reaches `contacted` and `replied`
//!   (`replied` = ever replied: in conversation, qualified or booked); `qualified` and `booked`
//!   are reached only by those statuses; the other stages by their own status. Each lead's
//!   reached stages are kept (`lead_state.reached`, bits of [`fold::STAGES`]).
//! - **Ever reached, all time** (`funnel_totals`): the same counts per tenant and workflow over
//!   every day, so all-time figures read a few rows per workflow, never a row per day or lead.
//! - **Current status** (`funnel_current`): +1/−1 as a lead changes status or workflow; the
//!   lead's status and workflow are kept in `lead_state`. Archived leads still count.
//! - **Appointments**: each completed / no-show *mark* counts on the UTC day of its `at`, under
//!   the workflow the appointment was booked through (`appointment_workflows`).
//! - **Day**: the UTC calendar day of the command's time (`occurred_at` in the event metadata),
//!   free of reads of the tenant's zone. **Workflow**: the nil uuid for leads in none.

pub mod fold;
pub mod query;
pub mod totals;

use std::collections::BTreeMap;

use anyhow::Context;
use async_trait::async_trait;
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use domain::{Appointment, Lead, LeadStatus};
use infrastructure::feed::RecordedEvent;
use sqlx::{Executor, PgConnection};
use uuid::Uuid;

use crate::projection::{live_schema, Projection};
use fold::{LeadState, State};

/// The funnel projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct FunnelProjection;

/// Its name.
pub const NAME: &str = "funnel";
/// Its table layout version.
pub const VERSION: u32 = 2;

/// The schema queries read from.
pub fn live() -> String {
    live_schema(NAME, VERSION)
}

#[async_trait]
impl Projection for FunnelProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        VERSION
    }

    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {schema}.lead_state (
                tenant_id uuid NOT NULL,
                lead_id uuid NOT NULL,
                workflow_id uuid NOT NULL,
                status text NOT NULL,
                reached integer NOT NULL,
                PRIMARY KEY (tenant_id, lead_id)
            );
            CREATE TABLE IF NOT EXISTS {schema}.appointment_workflows (
                tenant_id uuid NOT NULL,
                appointment_id uuid NOT NULL,
                workflow_id uuid NOT NULL,
                PRIMARY KEY (tenant_id, appointment_id)
            );
            CREATE TABLE IF NOT EXISTS {schema}.funnel_daily (
                tenant_id uuid NOT NULL,
                workflow_id uuid NOT NULL,
                day date NOT NULL,
                stage text NOT NULL,
                count bigint NOT NULL,
                PRIMARY KEY (tenant_id, day, workflow_id, stage)
            );
            CREATE TABLE IF NOT EXISTS {schema}.funnel_totals (
                tenant_id uuid NOT NULL,
                workflow_id uuid NOT NULL,
                stage text NOT NULL,
                count bigint NOT NULL,
                PRIMARY KEY (tenant_id, workflow_id, stage)
            );
            CREATE TABLE IF NOT EXISTS {schema}.funnel_current (
                tenant_id uuid NOT NULL,
                workflow_id uuid NOT NULL,
                status text NOT NULL,
                leads bigint NOT NULL,
                PRIMARY KEY (tenant_id, workflow_id, status)
            )"
        );
        conn.execute(ddl.as_str())
            .await
            .context("Failed to create the funnel tables")?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()> {
        let relevant: Vec<&RecordedEvent> = events
            .iter()
            .filter(|e| e.aggregate_type == Lead::TYPE || e.aggregate_type == Appointment::TYPE)
            .collect();
        if relevant.is_empty() {
            return Ok(());
        }
        let mut state = State {
            leads: load_leads(tx, schema, &relevant).await?,
            appointments: load_appointments(tx, schema, &relevant).await?,
            ..State::default()
        };
        for event in relevant {
            if event.aggregate_type == Lead::TYPE {
                state.apply_lead(event)?;
            } else {
                state.apply_appointment(event)?;
            }
        }
        write_leads(tx, schema, &state).await?;
        write_appointments(tx, schema, &state).await?;
        write_daily(tx, schema, &state).await?;
        write_totals(tx, schema, &state).await?;
        write_current(tx, schema, &state).await
    }
}

/// The (tenant, aggregate) keys of the batch's events of one aggregate type.
fn keys(events: &[&RecordedEvent], aggregate_type: &str) -> anyhow::Result<(Vec<Uuid>, Vec<Uuid>)> {
    let mut keys = Vec::new();
    for event in events.iter().filter(|e| e.aggregate_type == aggregate_type) {
        keys.push((event.metadata.tenant_id, event.aggregate_uuid()?));
    }
    keys.sort_unstable();
    keys.dedup();
    Ok(keys.into_iter().unzip())
}

/// The state of the leads the batch's events concern.
async fn load_leads(
    tx: &mut PgConnection,
    schema: &str,
    events: &[&RecordedEvent],
) -> anyhow::Result<BTreeMap<(Uuid, Uuid), LeadState>> {
    let (tenants, leads) = keys(events, Lead::TYPE)?;
    let rows: Vec<(Uuid, Uuid, Uuid, String, i32)> = sqlx::query_as(&format!(
        "SELECT tenant_id, lead_id, workflow_id, status, reached FROM {schema}.lead_state \
         WHERE (tenant_id, lead_id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))"
    ))
    .bind(&tenants)
    .bind(&leads)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to read the leads' funnel state")?;
    let mut state = BTreeMap::new();
    for (tenant, lead, workflow, status, reached) in rows {
        let status: LeadStatus = status
            .parse()
            .map_err(|_| anyhow::anyhow!("unknown lead status {status} in the funnel state"))?;
        state.insert(
            (tenant, lead),
            LeadState {
                workflow,
                status,
                reached,
            },
        );
    }
    Ok(state)
}

/// The workflows of the appointments the batch's events concern.
async fn load_appointments(
    tx: &mut PgConnection,
    schema: &str,
    events: &[&RecordedEvent],
) -> anyhow::Result<BTreeMap<(Uuid, Uuid), Uuid>> {
    let (tenants, appointments) = keys(events, Appointment::TYPE)?;
    let rows: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(&format!(
        "SELECT tenant_id, appointment_id, workflow_id FROM {schema}.appointment_workflows \
         WHERE (tenant_id, appointment_id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))"
    ))
    .bind(&tenants)
    .bind(&appointments)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to read the appointments' workflows")?;
    Ok(rows
        .into_iter()
        .map(|(tenant, appointment, workflow)| ((tenant, appointment), workflow))
        .collect())
}

async fn write_leads(tx: &mut PgConnection, schema: &str, state: &State) -> anyhow::Result<()> {
    if state.changed_leads.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = state.changed_leads.keys().map(|k| k.0).collect();
    let leads: Vec<Uuid> = state.changed_leads.keys().map(|k| k.1).collect();
    let workflows: Vec<Uuid> = state.changed_leads.values().map(|l| l.workflow).collect();
    let statuses: Vec<&str> = state
        .changed_leads
        .values()
        .map(|l| l.status.as_str())
        .collect();
    let reached: Vec<i32> = state.changed_leads.values().map(|l| l.reached).collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.lead_state (tenant_id, lead_id, workflow_id, status, reached) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int4[]) \
         ON CONFLICT (tenant_id, lead_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id, \
           status = EXCLUDED.status, reached = EXCLUDED.reached"
    ))
    .bind(&tenants)
    .bind(&leads)
    .bind(&workflows)
    .bind(&statuses)
    .bind(&reached)
    .execute(&mut *tx)
    .await
    .context("Failed to write the leads' funnel state")?;
    Ok(())
}

async fn write_appointments(
    tx: &mut PgConnection,
    schema: &str,
    state: &State,
) -> anyhow::Result<()> {
    if state.changed_appointments.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = state.changed_appointments.keys().map(|k| k.0).collect();
    let appointments: Vec<Uuid> = state.changed_appointments.keys().map(|k| k.1).collect();
    let workflows: Vec<Uuid> = state.changed_appointments.values().copied().collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.appointment_workflows (tenant_id, appointment_id, workflow_id) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[]) \
         ON CONFLICT (tenant_id, appointment_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id"
    ))
    .bind(&tenants)
    .bind(&appointments)
    .bind(&workflows)
    .execute(&mut *tx)
    .await
    .context("Failed to write the appointments' workflows")?;
    Ok(())
}

async fn write_daily(tx: &mut PgConnection, schema: &str, state: &State) -> anyhow::Result<()> {
    if state.daily.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = state.daily.keys().map(|k| k.0).collect();
    let workflows: Vec<Uuid> = state.daily.keys().map(|k| k.1).collect();
    let days: Vec<NaiveDate> = state.daily.keys().map(|k| k.2).collect();
    let stages: Vec<&str> = state.daily.keys().map(|k| k.3).collect();
    let counts: Vec<i64> = state.daily.values().copied().collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.funnel_daily (tenant_id, workflow_id, day, stage, count) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::date[], $4::text[], $5::int8[]) \
         ON CONFLICT (tenant_id, day, workflow_id, stage) DO UPDATE SET \
           count = funnel_daily.count + EXCLUDED.count"
    ))
    .bind(&tenants)
    .bind(&workflows)
    .bind(&days)
    .bind(&stages)
    .bind(&counts)
    .execute(&mut *tx)
    .await
    .context("Failed to add funnel counts")?;
    Ok(())
}

async fn write_totals(tx: &mut PgConnection, schema: &str, state: &State) -> anyhow::Result<()> {
    let totals = state.totals();
    if totals.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = totals.keys().map(|k| k.0).collect();
    let workflows: Vec<Uuid> = totals.keys().map(|k| k.1).collect();
    let stages: Vec<&str> = totals.keys().map(|k| k.2).collect();
    let counts: Vec<i64> = totals.values().copied().collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.funnel_totals (tenant_id, workflow_id, stage, count) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int8[]) \
         ON CONFLICT (tenant_id, workflow_id, stage) DO UPDATE SET \
           count = funnel_totals.count + EXCLUDED.count"
    ))
    .bind(&tenants)
    .bind(&workflows)
    .bind(&stages)
    .bind(&counts)
    .execute(&mut *tx)
    .await
    .context("Failed to add all-time funnel counts")?;
    Ok(())
}

async fn write_current(tx: &mut PgConnection, schema: &str, state: &State) -> anyhow::Result<()> {
    // Zero deltas are written too, so the rows a key ever touched are the same whatever the
    // batch size (live and rebuilt tables compare equal).
    if state.current.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = state.current.keys().map(|k| k.0).collect();
    let workflows: Vec<Uuid> = state.current.keys().map(|k| k.1).collect();
    let statuses: Vec<&str> = state.current.keys().map(|k| k.2).collect();
    let deltas: Vec<i64> = state.current.values().copied().collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.funnel_current (tenant_id, workflow_id, status, leads) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int8[]) \
         ON CONFLICT (tenant_id, workflow_id, status) DO UPDATE SET \
           leads = funnel_current.leads + EXCLUDED.leads"
    ))
    .bind(&tenants)
    .bind(&workflows)
    .bind(&statuses)
    .bind(&deltas)
    .execute(&mut *tx)
    .await
    .context("Failed to move the current status counts")?;
    Ok(())
}
