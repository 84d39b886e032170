//! A tenant's Google Calendar through the Calendar API v3: freeBusy for busy times, and
//! events.insert / patch / delete for the appointments' events. Every call carries
//! `Authorization: Bearer <access token>` from the connection's [`GoogleTokens`]; a 401 gets one
//! new token and one retry.

use std::sync::Arc;

use application::{CalendarError, CalendarEvent, CalendarProvider, FreeBusy, InsertedEvent};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::values::AppointmentId;
use domain::CalendarRef;

use super::exchange::{exchange, Answer};
use super::oauth::GoogleTokens;
use super::wire::{event_id, segment, EventAnswer, EventBody, FreeBusyAnswer, FreeBusyQuery};

/// What events.insert and events.patch/delete add to the URL: a Meet link can only be created
/// with `conferenceDataVersion=1`, and Google sends no invitation emails of its own (the lead
/// hears from us).
const INSERT_QUERY: &str = "conferenceDataVersion=1&sendUpdates=none";
/// events.patch and events.delete notify nobody either.
const CHANGE_QUERY: &str = "sendUpdates=none";

/// One Google calendar of a tenant as a [`CalendarProvider`].
#[derive(Debug)]
pub struct GoogleCalendar {
    client: reqwest::Client,
    api_base: String,
    calendar_id: String,
    calendar: CalendarRef,
    tokens: Arc<GoogleTokens>,
}

impl GoogleCalendar {
    /// Calendar `calendar_id` through the API at `api_base` (`https://www.googleapis.com`, or a
    /// fake's address in tests), authorised by `tokens`. Fails when the id is too long to name
    /// as a [`CalendarRef`].
    pub fn new(
        client: reqwest::Client,
        api_base: &str,
        calendar_id: String,
        tokens: Arc<GoogleTokens>,
    ) -> Result<Self, domain::values::ValueError> {
        Ok(Self {
            client,
            api_base: api_base.trim_end_matches('/').to_owned(),
            calendar: CalendarRef::parse(&format!("google:{calendar_id}"))?,
            calendar_id,
            tokens,
        })
    }

    /// Why Google refused the connection's grant, if it has: the adapter then answers
    /// `Disconnected` to everything without calling Google.
    pub fn refused_reason(&self) -> Option<String> {
        self.tokens.refused_reason()
    }

    /// `…/calendars/{calendarId}/events`.
    fn events_url(&self) -> String {
        format!(
            "{}/calendar/v3/calendars/{}/events",
            self.api_base,
            segment(&self.calendar_id)
        )
    }

    /// `…/calendars/{calendarId}/events/{eventId}`.
    fn event_url(&self, event_id: &str) -> String {
        format!("{}/{}", self.events_url(), segment(event_id))
    }

    /// Sends the request `build` makes with a token; on 401, once more with a new token.
    async fn call(
        &self,
        build: impl Fn(&str) -> reqwest::RequestBuilder + Send + Sync,
    ) -> Result<Answer, CalendarError> {
        let token = self.tokens.access_token().await?;
        let answer = exchange(build(&token)).await?;
        if answer.status != 401 {
            return Ok(answer);
        }
        let token = self.tokens.replace(&token).await?;
        exchange(build(&token)).await
    }

    /// The event `event_id` as Google holds it.
    async fn get_event(&self, event_id: &str) -> Result<EventAnswer, CalendarError> {
        let url = self.event_url(event_id);
        let answer = self
            .call(|token| self.client.get(&url).bearer_auth(token))
            .await?;
        if !answer.is_success() {
            return Err(answer.failure());
        }
        serde_json::from_slice(&answer.body).map_err(|_| answer.unreadable("events.get"))
    }
}

#[async_trait]
impl CalendarProvider for GoogleCalendar {
    fn calendar(&self) -> &CalendarRef {
        &self.calendar
    }

    fn event_id_for(&self, appointment: AppointmentId) -> String {
        super::wire::event_id(appointment)
    }

    async fn free_busy(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<FreeBusy, CalendarError> {
        let url = format!("{}/calendar/v3/freeBusy", self.api_base);
        let query = FreeBusyQuery::new(&self.calendar_id, from, to);
        let answer = self
            .call(|token| self.client.post(&url).bearer_auth(token).json(&query))
            .await?;
        if !answer.is_success() {
            return Err(answer.failure());
        }
        let read: FreeBusyAnswer =
            serde_json::from_slice(&answer.body).map_err(|_| answer.unreadable("freeBusy"))?;
        Ok(read.of(&self.calendar_id))
    }

    /// Inserts the event under an id derived from the appointment. A 409 means an earlier
    /// attempt got through (the id exists): the event Google holds is answered instead — unless
    /// it was deleted since, which is refused (409) rather than resurrected.
    async fn insert_event(&self, event: &CalendarEvent) -> Result<InsertedEvent, CalendarError> {
        let url = format!("{}?{INSERT_QUERY}", self.events_url());
        let body = EventBody::insert(event);
        let answer = self
            .call(|token| self.client.post(&url).bearer_auth(token).json(&body))
            .await?;
        let written = if answer.status == 409 {
            self.get_event(&event_id(event.appointment_id)).await?
        } else if answer.is_success() {
            serde_json::from_slice(&answer.body).map_err(|_| answer.unreadable("events.insert"))?
        } else {
            return Err(answer.failure());
        };
        if written.is_cancelled() {
            return Err(CalendarError::Refused {
                status: 409,
                message: format!(
                    "event {} was deleted from the calendar; it is not written again",
                    event_id(event.appointment_id)
                ),
            });
        }
        Ok(written.into_inserted())
    }

    async fn update_event(
        &self,
        event_id: &str,
        event: &CalendarEvent,
    ) -> Result<(), CalendarError> {
        let url = format!("{}?{CHANGE_QUERY}", self.event_url(event_id));
        let body = EventBody::patch(event);
        let answer = self
            .call(|token| self.client.patch(&url).bearer_auth(token).json(&body))
            .await?;
        if answer.is_success() {
            Ok(())
        } else {
            Err(answer.failure())
        }
    }

    /// Deletes the event; 404 and 410 (already deleted) are success.
    async fn delete_event(&self, event_id: &str) -> Result<(), CalendarError> {
        let url = format!("{}?{CHANGE_QUERY}", self.event_url(event_id));
        let answer = self
            .call(|token| self.client.delete(&url).bearer_auth(token))
            .await?;
        if answer.is_success() || answer.status == 404 || answer.status == 410 {
            Ok(())
        } else {
            Err(answer.failure())
        }
    }
}
