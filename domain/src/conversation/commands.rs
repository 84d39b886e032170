//! What can be asked of a conversation. Every command that may open the conversation names its
//! lead and channel, so the first one starts it; times come from the caller's clock.

use chrono::{DateTime, Utc};

use crate::values::{AppointmentId, LeadId, MessageId};
use crate::Channel;

use super::{
    AiFollowUp, AiTurn, DeliveryStatus, MessageContent, MessageOrigin, MessagePricing, SlotOffer,
};

/// A command for the Conversation aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum ConversationCommand {
    /// Record a message from the lead; a provider id already seen records nothing.
    ReceiveInbound {
        /// The lead.
        lead_id: LeadId,
        /// The channel.
        channel: Channel,
        /// Our id for the message.
        message_id: MessageId,
        /// The provider that delivered it.
        provider: String,
        /// The provider's id: the deduplication key.
        provider_message_id: String,
        /// The text.
        body: String,
        /// When it arrived.
        received_at: DateTime<Utc>,
        /// Whether the AI should answer (the caller knows the lead and workflow); the
        /// conversation adds its own condition: not handed off.
        engage_ai: bool,
    },
    /// Put a message in the outbox.
    QueueOutbound {
        /// The lead.
        lead_id: LeadId,
        /// The channel.
        channel: Channel,
        /// Our id (and idempotency key).
        message_id: MessageId,
        /// What to send.
        content: MessageContent,
        /// Why.
        origin: MessageOrigin,
        /// Now.
        now: DateTime<Utc>,
    },
    /// The provider accepted a message.
    RecordSent {
        /// The message.
        message_id: MessageId,
        /// The provider.
        provider: String,
        /// The provider's id.
        provider_message_id: String,
        /// When.
        sent_at: DateTime<Utc>,
    },
    /// A send attempt failed transiently; try again at `retry_at`.
    RecordSendAttemptFailed {
        /// The message.
        message_id: MessageId,
        /// The provider's code.
        code: Option<String>,
        /// What went wrong.
        error: String,
        /// When to try again.
        retry_at: DateTime<Utc>,
    },
    /// The message may not go out now (outside the recipient's sending window): try at `until`.
    DeferSend {
        /// The message.
        message_id: MessageId,
        /// When the window opens.
        until: DateTime<Utc>,
    },
    /// Sending failed for good.
    RecordFailed {
        /// The message.
        message_id: MessageId,
        /// The provider's code.
        code: Option<String>,
        /// What went wrong.
        error: String,
        /// The kind of failure (see the event).
        reason: String,
        /// When.
        failed_at: DateTime<Utc>,
    },
    /// A provider's status report; only a further status is recorded.
    RecordDeliveryStatus {
        /// The message.
        message_id: MessageId,
        /// The reported status.
        status: DeliveryStatus,
        /// When the provider reported it.
        at: DateTime<Utc>,
        /// The provider's error code.
        error_code: Option<String>,
    },
    /// A provider's pricing of a message; only the first report that carries any is recorded.
    RecordMessagePrice {
        /// The message.
        message_id: MessageId,
        /// The provider that reported it.
        provider: String,
        /// What it reported (an empty report records nothing).
        pricing: MessagePricing,
        /// When.
        at: DateTime<Utc>,
    },
    /// Withdraw one queued message.
    CancelMessage {
        /// The message.
        message_id: MessageId,
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Withdraw every queued message and any expected AI reply (opt-out).
    CancelPending {
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Send a failed message again.
    RetryMessage {
        /// The message.
        message_id: MessageId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record the model's answer and queue its reply, if any.
    RecordAiTurn {
        /// The turn (its `reply_message_id` names the reply when there is one).
        turn: AiTurn,
        /// The reply to queue.
        reply: Option<MessageContent>,
    },
    /// Record what writing a queued follow-up cost (once per message; the message must be a
    /// follow-up of this conversation).
    RecordAiFollowUp {
        /// The follow-up, naming its message.
        follow_up: AiFollowUp,
    },
    /// The model gave no usable answer.
    RecordAiFailure {
        /// The inbound message being answered.
        in_reply_to: MessageId,
        /// What went wrong.
        error: String,
        /// When to try again; `None` gives up.
        retry_at: Option<DateTime<Utc>>,
    },
    /// The AI will not answer this message after all.
    SkipAiReply {
        /// The inbound message.
        in_reply_to: MessageId,
        /// Why.
        reason: String,
    },
    /// A human takes over (no event if already handed off).
    HandOff {
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The tenant was told about the handoff (no event unless a handoff awaits its notice).
    RecordHandoffNotified {
        /// Where the notice went (`sms:+44…`, `webhook`).
        notified: Vec<String>,
        /// Where it could not go, with why.
        failed: Vec<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The AI may answer again (no event if not handed off).
    ResumeAi {
        /// When.
        at: DateTime<Utc>,
    },
    /// Offer appointment times in an outbound message of this conversation (1 to
    /// [`super::MAX_OFFERED_SLOTS`] well-formed times); replaces the earlier offer.
    OfferSlots {
        /// The times, in the order the message lists them.
        slots: Vec<SlotOffer>,
        /// The message that lists them (queued before, in this conversation).
        message_id: MessageId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record that the lead booked an appointment here: the offer is used up.
    RecordBooking {
        /// The appointment booked.
        appointment_id: AppointmentId,
        /// When it starts.
        start: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
}
