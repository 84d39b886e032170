//! The Conversation aggregate: everything said between a lead and the business on one channel.
//! It guards what must hold whatever the provider does: an inbound message is recorded once per
//! provider id however often the webhook is retried; an outbound message's status only moves
//! forward; WhatsApp free text only inside the 24-hour window; one AI answer per inbound message,
//! and none while a human has the conversation.
//!
//! Deciding lives in `handle.rs`; this file holds the state and how events change it. Supporting
//! policies sit beside it: `keywords.rs` (STOP/START/HELP), `qualification.rs`, `message.rs`.

mod commands;
mod errors;
mod events;
mod handle;
mod id;
pub mod intent;
pub mod keywords;
pub mod message;
mod pricing;
pub mod qualification;
mod slots;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::values::{LeadId, MessageId, Price};
use crate::Channel;

pub use commands::ConversationCommand;
pub use errors::ConversationError;
pub use events::{AiFollowUp, AiTurn, ConversationEvent};
pub use id::ConversationId;
pub use intent::Intent;
pub use keywords::Keyword;
pub use message::{DeliveryStatus, MessageContent, MessageOrigin, MAX_BODY_LEN};
pub use pricing::MessagePricing;
pub use qualification::{evaluate as evaluate_qualification, Qualification};
pub use slots::{SlotOffer, MAX_OFFERED_SLOTS, MAX_SLOT_LABEL_LEN};

/// How long after the lead's last message WhatsApp accepts free text.
pub const WHATSAPP_WINDOW_HOURS: i64 = 24;

/// An outbound message as the conversation tracks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// What to send.
    pub content: MessageContent,
    /// Why it was queued.
    pub origin: MessageOrigin,
    /// How far it got.
    pub status: DeliveryStatus,
    /// Failed attempts so far (reset by a retry).
    pub failed_attempts: u32,
    /// How many times an operator sent it again after it failed (`OutboundMessageRequeued`);
    /// with `failed_attempts` it names each send attempt.
    #[serde(default)]
    pub requeues: u32,
    /// The provider's id once sent.
    pub provider_message_id: Option<String>,
    /// What the provider first said the message costs or how it bills it.
    #[serde(default)]
    pub pricing: Option<MessagePricing>,
}

/// Who wrote a line of the transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// From the lead.
    Inbound,
    /// To the lead.
    Outbound,
}

/// One line of the transcript, for the conversation model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// Which way.
    pub direction: Direction,
    /// The message.
    pub message_id: MessageId,
    /// The text (a template's preview for templates).
    pub text: String,
    /// When it was received or queued.
    pub at: DateTime<Utc>,
}

/// The state of a conversation, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// The lead and channel, once started.
    started: Option<(LeadId, Channel)>,
    /// Provider ids of inbound messages seen (`provider:id`).
    inbound_seen: HashSet<String>,
    /// Outbound messages by id.
    outbound: BTreeMap<MessageId, OutboundMessage>,
    /// Every line, in order.
    transcript: Vec<TranscriptLine>,
    /// When the lead last wrote.
    last_inbound_at: Option<DateTime<Utc>>,
    /// The inbound message the AI is expected to answer.
    pending_reply: Option<MessageId>,
    /// Failed model attempts on `pending_reply`.
    ai_attempts: u32,
    /// A human has the conversation.
    handed_off: bool,
    /// Why, while handed off.
    #[serde(default)]
    handoff_reason: Option<String>,
    /// Whether the tenant was told about the current handoff.
    #[serde(default)]
    handoff_notified: bool,
    /// Follow-up messages whose writing by the AI is recorded.
    #[serde(default)]
    ai_follow_ups: HashSet<MessageId>,
    /// The appointment times last offered and not yet taken.
    #[serde(default)]
    offered_slots: Vec<SlotOffer>,
}

impl Conversation {
    /// The lead and channel, if the conversation has started.
    #[must_use]
    pub const fn started(&self) -> Option<(LeadId, Channel)> {
        self.started
    }

    /// An outbound message.
    #[must_use]
    pub fn outbound(&self, id: MessageId) -> Option<&OutboundMessage> {
        self.outbound.get(&id)
    }

    /// Every line, oldest first.
    #[must_use]
    pub fn transcript(&self) -> &[TranscriptLine] {
        &self.transcript
    }

    /// When the lead last wrote.
    #[must_use]
    pub const fn last_inbound_at(&self) -> Option<DateTime<Utc>> {
        self.last_inbound_at
    }

    /// Whether WhatsApp would accept free text at `now`: less than 24 hours since the lead's
    /// last message (exactly 24 hours later it is closed).
    #[must_use]
    pub fn window_open(&self, now: DateTime<Utc>) -> bool {
        self.last_inbound_at
            .is_some_and(|last| now < last + Duration::hours(WHATSAPP_WINDOW_HOURS))
    }

    /// The inbound message the AI should answer now, if any.
    #[must_use]
    pub const fn pending_reply(&self) -> Option<MessageId> {
        self.pending_reply
    }

    /// Failed model attempts on the pending reply.
    #[must_use]
    pub const fn ai_attempts(&self) -> u32 {
        self.ai_attempts
    }

    /// Whether a human has the conversation.
    #[must_use]
    pub const fn is_handed_off(&self) -> bool {
        self.handed_off
    }

    /// Why the conversation was handed off, while it is.
    #[must_use]
    pub fn handoff_reason(&self) -> Option<&str> {
        self.handoff_reason.as_deref()
    }

    /// Whether a handoff awaits its notice to the tenant.
    #[must_use]
    pub const fn handoff_notice_due(&self) -> bool {
        self.handed_off && !self.handoff_notified
    }

    /// Every outbound message, in id order.
    pub fn outbound_messages(&self) -> impl Iterator<Item = &OutboundMessage> {
        self.outbound.values()
    }

    /// The appointment times last offered to the lead and not yet booked, in offer order.
    #[must_use]
    pub fn offered_slots(&self) -> &[SlotOffer] {
        &self.offered_slots
    }

    /// Ids of the messages still waiting in the outbox.
    #[must_use]
    pub fn queued_messages(&self) -> Vec<MessageId> {
        self.outbound
            .iter()
            .filter(|(_, m)| m.status == DeliveryStatus::Queued)
            .map(|(id, _)| *id)
            .collect()
    }
}

impl Aggregate for Conversation {
    const TYPE: &'static str = "conversation";
    type Command = ConversationCommand;
    type Event = ConversationEvent;
    type Error = ConversationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _service: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ConversationEvent::ConversationStarted { lead_id, channel } => {
                self.started = Some((lead_id, channel));
            }
            ConversationEvent::InboundMessageReceived {
                message_id,
                provider,
                provider_message_id,
                body,
                received_at,
                ai_reply_expected,
            } => {
                self.inbound_seen
                    .insert(format!("{provider}:{provider_message_id}"));
                self.transcript.push(TranscriptLine {
                    direction: Direction::Inbound,
                    message_id,
                    text: body,
                    at: received_at,
                });
                self.last_inbound_at = Some(
                    self.last_inbound_at
                        .map_or(received_at, |last| last.max(received_at)),
                );
                if ai_reply_expected {
                    self.pending_reply = Some(message_id);
                    self.ai_attempts = 0;
                }
            }
            ConversationEvent::OutboundMessageQueued {
                message_id,
                content,
                origin,
                queued_at,
            } => {
                self.transcript.push(TranscriptLine {
                    direction: Direction::Outbound,
                    message_id,
                    text: content.preview(),
                    at: queued_at,
                });
                self.outbound.insert(
                    message_id,
                    OutboundMessage {
                        content,
                        origin,
                        status: DeliveryStatus::Queued,
                        failed_attempts: 0,
                        requeues: 0,
                        provider_message_id: None,
                        pricing: None,
                    },
                );
            }
            ConversationEvent::OutboundSendDeferred { .. } => {}
            ConversationEvent::OutboundSendAttemptFailed { message_id, .. } => {
                if let Some(message) = self.outbound.get_mut(&message_id) {
                    message.failed_attempts += 1;
                }
            }
            ConversationEvent::OutboundMessageSent {
                message_id,
                provider_message_id,
                ..
            } => {
                if let Some(message) = self.outbound.get_mut(&message_id) {
                    message.status = DeliveryStatus::Sent;
                    message.provider_message_id = Some(provider_message_id);
                }
            }
            ConversationEvent::OutboundMessageFailed { message_id, .. } => {
                self.set_status(message_id, DeliveryStatus::Failed);
            }
            ConversationEvent::OutboundMessageStatusUpdated {
                message_id, status, ..
            } => self.set_status(message_id, status),
            ConversationEvent::OutboundMessagePriced {
                message_id,
                amount_micros,
                currency,
                billable,
                category,
                ..
            } => {
                if let Some(message) = self.outbound.get_mut(&message_id) {
                    let price = amount_micros
                        .zip(currency)
                        .and_then(|(micros, code)| Price::from_micros(micros, &code).ok());
                    let pricing = MessagePricing::new(price, billable, category.as_deref());
                    message.pricing = Some(pricing);
                }
            }
            ConversationEvent::OutboundMessageCancelled { message_id, .. } => {
                self.set_status(message_id, DeliveryStatus::Cancelled);
            }
            ConversationEvent::OutboundMessageRequeued { message_id, .. } => {
                if let Some(message) = self.outbound.get_mut(&message_id) {
                    message.status = DeliveryStatus::Queued;
                    message.failed_attempts = 0;
                    message.requeues = message.requeues.saturating_add(1);
                    // Reports about the earlier send no longer concern this message, and the
                    // new send is priced on its own.
                    message.provider_message_id = None;
                    message.pricing = None;
                }
            }
            ConversationEvent::AiTurnRecorded(turn) => {
                if self.pending_reply == Some(turn.in_reply_to) {
                    self.pending_reply = None;
                    self.ai_attempts = 0;
                }
            }
            ConversationEvent::AiTurnFailed {
                in_reply_to,
                retry_at,
                ..
            } => {
                if self.pending_reply == Some(in_reply_to) {
                    self.ai_attempts += 1;
                    if retry_at.is_none() {
                        self.pending_reply = None;
                    }
                }
            }
            ConversationEvent::AiFollowUpWritten(follow_up) => {
                self.ai_follow_ups.insert(follow_up.message_id);
            }
            ConversationEvent::AiReplySkipped { in_reply_to, .. } => {
                if self.pending_reply == Some(in_reply_to) {
                    self.pending_reply = None;
                }
            }
            ConversationEvent::ConversationHandedOff { reason, .. } => {
                self.handed_off = true;
                self.handoff_reason = Some(reason);
                self.handoff_notified = false;
                self.pending_reply = None;
            }
            ConversationEvent::HandoffNotified { .. } => self.handoff_notified = true,
            ConversationEvent::AiResumed { .. } => {
                self.handed_off = false;
                self.handoff_reason = None;
            }
            ConversationEvent::AppointmentSlotsOffered { slots, .. } => self.offered_slots = slots,
            ConversationEvent::AppointmentBookedInConversation { .. } => {
                self.offered_slots.clear();
            }
        }
    }
}

impl Conversation {
    fn set_status(&mut self, message_id: MessageId, status: DeliveryStatus) {
        if let Some(message) = self.outbound.get_mut(&message_id) {
            message.status = status;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod requeue_tests {
    use super::*;

    fn failed(message_id: MessageId) -> ConversationEvent {
        ConversationEvent::OutboundMessageFailed {
            message_id,
            code: None,
            error: "gave up".into(),
            reason: "gave_up".into(),
            failed_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn each_requeue_is_counted_and_attempts_start_again() {
        let message_id = MessageId::new();
        let mut state = Conversation::default();
        state.apply(ConversationEvent::OutboundMessageQueued {
            message_id,
            content: MessageContent::text("Hello").unwrap(),
            origin: MessageOrigin::Operator,
            queued_at: DateTime::UNIX_EPOCH,
        });
        assert_eq!(state.outbound(message_id).unwrap().requeues, 0);
        for round in 1..=2 {
            state.apply(ConversationEvent::OutboundSendAttemptFailed {
                message_id,
                attempt: 1,
                code: None,
                error: "timeout".into(),
                retry_at: DateTime::UNIX_EPOCH,
            });
            state.apply(failed(message_id));
            state.apply(ConversationEvent::OutboundMessageRequeued {
                message_id,
                at: DateTime::UNIX_EPOCH,
            });
            let message = state.outbound(message_id).unwrap();
            assert_eq!((message.requeues, message.failed_attempts), (round, 0));
        }
    }

    #[test]
    fn a_message_stored_before_requeues_were_counted_reads_as_never_requeued() {
        let mut stored = serde_json::to_value(OutboundMessage {
            content: MessageContent::text("Hello").unwrap(),
            origin: MessageOrigin::Operator,
            status: DeliveryStatus::Queued,
            failed_attempts: 2,
            requeues: 7,
            provider_message_id: None,
            pricing: None,
        })
        .unwrap();
        stored.as_object_mut().unwrap().remove("requeues");
        let message: OutboundMessage = serde_json::from_value(stored).unwrap();
        assert_eq!((message.requeues, message.failed_attempts), (0, 2));
    }
}
