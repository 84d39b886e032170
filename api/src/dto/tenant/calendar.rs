//! A tenant's calendar connection in and out (`calendar.google`). Requests carry the secrets
//! once; answers show only whether each is set, and whether the connection still works.

use std::fmt;

use chrono::{DateTime, Utc};
use domain::appointment::MAX_CALENDAR_LEN;
use domain::values::ValueError;
use infrastructure::tenants::{
    CalendarPatch, CalendarView, ConnectionStatus, GoogleCalendarView, GooglePatch,
};
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Enum, Object};
use serde::Deserialize;

use super::channels::{maybe, secret};
use crate::error::ApiError;

/// Longest OAuth client id, in characters.
const MAX_CLIENT_ID_LEN: usize = 256;
/// Longest calendar id: what fits in a calendar reference after `google:`.
const MAX_CALENDAR_ID_LEN: usize = MAX_CALENDAR_LEN - "google:".len();

/// A tenant's external calendar as shown; without one, appointments are in the built-in
/// calendar.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "TenantCalendar")]
pub struct CalendarDto {
    /// The Google Calendar connection; `null` when not connected.
    #[oai(nullable)]
    pub google: Option<GoogleCalendarDto>,
}

impl From<&CalendarView> for CalendarDto {
    fn from(view: &CalendarView) -> Self {
        Self {
            google: view.google.as_ref().map(GoogleCalendarDto::from),
        }
    }
}

/// Whether a calendar connection works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "CalendarConnectionStatus", rename_all = "snake_case")]
pub enum ConnectionStatusDto {
    /// Usable, as far as we know.
    Connected,
    /// Google refused the grant (revoked or expired): give new credentials to reconnect.
    Disconnected,
}

impl From<ConnectionStatus> for ConnectionStatusDto {
    fn from(status: ConnectionStatus) -> Self {
        match status {
            ConnectionStatus::Connected => Self::Connected,
            ConnectionStatus::Disconnected => Self::Disconnected,
        }
    }
}

/// A Google Calendar connection as shown (the client secret and refresh token are never shown).
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "GoogleCalendarConnection")]
pub struct GoogleCalendarDto {
    /// The OAuth client id.
    pub client_id: String,
    /// The calendar read (busy times) and written (appointments), e.g. `primary`.
    pub calendar_id: String,
    /// Whether a client secret is stored.
    pub client_secret_set: bool,
    /// Whether a refresh token is stored.
    pub refresh_token_set: bool,
    /// `disconnected` once Google refused the grant; any change to the connection reconnects.
    pub status: ConnectionStatusDto,
    /// What Google said when it refused the grant; `null` while connected.
    #[oai(nullable)]
    pub disconnected_reason: Option<String>,
    /// When the grant was refused; `null` while connected.
    #[oai(nullable)]
    pub disconnected_at: Option<DateTime<Utc>>,
}

impl From<&GoogleCalendarView> for GoogleCalendarDto {
    fn from(view: &GoogleCalendarView) -> Self {
        Self {
            client_id: view.client_id.clone(),
            calendar_id: view.calendar_id.clone(),
            client_secret_set: view.client_secret_set,
            refresh_token_set: view.refresh_token_set,
            status: view.status().into(),
            disconnected_reason: view.disconnected.as_ref().map(|d| d.reason.clone()),
            disconnected_at: view.disconnected.as_ref().map(|d| d.at),
        }
    }
}

/// A change to the tenant's calendar: an object changes the connection (or sets it up), `null`
/// removes it (back to the built-in calendar).
#[derive(Debug, Clone, Default, Object, Deserialize)]
#[oai(rename = "TenantCalendarChange", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct CalendarRequest {
    /// The Google Calendar connection, or `null` to disconnect it.
    #[oai(nullable)]
    #[serde(default)]
    pub google: MaybeUndefined<GoogleCalendarRequest>,
}

impl CalendarRequest {
    /// The checked change.
    pub fn parse(self) -> Result<CalendarPatch, ApiError> {
        Ok(CalendarPatch {
            google: maybe(self.google, GoogleCalendarRequest::parse)?,
        })
    }
}

/// Settings of a Google Calendar connection (OAuth web client with offline access). Settings
/// left out keep their value. To connect, give `client_id`, `client_secret` and
/// `refresh_token`; `calendar_id` defaults to `primary`. Any change clears a `disconnected`
/// status.
#[derive(Clone, Default, Object, Deserialize)]
#[oai(rename = "GoogleCalendarConnectionChange", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct GoogleCalendarRequest {
    /// The OAuth client id (1 to 256 characters, no spaces).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The OAuth client secret (1 to 512 characters). Write-only: stored encrypted and never
    /// shown again.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The refresh token the calendar's owner granted (`access_type=offline`; 1 to 512
    /// characters). Write-only.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// The calendar to read and write: `primary` or a calendar id such as
    /// `team@group.calendar.google.com` (1 to 193 characters).
    #[serde(default)]
    pub calendar_id: Option<String>,
}

impl fmt::Debug for GoogleCalendarRequest {
    /// Leaves the secrets out, so the body can be logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |value: &Option<String>| value.as_ref().map(|_| "<secret>");
        f.debug_struct("GoogleCalendarRequest")
            .field("client_id", &self.client_id)
            .field("client_secret", &hidden(&self.client_secret))
            .field("refresh_token", &hidden(&self.refresh_token))
            .field("calendar_id", &self.calendar_id)
            .finish()
    }
}

impl GoogleCalendarRequest {
    fn parse(self) -> Result<GooglePatch, ApiError> {
        let secret_at = |field: &'static str, value: Option<String>| {
            value.map(|value| secret(field, value)).transpose()
        };
        Ok(GooglePatch {
            client_id: self
                .client_id
                .map(|id| client_id("calendar.google.client_id", &id))
                .transpose()?,
            client_secret: secret_at("calendar.google.client_secret", self.client_secret)?,
            refresh_token: secret_at("calendar.google.refresh_token", self.refresh_token)?,
            calendar_id: self
                .calendar_id
                .map(|id| calendar_id("calendar.google.calendar_id", &id))
                .transpose()?,
        })
    }
}

/// An OAuth client id: 1 to 256 visible characters, no whitespace.
fn client_id(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid_field(field, ValueError::Empty));
    }
    if value.chars().count() > MAX_CLIENT_ID_LEN {
        return Err(ApiError::invalid_field(
            field,
            ValueError::TooLong {
                max: MAX_CLIENT_ID_LEN,
            },
        ));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::invalid_field(
            field,
            "must not contain spaces or control characters",
        ));
    }
    Ok(value.to_owned())
}

/// A calendar id: 1 to 193 characters without control characters (it goes into request paths
/// percent-encoded, and into the appointments' calendar reference as `google:<id>`).
fn calendar_id(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid_field(field, ValueError::Empty));
    }
    if value.chars().count() > MAX_CALENDAR_ID_LEN {
        return Err(ApiError::invalid_field(
            field,
            ValueError::TooLong {
                max: MAX_CALENDAR_ID_LEN,
            },
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(field, ValueError::ControlCharacter));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::error::field_of;

    fn parse(json: &str) -> Result<CalendarPatch, ApiError> {
        serde_json::from_str::<CalendarRequest>(json)
            .unwrap()
            .parse()
    }

    #[test]
    fn each_bad_value_names_its_path() {
        for (json, field) in [
            (
                r#"{"google": {"client_id": " "}}"#.to_owned(),
                "calendar.google.client_id",
            ),
            (
                r#"{"google": {"client_id": "a b"}}"#.to_owned(),
                "calendar.google.client_id",
            ),
            (
                r#"{"google": {"client_secret": ""}}"#.to_owned(),
                "calendar.google.client_secret",
            ),
            (
                format!(
                    r#"{{"google": {{"refresh_token": "{}"}}}}"#,
                    "r".repeat(513)
                ),
                "calendar.google.refresh_token",
            ),
            (
                format!(r#"{{"google": {{"calendar_id": "{}"}}}}"#, "c".repeat(194)),
                "calendar.google.calendar_id",
            ),
            (
                r#"{"google": {"calendar_id": "a\tb"}}"#.to_owned(),
                "calendar.google.calendar_id",
            ),
        ] {
            assert_eq!(field_of(parse(&json).unwrap_err()), field, "{json}");
        }
        let ok = parse(&format!(
            r#"{{"google": {{"client_id": " id-1.apps.googleusercontent.com ", "calendar_id": "{}"}}}}"#,
            "c".repeat(193)
        ))
        .unwrap();
        let google = ok.google.unwrap().unwrap();
        assert_eq!(
            google.client_id.as_deref(),
            Some("id-1.apps.googleusercontent.com")
        );
        assert_eq!(google.client_secret, None);
        assert_eq!(parse(r#"{"google": null}"#).unwrap().google, Some(None));
        assert_eq!(parse("{}").unwrap().google, None);
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let body: CalendarRequest = serde_json::from_str(
            r#"{"google": {"client_secret": "gc-secret", "refresh_token": "1//rt-secret"}}"#,
        )
        .unwrap();
        let shown = format!("{body:?}");
        assert!(
            !shown.contains("gc-secret") && !shown.contains("rt-secret"),
            "{shown}"
        );
    }
}
