//! Bodies of `/api/v1/tenants`: a tenant's settings in and out, and its API keys. Requests hold
//! primitives; the parsers here turn them into domain values and name the exact field that
//! was refused (`timezone`, `business_hours.monday.start`, `channels.twilio.account_sid`).
//! Provider accounts and the model are in [`channels`], the calendar connection in [`calendar`],
//! the monthly AI budget in [`budget`].

use std::fmt;

use chrono::{DateTime, Utc};
use domain::values::{CountryCode, EmailAddress, PhoneNumber, QuietHours, Timezone, ValueError};
use infrastructure::tenants::{ApiKeyInfo, IssuedKey, Tenant, TenantSettings};
use poem_openapi::types::{Example, MaybeUndefined};
use poem_openapi::Object;
use serde::Deserialize;
use uuid::Uuid;

use crate::dto::hours::{BusinessHoursDto, TimeRangeDto};
use crate::error::ApiError;

pub mod budget;
pub mod calendar;
pub mod channels;

use budget::{AiBudgetDto, AiBudgetRequest};
use calendar::{CalendarDto, CalendarRequest};
use channels::{maybe, AiDto, AiRequest, ChannelsDto, ChannelsRequest};

/// Longest tenant or brand name, in characters.
const MAX_NAME_LEN: usize = 200;
/// Longest API key label, in characters.
const MAX_KEY_NAME_LEN: usize = 100;
/// Label of a key issued without one.
const DEFAULT_KEY_NAME: &str = "default";

/// A client business as the API shows it.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "Tenant")]
pub struct TenantDto {
    /// Id.
    pub id: Uuid,
    /// Internal name.
    pub name: String,
    /// The name leads see in messages (`{brand_name}`).
    pub brand_name: String,
    /// IANA time zone of the business, e.g. `Europe/London`.
    pub timezone: String,
    /// ISO 3166-1 alpha-2 country assumed for national phone numbers, e.g. `GB`.
    pub default_country: String,
    /// When appointments can be booked, unless a workflow overrides it.
    pub business_hours: BusinessHoursDto,
    /// The window of a recipient's local day in which messages may be sent.
    pub quiet_hours: TimeRangeDto,
    /// The provider accounts messages are sent through. Secrets are never shown, only whether
    /// each is set. Without any provider, messages go to the sandbox channel.
    pub channels: ChannelsDto,
    /// The conversation model that answers leads (its API key is never shown); `null`: the
    /// built-in rules engine answers.
    #[oai(nullable)]
    pub ai: Option<AiDto>,
    /// The external calendar appointments are written to and busy times read from (secrets
    /// never shown); without one, the built-in calendar.
    pub calendar: CalendarDto,
    /// The monthly limit on the AI's spend (UTC calendar months); `null`: no budget, the
    /// spend is not limited.
    #[oai(nullable)]
    pub ai_budget: Option<AiBudgetDto>,
    /// Where handoff notifications are emailed; `null` when not set.
    #[oai(nullable)]
    pub admin_email: Option<String>,
    /// Who is texted about handoffs and named in HELP replies, E.164; `null` when not set.
    #[oai(nullable)]
    pub admin_phone: Option<String>,
    /// Where handoff and calendar-disconnection notices are POSTed as JSON; `null` when not set.
    #[oai(nullable)]
    pub webhook_url: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&Tenant> for TenantDto {
    fn from(tenant: &Tenant) -> Self {
        Self {
            id: tenant.id.as_uuid(),
            name: tenant.name.clone(),
            brand_name: tenant.brand_name.clone(),
            timezone: tenant.timezone.as_str().to_owned(),
            default_country: tenant.default_country.as_str().to_owned(),
            business_hours: BusinessHoursDto::from(&tenant.business_hours),
            quiet_hours: TimeRangeDto::from(tenant.quiet_hours.allowed()),
            channels: ChannelsDto::from(&tenant.channels),
            ai: tenant.ai.as_ref().map(AiDto::from),
            calendar: CalendarDto::from(&tenant.calendar),
            ai_budget: tenant.ai_budget.as_ref().map(AiBudgetDto::from),
            admin_email: tenant.admin_email.as_ref().map(|e| e.as_str().to_owned()),
            admin_phone: tenant.admin_phone.as_ref().map(|p| p.as_str().to_owned()),
            webhook_url: tenant.webhook_url.clone(),
            created_at: tenant.created_at,
            updated_at: tenant.updated_at,
        }
    }
}

/// A new tenant. Everything but the name has a default.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields, example)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// Internal name, 1 to 200 characters.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    /// The name leads see in messages; defaults to `name`.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub brand_name: Option<String>,
    /// IANA time zone; defaults to `Europe/London`.
    pub timezone: Option<String>,
    /// ISO 3166-1 alpha-2 country for national phone numbers; defaults to `GB`.
    #[oai(validator(min_length = 2, max_length = 2))]
    pub default_country: Option<String>,
    /// Opening hours; defaults to Monday to Friday, 09:00 to 17:00.
    pub business_hours: Option<BusinessHoursDto>,
    /// Sending window in the recipient's local time; defaults to 08:00 to 21:00.
    pub quiet_hours: Option<TimeRangeDto>,
    /// Provider accounts to set up (each complete, see `TenantChannelsChange`); none by default.
    pub channels: Option<ChannelsRequest>,
    /// The conversation model; by default none (the built-in rules engine answers).
    pub ai: Option<AiRequest>,
    /// The external calendar (complete, see `TenantCalendarChange`); by default none (the
    /// built-in calendar).
    pub calendar: Option<CalendarRequest>,
    /// The monthly AI budget (see `TenantAiBudgetChange`); by default none (the AI's spend is
    /// not limited).
    pub ai_budget: Option<AiBudgetRequest>,
    /// Where handoff notifications are emailed.
    pub admin_email: Option<String>,
    /// Who is texted about handoffs and named in HELP replies; national numbers are read in
    /// `default_country`.
    pub admin_phone: Option<String>,
    /// Where handoff and calendar-disconnection notices are POSTed (an absolute http or https
    /// URL).
    pub webhook_url: Option<String>,
}

impl Example for CreateTenantRequest {
    fn example() -> Self {
        Self {
            name: "Acme Dental Ltd".into(),
            brand_name: Some("Acme Dental".into()),
            timezone: Some("Europe/London".into()),
            default_country: Some("GB".into()),
            business_hours: Some(BusinessHoursDto::example()),
            quiet_hours: Some(TimeRangeDto {
                start: "08:00".into(),
                end: "20:00".into(),
            }),
            channels: None,
            ai: None,
            calendar: None,
            ai_budget: None,
            admin_email: Some("frontdesk@acme-dental.example".into()),
            admin_phone: Some("020 7946 0000".into()),
            webhook_url: None,
        }
    }
}

/// A parsed [`CreateTenantRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewTenant {
    /// Internal name.
    pub name: String,
    /// Everything else; `None` takes the default.
    pub settings: TenantSettings,
}

impl TryFrom<CreateTenantRequest> for NewTenant {
    type Error = ApiError;

    fn try_from(body: CreateTenantRequest) -> Result<Self, Self::Error> {
        let name = text("name", &body.name, MAX_NAME_LEN)?;
        let settings = settings(
            None,
            body.brand_name,
            body.timezone,
            body.default_country,
            body.business_hours,
            body.quiet_hours,
        )?;
        let country = settings.default_country.unwrap_or_default();
        let settings = TenantSettings {
            channels: body
                .channels
                .map(ChannelsRequest::parse)
                .transpose()?
                .unwrap_or_default(),
            ai: body.ai.map(AiRequest::parse).transpose()?.map(Some),
            calendar: body
                .calendar
                .map(CalendarRequest::parse)
                .transpose()?
                .unwrap_or_default(),
            ai_budget: body
                .ai_budget
                .map(AiBudgetRequest::parse)
                .transpose()?
                .map(Some),
            admin_email: body
                .admin_email
                .as_deref()
                .map(email)
                .transpose()?
                .map(Some),
            admin_phone: body
                .admin_phone
                .map(|p| phone(&p, country))
                .transpose()?
                .map(Some),
            webhook_url: body
                .webhook_url
                .map(|url| channels::http_url("webhook_url", &url))
                .transpose()?
                .map(Some),
            ..settings
        };
        Ok(Self { name, settings })
    }
}

/// A change to a tenant: only the fields given change. `null` leaves `name` to `quiet_hours`
/// as they are; it removes `ai`, `ai_budget`, `admin_email`, `admin_phone`, `webhook_url` and,
/// inside `channels`, a provider.
#[derive(Debug, Clone, Default, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenantRequest {
    /// New internal name.
    #[oai(validator(min_length = 1, max_length = 200))]
    #[serde(default)]
    pub name: Option<String>,
    /// New brand name.
    #[oai(validator(min_length = 1, max_length = 200))]
    #[serde(default)]
    pub brand_name: Option<String>,
    /// New IANA time zone.
    #[serde(default)]
    pub timezone: Option<String>,
    /// New default country (ISO 3166-1 alpha-2).
    #[oai(validator(min_length = 2, max_length = 2))]
    #[serde(default)]
    pub default_country: Option<String>,
    /// New opening hours (the whole week: days left out are closed).
    #[serde(default)]
    pub business_hours: Option<BusinessHoursDto>,
    /// New sending window.
    #[serde(default)]
    pub quiet_hours: Option<TimeRangeDto>,
    /// Changes to provider accounts: per provider, an object changes the settings it names (a
    /// provider set up for the first time needs all its required ones) and `null` removes it.
    #[serde(default)]
    pub channels: Option<ChannelsRequest>,
    /// Changes to the conversation model (settings left out keep their value), or `null` to
    /// remove it and let the built-in rules engine answer.
    #[oai(nullable)]
    #[serde(default)]
    pub ai: MaybeUndefined<AiRequest>,
    /// Changes to the calendar connection: `google` as an object changes the settings it names
    /// (connecting needs `client_id`, `client_secret` and `refresh_token`) and clears a
    /// `disconnected` status; `null` disconnects it.
    #[serde(default)]
    pub calendar: Option<CalendarRequest>,
    /// A new monthly AI budget, replacing the previous one whole (see `TenantAiBudgetChange`),
    /// or `null` to remove it and stop limiting the AI's spend.
    #[oai(nullable)]
    #[serde(default)]
    pub ai_budget: MaybeUndefined<AiBudgetRequest>,
    /// New handoff email, or `null` to remove it.
    #[oai(nullable)]
    #[serde(default)]
    pub admin_email: MaybeUndefined<String>,
    /// New handoff phone (national numbers are read in the tenant's default country, the new
    /// one if this request changes it), or `null` to remove it.
    #[oai(nullable)]
    #[serde(default)]
    pub admin_phone: MaybeUndefined<String>,
    /// New notice webhook URL (absolute http or https), or `null` to remove it.
    #[oai(nullable)]
    #[serde(default)]
    pub webhook_url: MaybeUndefined<String>,
}

impl UpdateTenantRequest {
    /// The checked change to a tenant whose default country is now `current_country`.
    pub fn parse(self, current_country: CountryCode) -> Result<TenantSettings, ApiError> {
        let settings = settings(
            self.name,
            self.brand_name,
            self.timezone,
            self.default_country,
            self.business_hours,
            self.quiet_hours,
        )?;
        let country = settings.default_country.unwrap_or(current_country);
        Ok(TenantSettings {
            channels: self
                .channels
                .map(ChannelsRequest::parse)
                .transpose()?
                .unwrap_or_default(),
            ai: maybe(self.ai, AiRequest::parse)?,
            calendar: self
                .calendar
                .map(CalendarRequest::parse)
                .transpose()?
                .unwrap_or_default(),
            ai_budget: maybe(self.ai_budget, AiBudgetRequest::parse)?,
            admin_email: maybe(self.admin_email, |e| email(&e))?,
            admin_phone: maybe(self.admin_phone, |p| phone(&p, country))?,
            webhook_url: maybe(self.webhook_url, |url| {
                channels::http_url("webhook_url", &url)
            })?,
            ..settings
        })
    }
}

/// A handoff email address.
fn email(value: &str) -> Result<EmailAddress, ApiError> {
    EmailAddress::parse(value).map_err(crate::error::invalid("admin_email"))
}

/// A handoff phone, read like a lead's phone.
fn phone(value: &str, country: CountryCode) -> Result<PhoneNumber, ApiError> {
    PhoneNumber::parse(value, country).map_err(crate::error::invalid("admin_phone"))
}

/// Parses each given setting, naming the field it came from.
fn settings(
    name: Option<String>,
    brand_name: Option<String>,
    timezone: Option<String>,
    default_country: Option<String>,
    business_hours: Option<BusinessHoursDto>,
    quiet_hours: Option<TimeRangeDto>,
) -> Result<TenantSettings, ApiError> {
    Ok(TenantSettings {
        name: name.map(|n| text("name", &n, MAX_NAME_LEN)).transpose()?,
        brand_name: brand_name
            .map(|n| text("brand_name", &n, MAX_NAME_LEN))
            .transpose()?,
        timezone: timezone
            .map(|tz| Timezone::parse(&tz).map_err(crate::error::invalid("timezone")))
            .transpose()?,
        default_country: default_country
            .map(|c| CountryCode::parse(&c).map_err(crate::error::invalid("default_country")))
            .transpose()?,
        business_hours: business_hours
            .map(|hours| hours.parse("business_hours"))
            .transpose()?,
        quiet_hours: quiet_hours
            .map(|range| range.parse("quiet_hours").map(QuietHours::new))
            .transpose()?,
        ..TenantSettings::default()
    })
}

/// Trims `value` and checks it is 1 to `max` characters without control characters.
fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid_field(field, ValueError::Empty));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid_field(field, ValueError::TooLong { max }));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(field, ValueError::ControlCharacter));
    }
    Ok(value.to_owned())
}

/// A tenant just created, with its first API key.
#[derive(Clone, Object)]
#[oai(rename = "TenantCreated")]
pub struct TenantCreatedDto {
    /// The tenant.
    pub tenant: TenantDto,
    /// The tenant's first API key. Shown this once only: store it now.
    pub api_key: String,
    /// The key's id, for listing and revoking.
    pub api_key_id: Uuid,
}

impl fmt::Debug for TenantCreatedDto {
    /// Leaves the secret out, so the body can be logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantCreatedDto")
            .field("tenant", &self.tenant)
            .field("api_key", &"<redacted>")
            .field("api_key_id", &self.api_key_id)
            .finish()
    }
}

impl TenantCreatedDto {
    /// The answer to a tenant's creation.
    pub fn new(tenant: &Tenant, key: IssuedKey) -> Self {
        Self {
            tenant: TenantDto::from(tenant),
            api_key: key.secret,
            api_key_id: key.id,
        }
    }
}

/// A new API key.
#[derive(Debug, Clone, Default, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// A label to recognise the key by (1 to 100 characters); defaults to `default`.
    #[oai(validator(min_length = 1, max_length = 100))]
    #[serde(default)]
    pub name: Option<String>,
}

impl CreateApiKeyRequest {
    /// The checked label.
    pub fn label(&self) -> Result<String, ApiError> {
        self.name.as_deref().map_or_else(
            || Ok(DEFAULT_KEY_NAME.to_owned()),
            |name| text("name", name, MAX_KEY_NAME_LEN),
        )
    }
}

/// A key just issued, with its secret.
#[derive(Clone, Object)]
#[oai(rename = "ApiKeyCreated")]
pub struct ApiKeyCreatedDto {
    /// Id, for listing and revoking.
    pub id: Uuid,
    /// The secret to send as `Authorization: Bearer <api_key>`. Shown this once only.
    pub api_key: String,
    /// The secret's first characters, to recognise it in lists.
    pub prefix: String,
    /// Label.
    pub name: String,
    /// Issued.
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for ApiKeyCreatedDto {
    /// Leaves the secret out, so the body can be logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyCreatedDto")
            .field("id", &self.id)
            .field("api_key", &"<redacted>")
            .field("prefix", &self.prefix)
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl From<IssuedKey> for ApiKeyCreatedDto {
    fn from(key: IssuedKey) -> Self {
        Self {
            id: key.id,
            api_key: key.secret,
            prefix: key.prefix,
            name: key.name,
            created_at: key.created_at,
        }
    }
}

/// An API key as listed; the secret is never shown again.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ApiKey")]
pub struct ApiKeyDto {
    /// Id.
    pub id: Uuid,
    /// The secret's first characters.
    pub prefix: String,
    /// Label.
    pub name: String,
    /// Issued.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; `null` while it is live.
    #[oai(nullable)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyInfo> for ApiKeyDto {
    fn from(key: ApiKeyInfo) -> Self {
        Self {
            id: key.id,
            prefix: key.prefix,
            name: key.name,
            created_at: key.created_at,
            revoked_at: key.revoked_at,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::field_of;

    #[test]
    fn an_unknown_timezone_or_country_names_its_field() {
        let body = |tz: &str, country: &str| CreateTenantRequest {
            timezone: Some(tz.into()),
            default_country: Some(country.into()),
            ..CreateTenantRequest::example()
        };
        assert_eq!(
            field_of(NewTenant::try_from(body("Mars/Olympus", "GB")).unwrap_err()),
            "timezone"
        );
        assert_eq!(
            field_of(NewTenant::try_from(body("Europe/Paris", "XX")).unwrap_err()),
            "default_country"
        );
    }

    #[test]
    fn a_blank_name_is_refused_and_defaults_stay_unset() {
        let blank = CreateTenantRequest {
            name: "  ".into(),
            ..CreateTenantRequest::example()
        };
        assert_eq!(field_of(NewTenant::try_from(blank).unwrap_err()), "name");
        let minimal: CreateTenantRequest = serde_json::from_str(r#"{"name":" Acme "}"#).unwrap();
        let parsed = NewTenant::try_from(minimal).unwrap();
        assert_eq!(parsed.name, "Acme");
        assert_eq!(parsed.settings, TenantSettings::default());
    }

    #[test]
    fn a_key_without_a_name_gets_the_default_label() {
        assert_eq!(CreateApiKeyRequest::default().label().unwrap(), "default");
    }
}
