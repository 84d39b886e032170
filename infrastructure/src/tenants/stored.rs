//! A tenant's row as stored: reading it, writing it whole, applying a change to it in memory,
//! and the view of it that may be shown (secrets reduced to "is set").

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::budget::AiBudget;
use domain::values::{
    BusinessHours, CountryCode, EmailAddress, PhoneNumber, QuietHours, TenantId, Timezone,
};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row};

use super::ai::{self, AiPlain, StoredAi};
use super::calendar::{self, CalendarView, Disconnection, StoredAccessToken, StoredGoogle};
use super::channels::{StoredChannels, StoredTwilio, StoredWhatsApp};
use super::sealing::Sealer;
use super::{Tenant, TenantChangeError, TenantSettings};
use crate::secrets::SecretBox;

/// Every column of `tenants`, in the order [`StoredTenant::bind`] binds them.
const COLUMNS: [&str; 28] = [
    "id",
    "name",
    "brand_name",
    "timezone",
    "default_country",
    "business_hours",
    "quiet_hours",
    "twilio",
    "twilio_auth_token",
    "whatsapp_cloud",
    "whatsapp_access_token",
    "whatsapp_app_secret",
    "whatsapp_verify_token",
    "ai",
    "ai_api_key",
    "google_calendar",
    "google_client_secret",
    "google_refresh_token",
    "google_access_token",
    "google_access_token_expires_at",
    "google_disconnected_at",
    "google_disconnected_reason",
    "ai_budget",
    "admin_email",
    "admin_phone",
    "webhook_url",
    "created_at",
    "updated_at",
];

/// The column list for a `SELECT`.
pub(super) fn select_columns() -> String {
    COLUMNS.join(", ")
}

/// `INSERT` of every column.
pub(super) fn insert_sql() -> String {
    let params: Vec<String> = (1..=COLUMNS.len()).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO tenants ({}) VALUES ({})",
        COLUMNS.join(", "),
        params.join(", ")
    )
}

/// `UPDATE` of every column but the id (`$1`).
pub(super) fn update_sql() -> String {
    let sets: Vec<String> = COLUMNS
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, column)| format!("{column} = ${}", i + 1))
        .collect();
    format!("UPDATE tenants SET {} WHERE id = $1", sets.join(", "))
}

/// A tenant's row, secrets still sealed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StoredTenant {
    pub(super) id: TenantId,
    name: String,
    brand_name: String,
    timezone: Timezone,
    default_country: CountryCode,
    business_hours: BusinessHours,
    quiet_hours: QuietHours,
    pub(super) channels: StoredChannels,
    pub(super) ai: Option<StoredAi>,
    pub(super) google: Option<StoredGoogle>,
    ai_budget: Option<AiBudget>,
    admin_email: Option<EmailAddress>,
    admin_phone: Option<PhoneNumber>,
    webhook_url: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl StoredTenant {
    /// A new tenant `id` named `name`, with every default.
    pub(super) fn new(id: TenantId, name: String, now: DateTime<Utc>) -> Self {
        Self {
            id,
            brand_name: name.clone(),
            name,
            timezone: Timezone::default(),
            default_country: CountryCode::default(),
            business_hours: BusinessHours::default(),
            quiet_hours: QuietHours::default(),
            channels: StoredChannels::default(),
            ai: None,
            google: None,
            ai_budget: None,
            admin_email: None,
            admin_phone: None,
            webhook_url: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The tenant after `change` at `now`; secrets it gives are sealed with `secrets`.
    pub(super) fn apply(
        self,
        change: TenantSettings,
        secrets: Option<&SecretBox>,
        now: DateTime<Utc>,
    ) -> Result<Self, TenantChangeError> {
        let sealer = Sealer::new(secrets, self.id);
        Ok(Self {
            id: self.id,
            name: change.name.unwrap_or(self.name),
            brand_name: change.brand_name.unwrap_or(self.brand_name),
            timezone: change.timezone.unwrap_or(self.timezone),
            default_country: change.default_country.unwrap_or(self.default_country),
            business_hours: change.business_hours.unwrap_or(self.business_hours),
            quiet_hours: change.quiet_hours.unwrap_or(self.quiet_hours),
            channels: self.channels.apply(change.channels, &sealer)?,
            ai: ai::apply(self.ai, change.ai, &sealer)?,
            google: calendar::apply(self.google, change.calendar, &sealer)?,
            ai_budget: change.ai_budget.unwrap_or(self.ai_budget),
            admin_email: change.admin_email.unwrap_or(self.admin_email),
            admin_phone: change.admin_phone.unwrap_or(self.admin_phone),
            webhook_url: change.webhook_url.unwrap_or(self.webhook_url),
            created_at: self.created_at,
            updated_at: now,
        })
    }

    /// What may be shown.
    pub(super) fn view(&self) -> Tenant {
        Tenant {
            id: self.id,
            name: self.name.clone(),
            brand_name: self.brand_name.clone(),
            timezone: self.timezone,
            default_country: self.default_country,
            business_hours: self.business_hours,
            quiet_hours: self.quiet_hours,
            channels: self.channels.view(),
            ai: self.ai.as_ref().map(StoredAi::view),
            calendar: CalendarView {
                google: self.google.as_ref().map(StoredGoogle::view),
            },
            ai_budget: self.ai_budget.clone(),
            admin_email: self.admin_email.clone(),
            admin_phone: self.admin_phone.clone(),
            webhook_url: self.webhook_url.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// Binds every column, in [`COLUMNS`] order, to `query`.
    pub(super) fn bind<'q>(
        &self,
        query: Query<'q, Postgres, PgArguments>,
    ) -> anyhow::Result<Query<'q, Postgres, PgArguments>> {
        let json = |value: serde_json::Result<serde_json::Value>| {
            value.context("Failed to encode tenant settings")
        };
        let twilio = self.channels.twilio.as_ref();
        let whatsapp = self.channels.whatsapp_cloud.as_ref();
        let google = self.google.as_ref();
        let token = google.and_then(|g| g.access_token.as_ref());
        let disconnected = google.and_then(|g| g.disconnected.as_ref());
        Ok(query
            .bind(self.id.as_uuid())
            .bind(self.name.clone())
            .bind(self.brand_name.clone())
            .bind(self.timezone.as_str())
            .bind(self.default_country.as_str().to_owned())
            .bind(json(serde_json::to_value(self.business_hours))?)
            .bind(json(serde_json::to_value(self.quiet_hours))?)
            .bind(
                twilio
                    .map(|t| json(serde_json::to_value(&t.plain)))
                    .transpose()?,
            )
            .bind(twilio.map(|t| t.auth_token.clone()))
            .bind(
                whatsapp
                    .map(|w| json(serde_json::to_value(&w.plain)))
                    .transpose()?,
            )
            .bind(whatsapp.map(|w| w.access_token.clone()))
            .bind(whatsapp.map(|w| w.app_secret.clone()))
            .bind(whatsapp.map(|w| w.verify_token.clone()))
            .bind(
                self.ai
                    .as_ref()
                    .map(|a| json(serde_json::to_value(&a.plain)))
                    .transpose()?,
            )
            .bind(self.ai.as_ref().and_then(|a| a.api_key.clone()))
            .bind(
                google
                    .map(|g| json(serde_json::to_value(&g.plain)))
                    .transpose()?,
            )
            .bind(google.map(|g| g.client_secret.clone()))
            .bind(google.map(|g| g.refresh_token.clone()))
            .bind(token.map(|t| t.sealed.clone()))
            .bind(token.map(|t| t.expires_at))
            .bind(disconnected.map(|d| d.at))
            .bind(disconnected.map(|d| d.reason.clone()))
            .bind(
                self.ai_budget
                    .as_ref()
                    .map(|b| json(serde_json::to_value(b)))
                    .transpose()?,
            )
            .bind(self.admin_email.as_ref().map(|e| e.as_str().to_owned()))
            .bind(self.admin_phone.as_ref().map(|p| p.as_str().to_owned()))
            .bind(self.webhook_url.clone())
            .bind(self.created_at)
            .bind(self.updated_at))
    }

    /// Reads a row selected with [`select_columns`].
    pub(super) fn from_row(row: &PgRow) -> anyhow::Result<Self> {
        let text = |column: &str| -> anyhow::Result<String> {
            row.try_get(column)
                .with_context(|| format!("Stored {column}"))
        };
        let optional_text = |column: &str| -> anyhow::Result<Option<String>> {
            row.try_get(column)
                .with_context(|| format!("Stored {column}"))
        };
        let json = |column: &str| -> anyhow::Result<Option<serde_json::Value>> {
            row.try_get(column)
                .with_context(|| format!("Stored {column}"))
        };
        let bytes = |column: &str| -> anyhow::Result<Option<Vec<u8>>> {
            row.try_get(column)
                .with_context(|| format!("Stored {column}"))
        };
        let required = |value: Option<serde_json::Value>, column: &str| {
            value.with_context(|| format!("Stored {column} is null"))
        };
        let timezone = text("timezone")?;
        let country = text("default_country")?;
        Ok(Self {
            id: TenantId::from_uuid(row.try_get("id").context("Stored id")?),
            name: text("name")?,
            brand_name: text("brand_name")?,
            timezone: Timezone::parse(&timezone)
                .with_context(|| format!("Stored timezone {timezone}"))?,
            default_country: CountryCode::parse(&country)
                .with_context(|| format!("Stored country {country}"))?,
            business_hours: serde_json::from_value(required(
                json("business_hours")?,
                "business_hours",
            )?)
            .context("Stored business hours")?,
            quiet_hours: serde_json::from_value(required(json("quiet_hours")?, "quiet_hours")?)
                .context("Stored quiet hours")?,
            channels: StoredChannels {
                twilio: match (json("twilio")?, bytes("twilio_auth_token")?) {
                    (Some(plain), Some(auth_token)) => Some(StoredTwilio {
                        plain: serde_json::from_value(plain).context("Stored twilio")?,
                        auth_token,
                    }),
                    _ => None,
                },
                whatsapp_cloud: match (
                    json("whatsapp_cloud")?,
                    bytes("whatsapp_access_token")?,
                    bytes("whatsapp_app_secret")?,
                    bytes("whatsapp_verify_token")?,
                ) {
                    (Some(plain), Some(access_token), Some(app_secret), Some(verify_token)) => {
                        Some(StoredWhatsApp {
                            plain: serde_json::from_value(plain)
                                .context("Stored whatsapp_cloud")?,
                            access_token,
                            app_secret,
                            verify_token,
                        })
                    }
                    _ => None,
                },
            },
            ai: json("ai")?
                .map(|plain| -> anyhow::Result<StoredAi> {
                    Ok(StoredAi {
                        plain: serde_json::from_value::<AiPlain>(plain).context("Stored ai")?,
                        api_key: bytes("ai_api_key")?,
                    })
                })
                .transpose()?,
            google: google(row)?,
            ai_budget: json("ai_budget")?
                .map(serde_json::from_value::<AiBudget>)
                .transpose()
                .context("Stored ai_budget")?,
            admin_email: optional_text("admin_email")?
                .map(|email| EmailAddress::parse(&email))
                .transpose()
                .context("Stored admin_email")?,
            admin_phone: optional_text("admin_phone")?
                .map(|phone| PhoneNumber::parse_e164(&phone))
                .transpose()
                .context("Stored admin_phone")?,
            webhook_url: optional_text("webhook_url")?,
            created_at: row.try_get("created_at").context("Stored created_at")?,
            updated_at: row.try_get("updated_at").context("Stored updated_at")?,
        })
    }
}

/// The Google Calendar connection of a row selected with [`select_columns`], if it has one.
fn google(row: &PgRow) -> anyhow::Result<Option<StoredGoogle>> {
    let plain: Option<serde_json::Value> = row
        .try_get("google_calendar")
        .context("Stored google_calendar")?;
    let (Some(plain), Some(client_secret), Some(refresh_token)) = (
        plain,
        row.try_get::<Option<Vec<u8>>, _>("google_client_secret")
            .context("Stored google_client_secret")?,
        row.try_get::<Option<Vec<u8>>, _>("google_refresh_token")
            .context("Stored google_refresh_token")?,
    ) else {
        return Ok(None);
    };
    let token: (Option<Vec<u8>>, Option<DateTime<Utc>>) = (
        row.try_get("google_access_token")
            .context("Stored google_access_token")?,
        row.try_get("google_access_token_expires_at")
            .context("Stored google_access_token_expires_at")?,
    );
    let disconnected: (Option<DateTime<Utc>>, Option<String>) = (
        row.try_get("google_disconnected_at")
            .context("Stored google_disconnected_at")?,
        row.try_get("google_disconnected_reason")
            .context("Stored google_disconnected_reason")?,
    );
    Ok(Some(StoredGoogle {
        plain: serde_json::from_value(plain).context("Stored google_calendar")?,
        client_secret,
        refresh_token,
        access_token: match token {
            (Some(sealed), Some(expires_at)) => Some(StoredAccessToken { sealed, expires_at }),
            _ => None,
        },
        disconnected: match disconnected {
            (Some(at), Some(reason)) => Some(Disconnection { reason, at }),
            _ => None,
        },
    }))
}
