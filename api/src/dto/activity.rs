//! Bodies of the activity feed: the tenant's meaningful events, newest first, a page at a time.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use projections::activity::fold::ActivityRow;

use crate::error::ApiError;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "ActivityItem")]
pub struct ActivityItemDto {
    /// The event's position in the feed: later events have larger positions.
    pub position: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened: `lead_captured`, `message_received`, `message_sent`, `lead_qualified`,
    /// `lead_booked`, `lead_opted_out`, `lead_resubscribed`, `handed_off`,
    /// `appointment_booked`, `appointment_rescheduled`, `appointment_cancelled`,
    /// `appointment_completed` or `appointment_no_show`.
    pub kind: String,
    /// The lead it concerns.
    pub lead_id: String,
    /// The appointment, for `appointment_*` kinds.
    pub appointment_id: Option<String>,
    /// `sms` or `whatsapp`, for message kinds and `handed_off`.
    pub channel: Option<String>,
    /// A short sentence for people ("Ada Lovelace replied on SMS").
    pub summary: String,
}

impl From<ActivityRow> for ActivityItemDto {
    fn from(row: ActivityRow) -> Self {
        Self {
            position: row.position,
            at: row.occurred_at,
            kind: row.kind,
            lead_id: row.lead_id.to_string(),
            appointment_id: row.appointment_id.map(|id| id.to_string()),
            channel: row.channel,
            summary: row.summary,
        }
    }
}

/// A page of the activity feed.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "ActivityList")]
pub struct ActivityListDto {
    /// Newest first.
    pub items: Vec<ActivityItemDto>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The opaque `next_cursor` of a page whose last item is at `position`.
pub fn encode_cursor(position: i64) -> String {
    format!("a{position:x}")
}

/// The position a `cursor` continues before; 422 naming `cursor` for anything but a
/// `next_cursor`.
pub fn decode_cursor(raw: &str) -> Result<i64, ApiError> {
    raw.trim()
        .strip_prefix('a')
        .and_then(|hex| i64::from_str_radix(hex, 16).ok())
        .filter(|position| *position > 0)
        .ok_or_else(|| {
            ApiError::invalid_field("cursor", "must be a next_cursor of a previous page")
        })
}
