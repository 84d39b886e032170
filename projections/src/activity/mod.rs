//! The activity feed read model: one row per meaningful event of a tenant — a lead captured, a
//! message received or sent, a lead qualified, booked, opted out or re-subscribed, a handoff, an
//! appointment booked, moved, cancelled, attended or missed — newest first for the dashboard.
//!
//! Handler kind: replayable and stateful. Each activity row is a pure insert keyed by the event's
//! global position (a replay inserts nothing twice). Summaries name the lead, so the projection
//! keeps each lead's name (`lead_names`, from `LeadCaptured` and `LeadDetailsUpdated`) and each
//! appointment's lead (`appointment_leads`, from `AppointmentBooked`); a summary names the lead
//! as it was called when the event happened.

pub mod fold;
pub mod query;

use anyhow::Context;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::conversation::{Conversation, ConversationId};
use domain::{Appointment, AppointmentEvent, Lead};
use infrastructure::feed::RecordedEvent;
use sqlx::types::Json;
use sqlx::{Executor, PgConnection};
use uuid::Uuid;

use crate::projection::{live_schema, Projection};
use fold::State;

/// The activity projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActivityProjection;

/// Its name.
pub const NAME: &str = "activity";
/// Its table layout version.
pub const VERSION: u32 = 1;

/// The schema queries read from.
pub fn live() -> String {
    live_schema(NAME, VERSION)
}

const COLUMNS: &str =
    "position, tenant_id, occurred_at, kind, lead_id, appointment_id, channel, message_id, summary";

#[async_trait]
impl Projection for ActivityProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        VERSION
    }

    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {schema}.activity (
                position bigint NOT NULL PRIMARY KEY,
                tenant_id uuid NOT NULL,
                occurred_at timestamptz NOT NULL,
                kind text NOT NULL,
                lead_id uuid NOT NULL,
                appointment_id uuid,
                channel text,
                message_id uuid,
                summary text NOT NULL
            );
            CREATE TABLE IF NOT EXISTS {schema}.lead_names (
                tenant_id uuid NOT NULL,
                lead_id uuid NOT NULL,
                first_name text NOT NULL,
                last_name text NOT NULL,
                PRIMARY KEY (tenant_id, lead_id)
            );
            CREATE TABLE IF NOT EXISTS {schema}.appointment_leads (
                tenant_id uuid NOT NULL,
                appointment_id uuid NOT NULL,
                lead_id uuid NOT NULL,
                PRIMARY KEY (tenant_id, appointment_id)
            )"
        );
        conn.execute(ddl.as_str())
            .await
            .context("Failed to create the activity tables")?;
        Ok(())
    }

    fn indexes(&self, schema: &str) -> Vec<String> {
        vec![
            format!(
                "CREATE INDEX IF NOT EXISTS activity_by_tenant \
                 ON {schema}.activity (tenant_id, position)"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS activity_by_lead \
                 ON {schema}.activity (tenant_id, lead_id, position)"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS activity_by_kind \
                 ON {schema}.activity (tenant_id, kind, position)"
            ),
        ]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()> {
        let relevant: Vec<&RecordedEvent> = events
            .iter()
            .filter(|e| {
                e.aggregate_type == Lead::TYPE
                    || e.aggregate_type == Conversation::TYPE
                    || e.aggregate_type == Appointment::TYPE
            })
            .collect();
        if relevant.is_empty() {
            return Ok(());
        }
        let mut state = State::default();
        load_appointment_leads(tx, schema, &relevant, &mut state).await?;
        load_names(tx, schema, &relevant, &mut state).await?;
        for event in relevant {
            if event.aggregate_type == Lead::TYPE {
                state.apply_lead(event)?;
            } else if event.aggregate_type == Conversation::TYPE {
                state.apply_conversation(event)?;
            } else {
                state.apply_appointment(event)?;
            }
        }
        write_names(tx, schema, &state).await?;
        write_appointment_leads(tx, schema, &state).await?;
        if state.rows.is_empty() {
            return Ok(());
        }
        sqlx::query(&format!(
            "INSERT INTO {schema}.activity ({COLUMNS}) \
             SELECT {COLUMNS} FROM jsonb_populate_recordset(NULL::{schema}.activity, $1) \
             ON CONFLICT (position) DO NOTHING"
        ))
        .bind(Json(&state.rows))
        .execute(&mut *tx)
        .await
        .context("Failed to write activity")?;
        Ok(())
    }
}

/// Reads the leads of the batch's appointments that were booked before it.
async fn load_appointment_leads(
    tx: &mut PgConnection,
    schema: &str,
    events: &[&RecordedEvent],
    state: &mut State,
) -> anyhow::Result<()> {
    let mut keys = Vec::new();
    for event in events {
        if event.aggregate_type == Appointment::TYPE {
            keys.push((event.metadata.tenant_id, event.aggregate_uuid()?));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    let (tenants, ids): (Vec<Uuid>, Vec<Uuid>) = keys.into_iter().unzip();
    let rows: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(&format!(
        "SELECT tenant_id, appointment_id, lead_id FROM {schema}.appointment_leads \
         WHERE (tenant_id, appointment_id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))"
    ))
    .bind(&tenants)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to read the appointments' leads")?;
    for (tenant, appointment, lead) in rows {
        state.appointment_leads.insert((tenant, appointment), lead);
    }
    Ok(())
}

/// Reads the names of every lead the batch's events concern.
async fn load_names(
    tx: &mut PgConnection,
    schema: &str,
    events: &[&RecordedEvent],
    state: &mut State,
) -> anyhow::Result<()> {
    let mut keys: Vec<(Uuid, Uuid)> = state
        .appointment_leads
        .iter()
        .map(|((t, _), l)| (*t, *l))
        .collect();
    for event in events {
        let tenant = event.metadata.tenant_id;
        if event.aggregate_type == Lead::TYPE {
            keys.push((tenant, event.aggregate_uuid()?));
        } else if event.aggregate_type == Conversation::TYPE {
            let id: ConversationId = event
                .aggregate_id
                .parse()
                .with_context(|| format!("conversation id {}", event.aggregate_id))?;
            keys.push((tenant, id.lead_id().as_uuid()));
        } else if event.event_type == "AppointmentBooked" {
            if let AppointmentEvent::AppointmentBooked { lead_id, .. } = event.decode()? {
                keys.push((tenant, lead_id.as_uuid()));
            }
        }
    }
    keys.sort_unstable();
    keys.dedup();
    let (tenants, leads): (Vec<Uuid>, Vec<Uuid>) = keys.into_iter().unzip();
    let rows: Vec<(Uuid, Uuid, String, String)> = sqlx::query_as(&format!(
        "SELECT tenant_id, lead_id, first_name, last_name FROM {schema}.lead_names \
         WHERE (tenant_id, lead_id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))"
    ))
    .bind(&tenants)
    .bind(&leads)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to read the leads' names")?;
    for (tenant, lead, first, last) in rows {
        state.names.insert((tenant, lead), (first, last));
    }
    Ok(())
}

async fn write_names(tx: &mut PgConnection, schema: &str, state: &State) -> anyhow::Result<()> {
    let mut tenants = Vec::new();
    let mut leads = Vec::new();
    let mut firsts = Vec::new();
    let mut lasts = Vec::new();
    for key in &state.changed_names {
        let Some((first, last)) = state.names.get(key) else {
            continue;
        };
        tenants.push(key.0);
        leads.push(key.1);
        firsts.push(first.as_str());
        lasts.push(last.as_str());
    }
    if tenants.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.lead_names (tenant_id, lead_id, first_name, last_name) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[]) \
         ON CONFLICT (tenant_id, lead_id) DO UPDATE SET \
           first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name"
    ))
    .bind(&tenants)
    .bind(&leads)
    .bind(&firsts)
    .bind(&lasts)
    .execute(&mut *tx)
    .await
    .context("Failed to write the leads' names")?;
    Ok(())
}

async fn write_appointment_leads(
    tx: &mut PgConnection,
    schema: &str,
    state: &State,
) -> anyhow::Result<()> {
    let mut tenants = Vec::new();
    let mut appointments = Vec::new();
    let mut leads = Vec::new();
    for key in &state.new_appointments {
        if let Some(lead) = state.appointment_leads.get(key) {
            tenants.push(key.0);
            appointments.push(key.1);
            leads.push(*lead);
        }
    }
    if tenants.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.appointment_leads (tenant_id, appointment_id, lead_id) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[]) \
         ON CONFLICT (tenant_id, appointment_id) DO NOTHING"
    ))
    .bind(&tenants)
    .bind(&appointments)
    .bind(&leads)
    .execute(&mut *tx)
    .await
    .context("Failed to write the appointments' leads")?;
    Ok(())
}
