//! How the Conversation aggregate decides: a pure function from state and command to events.
//! Provider callbacks and webhooks are retried and reordered by nature, so a command that would
//! change nothing (a duplicate inbound, an older status, a cancel of a sent message) yields no
//! event rather than an error.

use chrono::{DateTime, Utc};

use crate::values::{LeadId, MessageId, Price};
use crate::Channel;

use super::{
    Conversation, ConversationCommand, ConversationError, ConversationEvent, DeliveryStatus,
    MessageContent, MessageOrigin, SlotOffer, MAX_OFFERED_SLOTS,
};

type Decision = Result<Vec<ConversationEvent>, ConversationError>;

impl Conversation {
    /// The events `command` produces from the current state.
    pub(super) fn decide(&self, command: ConversationCommand) -> Decision {
        match command {
            ConversationCommand::ReceiveInbound {
                lead_id,
                channel,
                message_id,
                provider,
                provider_message_id,
                body,
                received_at,
                engage_ai,
            } => {
                let mut events = self.start(lead_id, channel)?;
                if self
                    .inbound_seen
                    .contains(&format!("{provider}:{provider_message_id}"))
                {
                    return Ok(vec![]);
                }
                self.ensure_new_id(message_id)?;
                events.push(ConversationEvent::InboundMessageReceived {
                    message_id,
                    provider,
                    provider_message_id,
                    body,
                    received_at,
                    ai_reply_expected: engage_ai && !self.handed_off,
                });
                Ok(events)
            }
            ConversationCommand::QueueOutbound {
                lead_id,
                channel,
                message_id,
                content,
                origin,
                now,
            } => {
                let mut events = self.start(lead_id, channel)?;
                events.push(self.queue(channel, message_id, content, origin, now)?);
                Ok(events)
            }
            ConversationCommand::RecordSent {
                message_id,
                provider,
                provider_message_id,
                sent_at,
            } => {
                let origin = self.message(message_id)?.origin;
                self.if_queued(message_id, || ConversationEvent::OutboundMessageSent {
                    message_id,
                    provider,
                    provider_message_id,
                    origin,
                    sent_at,
                })
            }
            ConversationCommand::RecordSendAttemptFailed {
                message_id,
                code,
                error,
                retry_at,
            } => {
                let attempt = self.message(message_id)?.failed_attempts + 1;
                self.if_queued(message_id, || {
                    ConversationEvent::OutboundSendAttemptFailed {
                        message_id,
                        attempt,
                        code,
                        error,
                        retry_at,
                    }
                })
            }
            ConversationCommand::DeferSend { message_id, until } => {
                self.if_queued(message_id, || ConversationEvent::OutboundSendDeferred {
                    message_id,
                    until,
                })
            }
            ConversationCommand::RecordFailed {
                message_id,
                code,
                error,
                reason,
                failed_at,
            } => self.if_queued(message_id, || ConversationEvent::OutboundMessageFailed {
                message_id,
                code,
                error,
                reason,
                failed_at,
            }),
            ConversationCommand::RecordDeliveryStatus {
                message_id,
                status,
                at,
                error_code,
            } => {
                let message = self.message(message_id)?;
                let current = message.status;
                // Only a sent message has a delivery to report on; a queued one (never sent, or
                // sent again after a failure) waits for its own send.
                let moves_forward =
                    !matches!(current, DeliveryStatus::Cancelled | DeliveryStatus::Queued)
                        && status != DeliveryStatus::Cancelled
                        && status.rank() > current.rank();
                Ok(if moves_forward {
                    vec![ConversationEvent::OutboundMessageStatusUpdated {
                        message_id,
                        status,
                        at,
                        error_code,
                    }]
                } else {
                    vec![]
                })
            }
            ConversationCommand::RecordMessagePrice {
                message_id,
                provider,
                pricing,
                at,
            } => {
                // Providers repeat the pricing on later reports: the first one stands.
                if self.message(message_id)?.pricing.is_some() || pricing.is_empty() {
                    return Ok(vec![]);
                }
                Ok(vec![ConversationEvent::OutboundMessagePriced {
                    message_id,
                    provider,
                    amount_micros: pricing.price().map(Price::amount_micros),
                    currency: pricing.price().map(|price| price.currency().to_owned()),
                    billable: pricing.billable(),
                    category: pricing.category().map(str::to_owned),
                    at,
                }])
            }
            ConversationCommand::CancelMessage {
                message_id,
                reason,
                at,
            } => self.if_queued(message_id, || ConversationEvent::OutboundMessageCancelled {
                message_id,
                reason,
                at,
            }),
            ConversationCommand::CancelPending { reason, at } => {
                let mut events: Vec<ConversationEvent> = self
                    .queued_messages()
                    .into_iter()
                    .map(|message_id| ConversationEvent::OutboundMessageCancelled {
                        message_id,
                        reason: reason.clone(),
                        at,
                    })
                    .collect();
                if let Some(in_reply_to) = self.pending_reply {
                    events.push(ConversationEvent::AiReplySkipped {
                        in_reply_to,
                        reason,
                    });
                }
                Ok(events)
            }
            ConversationCommand::RetryMessage { message_id, at } => {
                let status = self.message(message_id)?.status;
                if status != DeliveryStatus::Failed {
                    return Err(ConversationError::NotRetryable(status));
                }
                Ok(vec![ConversationEvent::OutboundMessageRequeued {
                    message_id,
                    at,
                }])
            }
            ConversationCommand::RecordAiTurn { turn, reply } => {
                if self.handed_off {
                    return Err(ConversationError::AiPaused);
                }
                if self.pending_reply != Some(turn.in_reply_to) {
                    return Err(ConversationError::StaleReply);
                }
                let (_, channel) = self.started.ok_or(ConversationError::StaleReply)?;
                let mut events = Vec::with_capacity(2);
                let at = turn.at;
                let reply_id = turn.reply_message_id;
                events.push(ConversationEvent::AiTurnRecorded(turn));
                if let (Some(content), Some(message_id)) = (reply, reply_id) {
                    events.push(self.queue(channel, message_id, content, MessageOrigin::Ai, at)?);
                }
                Ok(events)
            }
            ConversationCommand::RecordAiFollowUp { follow_up } => {
                // Queued as a follow-up (and never recorded as written before): a command run
                // twice records once, and AI costs attach only to what they paid for.
                if self.message(follow_up.message_id)?.origin != MessageOrigin::FollowUp {
                    return Err(ConversationError::MessageNotFound);
                }
                Ok(if self.ai_follow_ups.contains(&follow_up.message_id) {
                    vec![]
                } else {
                    vec![ConversationEvent::AiFollowUpWritten(follow_up)]
                })
            }
            ConversationCommand::RecordAiFailure {
                in_reply_to,
                error,
                retry_at,
            } => {
                if self.pending_reply != Some(in_reply_to) {
                    return Ok(vec![]);
                }
                Ok(vec![ConversationEvent::AiTurnFailed {
                    in_reply_to,
                    attempt: self.ai_attempts + 1,
                    error,
                    retry_at,
                }])
            }
            ConversationCommand::SkipAiReply {
                in_reply_to,
                reason,
            } => Ok(if self.pending_reply == Some(in_reply_to) {
                vec![ConversationEvent::AiReplySkipped {
                    in_reply_to,
                    reason,
                }]
            } else {
                vec![]
            }),
            ConversationCommand::HandOff { reason, at } => Ok(if self.handed_off {
                vec![]
            } else {
                vec![ConversationEvent::ConversationHandedOff { reason, at }]
            }),
            ConversationCommand::RecordHandoffNotified {
                notified,
                failed,
                at,
            } => Ok(if self.handoff_notice_due() {
                vec![ConversationEvent::HandoffNotified {
                    notified,
                    failed,
                    at,
                }]
            } else {
                vec![]
            }),
            ConversationCommand::ResumeAi { at } => Ok(if self.handed_off {
                vec![ConversationEvent::AiResumed { at }]
            } else {
                vec![]
            }),
            ConversationCommand::OfferSlots {
                slots,
                message_id,
                at,
            } => {
                if slots.is_empty()
                    || slots.len() > MAX_OFFERED_SLOTS
                    || !slots.iter().all(SlotOffer::is_valid)
                {
                    return Err(ConversationError::InvalidOffer);
                }
                self.message(message_id)?;
                Ok(vec![ConversationEvent::AppointmentSlotsOffered {
                    slots,
                    message_id,
                    at,
                }])
            }
            ConversationCommand::RecordBooking {
                appointment_id,
                start,
                at,
            } => {
                self.started.ok_or(ConversationError::WrongConversation)?;
                Ok(vec![ConversationEvent::AppointmentBookedInConversation {
                    appointment_id,
                    start,
                    at,
                }])
            }
        }
    }

    /// `ConversationStarted` if this is the first message; refuses another lead or channel.
    fn start(&self, lead_id: LeadId, channel: Channel) -> Decision {
        match self.started {
            None => Ok(vec![ConversationEvent::ConversationStarted {
                lead_id,
                channel,
            }]),
            Some(started) if started == (lead_id, channel) => Ok(vec![]),
            Some(_) => Err(ConversationError::WrongConversation),
        }
    }

    /// Queues a message, refusing WhatsApp free text outside the window.
    fn queue(
        &self,
        channel: Channel,
        message_id: MessageId,
        content: MessageContent,
        origin: MessageOrigin,
        now: DateTime<Utc>,
    ) -> Result<ConversationEvent, ConversationError> {
        self.ensure_new_id(message_id)?;
        if channel == Channel::Whatsapp && content.is_free_text() && !self.window_open(now) {
            return Err(ConversationError::WindowClosed {
                closed_since: self
                    .last_inbound_at
                    .map(|last| last + chrono::Duration::hours(super::WHATSAPP_WINDOW_HOURS)),
            });
        }
        Ok(ConversationEvent::OutboundMessageQueued {
            message_id,
            content,
            origin,
            queued_at: now,
        })
    }

    fn ensure_new_id(&self, message_id: MessageId) -> Result<(), ConversationError> {
        let used = self.outbound.contains_key(&message_id)
            || self.transcript.iter().any(|l| l.message_id == message_id);
        if used {
            Err(ConversationError::DuplicateMessageId)
        } else {
            Ok(())
        }
    }

    fn message(&self, message_id: MessageId) -> Result<&super::OutboundMessage, ConversationError> {
        self.outbound
            .get(&message_id)
            .ok_or(ConversationError::MessageNotFound)
    }

    /// `event` if the message is still waiting in the outbox; nothing if it already moved on.
    fn if_queued(
        &self,
        message_id: MessageId,
        event: impl FnOnce() -> ConversationEvent,
    ) -> Decision {
        Ok(
            if self.message(message_id)?.status == DeliveryStatus::Queued {
                vec![event()]
            } else {
                vec![]
            },
        )
    }
}
