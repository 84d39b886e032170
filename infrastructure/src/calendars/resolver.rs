//! Which external calendar a tenant's appointments go to: `None` for the built-in calendar (no
//! connection), else the tenant's Google calendar.
//!
//! Adapters are kept per tenant, so the access token is shared by every call, and rebuilt when
//! the connection changes (every change is a new [`ConnectionStamp`]; a tenant PATCH evicts the
//! cached settings at once on its instance, within 10 s elsewhere). A disconnected connection —
//! recorded so, or refused under this very adapter while another instance's cached settings
//! still say connected — resolves to [`DisconnectedCalendar`], which answers `Disconnected` to
//! everything without calling Google: callers handle one error, and
//! `GET /api/v1/tenants/{id}` shows the status.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::Context;
use application::{CalendarError, CalendarEvent, CalendarProvider, Clock, FreeBusy, InsertedEvent};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::values::{AppointmentId, TenantId};
use domain::CalendarRef;

use super::connection::TenantConnection;
use super::credentials::{GoogleCredentials, GoogleEndpoints};
use super::google::GoogleCalendar;
use super::oauth::GoogleTokens;
use crate::tenants::{ConnectionStamp, GoogleConnection, TenantStore};

/// An adapter and the connection it was built for.
#[derive(Debug)]
struct Built {
    credentials: GoogleCredentials,
    stamp: ConnectionStamp,
    adapter: Arc<GoogleCalendar>,
}

/// Resolves a tenant's calendar provider.
#[derive(Debug, Clone)]
pub struct CalendarResolver {
    client: reqwest::Client,
    endpoints: GoogleEndpoints,
    tenants: TenantStore,
    clock: Arc<dyn Clock>,
    adapters: Arc<Mutex<HashMap<TenantId, Built>>>,
}

impl CalendarResolver {
    /// A resolver over `tenants`' connections, calling Google at `endpoints` with `client`
    /// (which also POSTs disconnection notices) and judging token expiry by `clock`.
    pub fn new(
        client: reqwest::Client,
        endpoints: GoogleEndpoints,
        tenants: TenantStore,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client,
            endpoints,
            tenants,
            clock,
            adapters: Arc::default(),
        }
    }

    /// `tenant`'s external calendar; `None` when it uses the built-in calendar.
    pub async fn provider_for(
        &self,
        tenant: TenantId,
    ) -> anyhow::Result<Option<Arc<dyn CalendarProvider>>> {
        let Some(connection) = self.tenants.google_connection(tenant).await? else {
            self.adapters().remove(&tenant);
            return Ok(None);
        };
        if let Some(disconnection) = &connection.disconnected {
            return Ok(Some(Arc::new(DisconnectedCalendar::new(
                &connection.credentials.calendar_id,
                disconnection.reason.clone(),
            )?)));
        }
        let mut adapters = self.adapters();
        let current = adapters.get(&tenant).filter(|built| {
            built.credentials == connection.credentials && built.stamp == connection.stamp
        });
        if let Some(built) = current {
            return Ok(Some(match built.adapter.refused_reason() {
                Some(reason) => Arc::new(DisconnectedCalendar::new(
                    &connection.credentials.calendar_id,
                    reason,
                )?),
                None => built.adapter.clone(),
            }));
        }
        let built = self.build(tenant, connection)?;
        let adapter = built.adapter.clone();
        adapters.insert(tenant, built);
        Ok(Some(adapter))
    }

    fn build(&self, tenant: TenantId, connection: GoogleConnection) -> anyhow::Result<Built> {
        let store = TenantConnection::new(
            self.tenants.clone(),
            tenant,
            connection.stamp.clone(),
            self.client.clone(),
            self.clock.clone(),
        );
        let tokens = GoogleTokens::new(
            self.client.clone(),
            self.endpoints.token_url.clone(),
            &connection.credentials,
            self.clock.clone(),
            Arc::new(store),
        );
        let adapter = GoogleCalendar::new(
            self.client.clone(),
            &self.endpoints.api_base,
            connection.credentials.calendar_id.clone(),
            Arc::new(tokens),
        )
        .context("Stored Google calendar id")?;
        Ok(Built {
            credentials: connection.credentials,
            stamp: connection.stamp,
            adapter: Arc::new(adapter),
        })
    }

    fn adapters(&self) -> MutexGuard<'_, HashMap<TenantId, Built>> {
        self.adapters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A Google connection whose grant was refused: everything answers `Disconnected` until the
/// tenant connects again.
#[derive(Debug, Clone)]
pub struct DisconnectedCalendar {
    calendar: CalendarRef,
    reason: String,
}

impl DisconnectedCalendar {
    fn new(calendar_id: &str, reason: String) -> anyhow::Result<Self> {
        Ok(Self {
            calendar: CalendarRef::parse(&format!("google:{calendar_id}"))
                .context("Stored Google calendar id")?,
            reason,
        })
    }

    fn refusal(&self) -> CalendarError {
        CalendarError::Disconnected {
            reason: self.reason.clone(),
        }
    }
}

#[async_trait]
impl CalendarProvider for DisconnectedCalendar {
    fn calendar(&self) -> &CalendarRef {
        &self.calendar
    }

    fn event_id_for(&self, appointment: AppointmentId) -> String {
        super::wire::event_id(appointment)
    }

    async fn free_busy(
        &self,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
    ) -> Result<FreeBusy, CalendarError> {
        Err(self.refusal())
    }

    async fn insert_event(&self, _event: &CalendarEvent) -> Result<InsertedEvent, CalendarError> {
        Err(self.refusal())
    }

    async fn update_event(
        &self,
        _event_id: &str,
        _event: &CalendarEvent,
    ) -> Result<(), CalendarError> {
        Err(self.refusal())
    }

    async fn delete_event(&self, _event_id: &str) -> Result<(), CalendarError> {
        Err(self.refusal())
    }
}
