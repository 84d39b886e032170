//! A tenant's calendar connection (Google Calendar): what a change to it looks like, how a
//! change merges into what is stored, the view without secrets, and the opened connection the
//! adapter uses.
//!
//! Stored in `tenants` (see `migrations/0010_calendar_connections.sql`): the `google_calendar`
//! `jsonb` column (`client_id`, `calendar_id`), the sealed `google_client_secret` and
//! `google_refresh_token`, the current access token sealed with its expiry, and the
//! disconnection (when, why) once Google refused the grant. Any change to the connection starts
//! it afresh: the disconnection and the stored access token are cleared, and the refresh token
//! is sealed again, which makes the change a new [`ConnectionStamp`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sealing::Sealer;
use super::TenantChangeError;
use crate::calendars::GoogleCredentials;
use crate::secrets::Secret;

const GOOGLE_CLIENT_ID: &str = "calendar.google.client_id";
const GOOGLE_CLIENT_SECRET: &str = "calendar.google.client_secret";
const GOOGLE_REFRESH_TOKEN: &str = "calendar.google.refresh_token";
/// The path the access token is sealed under.
pub(super) const GOOGLE_ACCESS_TOKEN: &str = "calendar.google.access_token";

/// The calendar used when a connection is set up without naming one.
pub const DEFAULT_GOOGLE_CALENDAR_ID: &str = "primary";

/// A change to a tenant's calendar connection: `google: None` leaves it, `Some(None)` removes it
/// (back to the built-in calendar), `Some(Some(patch))` merges `patch` into it (or sets it up).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CalendarPatch {
    /// Google Calendar.
    pub google: Option<Option<GooglePatch>>,
}

/// A change to a Google Calendar connection: settings left `None` keep their value. Setting one
/// up needs `client_id`, `client_secret` and `refresh_token`; `calendar_id` defaults to
/// [`DEFAULT_GOOGLE_CALENDAR_ID`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GooglePatch {
    /// The OAuth client id.
    pub client_id: Option<String>,
    /// The OAuth client secret.
    pub client_secret: Option<Secret>,
    /// The refresh token the tenant granted.
    pub refresh_token: Option<Secret>,
    /// The calendar to read and write.
    pub calendar_id: Option<String>,
}

/// A tenant's calendar connection as anyone may see it: never a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarView {
    /// Google Calendar, if connected (or once connected and now disconnected).
    pub google: Option<GoogleCalendarView>,
}

/// Whether a connection works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// Usable (as far as we know).
    Connected,
    /// Google refused the grant: the tenant must give new credentials.
    Disconnected,
}

/// When and why a connection was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnection {
    /// What Google said (e.g. `invalid_grant: Token has been expired or revoked.`).
    pub reason: String,
    /// When it was noticed.
    pub at: DateTime<Utc>,
}

/// A Google Calendar connection without its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleCalendarView {
    /// The OAuth client id.
    pub client_id: String,
    /// The calendar read and written.
    pub calendar_id: String,
    /// Whether a client secret is stored.
    pub client_secret_set: bool,
    /// Whether a refresh token is stored.
    pub refresh_token_set: bool,
    /// Set once Google refused the grant; cleared by any change to the connection.
    pub disconnected: Option<Disconnection>,
}

impl GoogleCalendarView {
    /// Connected or disconnected.
    #[must_use]
    pub const fn status(&self) -> ConnectionStatus {
        if self.disconnected.is_some() {
            ConnectionStatus::Disconnected
        } else {
            ConnectionStatus::Connected
        }
    }
}

/// Which version of a connection this is: the sealed refresh token. Every change to the
/// connection seals it again with a fresh nonce, so a write made for an older version (a token
/// saved, a disconnection recorded) cannot land on a newer one, and an adapter built for an
/// older version is not reused.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionStamp(pub(super) Vec<u8>);

impl std::fmt::Debug for ConnectionStamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConnectionStamp({} bytes)", self.0.len())
    }
}

/// A tenant's Google Calendar connection with its secrets opened, for the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleConnection {
    /// The client and grant.
    pub credentials: GoogleCredentials,
    /// Which grant this is.
    pub stamp: ConnectionStamp,
    /// Set once Google refused the grant.
    pub disconnected: Option<Disconnection>,
}

/// The non-secret settings (the `google_calendar` column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct GooglePlain {
    pub(super) client_id: String,
    pub(super) calendar_id: String,
}

/// An access token as stored: sealed, with its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StoredAccessToken {
    pub(super) sealed: Vec<u8>,
    pub(super) expires_at: DateTime<Utc>,
}

/// A stored Google Calendar connection, its secrets sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StoredGoogle {
    pub(super) plain: GooglePlain,
    pub(super) client_secret: Vec<u8>,
    pub(super) refresh_token: Vec<u8>,
    pub(super) access_token: Option<StoredAccessToken>,
    pub(super) disconnected: Option<Disconnection>,
}

impl StoredGoogle {
    /// What may be shown.
    pub(super) fn view(&self) -> GoogleCalendarView {
        GoogleCalendarView {
            client_id: self.plain.client_id.clone(),
            calendar_id: self.plain.calendar_id.clone(),
            client_secret_set: !self.client_secret.is_empty(),
            refresh_token_set: !self.refresh_token.is_empty(),
            disconnected: self.disconnected.clone(),
        }
    }

    /// The connection with its secrets opened.
    pub(super) fn open(&self, sealer: &Sealer<'_>) -> anyhow::Result<GoogleConnection> {
        Ok(GoogleConnection {
            credentials: GoogleCredentials {
                client_id: self.plain.client_id.clone(),
                client_secret: sealer.open(GOOGLE_CLIENT_SECRET, &self.client_secret)?,
                refresh_token: sealer.open(GOOGLE_REFRESH_TOKEN, &self.refresh_token)?,
                calendar_id: self.plain.calendar_id.clone(),
            },
            stamp: ConnectionStamp(self.refresh_token.clone()),
            disconnected: self.disconnected.clone(),
        })
    }
}

/// The connection after `patch`: `None` keeps `current`, `Some(None)` removes it, `Some(Some(p))`
/// merges `p` into it (or sets it up) and starts it afresh (connected, no access token).
pub(super) fn apply(
    current: Option<StoredGoogle>,
    patch: CalendarPatch,
    sealer: &Sealer<'_>,
) -> Result<Option<StoredGoogle>, TenantChangeError> {
    let change = match patch.google {
        None => return Ok(current),
        Some(None) => return Ok(None),
        Some(Some(change)) => change,
    };
    let (plain, secret, refresh) = match current {
        Some(stored) => (
            Some(stored.plain),
            Some(stored.client_secret),
            Some(stored.refresh_token),
        ),
        None => (None, None, None),
    };
    let sealed = |field: &'static str, given: Option<Secret>, stored: Option<Vec<u8>>| match given {
        Some(secret) => sealer.seal(field, &secret),
        None => stored.ok_or(TenantChangeError::Required { field }),
    };
    let refresh = match (change.refresh_token, refresh) {
        (None, Some(stored)) => Some(Secret::new(sealer.open(GOOGLE_REFRESH_TOKEN, &stored)?)),
        (given, _) => given,
    };
    Ok(Some(StoredGoogle {
        plain: GooglePlain {
            client_id: change
                .client_id
                .or_else(|| plain.as_ref().map(|p| p.client_id.clone()))
                .ok_or(TenantChangeError::Required {
                    field: GOOGLE_CLIENT_ID,
                })?,
            calendar_id: change
                .calendar_id
                .or_else(|| plain.as_ref().map(|p| p.calendar_id.clone()))
                .unwrap_or_else(|| DEFAULT_GOOGLE_CALENDAR_ID.to_owned()),
        },
        client_secret: sealed(GOOGLE_CLIENT_SECRET, change.client_secret, secret)?,
        refresh_token: sealed(GOOGLE_REFRESH_TOKEN, refresh, None)?,
        access_token: None,
        disconnected: None,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use domain::values::TenantId;

    use super::*;
    use crate::secrets::SecretBox;

    fn full() -> GooglePatch {
        GooglePatch {
            client_id: Some("client-1.apps.googleusercontent.com".into()),
            client_secret: Some(Secret::new("client-secret-1")),
            refresh_token: Some(Secret::new("1//refresh-1")),
            calendar_id: None,
        }
    }

    fn set(patch: GooglePatch) -> CalendarPatch {
        CalendarPatch {
            google: Some(Some(patch)),
        }
    }

    #[test]
    fn a_new_connection_needs_the_client_and_the_grant_and_defaults_to_primary() {
        let key = SecretBox::new([7; 32]);
        let sealer = Sealer::new(Some(&key), TenantId::new());
        for (patch, field) in [
            (
                GooglePatch {
                    client_id: None,
                    ..full()
                },
                GOOGLE_CLIENT_ID,
            ),
            (
                GooglePatch {
                    client_secret: None,
                    ..full()
                },
                GOOGLE_CLIENT_SECRET,
            ),
            (
                GooglePatch {
                    refresh_token: None,
                    ..full()
                },
                GOOGLE_REFRESH_TOKEN,
            ),
        ] {
            let refused = apply(None, set(patch), &sealer).unwrap_err();
            assert_eq!(refused.field(), Some(field));
        }
        let stored = apply(None, set(full()), &sealer).unwrap().unwrap();
        let opened = stored.open(&sealer).unwrap();
        assert_eq!(opened.credentials.calendar_id, DEFAULT_GOOGLE_CALENDAR_ID);
        assert_eq!(opened.credentials.client_secret, "client-secret-1");
        assert_eq!(opened.credentials.refresh_token, "1//refresh-1");
        assert_eq!(stored.view().status(), ConnectionStatus::Connected);
    }

    #[test]
    fn any_change_merges_and_starts_the_connection_afresh() {
        let key = SecretBox::new([7; 32]);
        let sealer = Sealer::new(Some(&key), TenantId::new());
        let mut stored = apply(None, set(full()), &sealer).unwrap().unwrap();
        let grant = stored.refresh_token.clone();
        stored.access_token = Some(StoredAccessToken {
            sealed: vec![1, 2, 3],
            expires_at: DateTime::<Utc>::UNIX_EPOCH,
        });
        stored.disconnected = Some(Disconnection {
            reason: "invalid_grant".into(),
            at: DateTime::<Utc>::UNIX_EPOCH,
        });
        assert_eq!(stored.view().status(), ConnectionStatus::Disconnected);
        let moved = apply(
            Some(stored),
            set(GooglePatch {
                calendar_id: Some("team@example.com".into()),
                ..GooglePatch::default()
            }),
            &sealer,
        )
        .unwrap()
        .unwrap();
        assert_ne!(moved.refresh_token, grant, "a change is a new stamp");
        assert_eq!(moved.access_token, None);
        assert_eq!(moved.view().status(), ConnectionStatus::Connected);
        let opened = moved.open(&sealer).unwrap();
        assert_eq!(opened.credentials.calendar_id, "team@example.com");
        assert_eq!(opened.credentials.refresh_token, "1//refresh-1");
        assert_eq!(
            opened.credentials.client_id,
            "client-1.apps.googleusercontent.com"
        );
        let removed = apply(Some(moved), CalendarPatch { google: Some(None) }, &sealer).unwrap();
        assert_eq!(removed, None);
    }
}
