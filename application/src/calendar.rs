//! The calendar port: what an external calendar (Google Calendar) must answer for availability
//! (busy times) and what it must do after a booking commits (write, move, remove the event).
//! The built-in calendar needs no port: it is the reservations table. Adapters live in
//! `infrastructure::calendars`.
//!
//! Two rules shape the types:
//! - **Unknown is not free.** When the provider cannot say what is busy (a per-calendar error,
//!   a calendar missing from its answer), the answer is [`FreeBusy::Unknown`], which has no busy
//!   list to mistake for an empty one.
//! - **A lost connection is not a hiccup.** [`CalendarError::Disconnected`] (the grant was
//!   revoked or expired) never heals by retrying; [`CalendarError::Unavailable`] does.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::values::{AppointmentId, EmailAddress, Interval, Timezone};
use domain::CalendarRef;

/// An appointment as an event in an external calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    /// The appointment: adapters derive the event's own id (and any request id) from it, so a
    /// retried insert can never create a second event.
    pub appointment_id: AppointmentId,
    /// The event's title.
    pub summary: String,
    /// The event's description.
    pub description: String,
    /// Start (inclusive).
    pub start: DateTime<Utc>,
    /// End (exclusive).
    pub end: DateTime<Utc>,
    /// The zone the event is shown in (the business's).
    pub timezone: Timezone,
    /// The lead, invited when their email is known.
    pub attendee_email: Option<EmailAddress>,
}

/// What a calendar says about a range of time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreeBusy {
    /// These intervals are busy; the rest of the range is free.
    Known(Vec<Interval>),
    /// The provider could not say: treat the whole range as busy, never as free.
    Unknown {
        /// Why (the provider's per-calendar error reasons, or what was missing).
        reason: String,
    },
}

/// How far the provider got creating the event's video meeting (Google creates Meet links
/// asynchronously: `pending` now, `success` later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConferenceStatus {
    /// Asked for, not created yet: read the event again later for the link.
    Pending,
    /// Created: the meeting link is known.
    Success,
    /// The provider could not create it.
    Failure,
}

/// An event as the provider holds it after an insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertedEvent {
    /// The provider's id of the event (what update and delete take).
    pub event_id: String,
    /// A link to the event in the provider's UI, if it gave one.
    pub html_link: Option<String>,
    /// The video meeting's link, if already created.
    pub meet_link: Option<String>,
    /// The video meeting's creation status; `None` when the provider said nothing about one.
    pub conference: Option<ConferenceStatus>,
}

/// Why a calendar call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The connection is gone (the refresh token was revoked or expired: `invalid_grant`). Never
    /// retry: the tenant must connect the calendar again.
    #[error("the calendar is disconnected: {reason}")]
    Disconnected {
        /// What the provider said.
        reason: String,
    },
    /// Worth retrying later: 5xx, 429 or a rate limit, a timeout, no connection.
    #[error("the calendar is unavailable: {message}")]
    Unavailable {
        /// What went wrong.
        message: String,
        /// The provider's `Retry-After`, if it gave one.
        retry_after: Option<Duration>,
    },
    /// The provider refused the request (any other 4xx); trying again will not help.
    #[error("the calendar refused the request (HTTP {status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// What the provider said.
        message: String,
    },
}

/// An external calendar.
#[async_trait]
pub trait CalendarProvider: Send + Sync + fmt::Debug {
    /// The calendar this provider reads and writes (e.g. `google:team@example.com`): the
    /// calendar appointments booked into it are reserved in.
    fn calendar(&self) -> &CalendarRef;

    /// The id the provider's event for `appointment` has once inserted: derived from the
    /// appointment, so an insert whose answer was lost is found again rather than duplicated,
    /// and an event can be removed without its id ever having been recorded.
    fn event_id_for(&self, appointment: AppointmentId) -> String;

    /// What is busy between `from` and `to`.
    async fn free_busy(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<FreeBusy, CalendarError>;

    /// Writes `event`. Idempotent: inserting the same appointment again answers the event
    /// already written.
    async fn insert_event(&self, event: &CalendarEvent) -> Result<InsertedEvent, CalendarError>;

    /// Moves or renames event `event_id`: its times, summary and description become `event`'s.
    async fn update_event(
        &self,
        event_id: &str,
        event: &CalendarEvent,
    ) -> Result<(), CalendarError>;

    /// Removes event `event_id`; an event already gone is removed.
    async fn delete_event(&self, event_id: &str) -> Result<(), CalendarError>;
}
