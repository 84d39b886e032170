//! Bodies of the appointment operations: a booking request, a cancellation, and what they and
//! availability answer. Requests hold primitives; the parsers here turn them into domain values
//! and name the exact field refused (`lead_id`, `workflow_id`, `start`).

use chrono::{DateTime, Utc};
use domain::values::Interval;
use poem_openapi::Object;
use serde::Deserialize;

use crate::error::ApiError;

/// A booking: who, through which workflow (it gives the length), when.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct BookAppointmentRequest {
    /// The lead's id.
    pub lead_id: String,
    /// The workflow's id; the appointment lasts its `appointment_duration_minutes`.
    pub workflow_id: String,
    /// When it starts, RFC 3339 (e.g. `2026-03-30T09:00:00+01:00`); not in the past.
    pub start: String,
    /// Free notes, up to 5000 characters.
    #[serde(default)]
    pub notes: Option<String>,
}

impl BookAppointmentRequest {
    /// The checked request, naming the field refused.
    pub fn parse(&self) -> Result<infrastructure::appointments::BookRequest, ApiError> {
        Ok(infrastructure::appointments::BookRequest {
            lead_id: parse_id("lead_id", &self.lead_id)?,
            workflow_id: parse_id("workflow_id", &self.workflow_id)?,
            start: parse_time("start", &self.start)?,
            notes: self.notes.clone().unwrap_or_default(),
        })
    }
}

/// Why an appointment is called off.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct CancelAppointmentRequest {
    /// Why, 1 to 1000 characters.
    pub reason: String,
}

/// A booked appointment.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Appointment")]
pub struct AppointmentDto {
    /// Its id.
    pub id: String,
    /// The lead who is meeting.
    pub lead_id: String,
    /// The workflow it was booked through.
    pub workflow_id: String,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
    /// `confirmed`, `cancelled`, `completed` or `no_show`.
    pub status: String,
    /// Global position of the last event written; `null` if nothing changed.
    pub position: Option<i64>,
}

/// A cancelled appointment.
#[derive(Debug, Clone, Object)]
pub struct CancelledAppointmentDto {
    /// Its id.
    pub id: String,
    /// The lead who was meeting.
    pub lead_id: String,
    /// Always `cancelled`.
    pub status: String,
    /// Global position of the last event written; `null` if it was already cancelled.
    pub position: Option<i64>,
}

/// A free (or offered) slot.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Slot")]
pub struct SlotDto {
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
}

impl From<Interval> for SlotDto {
    fn from(slot: Interval) -> Self {
        Self {
            start: slot.start,
            end: slot.end,
        }
    }
}

/// Free slots, soonest first.
#[derive(Debug, Clone, Object)]
pub struct AvailabilityDto {
    /// The slots.
    pub slots: Vec<SlotDto>,
    /// The calendar they are free in: `builtin`, or `google:<calendar id>` when the tenant
    /// connected Google Calendar.
    pub calendar: String,
    /// Set when the tenant's Google calendar could not say what is busy (a per-calendar error,
    /// a lost connection, an outage): nothing is offered then, since unknown is not free.
    pub unknown_reason: Option<String>,
}

/// Parses an id for `field`, a 422 naming it otherwise.
pub fn parse_id<T: std::str::FromStr>(field: &str, raw: &str) -> Result<T, ApiError> {
    raw.trim()
        .parse()
        .map_err(|_| ApiError::invalid_field(field, "must be a UUID"))
}

/// Parses an RFC 3339 time for `field`, a 422 naming it otherwise.
pub fn parse_time(field: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::invalid_field(field, "must be an RFC 3339 time (2026-03-30T09:00:00Z)")
        })
}

/// An appointment as the read model holds it.
#[derive(Debug, Clone, Object)]
#[oai(rename = "AppointmentDetails")]
pub struct AppointmentDetailsDto {
    /// Its id.
    pub id: String,
    /// The lead who is meeting.
    pub lead_id: String,
    /// The workflow it was booked through.
    pub workflow_id: String,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
    /// The IANA time zone it is shown in.
    pub timezone: String,
    /// The calendar it is in (`builtin`).
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
    /// When it was booked.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<projections::appointments::fold::AppointmentRow> for AppointmentDetailsDto {
    fn from(row: projections::appointments::fold::AppointmentRow) -> Self {
        Self {
            id: row.id.to_string(),
            lead_id: row.lead_id.to_string(),
            workflow_id: row.workflow_id.to_string(),
            start: row.start,
            end: row.end,
            timezone: row.timezone,
            calendar: row.calendar,
            location: row.location,
            meeting_link: row.meeting_link,
            notes: row.notes,
            status: row.status,
            cancel_reason: row.cancel_reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// The appointments of one local day.
#[derive(Debug, Clone, Object)]
#[oai(rename = "AppointmentDay")]
pub struct AppointmentDayDto {
    /// The day in the tenant's time zone, `YYYY-MM-DD`.
    pub date: String,
    /// Its appointments, soonest first.
    pub appointments: Vec<AppointmentDetailsDto>,
}

/// A list of appointments (`view=list`: `items` and `next_cursor`) or a calendar (`view=week`
/// or `month`: `days`).
#[derive(Debug, Clone, Object)]
#[oai(rename = "AppointmentList")]
pub struct AppointmentListDto {
    /// `view=list`: the appointments, soonest first.
    #[oai(skip_serializing_if_is_none)]
    pub items: Option<Vec<AppointmentDetailsDto>>,
    /// `view=list`: pass as `cursor` for the next page; `null` on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
    /// `view=week|month`: every day of the week (Monday to Sunday) or month, in order.
    #[oai(skip_serializing_if_is_none)]
    pub days: Option<Vec<AppointmentDayDto>>,
}

/// Changes to an appointment: its notes and/or its outcome.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct UpdateAppointmentRequest {
    /// The new notes (the whole text, up to 5000 characters).
    pub notes: Option<String>,
    /// `completed` or `no_show`, once the appointment has started.
    pub status: Option<String>,
}

impl UpdateAppointmentRequest {
    /// The checked changes, naming the field refused.
    pub fn parse(&self) -> Result<infrastructure::appointments::AppointmentChanges, ApiError> {
        use infrastructure::appointments::Outcome;
        let outcome = match self.status.as_deref().map(str::trim) {
            None => None,
            Some("completed") => Some(Outcome::Completed),
            Some("no_show") => Some(Outcome::NoShow),
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "status",
                    "must be completed or no_show",
                ))
            }
        };
        if self.notes.is_none() && outcome.is_none() {
            return Err(ApiError::invalid_field("notes", "give notes and/or status"));
        }
        Ok(infrastructure::appointments::AppointmentChanges {
            notes: self.notes.clone(),
            outcome,
        })
    }
}

/// A new time for an appointment (it keeps its length).
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct RescheduleAppointmentRequest {
    /// The new start, RFC 3339; not in the past.
    pub start: String,
}

/// An appointment after a change (reschedule, notes, outcome), as the command left it.
#[derive(Debug, Clone, Object)]
#[oai(rename = "AppointmentChange")]
pub struct AppointmentChangeDto {
    /// Its id.
    pub id: String,
    /// The lead who is meeting.
    pub lead_id: String,
    /// The workflow it was booked through.
    pub workflow_id: String,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
    /// `confirmed`, `cancelled`, `completed` or `no_show`.
    pub status: String,
    /// Free notes, possibly empty.
    pub notes: String,
    /// Global position of the last event written; `null` if nothing changed. Pass it as
    /// `min_position` to read the change back.
    pub position: Option<i64>,
}

impl AppointmentChangeDto {
    /// The answer for appointment `id` in state `appointment` after writing up to `position`.
    pub fn new(id: String, appointment: &domain::Appointment, position: Option<i64>) -> Self {
        Self {
            id,
            lead_id: appointment.lead_id().to_string(),
            workflow_id: appointment.workflow_id().to_string(),
            start: appointment.start(),
            end: appointment.end(),
            status: appointment.status().as_str().to_owned(),
            notes: appointment.notes().to_owned(),
            position,
        }
    }
}
