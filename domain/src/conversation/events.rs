//! Everything that can happen in a conversation, in the past tense. Persisted: never rename a
//! variant or a field; add a new version instead. Times are the command's clock, so replays and
//! read models agree with what the business saw.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::values::{AppointmentId, LeadId, MessageId};
use crate::Channel;

use super::{DeliveryStatus, Intent, MessageContent, MessageOrigin, SlotOffer};

/// One answer of the conversation model, with what it cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiTurn {
    /// The inbound message answered.
    pub in_reply_to: MessageId,
    /// `rules`, or the provider's engine name.
    pub engine: String,
    /// The model that answered (empty for the rules engine).
    pub model: String,
    /// Prompt tokens, cached ones included.
    pub input_tokens: u32,
    /// Prompt tokens served from the provider's cache.
    pub cached_input_tokens: u32,
    /// Completion tokens.
    pub output_tokens: u32,
    /// Cost in micro-USD, exact.
    pub cost_micros: i64,
    /// The price table version that priced it.
    pub price_version: String,
    /// How long the model took, in milliseconds.
    pub latency_ms: u64,
    /// What the lead's message meant.
    pub intent: Intent,
    /// Qualification answers found, by question key.
    pub answers: BTreeMap<String, String>,
    /// The reply queued with the turn, if any.
    pub reply_message_id: Option<MessageId>,
    /// When the turn was recorded.
    pub at: DateTime<Utc>,
}

/// A follow-up the conversation model wrote (or the rules engine, when the model failed), with
/// what it cost: AI spend that answers no inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiFollowUp {
    /// The follow-up message, queued in the same transaction (origin `follow_up`).
    pub message_id: MessageId,
    /// Which follow-up of the workflow's sequence, from 1.
    pub number: u32,
    /// How many the sequence has.
    pub of: u32,
    /// `rules`, or the provider's engine name.
    pub engine: String,
    /// The model that wrote it (empty for the rules engine).
    pub model: String,
    /// Prompt tokens, cached ones included.
    pub input_tokens: u32,
    /// Prompt tokens served from the provider's cache.
    pub cached_input_tokens: u32,
    /// Completion tokens.
    pub output_tokens: u32,
    /// Cost in micro-USD, exact.
    pub cost_micros: i64,
    /// The price table version that priced it (empty for the rules engine).
    pub price_version: String,
    /// How long the engine that wrote it took, in milliseconds.
    pub latency_ms: u64,
    /// Why the rules engine wrote it although the workflow asked the tenant's model (the
    /// model's error, timeout or unusable answer); `None` when the configured engine wrote it.
    pub fallback_reason: Option<String>,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// An event of the Conversation aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConversationEvent {
    /// The first message, either way, opened the conversation.
    ConversationStarted {
        /// The lead.
        lead_id: LeadId,
        /// The channel.
        channel: Channel,
    },
    /// The lead wrote to us.
    InboundMessageReceived {
        /// Our id of the message.
        message_id: MessageId,
        /// Which provider delivered it (`twilio`, `whatsapp_cloud`, `sandbox`).
        provider: String,
        /// The provider's id (`MessageSid`, `wamid.…`): the deduplication key.
        provider_message_id: String,
        /// What the lead wrote.
        body: String,
        /// When it arrived.
        received_at: DateTime<Utc>,
        /// Whether the AI is to answer it.
        ai_reply_expected: bool,
    },
    /// A message is waiting in the outbox.
    OutboundMessageQueued {
        /// Our id: also the idempotency key.
        message_id: MessageId,
        /// What to send.
        content: MessageContent,
        /// Why.
        origin: MessageOrigin,
        /// When.
        queued_at: DateTime<Utc>,
    },
    /// A send attempt failed in a way worth retrying.
    OutboundSendAttemptFailed {
        /// The message.
        message_id: MessageId,
        /// Which attempt, from 1.
        attempt: u32,
        /// The provider's code, if any.
        code: Option<String>,
        /// What went wrong.
        error: String,
        /// When to try again.
        retry_at: DateTime<Utc>,
    },
    /// The message waits for the recipient's sending window to open.
    OutboundSendDeferred {
        /// The message.
        message_id: MessageId,
        /// When the window opens.
        until: DateTime<Utc>,
    },
    /// The provider accepted the message.
    OutboundMessageSent {
        /// The message.
        message_id: MessageId,
        /// The provider.
        provider: String,
        /// The provider's id of the message (status callbacks name it).
        provider_message_id: String,
        /// Why the message was queued (so reports need not look it up).
        origin: MessageOrigin,
        /// When.
        sent_at: DateTime<Utc>,
    },
    /// Sending failed for good.
    OutboundMessageFailed {
        /// The message.
        message_id: MessageId,
        /// The provider's code, if any.
        code: Option<String>,
        /// What went wrong.
        error: String,
        /// `unsubscribed`, `invalid_number`, `window_closed`, `blocked`, `refused`, `gave_up`, `no_phone`.
        reason: String,
        /// When.
        failed_at: DateTime<Utc>,
    },
    /// The provider reported how far a sent message got (only ever further).
    OutboundMessageStatusUpdated {
        /// The message.
        message_id: MessageId,
        /// The new status.
        status: DeliveryStatus,
        /// When the provider reported it.
        at: DateTime<Utc>,
        /// The provider's error code (undelivered/failed).
        error_code: Option<String>,
    },
    /// A provider reported what an outbound message costs, or how it is billed.
    OutboundMessagePriced {
        /// The message.
        message_id: MessageId,
        /// The provider that reported it (`twilio`, `whatsapp_cloud`).
        provider: String,
        /// The price in micro-units of `currency`, as a positive number (Twilio's "-0.00750" is 7500); `None` when the report carries no amount (WhatsApp).
        amount_micros: Option<i64>,
        /// ISO 4217 code, upper case, with the amount.
        currency: Option<String>,
        /// Whether the provider bills the message (WhatsApp `pricing.billable`).
        billable: Option<bool>,
        /// The provider's billing category, lower case (WhatsApp `pricing.category`: `service`, `utility`, `marketing`, `authentication`, ...).
        category: Option<String>,
        /// When it was recorded.
        at: DateTime<Utc>,
    },
    /// A queued message was withdrawn before it was sent.
    OutboundMessageCancelled {
        /// The message.
        message_id: MessageId,
        /// Why (`opted_out`, …).
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// An operator asked to send a failed message again.
    OutboundMessageRequeued {
        /// The message.
        message_id: MessageId,
        /// When.
        at: DateTime<Utc>,
    },
    /// The conversation model answered an inbound message.
    AiTurnRecorded(AiTurn),
    /// The AI wrote a follow-up (queued just before, in the same transaction).
    AiFollowUpWritten(AiFollowUp),
    /// The conversation model gave no usable answer.
    AiTurnFailed {
        /// The inbound message being answered.
        in_reply_to: MessageId,
        /// Which attempt, from 1.
        attempt: u32,
        /// What went wrong.
        error: String,
        /// When to try again; `None`: given up (the conversation is handed off).
        retry_at: Option<DateTime<Utc>>,
    },
    /// An expected AI reply will not be written (the lead opted out meanwhile, …).
    AiReplySkipped {
        /// The inbound message that will not be answered by the AI.
        in_reply_to: MessageId,
        /// Why.
        reason: String,
    },
    /// A human took over: the AI stays silent until resumed.
    ConversationHandedOff {
        /// Why (`human_request`, `ai_unavailable`, `operator`, …).
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The tenant's admin contact was told about the handoff.
    HandoffNotified {
        /// Where the notice went (`sms:+44…`, `webhook`).
        notified: Vec<String>,
        /// Where it could not go, with why.
        failed: Vec<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The AI may answer again.
    AiResumed {
        /// When.
        at: DateTime<Utc>,
    },
    /// Appointment times were offered to the lead in `message_id`; they replace any earlier offer.
    AppointmentSlotsOffered {
        /// The times, in the order they were listed.
        slots: Vec<SlotOffer>,
        /// The outbound message that lists them.
        message_id: MessageId,
        /// When.
        at: DateTime<Utc>,
    },
    /// The lead booked an appointment in the conversation; the offer is used up.
    AppointmentBookedInConversation {
        /// The appointment booked.
        appointment_id: AppointmentId,
        /// When it starts.
        start: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for ConversationEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ConversationStarted { .. } => "ConversationStarted",
            Self::InboundMessageReceived { .. } => "InboundMessageReceived",
            Self::OutboundMessageQueued { .. } => "OutboundMessageQueued",
            Self::OutboundSendAttemptFailed { .. } => "OutboundSendAttemptFailed",
            Self::OutboundSendDeferred { .. } => "OutboundSendDeferred",
            Self::OutboundMessageSent { .. } => "OutboundMessageSent",
            Self::OutboundMessageFailed { .. } => "OutboundMessageFailed",
            Self::OutboundMessageStatusUpdated { .. } => "OutboundMessageStatusUpdated",
            Self::OutboundMessagePriced { .. } => "OutboundMessagePriced",
            Self::OutboundMessageCancelled { .. } => "OutboundMessageCancelled",
            Self::OutboundMessageRequeued { .. } => "OutboundMessageRequeued",
            Self::AiTurnRecorded(_) => "AiTurnRecorded",
            Self::AiFollowUpWritten(_) => "AiFollowUpWritten",
            Self::AiTurnFailed { .. } => "AiTurnFailed",
            Self::AiReplySkipped { .. } => "AiReplySkipped",
            Self::ConversationHandedOff { .. } => "ConversationHandedOff",
            Self::HandoffNotified { .. } => "HandoffNotified",
            Self::AiResumed { .. } => "AiResumed",
            Self::AppointmentSlotsOffered { .. } => "AppointmentSlotsOffered",
            Self::AppointmentBookedInConversation { .. } => "AppointmentBookedInConversation",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
