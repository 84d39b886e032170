//! Running an appointment's reminder, a `reminder:<appointment>:<minutes before>` row of the
//! timers projection. The row only says which reminder was planned; everything is checked again
//! against the aggregates in one transaction, under the lead's send lock (shared: an opt-out
//! waits for it, or is seen) and the appointment's reminder lock (exclusive: two dispatchers
//! running reminders of the same appointment take turns, and the second finds the first's
//! record) — the appointment still confirmed at the planned start, the planned reminder still to
//! go. A row that is no longer current does nothing: the projection moves or removes it once it
//! reads the event that changed the plan.
//!
//! Then the reminder due now — of those left, the one nearest the start whose time has come, so
//! after an outage only the latest goes — is queued on the workflow's channel and recorded on the
//! appointment (`RecordReminderSent`) in the same transaction; the earlier ones are moot from
//! then on. One that cannot go (the meeting has started, the lead opted out, is archived or
//! unreachable, the conversation refuses free text) is recorded as passed over
//! (`RecordReminderSkipped`), so every run that acts ends with an event and its row goes.
//!
//! The text names the time in the lead's own zone ([`recipient_zone`], as the sending window
//! does): "Reminder: your appointment with Acme is Tue 3 Mar at 15:00 (Europe/London)."

use application::CommandContext;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use domain::conversation::{MessageContent, MessageOrigin};
use domain::values::{AppointmentId, LeadId, TenantId, Timezone};
use domain::{Appointment, AppointmentCommand, AppointmentStatus, Lead, Workflow};
use sqlx::PgConnection;

use crate::appointments::AppointmentRefusal;
use crate::executor::{execute_in, CommandError, Existence};
use crate::messaging::outbound::queue_in;
use crate::messaging::outbox::recipient_zone;
use crate::messaging::suppression::{load, lock_for_send, StepResult};
use crate::messaging::task_queue::ClaimedTask;
use crate::messaging::{Messaging, MessagingError};

/// The key prefix of a reminder row (`projections::timers::reminder_key`), and of the
/// appointment's reminder lock.
const KEY_PREFIX: &str = "reminder:";

/// What became of a reminder row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReminderOutcome {
    /// The planned reminder is no longer current (why): the projection will catch up.
    NothingToDo(&'static str),
    /// This reminder (minutes before the start) was queued and recorded.
    Sent(u32),
    /// This reminder could not go (why) and was recorded as passed over.
    Skipped(u32, &'static str),
}

/// What the row planned.
#[derive(Debug, Clone, Copy)]
struct Planned {
    appointment_id: AppointmentId,
    lead_id: LeadId,
    /// Minutes before the start.
    offset: u32,
    /// The start the reminder was planned for.
    start: DateTime<Utc>,
}

/// Runs a reminder row.
pub async fn run(messaging: &Messaging, task: &ClaimedTask) -> anyhow::Result<ReminderOutcome> {
    let ctx = messaging.system_ctx(TenantId::from_uuid(task.tenant_id), "reminders");
    let appointment_id: AppointmentId = task
        .task_key
        .strip_prefix(KEY_PREFIX)
        .and_then(|rest| rest.split(':').next())
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{} is not a reminder key", task.task_key))?;
    let offset = u32::try_from(task.attempt)
        .map_err(|_| anyhow::anyhow!("reminder {}: a negative offset", task.task_key))?;
    let planned = Planned {
        appointment_id,
        lead_id: LeadId::from_uuid(task.lead_id),
        offset,
        start: task.due_at + Duration::minutes(i64::from(offset)),
    };
    messaging
        .executor
        .in_transaction(|conn| {
            let ctx = ctx.clone();
            let messaging = messaging.clone();
            Box::pin(async move { run_in(&messaging, conn, &ctx, planned).await })
        })
        .await
        .map_err(|error| anyhow::anyhow!("reminder {}: {error:#}", task.task_key))
}

async fn run_in(
    messaging: &Messaging,
    conn: &mut PgConnection,
    ctx: &CommandContext,
    planned: Planned,
) -> StepResult<ReminderOutcome> {
    let id = planned.appointment_id;
    lock_for_send(conn, planned.lead_id).await?;
    lock_reminders(conn, id).await?;
    let appointment: Appointment = load(conn, ctx, &id.to_string()).await?;
    if let Some(why) = not_current(&appointment, &planned) {
        return Ok(ReminderOutcome::NothingToDo(why));
    }
    let now = ctx.issued_at;
    if now >= appointment.start() {
        let shortest = appointment
            .reminders_left()
            .last()
            .copied()
            .unwrap_or(planned.offset);
        return skip(conn, ctx, id, shortest, "started").await;
    }
    let Some(offset) = appointment.due_reminder(now) else {
        return Ok(ReminderOutcome::NothingToDo("not_due"));
    };
    let lead: Lead = load(conn, ctx, &planned.lead_id.to_string()).await?;
    let phone = match unreachable(&lead) {
        Err(why) => return skip(conn, ctx, id, offset, why).await,
        Ok(phone) => phone.clone(),
    };
    let workflow: Workflow = load(conn, ctx, &appointment.workflow_id().to_string()).await?;
    let Some(channel) = workflow.definition().map(|definition| definition.channel) else {
        return skip(conn, ctx, id, offset, "no_workflow").await;
    };
    let tenant = messaging
        .tenants
        .get(ctx.tenant_id)
        .await
        .map_err(CommandError::Database)?
        .ok_or(CommandError::NotFound)?;
    let zone = recipient_zone(&lead, &phone, tenant.timezone);
    let text = reminder_text(&tenant.brand_name, appointment.start(), zone);
    let Ok(content) = MessageContent::text(&text) else {
        return skip(conn, ctx, id, offset, "invalid_message").await;
    };
    match queue_in(
        conn,
        ctx,
        planned.lead_id,
        channel,
        content,
        MessageOrigin::Reminder,
    )
    .await
    {
        Ok(_) => {}
        // The conversation refuses it (free text outside WhatsApp's window; nothing written).
        Err(CommandError::Rejected(_)) => return skip(conn, ctx, id, offset, "refused").await,
        Err(error) => return Err(error),
    }
    record(
        conn,
        ctx,
        id,
        AppointmentCommand::RecordReminderSent {
            offset_minutes: offset,
            at: now,
        },
    )
    .await?;
    Ok(ReminderOutcome::Sent(offset))
}

/// Why the planned reminder is no longer current, if so.
fn not_current(appointment: &Appointment, planned: &Planned) -> Option<&'static str> {
    if !appointment.is_booked() || appointment.lead_id() != planned.lead_id {
        Some("no_appointment")
    } else if appointment.status() != AppointmentStatus::Confirmed {
        Some("not_confirmed")
    } else if appointment.start().trunc_subsecs(6) != planned.start {
        Some("moved")
    } else if !appointment.reminders_left().contains(&planned.offset) {
        Some("done")
    } else {
        None
    }
}

/// The lead's phone, or why the lead may not get a reminder.
fn unreachable(lead: &Lead) -> Result<&domain::values::PhoneNumber, &'static str> {
    if !lead.is_captured() {
        return Err("no_lead");
    }
    if lead.is_opted_out() {
        return Err("opted_out");
    }
    if lead.is_archived() {
        return Err("archived");
    }
    match lead.phone() {
        Some(phone) if !lead.is_unreachable() => Ok(phone),
        _ => Err("unreachable"),
    }
}

/// "Reminder: your appointment with {brand} is Tue 3 Mar at 15:00 (Europe/London).", the time
/// in `zone`.
#[must_use]
pub fn reminder_text(brand: &str, start: DateTime<Utc>, zone: Timezone) -> String {
    let local = start.with_timezone(&zone.tz());
    format!(
        "Reminder: your appointment with {brand} is {} ({zone}).",
        local.format("%a %-d %b at %H:%M")
    )
}

/// Takes the appointment's reminder lock exclusively, until the transaction ends.
async fn lock_reminders(conn: &mut PgConnection, id: AppointmentId) -> StepResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("{KEY_PREFIX}{id}"))
        .execute(conn)
        .await
        .map_err(|error| CommandError::Database(error.into()))?;
    Ok(())
}

/// Records the reminder `offset` passed over, for `why`.
async fn skip(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    id: AppointmentId,
    offset: u32,
    why: &'static str,
) -> StepResult<ReminderOutcome> {
    record(
        conn,
        ctx,
        id,
        AppointmentCommand::RecordReminderSkipped {
            offset_minutes: offset,
            reason: why.to_owned(),
            at: ctx.issued_at,
        },
    )
    .await?;
    Ok(ReminderOutcome::Skipped(offset, why))
}

/// Runs `command` on the appointment (its offsets come from the appointment's own state, so it
/// is not refused).
async fn record(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    id: AppointmentId,
    command: AppointmentCommand,
) -> StepResult<()> {
    execute_in::<Appointment>(conn, ctx, &id.to_string(), Existence::MustExist, command)
        .await
        .map_err(|error| {
            error.map_rejection(|refusal| MessagingError::from(AppointmentRefusal::from(refusal)))
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_text_names_the_time_in_the_given_zone() {
        let start = "2026-03-03T15:00:00Z".parse().unwrap();
        assert_eq!(
            reminder_text("Acme", start, Timezone::parse("Europe/London").unwrap()),
            "Reminder: your appointment with Acme is Tue 3 Mar at 15:00 (Europe/London)."
        );
        assert_eq!(
            reminder_text("Acme", start, Timezone::parse("America/New_York").unwrap()),
            "Reminder: your appointment with Acme is Tue 3 Mar at 10:00 (America/New_York)."
        );
        let summer = "2026-07-14T08:05:00Z".parse().unwrap();
        assert_eq!(
            reminder_text("Acme", summer, Timezone::parse("Europe/London").unwrap()),
            "Reminder: your appointment with Acme is Tue 14 Jul at 09:05 (Europe/London)."
        );
    }
}
