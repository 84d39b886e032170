//! A tenant's provider accounts, decrypted: what the channel adapters need to send and what the
//! webhooks need to check signatures. Stored encrypted in the tenant's row (see
//! [`crate::secrets`]); never logged (`Debug` hides the secrets).

use std::fmt;

/// A tenant's Twilio account.
#[derive(Clone, PartialEq, Eq)]
pub struct TwilioCredentials {
    /// `AC` + 32 hex digits.
    pub account_sid: String,
    /// The account's auth token: HTTP Basic password and webhook signing key. Secret.
    pub auth_token: String,
    /// The SMS sender, E.164.
    pub from_number: Option<String>,
    /// The WhatsApp sender, E.164 (sent as `whatsapp:+…`).
    pub whatsapp_from: Option<String>,
}

impl fmt::Debug for TwilioCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioCredentials")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<secret>")
            .field("from_number", &self.from_number)
            .field("whatsapp_from", &self.whatsapp_from)
            .finish()
    }
}

/// A tenant's WhatsApp Cloud API number.
#[derive(Clone, PartialEq, Eq)]
pub struct WhatsAppCloudCredentials {
    /// The business phone number's id in the Graph API.
    pub phone_number_id: String,
    /// A system-user access token (Bearer). Secret.
    pub access_token: String,
    /// The Meta app secret: the key of `X-Hub-Signature-256`. Secret.
    pub app_secret: String,
    /// What Meta must echo in the webhook verification handshake. Secret.
    pub verify_token: String,
}

impl fmt::Debug for WhatsAppCloudCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsAppCloudCredentials")
            .field("phone_number_id", &self.phone_number_id)
            .field("access_token", &"<secret>")
            .field("app_secret", &"<secret>")
            .field("verify_token", &"<secret>")
            .finish()
    }
}

/// Every provider account a tenant has configured. None: the sandbox channel is used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelCredentials {
    /// Twilio (SMS, and WhatsApp when `whatsapp_from` is set).
    pub twilio: Option<TwilioCredentials>,
    /// WhatsApp Cloud API (preferred over Twilio for WhatsApp when both are set).
    pub whatsapp_cloud: Option<WhatsAppCloudCredentials>,
}
