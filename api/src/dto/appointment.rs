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
