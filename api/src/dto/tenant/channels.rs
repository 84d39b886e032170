//! The provider accounts and the conversation model of a tenant, in and out. Requests carry the
//! secrets once; answers never show a secret, only whether it is set (`auth_token_set`, …).
//! Each value is checked here and a refusal names its path (`channels.twilio.account_sid`).

use std::fmt;

use domain::values::{PhoneNumber, ValueError};
use infrastructure::secrets::Secret;
use infrastructure::tenants::{
    AiPatch, AiView, ChannelsPatch, ChannelsView, TwilioPatch, TwilioView, WhatsAppCloudPatch,
    WhatsAppCloudView,
};
use poem_openapi::types::MaybeUndefined;
use poem_openapi::Object;
use serde::Deserialize;

use crate::error::ApiError;

/// Longest secret, in characters.
const MAX_SECRET_LEN: usize = 512;
/// Longest model name, in characters.
const MAX_MODEL_LEN: usize = 200;
/// Longest URL, in characters.
const MAX_URL_LEN: usize = 2048;
/// Longest WhatsApp phone number id, in characters.
const MAX_PHONE_NUMBER_ID_LEN: usize = 64;

/// A tenant's provider accounts as shown: ids and senders, never a secret.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "TenantChannels")]
pub struct ChannelsDto {
    /// The Twilio account (SMS, and WhatsApp through Twilio); `null` when not configured.
    #[oai(nullable)]
    pub twilio: Option<TwilioDto>,
    /// The WhatsApp Cloud API number (preferred over Twilio for WhatsApp); `null` when not
    /// configured.
    #[oai(nullable)]
    pub whatsapp_cloud: Option<WhatsAppCloudDto>,
}

impl From<&ChannelsView> for ChannelsDto {
    fn from(view: &ChannelsView) -> Self {
        Self {
            twilio: view.twilio.as_ref().map(TwilioDto::from),
            whatsapp_cloud: view.whatsapp_cloud.as_ref().map(WhatsAppCloudDto::from),
        }
    }
}

/// A Twilio account as shown (the auth token is never shown).
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "TwilioAccount")]
pub struct TwilioDto {
    /// The account SID (`AC` + 32 hex digits).
    pub account_sid: String,
    /// The SMS sender, E.164; `null` when SMS is not sent through Twilio.
    #[oai(nullable)]
    pub from_number: Option<String>,
    /// The WhatsApp sender, E.164; `null` when WhatsApp is not sent through Twilio.
    #[oai(nullable)]
    pub whatsapp_from: Option<String>,
    /// Whether an auth token is stored.
    pub auth_token_set: bool,
}

impl From<&TwilioView> for TwilioDto {
    fn from(view: &TwilioView) -> Self {
        Self {
            account_sid: view.account_sid.clone(),
            from_number: view.from_number.as_ref().map(|n| n.as_str().to_owned()),
            whatsapp_from: view.whatsapp_from.as_ref().map(|n| n.as_str().to_owned()),
            auth_token_set: view.auth_token_set,
        }
    }
}

/// A WhatsApp Cloud API number as shown (its tokens and secret are never shown).
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "WhatsAppCloudAccount")]
pub struct WhatsAppCloudDto {
    /// The business phone number's id in the Graph API.
    pub phone_number_id: String,
    /// Whether an access token is stored.
    pub access_token_set: bool,
    /// Whether an app secret is stored.
    pub app_secret_set: bool,
    /// Whether a verify token is stored.
    pub verify_token_set: bool,
}

impl From<&WhatsAppCloudView> for WhatsAppCloudDto {
    fn from(view: &WhatsAppCloudView) -> Self {
        Self {
            phone_number_id: view.phone_number_id.clone(),
            access_token_set: view.access_token_set,
            app_secret_set: view.app_secret_set,
            verify_token_set: view.verify_token_set,
        }
    }
}

/// A tenant's conversation model as shown (the API key is never shown).
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "TenantAi")]
pub struct AiDto {
    /// The OpenAI-compatible base URL; requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    /// The model name.
    pub model: String,
    /// Whether an API key is stored.
    pub api_key_set: bool,
}

impl From<&AiView> for AiDto {
    fn from(view: &AiView) -> Self {
        Self {
            base_url: view.base_url.clone(),
            model: view.model.clone(),
            api_key_set: view.api_key_set,
        }
    }
}

/// Changes to a tenant's provider accounts. Per provider: leave it out to keep it as it is,
/// `null` to remove it, an object to change the settings it names (or to set the provider up).
#[derive(Debug, Clone, Default, Object, Deserialize)]
#[oai(rename = "TenantChannelsChange", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct ChannelsRequest {
    /// The Twilio account, or `null` to remove it.
    #[oai(nullable)]
    #[serde(default)]
    pub twilio: MaybeUndefined<TwilioRequest>,
    /// The WhatsApp Cloud API number, or `null` to remove it.
    #[oai(nullable)]
    #[serde(default)]
    pub whatsapp_cloud: MaybeUndefined<WhatsAppCloudRequest>,
}

impl ChannelsRequest {
    /// The checked change.
    pub fn parse(self) -> Result<ChannelsPatch, ApiError> {
        Ok(ChannelsPatch {
            twilio: maybe(self.twilio, TwilioRequest::parse)?,
            whatsapp_cloud: maybe(self.whatsapp_cloud, WhatsAppCloudRequest::parse)?,
        })
    }
}

/// Settings of a Twilio account. Settings left out (or `null`) keep their value. To set the
/// account up, give `account_sid`, `auth_token` and at least one of `from_number` and
/// `whatsapp_from`.
#[derive(Clone, Default, Object, Deserialize)]
#[oai(rename = "TwilioAccountChange", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct TwilioRequest {
    /// The account SID: `AC` followed by 32 hexadecimal digits.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// The account's auth token (1 to 512 characters). Write-only: stored encrypted and never
    /// shown again.
    #[serde(default)]
    pub auth_token: Option<String>,
    /// The SMS sender in E.164 form (`+14155550100`), or `null` to stop sending SMS through
    /// Twilio.
    #[oai(nullable)]
    #[serde(default)]
    pub from_number: MaybeUndefined<String>,
    /// The WhatsApp sender in E.164 form (sent as `whatsapp:+…`), or `null` to stop sending
    /// WhatsApp through Twilio.
    #[oai(nullable)]
    #[serde(default)]
    pub whatsapp_from: MaybeUndefined<String>,
}

impl fmt::Debug for TwilioRequest {
    /// Leaves the secret out, so the body can be logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioRequest")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &self.auth_token.as_ref().map(|_| "<secret>"))
            .field("from_number", &self.from_number)
            .field("whatsapp_from", &self.whatsapp_from)
            .finish()
    }
}

impl TwilioRequest {
    fn parse(self) -> Result<TwilioPatch, ApiError> {
        Ok(TwilioPatch {
            account_sid: self
                .account_sid
                .map(|sid| account_sid("channels.twilio.account_sid", &sid))
                .transpose()?,
            auth_token: self
                .auth_token
                .map(|token| secret("channels.twilio.auth_token", token))
                .transpose()?,
            from_number: maybe(self.from_number, |n| {
                sender("channels.twilio.from_number", &n)
            })?,
            whatsapp_from: maybe(self.whatsapp_from, |n| {
                sender("channels.twilio.whatsapp_from", &n)
            })?,
        })
    }
}

/// Settings of a WhatsApp Cloud API number. Settings left out (or `null`) keep their value. To
/// set the number up, give all four.
#[derive(Clone, Default, Object, Deserialize)]
#[oai(rename = "WhatsAppCloudAccountChange", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppCloudRequest {
    /// The business phone number's id in the Graph API (1 to 64 letters, digits, `-` or `_`).
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// A system-user access token, sent as `Authorization: Bearer …` (1 to 512 characters).
    /// Write-only: stored encrypted and never shown again.
    #[serde(default)]
    pub access_token: Option<String>,
    /// The Meta app secret that signs webhooks (`X-Hub-Signature-256`; 1 to 512 characters).
    /// Write-only.
    #[serde(default)]
    pub app_secret: Option<String>,
    /// The token Meta must echo in the webhook verification handshake (1 to 512 characters).
    /// Write-only.
    #[serde(default)]
    pub verify_token: Option<String>,
}

impl fmt::Debug for WhatsAppCloudRequest {
    /// Leaves the secrets out, so the body can be logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |value: &Option<String>| value.as_ref().map(|_| "<secret>");
        f.debug_struct("WhatsAppCloudRequest")
            .field("phone_number_id", &self.phone_number_id)
            .field("access_token", &hidden(&self.access_token))
            .field("app_secret", &hidden(&self.app_secret))
            .field("verify_token", &hidden(&self.verify_token))
            .finish()
    }
}

impl WhatsAppCloudRequest {
    fn parse(self) -> Result<WhatsAppCloudPatch, ApiError> {
        let secret_at = |field: &'static str, value: Option<String>| {
            value.map(|value| secret(field, value)).transpose()
        };
        Ok(WhatsAppCloudPatch {
            phone_number_id: self
                .phone_number_id
                .map(|id| phone_number_id("channels.whatsapp_cloud.phone_number_id", &id))
                .transpose()?,
            access_token: secret_at("channels.whatsapp_cloud.access_token", self.access_token)?,
            app_secret: secret_at("channels.whatsapp_cloud.app_secret", self.app_secret)?,
            verify_token: secret_at("channels.whatsapp_cloud.verify_token", self.verify_token)?,
        })
    }
}

/// Settings of the tenant's conversation model, any OpenAI-compatible chat completions
/// endpoint. Settings left out keep their value; when the model is set up, a missing
/// `base_url` is `https://api.openai.com/v1` and a missing `model` is `gpt-4o-mini`.
#[derive(Clone, Default, Object, Deserialize)]
#[oai(rename = "TenantAiChange", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct AiRequest {
    /// The endpoint's base URL (http or https, no query), e.g. `https://api.openai.com/v1`;
    /// requests go to `{base_url}/chat/completions`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The model name (1 to 200 characters), e.g. `gpt-4o-mini`.
    #[serde(default)]
    pub model: Option<String>,
    /// The API key, sent as `Authorization: Bearer …` (1 to 512 characters), or `null` to
    /// remove it for an endpoint that needs none. Write-only: stored encrypted, never shown.
    #[oai(nullable)]
    #[serde(default)]
    pub api_key: MaybeUndefined<String>,
}

impl fmt::Debug for AiRequest {
    /// Leaves the key out, so the body can be logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AiRequest")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field(
                "api_key",
                &self.api_key.as_deref().map_value(|_| "<secret>"),
            )
            .finish()
    }
}

impl AiRequest {
    /// The checked change.
    pub fn parse(self) -> Result<AiPatch, ApiError> {
        Ok(AiPatch {
            base_url: self
                .base_url
                .map(|url| base_url("ai.base_url", &url))
                .transpose()?,
            model: self.model.map(|m| model("ai.model", &m)).transpose()?,
            api_key: maybe(self.api_key, |key| secret("ai.api_key", key))?,
        })
    }
}

/// `Undefined` → `None` (unchanged), `Null` → `Some(None)` (removed), a value → parsed.
pub(super) fn maybe<T, U>(
    value: MaybeUndefined<T>,
    parse: impl FnOnce(T) -> Result<U, ApiError>,
) -> Result<Option<Option<U>>, ApiError> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Ok(Some(None)),
        MaybeUndefined::Value(value) => parse(value).map(|parsed| Some(Some(parsed))),
    }
}

/// `AC` and 32 hexadecimal digits.
fn account_sid(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    let valid = value.len() == 34
        && value.starts_with("AC")
        && value[2..].chars().all(|c| c.is_ascii_hexdigit());
    if valid {
        Ok(value.to_owned())
    } else {
        Err(ApiError::invalid_field(
            field,
            "must be AC followed by 32 hexadecimal digits",
        ))
    }
}

/// A sender number, strictly E.164.
fn sender(field: &str, value: &str) -> Result<PhoneNumber, ApiError> {
    PhoneNumber::parse_e164(value.trim()).map_err(|error| ApiError::invalid_field(field, error))
}

/// A Graph API id: it goes into request paths, so only letters, digits, `-` and `_`.
fn phone_number_id(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    let valid = !value.is_empty()
        && value.len() <= MAX_PHONE_NUMBER_ID_LEN
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(value.to_owned())
    } else {
        Err(ApiError::invalid_field(
            field,
            "must be 1 to 64 letters, digits, '-' or '_'",
        ))
    }
}

/// A secret, as given (not trimmed): 1 to 512 characters, no control characters.
pub(super) fn secret(field: &str, value: String) -> Result<Secret, ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid_field(field, ValueError::Empty));
    }
    if value.chars().count() > MAX_SECRET_LEN {
        return Err(ApiError::invalid_field(
            field,
            ValueError::TooLong {
                max: MAX_SECRET_LEN,
            },
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(field, ValueError::ControlCharacter));
    }
    Ok(Secret::new(value))
}

/// A model name: 1 to 200 characters after trimming, no control characters.
fn model(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid_field(field, ValueError::Empty));
    }
    if value.chars().count() > MAX_MODEL_LEN {
        return Err(ApiError::invalid_field(
            field,
            ValueError::TooLong { max: MAX_MODEL_LEN },
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(field, ValueError::ControlCharacter));
    }
    Ok(value.to_owned())
}

/// An absolute http or https URL with a host, at most 2,048 characters, as given (trimmed).
pub(super) fn http_url(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.chars().count() > MAX_URL_LEN {
        return Err(ApiError::invalid_field(
            field,
            ValueError::TooLong { max: MAX_URL_LEN },
        ));
    }
    let url = reqwest::Url::parse(value)
        .map_err(|_| ApiError::invalid_field(field, "must be an absolute http or https URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ApiError::invalid_field(
            field,
            "must be an absolute http or https URL",
        ));
    }
    Ok(value.to_owned())
}

/// A base URL: an [`http_url`] without query or fragment, its trailing `/` dropped so paths
/// can be appended.
fn base_url(field: &str, value: &str) -> Result<String, ApiError> {
    let value = http_url(field, value)?;
    if value.contains(['?', '#']) {
        return Err(ApiError::invalid_field(
            field,
            "must not have a query or a fragment",
        ));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::error::field_of;

    fn channels(json: &str) -> Result<ChannelsPatch, ApiError> {
        serde_json::from_str::<ChannelsRequest>(json)
            .unwrap()
            .parse()
    }

    #[test]
    fn each_bad_value_names_its_path() {
        let sid = format!("AC{}", "0f".repeat(16));
        for (json, field) in [
            (
                r#"{"twilio": {"account_sid": "AC123"}}"#.to_owned(),
                "channels.twilio.account_sid",
            ),
            (
                format!(
                    r#"{{"twilio": {{"account_sid": "{}"}}}}"#,
                    sid.replace('f', "g")
                ),
                "channels.twilio.account_sid",
            ),
            (
                r#"{"twilio": {"auth_token": ""}}"#.to_owned(),
                "channels.twilio.auth_token",
            ),
            (
                r#"{"twilio": {"from_number": "07700 900123"}}"#.to_owned(),
                "channels.twilio.from_number",
            ),
            (
                r#"{"twilio": {"whatsapp_from": "whatsapp:+14155238886"}}"#.to_owned(),
                "channels.twilio.whatsapp_from",
            ),
            (
                format!(
                    r#"{{"whatsapp_cloud": {{"access_token": "{}"}}}}"#,
                    "x".repeat(513)
                ),
                "channels.whatsapp_cloud.access_token",
            ),
            (
                r#"{"whatsapp_cloud": {"phone_number_id": "12/../34"}}"#.to_owned(),
                "channels.whatsapp_cloud.phone_number_id",
            ),
            (
                r#"{"whatsapp_cloud": {"verify_token": "a\nb"}}"#.to_owned(),
                "channels.whatsapp_cloud.verify_token",
            ),
        ] {
            assert_eq!(field_of(channels(&json).unwrap_err()), field, "{json}");
        }
        let ok = channels(&format!(
            r#"{{"twilio": {{"account_sid": "{sid}", "from_number": "+14155550100", "whatsapp_from": null}}, "whatsapp_cloud": null}}"#
        ))
        .unwrap();
        let twilio = ok.twilio.unwrap().unwrap();
        assert_eq!(twilio.account_sid.as_deref(), Some(sid.as_str()));
        assert_eq!(twilio.whatsapp_from, Some(None));
        assert_eq!(twilio.auth_token, None);
        assert_eq!(ok.whatsapp_cloud, Some(None));
    }

    #[test]
    fn ai_settings_are_checked_and_the_base_url_loses_its_slash() {
        let parse = |json: &str| serde_json::from_str::<AiRequest>(json).unwrap().parse();
        for (json, field) in [
            (r#"{"base_url": "ftp://models.example"}"#, "ai.base_url"),
            (r#"{"base_url": "localhost:11434"}"#, "ai.base_url"),
            (r#"{"base_url": "https://x.example/v1?k=1"}"#, "ai.base_url"),
            (r#"{"model": "  "}"#, "ai.model"),
            (r#"{"api_key": ""}"#, "ai.api_key"),
        ] {
            assert_eq!(field_of(parse(json).unwrap_err()), field, "{json}");
        }
        let long_model = format!(r#"{{"model": "{}"}}"#, "m".repeat(201));
        assert_eq!(field_of(parse(&long_model).unwrap_err()), "ai.model");
        let ok = parse(r#"{"base_url": "http://127.0.0.1:11434/v1/", "api_key": null}"#).unwrap();
        assert_eq!(ok.base_url.as_deref(), Some("http://127.0.0.1:11434/v1"));
        assert_eq!(ok.api_key, Some(None));
        assert_eq!(ok.model, None);
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let body: ChannelsRequest = serde_json::from_str(
            r#"{"twilio": {"auth_token": "tw-secret"}, "whatsapp_cloud": {"access_token": "wa-secret", "app_secret": "app-secret", "verify_token": "vt-secret"}}"#,
        )
        .unwrap();
        let ai: AiRequest = serde_json::from_str(r#"{"api_key": "sk-secret"}"#).unwrap();
        let shown = format!("{body:?} {ai:?}");
        for secret in [
            "tw-secret",
            "wa-secret",
            "app-secret",
            "vt-secret",
            "sk-secret",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
