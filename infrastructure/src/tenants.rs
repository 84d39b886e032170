//! Tenants and their API keys. Tenants are configuration (plain tables), not event-sourced: they
//! change rarely, and nothing in the domain replays them.
//!
//! API keys are long random secrets, so a fast hash is as safe as a slow one: only their SHA-256
//! is stored and a presented key is looked up by its hash (an indexed equality), cached briefly.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::values::{BusinessHours, CountryCode, QuietHours, TenantId, Timezone};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::ttl_cache::TtlCache;

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

type TenantRow = (
    Uuid,
    String,
    String,
    String,
    String,
    serde_json::Value,
    serde_json::Value,
    DateTime<Utc>,
    DateTime<Utc>,
);

const TENANT_COLUMNS: &str = "id, name, brand_name, timezone, default_country, business_hours, \
                              quiet_hours, created_at, updated_at";

/// How long a key lookup or a tenant's settings are trusted without asking the database again.
const CACHE_TTL: Duration = Duration::from_secs(10);

type KeyRow = (Uuid, String, String, DateTime<Utc>, Option<DateTime<Utc>>);

/// Tenants and keys, over the pool.
#[derive(Debug, Clone)]
pub struct TenantStore {
    pool: PgPool,
    keys: TtlCache<[u8; 32], KeyOwner>,
    tenants: TtlCache<TenantId, Tenant>,
}

impl TenantStore {
    /// A store over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            keys: TtlCache::new(CACHE_TTL),
            tenants: TtlCache::new(CACHE_TTL),
        }
    }

    /// Creates a tenant (defaults for what `settings` leaves out) and its first key.
    pub async fn create(
        &self,
        name: String,
        settings: TenantSettings,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(Tenant, IssuedKey)> {
        let tenant = Tenant {
            id: TenantId::new(),
            brand_name: settings.brand_name.unwrap_or_else(|| name.clone()),
            name,
            timezone: settings.timezone.unwrap_or_default(),
            default_country: settings.default_country.unwrap_or_default(),
            business_hours: settings.business_hours.unwrap_or_default(),
            quiet_hours: settings.quiet_hours.unwrap_or_default(),
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.pool.begin().await.context("Failed to begin")?;
        sqlx::query(&format!(
            "INSERT INTO tenants ({TENANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(tenant.id.as_uuid())
        .bind(&tenant.name)
        .bind(&tenant.brand_name)
        .bind(tenant.timezone.as_str())
        .bind(tenant.default_country.as_str())
        .bind(serde_json::to_value(tenant.business_hours).context("Failed to encode hours")?)
        .bind(serde_json::to_value(tenant.quiet_hours).context("Failed to encode hours")?)
        .bind(tenant.created_at)
        .bind(tenant.updated_at)
        .execute(&mut *tx)
        .await
        .context("Failed to insert a tenant")?;
        let key = insert_key(&mut tx, tenant.id, "default", now).await?;
        tx.commit().await.context("Failed to commit a new tenant")?;
        Ok((tenant, key))
    }

    /// The tenant `id`, if it exists (cached briefly: it is read on every capture).
    pub async fn get(&self, id: TenantId) -> anyhow::Result<Option<Tenant>> {
        if let Some(tenant) = self.tenants.get(&id) {
            return Ok(Some(tenant));
        }
        let row: Option<TenantRow> = sqlx::query_as(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .context("Failed to load a tenant")?;
        let tenant = row.map(tenant_from_row).transpose()?;
        if let Some(tenant) = &tenant {
            self.tenants.insert(id, tenant.clone());
        }
        Ok(tenant)
    }

    /// Every tenant, oldest first.
    pub async fn list(&self) -> anyhow::Result<Vec<Tenant>> {
        let rows: Vec<TenantRow> = sqlx::query_as(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await
        .context("Failed to list tenants")?;
        rows.into_iter().map(tenant_from_row).collect()
    }

    /// Applies `patch` to tenant `id`; `None` if there is no such tenant.
    pub async fn update(
        &self,
        id: TenantId,
        patch: TenantSettings,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Tenant>> {
        let business_hours = patch
            .business_hours
            .map(serde_json::to_value)
            .transpose()
            .context("Failed to encode hours")?;
        let quiet_hours = patch
            .quiet_hours
            .map(serde_json::to_value)
            .transpose()
            .context("Failed to encode hours")?;
        let row: Option<TenantRow> = sqlx::query_as(&format!(
            "UPDATE tenants SET name = COALESCE($2, name), brand_name = COALESCE($3, brand_name), \
               timezone = COALESCE($4, timezone), default_country = COALESCE($5, default_country), \
               business_hours = COALESCE($6, business_hours), quiet_hours = COALESCE($7, quiet_hours), \
               updated_at = $8 \
             WHERE id = $1 RETURNING {TENANT_COLUMNS}"
        ))
        .bind(id.as_uuid())
        .bind(patch.name)
        .bind(patch.brand_name)
        .bind(patch.timezone.as_ref().map(Timezone::as_str))
        .bind(patch.default_country.as_ref().map(CountryCode::as_str))
        .bind(business_hours)
        .bind(quiet_hours)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .context("Failed to update a tenant")?;
        self.tenants.evict_where(|tenant| tenant.id == id);
        row.map(tenant_from_row).transpose()
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

fn tenant_from_row(row: TenantRow) -> anyhow::Result<Tenant> {
    let (
        id,
        name,
        brand_name,
        timezone,
        country,
        business_hours,
        quiet_hours,
        created_at,
        updated_at,
    ) = row;
    Ok(Tenant {
        id: TenantId::from_uuid(id),
        name,
        brand_name,
        timezone: Timezone::parse(&timezone)
            .with_context(|| format!("Stored timezone {timezone}"))?,
        default_country: CountryCode::parse(&country)
            .with_context(|| format!("Stored country {country}"))?,
        business_hours: serde_json::from_value(business_hours).context("Stored business hours")?,
        quiet_hours: serde_json::from_value(quiet_hours).context("Stored quiet hours")?,
        created_at,
        updated_at,
    })
}
