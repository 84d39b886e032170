//! The rows the conversations projection keeps, as stored: JSON field names are the column
//! names, so a row reads back with `to_jsonb` and writes column-wise.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `direction` of a message the lead wrote.
pub const INBOUND: &str = "inbound";
/// `direction` of a message to the lead.
pub const OUTBOUND: &str = "outbound";
/// `status` of every inbound message.
pub const RECEIVED: &str = "received";
/// `outcome` of an AI turn that answered.
pub const ANSWERED: &str = "answered";
/// `outcome` of an AI attempt that gave no usable answer.
pub const FAILED: &str = "failed";
/// `outcome` of a follow-up the AI wrote: no inbound message is answered, so the row is keyed
/// by the follow-up itself (`in_reply_to` = `reply_message_id` = the follow-up's id), `intent`
/// and `answers` are empty, and `error` says why the rules engine wrote it instead of the model.
pub const FOLLOW_UP: &str = "follow_up";

/// A conversation: one lead on one channel (a row of `threads`; JSON names are the columns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadRow {
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The lead.
    pub lead_id: Uuid,
    /// `sms` or `whatsapp`.
    pub channel: String,
    /// A human has the conversation; the AI stays silent.
    pub handed_off: bool,
    /// Why it was handed off (while it is).
    pub handed_off_reason: Option<String>,
    /// When it was handed off (while it is).
    pub handed_off_at: Option<DateTime<Utc>>,
    /// When the tenant was told about the current handoff.
    pub handoff_notified_at: Option<DateTime<Utc>>,
    /// When the lead last wrote (opens WhatsApp's 24-hour window).
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// When a message to the lead was last accepted by the provider.
    pub last_outbound_at: Option<DateTime<Utc>>,
    /// Messages from the lead.
    pub inbound_messages: i32,
    /// Messages to the lead, whatever became of them.
    pub outbound_messages: i32,
    /// When the conversation started.
    pub started_at: DateTime<Utc>,
    /// Aggregate sequence of the last event applied.
    pub version: i64,
}

/// One message, either way (a row of `messages`; JSON names are the columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRow {
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Our id of the message.
    pub message_id: Uuid,
    /// The lead.
    pub lead_id: Uuid,
    /// `sms` or `whatsapp`.
    pub channel: String,
    /// [`INBOUND`] or [`OUTBOUND`].
    pub direction: String,
    /// The text; a template's preview for templates.
    pub body: String,
    /// What an outbound message carries (`MessageContent` as stored in events).
    pub content: Option<serde_json::Value>,
    /// Why an outbound message was queued (`MessageOrigin` wire name).
    pub origin: Option<String>,
    /// [`RECEIVED`] for inbound messages, else the `DeliveryStatus` wire name.
    pub status: String,
    /// The provider that delivered (inbound) or accepted (outbound) it.
    pub provider: Option<String>,
    /// The provider's id of the message.
    pub provider_message_id: Option<String>,
    /// The provider's error code of the last failure.
    pub error_code: Option<String>,
    /// What went wrong last.
    pub error: Option<String>,
    /// Why sending failed for good (`window_closed`, `gave_up`, …) or the message was cancelled.
    pub reason: Option<String>,
    /// Failed send attempts since it was last queued.
    pub attempts: i32,
    /// When it was received (inbound) or queued (outbound).
    pub created_at: DateTime<Utc>,
    /// Accepted by the provider.
    pub sent_at: Option<DateTime<Utc>>,
    /// Reached the handset.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Read by the lead.
    pub read_at: Option<DateTime<Utc>>,
    /// Failed (refused, given up, undelivered).
    pub failed_at: Option<DateTime<Utc>>,
    /// Withdrawn before sending.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// What the provider charged, in micro-units of `price_currency` (Twilio).
    pub price_micros: Option<i64>,
    /// ISO 4217 code of `price_micros`.
    pub price_currency: Option<String>,
    /// Whether the provider bills the message (WhatsApp).
    pub billable: Option<bool>,
    /// The provider's billing category, lower case (WhatsApp: `service`, `utility`, …).
    pub billing_category: Option<String>,
}

/// One answer of the conversation model, one failed attempt at it, or one follow-up it wrote (a
/// row of `ai_turns`; every row with a cost is AI spend).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiTurnRow {
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The inbound message answered ([`FOLLOW_UP`]: the follow-up written).
    pub in_reply_to: Uuid,
    /// The conversation's sequence of the event (orders a message's attempts).
    pub seq: i64,
    /// The lead.
    pub lead_id: Uuid,
    /// `sms` or `whatsapp`.
    pub channel: String,
    /// [`ANSWERED`], [`FAILED`] or [`FOLLOW_UP`].
    pub outcome: String,
    /// `rules` or the provider's engine (answers, follow-ups).
    pub engine: Option<String>,
    /// The model (answers; empty for the rules engine).
    pub model: Option<String>,
    /// Prompt tokens, cached ones included.
    pub input_tokens: Option<i64>,
    /// Prompt tokens served from the provider's cache.
    pub cached_input_tokens: Option<i64>,
    /// Completion tokens.
    pub output_tokens: Option<i64>,
    /// Cost in micro-USD.
    pub cost_micros: Option<i64>,
    /// The price table version that priced it.
    pub price_version: Option<String>,
    /// How long the model took.
    pub latency_ms: Option<i64>,
    /// What the lead's message meant (`Intent` wire name).
    pub intent: Option<String>,
    /// Qualification answers found, by question key (a JSON object).
    pub answers: Option<serde_json::Value>,
    /// The reply queued with the turn.
    pub reply_message_id: Option<Uuid>,
    /// Which attempt failed, from 1 (failures).
    pub attempt: Option<i32>,
    /// What went wrong (failures; on a follow-up, the model failure the rules engine made up
    /// for).
    pub error: Option<String>,
    /// When the model is tried again; `None` on a failure: given up.
    pub retry_at: Option<DateTime<Utc>>,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}
