//! Access tokens for the Calendar API, from the tenant's refresh token (Google's OAuth
//! refresh-token grant: `POST {token_url}` with `client_id`, `client_secret`, `refresh_token`,
//! `grant_type=refresh_token` → `access_token`, `expires_in`).
//!
//! One [`GoogleTokens`] per connection keeps the current token in memory, shared by every call,
//! and refreshes it when it is within [`REFRESH_MARGIN`] of expiry or when the API answered 401.
//! Refreshes are single-flight: calls that need a new token wait for the one refresh under way.
//! A [`TokenStore`] persists the token (sealed, shared by every instance) and hears about a
//! refused grant.
//!
//! `400 invalid_grant` means the grant was revoked or expired: the connection is disconnected
//! for good. The store is told once, and from then on every call answers
//! [`CalendarError::Disconnected`] without asking Google again.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use application::{CalendarError, Clock};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;

use super::credentials::GoogleCredentials;
use super::exchange::exchange;

/// A token is refreshed this long before it expires, so a call never starts with a token that
/// dies on the way.
pub const REFRESH_MARGIN: Duration = Duration::seconds(60);

/// An access token and when it expires. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The bearer token. Secret.
    pub token: String,
    /// When Google stops accepting it.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<secret>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Where a connection's access token is kept between processes, and who hears that the grant
/// was refused.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The stored token, if any (it may have expired).
    async fn load(&self) -> anyhow::Result<Option<AccessToken>>;

    /// Stores a token just obtained.
    async fn save(&self, token: &AccessToken) -> anyhow::Result<()>;

    /// Google refused the grant (`reason`): record the disconnection and tell the tenant.
    async fn disconnected(&self, reason: &str) -> anyhow::Result<()>;
}

/// The access tokens of one connection.
pub struct GoogleTokens {
    client: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: String,
    refresh_token: String,
    clock: Arc<dyn Clock>,
    store: Arc<dyn TokenStore>,
    /// The current token; held while refreshing, so refreshes are single-flight.
    current: tokio::sync::Mutex<Option<AccessToken>>,
    /// Why Google refused the grant, once it has.
    refused: Mutex<Option<String>>,
}

impl fmt::Debug for GoogleTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleTokens")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("store", &self.store)
            .field("refused", &self.refused_reason())
            .finish_non_exhaustive()
    }
}

/// Google's token answer.
#[derive(Deserialize)]
struct Granted {
    access_token: String,
    expires_in: i64,
}

/// Google's OAuth error body: `{"error": "invalid_grant", "error_description": "…"}`.
#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Why a refresh gave no token.
enum RefreshFailure {
    /// `invalid_grant`: the connection is gone.
    Revoked(String),
    /// Anything else (transient or refused).
    Failed(CalendarError),
}

impl GoogleTokens {
    /// Tokens for `credentials` from `token_url`, judged by `clock`, kept in `store`.
    pub fn new(
        client: reqwest::Client,
        token_url: String,
        credentials: &GoogleCredentials,
        clock: Arc<dyn Clock>,
        store: Arc<dyn TokenStore>,
    ) -> Self {
        Self {
            client,
            token_url,
            client_id: credentials.client_id.clone(),
            client_secret: credentials.client_secret.clone(),
            refresh_token: credentials.refresh_token.clone(),
            clock,
            store,
            current: tokio::sync::Mutex::new(None),
            refused: Mutex::new(None),
        }
    }

    /// Why Google refused the grant, if it has: every call then answers `Disconnected`.
    pub fn refused_reason(&self) -> Option<String> {
        self.refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A token good for at least [`REFRESH_MARGIN`]: the one in memory, else the stored one,
    /// else a new one.
    pub async fn access_token(&self) -> Result<String, CalendarError> {
        self.usable(None).await
    }

    /// A token other than `rejected`, which the API just answered 401 to: one another call got
    /// meanwhile, else a new one.
    pub async fn replace(&self, rejected: &str) -> Result<String, CalendarError> {
        self.usable(Some(rejected)).await
    }

    async fn usable(&self, rejected: Option<&str>) -> Result<String, CalendarError> {
        let mut current = self.current.lock().await;
        if let Some(reason) = self.refused_reason() {
            return Err(CalendarError::Disconnected { reason });
        }
        let now = self.clock.now();
        let good = |token: &AccessToken| {
            token.expires_at - REFRESH_MARGIN > now && Some(token.token.as_str()) != rejected
        };
        if let Some(token) = current.as_ref().filter(|token| good(token)) {
            return Ok(token.token.clone());
        }
        match self.store.load().await {
            Ok(Some(stored)) if good(&stored) => {
                let token = stored.token.clone();
                *current = Some(stored);
                return Ok(token);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(
                error = %format!("{error:#}"),
                "cannot read the stored Google access token; refreshing"
            ),
        }
        *current = None;
        match self.refresh(now).await {
            Ok(fresh) => {
                if let Err(error) = self.store.save(&fresh).await {
                    tracing::warn!(
                        error = %format!("{error:#}"),
                        "cannot store the Google access token"
                    );
                }
                let token = fresh.token.clone();
                *current = Some(fresh);
                Ok(token)
            }
            Err(RefreshFailure::Revoked(reason)) => {
                *self.refused.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason.clone());
                if let Err(error) = self.store.disconnected(&reason).await {
                    tracing::warn!(
                        error = %format!("{error:#}"),
                        "cannot record the Google Calendar disconnection"
                    );
                }
                Err(CalendarError::Disconnected { reason })
            }
            Err(RefreshFailure::Failed(error)) => Err(error),
        }
    }

    /// Asks Google for a new token; its expiry counts from `asked_at`.
    async fn refresh(&self, asked_at: DateTime<Utc>) -> Result<AccessToken, RefreshFailure> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", &self.client_secret)
            .append_pair("refresh_token", &self.refresh_token)
            .append_pair("grant_type", "refresh_token")
            .finish();
        let request = self
            .client
            .post(&self.token_url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form);
        let answer = exchange(request).await.map_err(RefreshFailure::Failed)?;
        if answer.is_success() {
            let granted: Granted = serde_json::from_slice(&answer.body)
                .map_err(|_| RefreshFailure::Failed(answer.unreadable("token")))?;
            return Ok(AccessToken {
                token: granted.access_token,
                expires_at: asked_at + Duration::seconds(granted.expires_in.max(0)),
            });
        }
        let Ok(error) = serde_json::from_slice::<OAuthError>(&answer.body) else {
            return Err(RefreshFailure::Failed(answer.failure()));
        };
        let message = match &error.error_description {
            Some(description) => format!("{}: {description}", error.error),
            None => error.error.clone(),
        };
        if error.error == "invalid_grant" {
            return Err(RefreshFailure::Revoked(message));
        }
        Err(RefreshFailure::Failed(match answer.failure() {
            CalendarError::Refused { status, .. } => CalendarError::Refused { status, message },
            transient => transient,
        }))
    }
}
