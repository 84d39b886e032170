//! The message channel port: hand one outbound message to a provider (Twilio, WhatsApp Cloud
//! API, or the built-in sandbox) and learn what it said. The outbox calls it; adapters live in
//! `infrastructure::channels`.

use std::time::Duration;

use async_trait::async_trait;
use domain::conversation::MessageContent;
use domain::values::{MessageId, PhoneNumber, TenantId};
use domain::Channel;

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    /// The tenant sending it.
    pub tenant_id: TenantId,
    /// Our id of the message: the idempotency key (an adapter that can pass one on does).
    pub message_id: MessageId,
    /// SMS or WhatsApp.
    pub channel: Channel,
    /// The recipient, E.164.
    pub to: PhoneNumber,
    /// What to send.
    pub content: MessageContent,
    /// Where the provider should report delivery statuses, if it reports by callback URL.
    pub status_callback: Option<String>,
}

/// What the provider answered to an accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// Which provider took it (`twilio`, `whatsapp_cloud`, `sandbox`).
    pub provider: &'static str,
    /// The provider's id of the message (Twilio `SM…`, WhatsApp `wamid.…`): status callbacks
    /// name it.
    pub provider_message_id: String,
    /// True when the provider already knows the message reached the lead (the sandbox does).
    pub delivered: bool,
}

/// Why a permanent failure will not go away by trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermanentFailure {
    /// The recipient unsubscribed at the provider (Twilio 21610): the lead is opted out.
    Unsubscribed,
    /// The number cannot receive messages (invalid, landline, not on WhatsApp).
    InvalidNumber,
    /// WhatsApp's 24-hour window is closed for free text (131047 / 63016).
    WindowClosed,
    /// The recipient blocked the sender (63014).
    Blocked,
    /// Our credentials or request were refused (auth, configuration, validation).
    Refused,
}

impl PermanentFailure {
    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unsubscribed => "unsubscribed",
            Self::InvalidNumber => "invalid_number",
            Self::WindowClosed => "window_closed",
            Self::Blocked => "blocked",
            Self::Refused => "refused",
        }
    }
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: network trouble, timeouts, 5xx, 429.
    #[error("transient provider error {code:?}: {message}")]
    Transient {
        /// The provider's error code or HTTP status, if any.
        code: Option<String>,
        /// What went wrong.
        message: String,
        /// The provider's `Retry-After`, if it gave one.
        retry_after: Option<Duration>,
    },
    /// Trying again will not help.
    #[error("permanent provider error {code:?} ({}): {message}", kind.as_str())]
    Permanent {
        /// What kind of refusal.
        kind: PermanentFailure,
        /// The provider's error code, if any.
        code: Option<String>,
        /// What went wrong.
        message: String,
    },
}

/// A provider that sends messages.
#[async_trait]
pub trait MessageChannel: Send + Sync + std::fmt::Debug {
    /// The provider's name, as recorded on sent messages.
    fn provider(&self) -> &'static str;

    /// Sends one message.
    async fn send(&self, request: &OutboundRequest) -> Result<SendReceipt, SendError>;
}
