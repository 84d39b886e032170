//! The pure part of the appointments projection: an appointment row folded from its events.

use std::collections::HashMap;

use anyhow::bail;
use chrono::{DateTime, Utc};
use domain::{AppointmentEvent, AppointmentStatus};
use infrastructure::feed::RecordedEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A row of the appointments table (JSON field names are the column names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentRow {
    /// The appointment.
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The lead who is meeting.
    pub lead_id: Uuid,
    /// The workflow it was booked through.
    pub workflow_id: Uuid,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
    /// The IANA time zone it is shown in.
    pub timezone: String,
    /// The calendar it is in.
    pub calendar: String,
    /// Where, if in person.
    pub location: Option<String>,
    /// The video-call link, if any.
    pub meeting_link: Option<String>,
    /// Free notes, possibly empty.
    pub notes: String,
    /// `confirmed`, `cancelled`, `completed` or `no_show`.
    pub status: String,
    /// Why it was cancelled, once cancelled.
    pub cancel_reason: Option<String>,
    /// Booked.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Aggregate sequence of the last event applied.
    pub version: i64,
}

/// Applies one appointment event to `rows` (keyed by appointment id). Events already applied
/// (sequence not after the row's version) change nothing.
pub fn apply_event(
    rows: &mut HashMap<Uuid, AppointmentRow>,
    event: &RecordedEvent,
) -> anyhow::Result<()> {
    let id = event.aggregate_uuid()?;
    if rows
        .get(&id)
        .is_some_and(|row| row.version >= event.sequence)
    {
        return Ok(());
    }
    let at = event.metadata.occurred_at;
    let payload: AppointmentEvent = event.decode()?;
    if let AppointmentEvent::AppointmentBooked {
        lead_id,
        workflow_id,
        start,
        end,
        timezone,
        calendar,
        location,
        meeting_link,
        notes,
        ..
    } = payload
    {
        rows.insert(
            id,
            AppointmentRow {
                id,
                tenant_id: event.metadata.tenant_id,
                lead_id: lead_id.as_uuid(),
                workflow_id: workflow_id.as_uuid(),
                start,
                end,
                timezone: timezone.as_str().to_owned(),
                calendar: calendar.as_str().to_owned(),
                location,
                meeting_link,
                notes,
                status: AppointmentStatus::Confirmed.as_str().to_owned(),
                cancel_reason: None,
                created_at: at,
                updated_at: at,
                version: event.sequence,
            },
        );
        return Ok(());
    }
    let Some(row) = rows.get_mut(&id) else {
        bail!(
            "{} for appointment {id} arrived before its booking",
            event.event_type
        );
    };
    crate::projection::ensure_next(row.version, event)?;
    let mut changed = true;
    match payload {
        AppointmentEvent::AppointmentBooked { .. } => {}
        AppointmentEvent::AppointmentRescheduled { start, end, .. } => {
            row.start = start;
            row.end = end;
        }
        AppointmentEvent::AppointmentCancelled { reason, .. } => {
            row.status = AppointmentStatus::Cancelled.as_str().to_owned();
            row.cancel_reason = Some(reason);
        }
        AppointmentEvent::AppointmentCompleted { .. } => {
            row.status = AppointmentStatus::Completed.as_str().to_owned();
        }
        AppointmentEvent::AppointmentNoShow { .. } => {
            row.status = AppointmentStatus::NoShow.as_str().to_owned();
        }
        AppointmentEvent::AppointmentNotesEdited { notes } => row.notes = notes,
        AppointmentEvent::AppointmentCalendarSynced {
            meeting_link: Some(link),
            ..
        } => row.meeting_link = Some(link),
        AppointmentEvent::AppointmentExternalEventRecorded { .. }
        | AppointmentEvent::AppointmentReminderSent { .. }
        | AppointmentEvent::AppointmentReminderSkipped { .. }
        | AppointmentEvent::AppointmentCalendarSynced { .. }
        | AppointmentEvent::AppointmentCalendarSyncFailed { .. } => changed = false,
    }
    if changed {
        row.updated_at = at;
    }
    row.version = event.sequence;
    Ok(())
}
