//! A tenant's Google connection as a [`TokenStore`]: the access token lives sealed in the
//! tenant's row, and a refused grant marks the connection disconnected and tells the tenant —
//! a JSON POST to its `webhook_url`, once per disconnection (only the call that flips the
//! stored status posts; one attempt, like handoff notices).

use std::sync::Arc;

use application::Clock;
use async_trait::async_trait;
use domain::values::TenantId;
use serde_json::json;

use super::oauth::{AccessToken, TokenStore};
use crate::tenants::{ConnectionStamp, TenantStore};

/// The `type` (and `x-bookerbot-event` header) of the notice a tenant gets.
pub const DISCONNECTED_EVENT: &str = "calendar_disconnected";

/// One grant of one tenant's Google connection, stored in its tenant row.
#[derive(Debug, Clone)]
pub struct TenantConnection {
    tenants: TenantStore,
    tenant: TenantId,
    stamp: ConnectionStamp,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl TenantConnection {
    /// Grant `stamp` of `tenant`'s connection; notices are POSTed with `client`.
    pub fn new(
        tenants: TenantStore,
        tenant: TenantId,
        stamp: ConnectionStamp,
        client: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            tenants,
            tenant,
            stamp,
            client,
            clock,
        }
    }

    /// Tells the tenant, if it has a webhook; a failure is logged, not retried.
    async fn notify(&self, reason: &str, at: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
        let Some(tenant) = self.tenants.get(self.tenant).await? else {
            return Ok(());
        };
        let Some(url) = tenant.webhook_url else {
            return Ok(());
        };
        let calendar_id = tenant
            .calendar
            .google
            .map(|google| google.calendar_id)
            .unwrap_or_default();
        let body = json!({
            "type": DISCONNECTED_EVENT,
            "tenant_id": self.tenant,
            "provider": "google",
            "calendar_id": calendar_id,
            "reason": reason,
            "at": at,
        });
        let delivery = format!(
            "{DISCONNECTED_EVENT}:{}:{}",
            self.tenant,
            at.timestamp_micros()
        );
        if let Err(why) =
            crate::webhook::post(&self.client, &url, DISCONNECTED_EVENT, &delivery, &body).await
        {
            tracing::warn!(
                tenant = %self.tenant,
                error = %why,
                "cannot deliver the calendar disconnection notice"
            );
        }
        Ok(())
    }
}

#[async_trait]
impl TokenStore for TenantConnection {
    async fn load(&self) -> anyhow::Result<Option<AccessToken>> {
        self.tenants
            .google_access_token(self.tenant, &self.stamp)
            .await
    }

    async fn save(&self, token: &AccessToken) -> anyhow::Result<()> {
        self.tenants
            .save_google_access_token(self.tenant, &self.stamp, token)
            .await
    }

    async fn disconnected(&self, reason: &str) -> anyhow::Result<()> {
        let at = self.clock.now();
        let marked = self
            .tenants
            .mark_google_disconnected(self.tenant, &self.stamp, reason, at)
            .await?;
        if marked {
            tracing::warn!(tenant = %self.tenant, reason, "Google Calendar disconnected");
            self.notify(reason, at).await?;
        }
        Ok(())
    }
}
