//! Tenants and their API keys. Tenants are configuration (plain tables), not event-sourced: they
//! change rarely, and nothing in the domain replays them.
//!
//! API keys are long random secrets, so a fast hash is as safe as a slow one: only their SHA-256
//! is stored and a presented key is looked up by its hash (an indexed equality), cached briefly.
//!
//! A tenant's provider accounts, model key and calendar connection are sealed with the server's
//! [`SecretBox`] before they are stored ([`channels`], [`ai`], [`calendar`]); reading a tenant
//! shows only whether each secret is set, and [`TenantStore::channel_credentials`] /
//! [`TenantStore::ai_settings`] / [`TenantStore::google_connection`] open them for the adapters.
//!
//! The monthly AI budget ([`Tenant::ai_budget`]) is plain jsonb, checked by [`AiBudget`] when
//! read, and cached with the rest of the tenant.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::budget::AiBudget;
use domain::values::{
    BusinessHours, CountryCode, EmailAddress, PhoneNumber, QuietHours, TenantId, Timezone,
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::channels::ChannelCredentials;
use crate::secrets::SecretBox;
use crate::ttl_cache::TtlCache;

pub mod ai;
pub mod calendar;
mod calendar_state;
pub mod channels;
mod error;
mod sealing;
mod stored;

pub use ai::{AiPatch, AiSettings, AiView};
pub use calendar::{
    CalendarPatch, CalendarView, ConnectionStamp, ConnectionStatus, Disconnection,
    GoogleCalendarView, GoogleConnection, GooglePatch,
};
pub use channels::{
    ChannelsPatch, ChannelsView, TwilioPatch, TwilioView, WhatsAppCloudPatch, WhatsAppCloudView,
};
pub use error::TenantChangeError;
use sealing::Sealer;
use stored::StoredTenant;

/// A tenant's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// Id.
    pub id: TenantId,
    /// Internal name.
    pub name: String,
    /// The name leads see in messages.
    pub brand_name: String,
    /// Where the business is.
    pub timezone: Timezone,
    /// Country assumed for national phone numbers.
    pub default_country: CountryCode,
    /// Opening hours per weekday.
    pub business_hours: BusinessHours,
    /// Hours in which a recipient may be messaged, in their local time.
    pub quiet_hours: QuietHours,
    /// Provider accounts (ids and senders; secrets only as "is set").
    pub channels: ChannelsView,
    /// The conversation model (without its key); `None`: the built-in rules engine answers.
    pub ai: Option<AiView>,
    /// The external calendar (without its secrets); none: the built-in calendar.
    pub calendar: CalendarView,
    /// The monthly limit on AI spend; `None`: the AI's spend is not limited.
    pub ai_budget: Option<AiBudget>,
    /// Who is emailed about handoffs.
    pub admin_email: Option<EmailAddress>,
    /// Who is texted about handoffs and named in HELP replies.
    pub admin_phone: Option<PhoneNumber>,
    /// Where handoff and calendar-disconnection notices are POSTed (an http or https URL).
    pub webhook_url: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The settable part of a tenant; for creation every field is given, for a patch only some.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantSettings {
    /// Internal name.
    pub name: Option<String>,
    /// Brand name.
    pub brand_name: Option<String>,
    /// Timezone.
    pub timezone: Option<Timezone>,
    /// Default country.
    pub default_country: Option<CountryCode>,
    /// Business hours.
    pub business_hours: Option<BusinessHours>,
    /// Quiet hours.
    pub quiet_hours: Option<QuietHours>,
    /// Changes to provider accounts.
    pub channels: ChannelsPatch,
    /// The model: `Some(None)` removes it, `Some(Some(patch))` merges into it or sets it up.
    pub ai: Option<Option<AiPatch>>,
    /// Changes to the calendar connection.
    pub calendar: CalendarPatch,
    /// The monthly AI budget, replaced whole: `Some(None)` removes it.
    pub ai_budget: Option<Option<AiBudget>>,
    /// Handoff email: `Some(None)` removes it.
    pub admin_email: Option<Option<EmailAddress>>,
    /// Handoff phone: `Some(None)` removes it.
    pub admin_phone: Option<Option<PhoneNumber>>,
    /// Handoff webhook URL (already checked to be http or https): `Some(None)` removes it.
    pub webhook_url: Option<Option<String>>,
}

/// A freshly issued key: the only time the secret is ever seen.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    /// The key's id (for listing and revoking).
    pub id: Uuid,
    /// The secret, shown once.
    pub secret: String,
    /// Its first characters, to recognise it later.
    pub prefix: String,
    /// Its label.
    pub name: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
}

/// A key as listed (no secret).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyInfo {
    /// Id.
    pub id: Uuid,
    /// First characters of the secret.
    pub prefix: String,
    /// Label.
    pub name: String,
    /// Issued.
    pub created_at: DateTime<Utc>,
    /// Revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who a valid key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyOwner {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The key.
    pub key_id: Uuid,
}

/// How long a key lookup or a tenant's settings are trusted without asking the database again.
const CACHE_TTL: Duration = Duration::from_secs(10);

type KeyRow = (Uuid, String, String, DateTime<Utc>, Option<DateTime<Utc>>);

/// A tenant's secrets, opened, for the adapters.
#[derive(Debug, Clone)]
struct Opened {
    tenant: TenantId,
    channels: ChannelCredentials,
    ai: Option<AiSettings>,
    google: Option<GoogleConnection>,
}

/// Tenants and keys, over the pool.
#[derive(Debug, Clone)]
pub struct TenantStore {
    pool: PgPool,
    secrets: Option<SecretBox>,
    keys: TtlCache<[u8; 32], KeyOwner>,
    tenants: TtlCache<TenantId, Tenant>,
    opened: TtlCache<TenantId, Opened>,
}

impl TenantStore {
    /// A store over `pool` sealing secrets with `secrets`. Without a key, tenants are read and
    /// changed as usual, but a change that gives a secret is refused
    /// ([`TenantChangeError::NoSecretsKey`]) and stored secrets cannot be opened.
    pub fn new(pool: PgPool, secrets: Option<SecretBox>) -> Self {
        Self {
            pool,
            secrets,
            keys: TtlCache::new(CACHE_TTL),
            tenants: TtlCache::new(CACHE_TTL),
            opened: TtlCache::new(CACHE_TTL),
        }
    }

    /// Creates a tenant (defaults for what `settings` leaves out) and its first key.
    pub async fn create(
        &self,
        name: String,
        settings: TenantSettings,
        now: DateTime<Utc>,
    ) -> Result<(Tenant, IssuedKey), TenantChangeError> {
        let stored = StoredTenant::new(TenantId::new(), name, now).apply(
            settings,
            self.secrets.as_ref(),
            now,
        )?;
        let mut tx = self.pool.begin().await.context("Failed to begin")?;
        stored
            .bind(sqlx::query(&stored::insert_sql()))?
            .execute(&mut *tx)
            .await
            .context("Failed to insert a tenant")?;
        let key = insert_key(&mut tx, stored.id, "default", now).await?;
        tx.commit().await.context("Failed to commit a new tenant")?;
        Ok((stored.view(), key))
    }

    /// The tenant `id`, if it exists (cached briefly: it is read on every capture).
    pub async fn get(&self, id: TenantId) -> anyhow::Result<Option<Tenant>> {
        if let Some(tenant) = self.tenants.get(&id) {
            return Ok(Some(tenant));
        }
        let tenant = self.load(id).await?.map(|stored| stored.view());
        if let Some(tenant) = &tenant {
            self.tenants.insert(id, tenant.clone());
        }
        Ok(tenant)
    }

    /// Every tenant, oldest first.
    pub async fn list(&self) -> anyhow::Result<Vec<Tenant>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM tenants ORDER BY created_at, id",
            stored::select_columns()
        ))
        .fetch_all(&self.pool)
        .await
        .context("Failed to list tenants")?;
        rows.iter()
            .map(|row| StoredTenant::from_row(row).map(|stored| stored.view()))
            .collect()
    }

    /// Applies `patch` to tenant `id`; `None` if there is no such tenant. Provider accounts and
    /// the model merge setting by setting; a provider set up for the first time must be given
    /// complete ([`TenantChangeError::Required`]).
    pub async fn update(
        &self,
        id: TenantId,
        patch: TenantSettings,
        now: DateTime<Utc>,
    ) -> Result<Option<Tenant>, TenantChangeError> {
        let mut tx = self.pool.begin().await.context("Failed to begin")?;
        let row = sqlx::query(&format!(
            "SELECT {} FROM tenants WHERE id = $1 FOR UPDATE",
            stored::select_columns()
        ))
        .bind(id.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .context("Failed to load a tenant")?;
        let Some(row) = row else {
            return Ok(None);
        };
        let stored = StoredTenant::from_row(&row)?.apply(patch, self.secrets.as_ref(), now)?;
        stored
            .bind(sqlx::query(&stored::update_sql()))?
            .execute(&mut *tx)
            .await
            .context("Failed to update a tenant")?;
        tx.commit().await.context("Failed to commit a tenant")?;
        self.tenants.evict_where(|tenant| tenant.id == id);
        self.opened.evict_where(|opened| opened.tenant == id);
        Ok(Some(stored.view()))
    }

    /// The tenant's provider accounts with their secrets opened, for the channel adapters
    /// (cached briefly). An error when the tenant does not exist or its secrets cannot be
    /// opened (no key, or another key than the one that sealed them).
    pub async fn channel_credentials(
        &self,
        tenant: TenantId,
    ) -> anyhow::Result<ChannelCredentials> {
        Ok(self.opened(tenant).await?.channels)
    }

    /// The tenant's model with its key opened, for the model adapter (cached briefly); `None`
    /// when it has none and the built-in rules engine answers.
    pub async fn ai_settings(&self, tenant: TenantId) -> anyhow::Result<Option<AiSettings>> {
        Ok(self.opened(tenant).await?.ai)
    }

    async fn opened(&self, tenant: TenantId) -> anyhow::Result<Opened> {
        if let Some(opened) = self.opened.get(&tenant) {
            return Ok(opened);
        }
        let stored = self
            .load(tenant)
            .await?
            .with_context(|| format!("No tenant {tenant}"))?;
        let sealer = Sealer::new(self.secrets.as_ref(), tenant);
        let opened = Opened {
            tenant,
            channels: stored.channels.open(&sealer)?,
            ai: stored.ai.as_ref().map(|ai| ai.open(&sealer)).transpose()?,
            google: stored
                .google
                .as_ref()
                .map(|google| google.open(&sealer))
                .transpose()?,
        };
        self.opened.insert(tenant, opened.clone());
        Ok(opened)
    }

    async fn load(&self, id: TenantId) -> anyhow::Result<Option<StoredTenant>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM tenants WHERE id = $1",
            stored::select_columns()
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .context("Failed to load a tenant")?;
        row.as_ref().map(StoredTenant::from_row).transpose()
    }

    /// Issues a new key for `tenant`.
    pub async fn issue_key(
        &self,
        tenant: TenantId,
        name: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<IssuedKey> {
        let mut conn = self.pool.acquire().await.context("Failed to acquire")?;
        insert_key(&mut conn, tenant, name, now).await
    }

    /// The tenant's keys, newest first.
    pub async fn list_keys(&self, tenant: TenantId) -> anyhow::Result<Vec<ApiKeyInfo>> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT id, prefix, name, created_at, revoked_at FROM api_keys \
                 WHERE tenant_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(tenant.as_uuid())
        .fetch_all(&self.pool)
        .await
        .context("Failed to list API keys")?;
        Ok(rows
            .into_iter()
            .map(|(id, prefix, name, created_at, revoked_at)| ApiKeyInfo {
                id,
                prefix,
                name,
                created_at,
                revoked_at,
            })
            .collect())
    }

    /// Revokes key `key` of `tenant`; false if the tenant has no such key. Takes effect at once
    /// on this instance and within [`CACHE_TTL`] on others.
    pub async fn revoke_key(
        &self,
        tenant: TenantId,
        key: Uuid,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let found = sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.as_uuid())
        .bind(key)
        .bind(now)
        .execute(&self.pool)
        .await
        .context("Failed to revoke an API key")?
        .rows_affected()
            == 1;
        self.keys.evict_where(|owner| owner.key_id == key);
        Ok(found)
    }

    /// The owner of `secret`, if it is a live key.
    pub async fn authenticate(&self, secret: &str) -> anyhow::Result<Option<KeyOwner>> {
        let hash = hash_key(secret);
        if let Some(owner) = self.keys.get(&hash) {
            return Ok(Some(owner));
        }
        let row: Option<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT id, tenant_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(&hash[..])
        .fetch_optional(&self.pool)
        .await
        .context("Failed to look up an API key")?;
        let owner = row.map(|(key_id, tenant)| KeyOwner {
            tenant_id: TenantId::from_uuid(tenant),
            key_id,
        });
        if let Some(owner) = owner {
            self.keys.insert(hash, owner);
        }
        Ok(owner)
    }
}

async fn insert_key(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    name: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<IssuedKey> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("bbk_{}", hex::encode(bytes));
    let prefix: String = secret.chars().take(12).collect();
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, key_hash, prefix, name, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(tenant.as_uuid())
    .bind(&hash_key(&secret)[..])
    .bind(&prefix)
    .bind(name)
    .bind(now)
    .execute(conn)
    .await
    .context("Failed to store an API key")?;
    Ok(IssuedKey {
        id,
        secret,
        prefix,
        name: name.to_string(),
        created_at: now,
    })
}

fn hash_key(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}
