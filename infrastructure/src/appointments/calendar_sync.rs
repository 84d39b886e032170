//! Writing appointments to the tenant's external calendar after they commit: one claimed
//! `calendar:<appointment>` task (`projections::calendar_sync`) makes the calendar show the
//! appointment as it is now — inserts the event (with a Meet link), moves it, or deletes it —
//! and records `AppointmentCalendarSynced` with the version it showed.
//!
//! # Nothing duplicated, nothing lost
//! - The task reconciles the whole state, not one change: whatever happened since the last sync
//!   (a booking then a reschedule, a reschedule then a cancel) is one call.
//! - The Google event's id is derived from the appointment (see `calendars::google`), so an
//!   insert whose answer was lost (the process died, the network failed) is found again by the
//!   next attempt instead of creating a second event.
//! - A change made while a sync was in flight keeps its task (it asks for a later version) and is
//!   synced next.
//!
//! # Failures
//! An outage (`Unavailable`) is retried with a growing pause (30 s, 1 min, 2 min … at most an
//! hour) up to [`MAX_ATTEMPTS`] times. A lost grant (`Disconnected`: the tenant was told when it
//! happened), a refusal (`Refused`), a removed or switched calendar give up at once. Either way
//! `AppointmentCalendarSyncFailed` says why, and the appointment itself stays booked.

use anyhow::Context;
use application::{CalendarError, CalendarEvent, CalendarProvider};
use chrono::{DateTime, Duration, Utc};
use domain::values::{AppointmentId, TenantId};
use domain::{Appointment, AppointmentCommand, AppointmentStatus, Lead};

use crate::event_store::{self, StoreError};
use crate::executor::{CommandError, Existence};
use crate::messaging::task_queue::ClaimedTask;
use crate::messaging::Messaging;

/// Failed attempts after which an outage gives up.
pub const MAX_ATTEMPTS: u32 = 10;

/// What became of a calendar-sync task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The calendar already shows this version (or the appointment is gone).
    NothingToDo,
    /// The event was written.
    Inserted,
    /// The event was moved.
    Updated,
    /// The event was removed.
    Deleted,
    /// It failed and will be tried again.
    WillRetry(String),
    /// It failed for good.
    GaveUp(String),
}

/// Runs one claimed `calendar` task (its `message_id` is the appointment).
pub async fn run(messaging: &Messaging, task: &ClaimedTask) -> anyhow::Result<SyncOutcome> {
    let tenant = TenantId::from_uuid(task.tenant_id);
    let id = AppointmentId::from_uuid(task.message_id);
    let mut conn = messaging
        .executor
        .pool()
        .acquire()
        .await
        .context("Failed to acquire a connection for a calendar sync")?;
    let loaded = match event_store::load::<Appointment>(
        &mut conn,
        tenant.as_uuid(),
        &id.to_string(),
    )
    .await
    {
        Ok(loaded) => loaded,
        Err(StoreError::OtherTenant) => return Ok(SyncOutcome::NothingToDo),
        Err(error) => return Err(anyhow::Error::from(error).context("loading an appointment")),
    };
    let appointment = loaded.aggregate;
    let version = appointment.changed_version();
    if !appointment.is_booked()
        || appointment.calendar().is_builtin()
        || appointment.synced_version() >= version
    {
        return Ok(SyncOutcome::NothingToDo);
    }
    let lead = event_store::load::<Lead>(
        &mut conn,
        tenant.as_uuid(),
        &appointment.lead_id().to_string(),
    )
    .await
    .map(|loaded| loaded.aggregate)
    .ok();
    drop(conn);
    let provider = messaging
        .calendars
        .provider_for(tenant)
        .await
        .context("resolving the tenant's calendar")?;
    let Some(provider) = provider.filter(|p| p.calendar() == appointment.calendar()) else {
        let reason = "the tenant no longer uses this calendar".to_owned();
        return record_failure(messaging, tenant, id, &appointment, reason, None).await;
    };
    let brand = messaging
        .tenants
        .get(tenant)
        .await?
        .map(|tenant| tenant.brand_name)
        .unwrap_or_default();
    let event = calendar_event(id, &appointment, lead.as_ref(), &brand);
    let outcome = write(provider.as_ref(), &appointment, &event).await;
    let ctx = messaging.system_ctx(tenant, "calendar_sync");
    match outcome {
        Ok((done, event_id, meeting_link)) => {
            execute(
                messaging,
                &ctx,
                id,
                AppointmentCommand::RecordCalendarSync {
                    through_version: version,
                    event_id,
                    meeting_link,
                    at: ctx.issued_at,
                },
            )
            .await?;
            Ok(done)
        }
        Err(error) => {
            let retry_at = match &error {
                CalendarError::Unavailable { retry_after, .. }
                    if appointment.sync_attempts() + 1 < MAX_ATTEMPTS =>
                {
                    let pause = backoff(appointment.sync_attempts() + 1);
                    let asked = retry_after
                        .and_then(|after| Duration::from_std(after).ok())
                        .unwrap_or(pause);
                    Some(ctx.issued_at + pause.max(asked))
                }
                _ => None,
            };
            record_failure(
                messaging,
                tenant,
                id,
                &appointment,
                error.to_string(),
                retry_at,
            )
            .await
        }
    }
}

/// Makes the calendar show `appointment`: insert, move or delete. Answers what was done and, for
/// an insert, the event id and the Meet link.
async fn write(
    provider: &dyn CalendarProvider,
    appointment: &Appointment,
    event: &CalendarEvent,
) -> Result<(SyncOutcome, Option<String>, Option<String>), CalendarError> {
    let existing = appointment.external_event().map(|e| e.event_id.clone());
    match (appointment.status(), existing) {
        (AppointmentStatus::Cancelled, Some(event_id)) => {
            provider.delete_event(&event_id).await?;
            Ok((SyncOutcome::Deleted, None, None))
        }
        (AppointmentStatus::Cancelled, None) => {
            // Cancelled before an insert was recorded: an insert whose answer was lost may have
            // written it, under the id derived from the appointment (gone already is fine).
            provider
                .delete_event(&provider.event_id_for(event.appointment_id))
                .await?;
            Ok((SyncOutcome::Deleted, None, None))
        }
        (_, None) => {
            let inserted = provider.insert_event(event).await?;
            if appointment.changed_version() > 1 {
                // Moved since it was booked: an insert whose answer was lost before the move
                // may have written it at the old time, and the insert finds that event as is.
                provider.update_event(&inserted.event_id, event).await?;
            }
            Ok((
                SyncOutcome::Inserted,
                Some(inserted.event_id),
                inserted.meet_link,
            ))
        }
        (_, Some(event_id)) => {
            provider.update_event(&event_id, event).await?;
            Ok((SyncOutcome::Updated, None, None))
        }
    }
}

/// The calendar's view of the appointment.
fn calendar_event(
    id: AppointmentId,
    appointment: &Appointment,
    lead: Option<&Lead>,
    brand: &str,
) -> CalendarEvent {
    let name = lead
        .map(|lead| format!("{} {}", lead.first_name(), lead.last_name()))
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "a lead".to_owned());
    let mut description = vec![format!("Booked by BookerBot for {}.", brand.trim())];
    if let Some(phone) = lead.and_then(Lead::phone) {
        description.push(format!("Phone: {phone}"));
    }
    if !appointment.notes().is_empty() {
        description.push(format!("Notes: {}", appointment.notes()));
    }
    CalendarEvent {
        appointment_id: id,
        summary: format!("Appointment with {name}"),
        description: description.join("\n"),
        start: appointment.start(),
        end: appointment.end(),
        timezone: appointment.timezone(),
        attendee_email: lead.and_then(Lead::email).cloned(),
    }
}

/// The pause before attempt `attempt + 1`: 30 s, doubling, at most an hour.
fn backoff(attempt: u32) -> Duration {
    let seconds = 30i64.saturating_mul(2i64.saturating_pow(attempt.saturating_sub(1).min(10)));
    Duration::seconds(seconds.min(3600))
}

async fn record_failure(
    messaging: &Messaging,
    tenant: TenantId,
    id: AppointmentId,
    appointment: &Appointment,
    error: String,
    retry_at: Option<DateTime<Utc>>,
) -> anyhow::Result<SyncOutcome> {
    let ctx = messaging.system_ctx(tenant, "calendar_sync");
    tracing::warn!(appointment = %id, calendar = %appointment.calendar(), error, ?retry_at, "a calendar sync failed");
    execute(
        messaging,
        &ctx,
        id,
        AppointmentCommand::RecordCalendarSyncFailed {
            for_version: appointment.changed_version(),
            error: error.clone(),
            retry_at,
            at: ctx.issued_at,
        },
    )
    .await?;
    Ok(if retry_at.is_some() {
        SyncOutcome::WillRetry(error)
    } else {
        SyncOutcome::GaveUp(error)
    })
}

async fn execute(
    messaging: &Messaging,
    ctx: &application::CommandContext,
    id: AppointmentId,
    command: AppointmentCommand,
) -> anyhow::Result<()> {
    messaging
        .executor
        .execute::<Appointment>(ctx, &id.to_string(), Existence::MustExist, command)
        .await
        .map_err(|error: CommandError<_>| anyhow::anyhow!("recording a calendar sync: {error}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_from_thirty_seconds_to_an_hour() {
        let pauses: Vec<i64> = (1..=9).map(|a| backoff(a).num_seconds()).collect();
        assert_eq!(pauses, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
