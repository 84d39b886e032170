//! Reading back what a batch of the timers projection concerns, in the batch's transaction:
//! the state of its leads, workflows and confirmed appointments, and their current timers and
//! reminders. Besides the batch's own aggregates, a workflow event needs every lead and
//! appointment of the workflow (both are planned again), and a lead event every appointment of
//! the lead (its reminders depend on the lead).

use std::collections::HashSet;

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::AppointmentEvent;
use infrastructure::feed::RecordedEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use super::fold::{Decoded, StoredTimer, Working};
use super::plan::{LeadState, Timer, TimerKind, WorkflowState};
use super::{reminder_rows, timer_key};

/// Loads what the batch concerns: its leads and appointments, every lead and appointment of a
/// workflow it changes, every appointment of a lead it changes, their leads and workflows, and
/// their current timers and reminders.
pub(super) async fn load(
    tx: &mut PgConnection,
    schema: &str,
    decoded: &[(&RecordedEvent, Decoded)],
) -> anyhow::Result<Working> {
    let mut lead_ids = HashSet::new();
    let mut changed_leads = HashSet::new();
    let mut workflow_ids = HashSet::new();
    let mut changed_workflows = HashSet::new();
    let mut appointment_ids = HashSet::new();
    for (_, payload) in decoded {
        match payload {
            Decoded::Lead(id, event) => {
                lead_ids.insert(*id);
                changed_leads.insert(*id);
                if let domain::LeadEvent::LeadCaptured {
                    workflow_id: Some(workflow),
                    ..
                }
                | domain::LeadEvent::LeadWorkflowAssigned {
                    workflow_id: Some(workflow),
                } = event
                {
                    workflow_ids.insert(workflow.as_uuid());
                }
            }
            Decoded::Conversation(id, _, _) => {
                lead_ids.insert(*id);
            }
            Decoded::Workflow(id, _) => {
                changed_workflows.insert(*id);
            }
            Decoded::Appointment(id, event) => {
                appointment_ids.insert(*id);
                if let AppointmentEvent::AppointmentBooked {
                    lead_id,
                    workflow_id,
                    ..
                } = event.as_ref()
                {
                    lead_ids.insert(lead_id.as_uuid());
                    workflow_ids.insert(workflow_id.as_uuid());
                }
            }
        }
    }
    let mut working = Working::default();
    let appointments = reminder_rows::load_appointments(
        tx,
        schema,
        &appointment_ids.iter().copied().collect::<Vec<_>>(),
        &changed_leads.into_iter().collect::<Vec<_>>(),
        &changed_workflows.iter().copied().collect::<Vec<_>>(),
    )
    .await?;
    for (id, state) in appointments {
        lead_ids.insert(state.lead_id);
        workflow_ids.insert(state.workflow_id);
        appointment_ids.insert(id);
        working
            .appointments_of
            .entry(state.lead_id)
            .or_default()
            .push(id);
        working.appointments.insert(id, Some(state));
    }
    let lead_ids: Vec<Uuid> = lead_ids.into_iter().collect();
    let changed: Vec<Uuid> = changed_workflows.iter().copied().collect();
    let rows: Vec<(Uuid, sqlx::types::Json<LeadState>)> = sqlx::query_as(&format!(
        "SELECT lead_id, state FROM {schema}.leads WHERE lead_id = ANY($1) \
         UNION SELECT lead_id, state FROM {schema}.leads WHERE workflow_id = ANY($2)"
    ))
    .bind(&lead_ids)
    .bind(&changed)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to load the timers' leads")?;
    for (id, state) in rows {
        if let Some(workflow) = state.0.workflow_id {
            workflow_ids.insert(workflow);
        }
        working.leads.insert(id, state.0);
    }
    workflow_ids.extend(changed_workflows);
    let workflow_ids: Vec<Uuid> = workflow_ids.into_iter().collect();
    let rows: Vec<(Uuid, sqlx::types::Json<WorkflowState>)> = sqlx::query_as(&format!(
        "SELECT workflow_id, state FROM {schema}.workflows WHERE workflow_id = ANY($1)"
    ))
    .bind(&workflow_ids)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to load the timers' workflows")?;
    working.workflows = rows.into_iter().map(|(id, s)| (id, s.0)).collect();
    let keys: Vec<String> = working.leads.keys().map(|id| timer_key(*id)).collect();
    let rows: Vec<TimerTuple> = sqlx::query_as(&format!(
        "SELECT lead_id, tenant_id, kind, workflow_id, conversation_id, due_at, attempt, revision, \
                priority \
         FROM {schema}.timers WHERE task_key = ANY($1)"
    ))
    .bind(&keys)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to load timers")?;
    for (
        lead_id,
        tenant_id,
        kind,
        workflow_id,
        conversation_id,
        due_at,
        attempt,
        revision,
        priority,
    ) in rows
    {
        let kind =
            TimerKind::from_name(&kind).with_context(|| format!("unknown timer kind {kind}"))?;
        let channel = conversation_id
            .rsplit_once(':')
            .map(|(_, channel)| channel.to_owned())
            .unwrap_or_default();
        working.timers.insert(
            lead_id,
            Some(StoredTimer {
                timer: Timer {
                    kind,
                    step: u32::try_from(attempt).unwrap_or_default(),
                    due_at,
                    workflow_id,
                    channel,
                    priority,
                },
                tenant_id,
                revision,
            }),
        );
    }
    let appointment_ids: Vec<Uuid> = appointment_ids.into_iter().collect();
    working.reminders = reminder_rows::load_reminders(tx, schema, &appointment_ids).await?;
    Ok(working)
}

type TimerTuple = (
    Uuid,
    Uuid,
    String,
    Uuid,
    String,
    DateTime<Utc>,
    i32,
    i64,
    i16,
);
