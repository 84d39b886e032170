//! The moving parts of a tenant's Google Calendar connection, written by the adapter rather
//! than by the tenant: the current access token (sealed, shared by every instance, so a restart
//! or another instance does not refresh needlessly) and the disconnection once Google refused
//! the grant.
//!
//! Every write names the grant it was made for ([`ConnectionStamp`]): a token saved or a
//! disconnection recorded for a grant the tenant has replaced meanwhile changes nothing.

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::values::TenantId;

use super::calendar::{ConnectionStamp, GoogleConnection, GOOGLE_ACCESS_TOKEN};
use super::sealing::Sealer;
use super::TenantStore;
use crate::calendars::AccessToken;
use crate::secrets::Secret;

/// A stored access token: sealed, and its expiry.
type TokenRow = (Option<Vec<u8>>, Option<DateTime<Utc>>);

impl TenantStore {
    /// The tenant's Google Calendar connection with its secrets opened (cached briefly, like
    /// the other provider settings); `None` when the tenant uses the built-in calendar.
    pub async fn google_connection(
        &self,
        tenant: TenantId,
    ) -> anyhow::Result<Option<GoogleConnection>> {
        Ok(self.opened(tenant).await?.google)
    }

    /// The access token stored for grant `stamp`, if any (read fresh: another instance may have
    /// refreshed it).
    pub async fn google_access_token(
        &self,
        tenant: TenantId,
        stamp: &ConnectionStamp,
    ) -> anyhow::Result<Option<AccessToken>> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT google_access_token, google_access_token_expires_at FROM tenants \
             WHERE id = $1 AND google_refresh_token = $2",
        )
        .bind(tenant.as_uuid())
        .bind(&stamp.0)
        .fetch_optional(&self.pool)
        .await
        .context("Failed to read a Google access token")?;
        let Some((Some(sealed), Some(expires_at))) = row else {
            return Ok(None);
        };
        let token =
            Sealer::new(self.secrets.as_ref(), tenant).open(GOOGLE_ACCESS_TOKEN, &sealed)?;
        Ok(Some(AccessToken { token, expires_at }))
    }

    /// Stores `token` for grant `stamp`, sealed; nothing happens when the grant was replaced or
    /// disconnected meanwhile.
    pub async fn save_google_access_token(
        &self,
        tenant: TenantId,
        stamp: &ConnectionStamp,
        token: &AccessToken,
    ) -> anyhow::Result<()> {
        let sealed = Sealer::new(self.secrets.as_ref(), tenant)
            .seal(GOOGLE_ACCESS_TOKEN, &Secret::new(token.token.clone()))?;
        sqlx::query(
            "UPDATE tenants SET google_access_token = $3, google_access_token_expires_at = $4 \
             WHERE id = $1 AND google_refresh_token = $2 AND google_disconnected_at IS NULL",
        )
        .bind(tenant.as_uuid())
        .bind(&stamp.0)
        .bind(sealed)
        .bind(token.expires_at)
        .execute(&self.pool)
        .await
        .context("Failed to store a Google access token")?;
        Ok(())
    }

    /// Records that Google refused grant `stamp` (`reason`, noticed `at`) and forgets its access
    /// token. True only for the call that disconnected it: a grant already disconnected, or
    /// replaced meanwhile, is left alone — so the tenant is told once per disconnection, however
    /// many calls and instances notice it.
    pub async fn mark_google_disconnected(
        &self,
        tenant: TenantId,
        stamp: &ConnectionStamp,
        reason: &str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let marked = sqlx::query(
            "UPDATE tenants SET google_disconnected_at = $3, google_disconnected_reason = $4, \
                    google_access_token = NULL, google_access_token_expires_at = NULL \
             WHERE id = $1 AND google_refresh_token = $2 AND google_disconnected_at IS NULL",
        )
        .bind(tenant.as_uuid())
        .bind(&stamp.0)
        .bind(at)
        .bind(reason)
        .execute(&self.pool)
        .await
        .context("Failed to record a Google Calendar disconnection")?
        .rows_affected()
            == 1;
        self.tenants.evict_where(|cached| cached.id == tenant);
        self.opened.evict_where(|opened| opened.tenant == tenant);
        Ok(marked)
    }
}
