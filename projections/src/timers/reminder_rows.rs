//! Reading and writing what the timers projection keeps for appointments: their compact state
//! (`appointments`, confirmed ones only) and their reminders, rows of the `timers` table keyed
//! `reminder:<appointment>:<minutes before>` beside the leads' `timer:<lead>` rows, so the same
//! workers claim both. A reminder row says which reminder (`attempt`: minutes before the start)
//! and names its appointment (`appointment_id`).

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::fold::Working;
use super::reminder::{AppointmentState, Reminder};
use super::reminder_fold::StoredReminder;

/// The `kind` of a reminder row.
pub const REMINDER_KIND: &str = "reminder";

/// The key of the row of the reminder `offset` minutes before appointment `appointment_id`.
#[must_use]
pub fn reminder_key(appointment_id: Uuid, offset: u32) -> String {
    format!("reminder:{appointment_id}:{offset}")
}

/// The confirmed appointments with one of these ids, leads or workflows.
pub async fn load_appointments(
    tx: &mut PgConnection,
    schema: &str,
    ids: &[Uuid],
    leads: &[Uuid],
    workflows: &[Uuid],
) -> anyhow::Result<Vec<(Uuid, AppointmentState)>> {
    if ids.is_empty() && leads.is_empty() && workflows.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(Uuid, Json<AppointmentState>)> = sqlx::query_as(&format!(
        "SELECT appointment_id, state FROM {schema}.appointments WHERE appointment_id = ANY($1) \
         UNION SELECT appointment_id, state FROM {schema}.appointments WHERE lead_id = ANY($2) \
         UNION SELECT appointment_id, state FROM {schema}.appointments WHERE workflow_id = ANY($3)"
    ))
    .bind(ids)
    .bind(leads)
    .bind(workflows)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to load the timers' appointments")?;
    Ok(rows.into_iter().map(|(id, state)| (id, state.0)).collect())
}

/// The current reminder rows of these appointments, soonest first.
pub async fn load_reminders(
    tx: &mut PgConnection,
    schema: &str,
    appointments: &[Uuid],
) -> anyhow::Result<HashMap<Uuid, Vec<StoredReminder>>> {
    if appointments.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<ReminderTuple> = sqlx::query_as(&format!(
        "SELECT appointment_id, attempt, due_at, conversation_id, revision \
         FROM {schema}.timers WHERE appointment_id = ANY($1) ORDER BY appointment_id, attempt DESC"
    ))
    .bind(appointments)
    .fetch_all(&mut *tx)
    .await
    .context("Failed to load reminders")?;
    let mut reminders: HashMap<Uuid, Vec<StoredReminder>> = HashMap::new();
    for (appointment_id, attempt, due_at, conversation_id, revision) in rows {
        let id = appointment_id.context("a reminder row without its appointment")?;
        let offset = u32::try_from(attempt).context("a reminder row with a negative offset")?;
        let channel = conversation_id
            .rsplit_once(':')
            .map(|(_, channel)| channel.to_owned())
            .unwrap_or_default();
        reminders.entry(id).or_default().push(StoredReminder {
            reminder: Reminder {
                offset,
                due_at,
                channel,
            },
            revision,
        });
    }
    Ok(reminders)
}

/// A reminder row as read: appointment, offset, due time, conversation id, revision.
type ReminderTuple = (Option<Uuid>, i32, DateTime<Utc>, String, i64);

/// Writes the appointments and reminders the batch changed (an appointment's reminder rows are
/// replaced as a whole); whether a reminder was put (the workers are then worth waking).
pub async fn write(tx: &mut PgConnection, schema: &str, working: &Working) -> anyhow::Result<bool> {
    write_appointments(tx, schema, working).await?;
    let changed: Vec<Uuid> = working.changed_reminders.iter().copied().collect();
    if changed.is_empty() {
        return Ok(false);
    }
    sqlx::query(&format!(
        "DELETE FROM {schema}.timers WHERE appointment_id = ANY($1)"
    ))
    .bind(&changed)
    .execute(&mut *tx)
    .await
    .context("Failed to delete reminders")?;
    let mut put = ReminderColumns::default();
    for id in &changed {
        let appointment = working.appointments.get(id).and_then(Option::as_ref);
        let reminders = working.reminders.get(id).map(Vec::as_slice);
        if let (Some(appointment), Some(reminders)) = (appointment, reminders) {
            for stored in reminders {
                put.push(*id, appointment, stored);
            }
        }
    }
    if put.keys.is_empty() {
        return Ok(false);
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.timers \
           (task_key, tenant_id, kind, lead_id, workflow_id, conversation_id, message_id, due_at, \
            attempt, revision, priority, appointment_id) \
         SELECT k, t, '{REMINDER_KIND}', l, w, c, '00000000-0000-0000-0000-000000000000'::uuid, \
                d, a, r, 0, x.id \
         FROM UNNEST($1::text[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], \
                     $6::timestamptz[], $7::int4[], $8::int8[], $9::uuid[]) \
              AS x(k, t, l, w, c, d, a, r, id)"
    ))
    .bind(&put.keys)
    .bind(&put.tenants)
    .bind(&put.leads)
    .bind(&put.workflows)
    .bind(&put.conversations)
    .bind(&put.due)
    .bind(&put.offsets)
    .bind(&put.revisions)
    .bind(&put.appointments)
    .execute(&mut *tx)
    .await
    .context("Failed to write reminders")?;
    Ok(true)
}

async fn write_appointments(
    tx: &mut PgConnection,
    schema: &str,
    working: &Working,
) -> anyhow::Result<()> {
    let mut gone = Vec::new();
    let (mut ids, mut leads, mut workflows, mut states) = (vec![], vec![], vec![], vec![]);
    for id in &working.changed_appointments {
        match working.appointments.get(id).and_then(Option::as_ref) {
            None => gone.push(*id),
            Some(state) => {
                ids.push(*id);
                leads.push(state.lead_id);
                workflows.push(state.workflow_id);
                states.push(serde_json::to_value(state)?);
            }
        }
    }
    if !gone.is_empty() {
        sqlx::query(&format!(
            "DELETE FROM {schema}.appointments WHERE appointment_id = ANY($1)"
        ))
        .bind(&gone)
        .execute(&mut *tx)
        .await
        .context("Failed to forget the timers' appointments")?;
    }
    if !ids.is_empty() {
        sqlx::query(&format!(
            "INSERT INTO {schema}.appointments (appointment_id, lead_id, workflow_id, state) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::jsonb[]) \
             ON CONFLICT (appointment_id) DO UPDATE SET state = EXCLUDED.state"
        ))
        .bind(&ids)
        .bind(&leads)
        .bind(&workflows)
        .bind(&states)
        .execute(&mut *tx)
        .await
        .context("Failed to write the timers' appointments")?;
    }
    Ok(())
}

/// Reminder rows as parallel arrays, for `UNNEST`.
#[derive(Default)]
struct ReminderColumns {
    keys: Vec<String>,
    tenants: Vec<Uuid>,
    leads: Vec<Uuid>,
    workflows: Vec<Uuid>,
    conversations: Vec<String>,
    due: Vec<DateTime<Utc>>,
    offsets: Vec<i32>,
    revisions: Vec<i64>,
    appointments: Vec<Uuid>,
}

impl ReminderColumns {
    fn push(&mut self, id: Uuid, appointment: &AppointmentState, stored: &StoredReminder) {
        let reminder = &stored.reminder;
        self.keys.push(reminder_key(id, reminder.offset));
        self.tenants.push(appointment.tenant_id);
        self.leads.push(appointment.lead_id);
        self.workflows.push(appointment.workflow_id);
        self.conversations
            .push(format!("{}:{}", appointment.lead_id, reminder.channel));
        self.due.push(reminder.due_at);
        self.offsets
            .push(i32::try_from(reminder.offset).unwrap_or(i32::MAX));
        self.revisions.push(stored.revision);
        self.appointments.push(id);
    }
}
