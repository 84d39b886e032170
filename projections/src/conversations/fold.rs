//! The pure part of the conversations projection: how one conversation event changes the rows
//! ([`super::rows`]) a batch folds. Everything here is a function of the events alone, so a live model built
//! batch by batch and a rebuild from position zero hold the same rows.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use domain::conversation::{AiFollowUp, AiTurn, ConversationEvent, ConversationId, DeliveryStatus};
use infrastructure::feed::RecordedEvent;
use uuid::Uuid;

use super::rows::{
    AiTurnRow, MessageRow, ThreadRow, ANSWERED, FAILED, FOLLOW_UP, INBOUND, OUTBOUND, RECEIVED,
};

/// A thread's key: tenant, lead, channel.
pub type ThreadKey = (Uuid, Uuid, &'static str);

/// The thread of a conversation event.
pub fn thread_key(event: &RecordedEvent) -> anyhow::Result<ThreadKey> {
    let id: ConversationId = event
        .aggregate_id
        .parse()
        .with_context(|| format!("{} is not a conversation id", event.aggregate_id))?;
    Ok((
        event.metadata.tenant_id,
        id.lead_id().as_uuid(),
        id.channel().as_str(),
    ))
}

/// The earlier message an event changes, if it changes one (the message must be loaded first).
pub fn message_changed(event: &ConversationEvent) -> Option<Uuid> {
    match event {
        ConversationEvent::OutboundSendAttemptFailed { message_id, .. }
        | ConversationEvent::OutboundMessageSent { message_id, .. }
        | ConversationEvent::OutboundMessageFailed { message_id, .. }
        | ConversationEvent::OutboundMessageStatusUpdated { message_id, .. }
        | ConversationEvent::OutboundMessageCancelled { message_id, .. }
        | ConversationEvent::OutboundMessageRequeued { message_id, .. }
        | ConversationEvent::OutboundMessagePriced { message_id, .. } => Some(message_id.as_uuid()),
        _ => None,
    }
}

/// The rows a batch reads and writes: the threads of its conversations, the messages it
/// creates or changes, and the AI turns it records.
#[derive(Debug, Default)]
pub struct Batch {
    /// Threads by key.
    pub threads: BTreeMap<ThreadKey, ThreadRow>,
    /// Messages by (tenant, message id).
    pub messages: BTreeMap<(Uuid, Uuid), MessageRow>,
    /// AI turns and failures recorded.
    pub turns: Vec<AiTurnRow>,
}

/// Whether an outbound message in `current` may move to `next`: only to a higher rank, and
/// never out of or into `cancelled` (the same rule the aggregate decides by).
pub fn moves_forward(current: DeliveryStatus, next: DeliveryStatus) -> bool {
    current != DeliveryStatus::Cancelled
        && next != DeliveryStatus::Cancelled
        && next.rank() > current.rank()
}

impl Batch {
    /// Applies one conversation event (`payload` decoded from `event`). Events at or below the
    /// thread's version were applied before and are skipped.
    pub fn apply(
        &mut self,
        event: &RecordedEvent,
        payload: ConversationEvent,
    ) -> anyhow::Result<()> {
        let key = thread_key(event)?;
        let (tenant_id, lead_id, channel) = key;
        if let ConversationEvent::ConversationStarted { .. } = payload {
            self.threads
                .entry(key)
                .or_insert_with(|| new_thread(key, event.metadata.occurred_at, event.sequence));
            return Ok(());
        }
        let Some(thread) = self.threads.get_mut(&key) else {
            bail!(
                "{} of conversation {} arrived before the conversation started",
                event.event_type,
                event.aggregate_id
            );
        };
        if thread.version >= event.sequence {
            return Ok(());
        }
        crate::projection::ensure_next(thread.version, event)?;
        thread.version = event.sequence;
        let new_message = |message_id: Uuid, direction: &str, body: String, at| MessageRow {
            tenant_id,
            message_id,
            lead_id,
            channel: channel.to_string(),
            direction: direction.to_string(),
            body,
            content: None,
            origin: None,
            status: RECEIVED.to_string(),
            provider: None,
            provider_message_id: None,
            error_code: None,
            error: None,
            reason: None,
            attempts: 0,
            created_at: at,
            sent_at: None,
            delivered_at: None,
            read_at: None,
            failed_at: None,
            cancelled_at: None,
            price_micros: None,
            price_currency: None,
            billable: None,
            billing_category: None,
        };
        match payload {
            ConversationEvent::ConversationStarted { .. } => {}
            ConversationEvent::InboundMessageReceived {
                message_id,
                provider,
                provider_message_id,
                body,
                received_at,
                ..
            } => {
                thread.inbound_messages += 1;
                thread.last_inbound_at = latest(thread.last_inbound_at, received_at);
                let mut row = new_message(message_id.as_uuid(), INBOUND, body, received_at);
                row.provider = Some(provider);
                row.provider_message_id = Some(provider_message_id);
                self.messages.insert((tenant_id, row.message_id), row);
            }
            ConversationEvent::OutboundMessageQueued {
                message_id,
                content,
                origin,
                queued_at,
            } => {
                thread.outbound_messages += 1;
                let mut row =
                    new_message(message_id.as_uuid(), OUTBOUND, content.preview(), queued_at);
                row.content =
                    Some(serde_json::to_value(&content).context("Failed to encode a message")?);
                row.origin = Some(origin.as_str().to_string());
                row.status = DeliveryStatus::Queued.as_str().to_string();
                self.messages.insert((tenant_id, row.message_id), row);
            }
            ConversationEvent::OutboundMessageSent { sent_at, .. } => {
                thread.last_outbound_at = latest(thread.last_outbound_at, sent_at);
                self.change_message(tenant_id, &payload)?;
            }
            ConversationEvent::AiTurnRecorded(turn) => {
                self.turns.push(answered(key, event.sequence, turn)?);
            }
            ConversationEvent::AiFollowUpWritten(follow_up) => {
                self.turns.push(written(key, event.sequence, follow_up));
            }
            ConversationEvent::AiTurnFailed {
                in_reply_to,
                attempt,
                error,
                retry_at,
            } => self.turns.push(AiTurnRow {
                attempt: Some(i32::try_from(attempt).unwrap_or(i32::MAX)),
                error: Some(error),
                retry_at,
                ..turn_row(
                    key,
                    event.sequence,
                    in_reply_to.as_uuid(),
                    FAILED,
                    event.metadata.occurred_at,
                )
            }),
            // A deferred message stays queued; its due time lives in the tasks model. Offers and
            // bookings show as the messages that carry them (and in the appointments model).
            ConversationEvent::AiReplySkipped { .. }
            | ConversationEvent::OutboundSendDeferred { .. }
            | ConversationEvent::AppointmentSlotsOffered { .. }
            | ConversationEvent::AppointmentBookedInConversation { .. } => {}
            ConversationEvent::ConversationHandedOff { reason, at } => {
                thread.handed_off = true;
                thread.handed_off_reason = Some(reason);
                thread.handed_off_at = Some(at);
                thread.handoff_notified_at = None;
            }
            ConversationEvent::HandoffNotified { at, .. } => {
                thread.handoff_notified_at = Some(at);
            }
            ConversationEvent::AiResumed { .. } => {
                thread.handed_off = false;
                thread.handed_off_reason = None;
                thread.handed_off_at = None;
                thread.handoff_notified_at = None;
            }
            ConversationEvent::OutboundSendAttemptFailed { .. }
            | ConversationEvent::OutboundMessageFailed { .. }
            | ConversationEvent::OutboundMessageStatusUpdated { .. }
            | ConversationEvent::OutboundMessageCancelled { .. }
            | ConversationEvent::OutboundMessageRequeued { .. }
            | ConversationEvent::OutboundMessagePriced { .. } => {
                self.change_message(tenant_id, &payload)?;
            }
        }
        Ok(())
    }

    /// Applies an event about an earlier outbound message. A status only moves forward; a
    /// requeue puts a failed message back in the queue.
    fn change_message(
        &mut self,
        tenant_id: Uuid,
        payload: &ConversationEvent,
    ) -> anyhow::Result<()> {
        let Some(message_id) = message_changed(payload) else {
            return Ok(());
        };
        let Some(row) = self.messages.get_mut(&(tenant_id, message_id)) else {
            bail!("message {message_id} changed before it was queued");
        };
        let current: DeliveryStatus = row
            .status
            .parse()
            .with_context(|| format!("message {message_id} is not an outbound message"))?;
        let next = match payload {
            ConversationEvent::OutboundMessageSent { .. } => Some(DeliveryStatus::Sent),
            ConversationEvent::OutboundMessageFailed { .. } => Some(DeliveryStatus::Failed),
            ConversationEvent::OutboundMessageStatusUpdated { status, .. } => Some(*status),
            _ => None,
        }
        .filter(|next| moves_forward(current, *next));
        if let Some(next) = next {
            row.status = next.as_str().to_string();
        }
        let forward = next.is_some();
        match payload {
            ConversationEvent::OutboundSendAttemptFailed {
                attempt,
                code,
                error,
                ..
            } if current == DeliveryStatus::Queued => {
                row.attempts = i32::try_from(*attempt).unwrap_or(i32::MAX);
                row.error_code.clone_from(code);
                row.error = Some(error.clone());
            }
            ConversationEvent::OutboundMessageSent {
                provider,
                provider_message_id,
                sent_at,
                ..
            } if forward => {
                row.provider = Some(provider.clone());
                row.provider_message_id = Some(provider_message_id.clone());
                row.sent_at = Some(*sent_at);
            }
            ConversationEvent::OutboundMessageFailed {
                code,
                error,
                reason,
                failed_at,
                ..
            } if forward => {
                row.error_code.clone_from(code);
                row.error = Some(error.clone());
                row.reason = Some(reason.clone());
                row.failed_at = Some(*failed_at);
            }
            ConversationEvent::OutboundMessageStatusUpdated {
                status,
                at,
                error_code,
                ..
            } if forward => {
                if error_code.is_some() {
                    row.error_code.clone_from(error_code);
                }
                let stamp = match status {
                    DeliveryStatus::Sent => Some(&mut row.sent_at),
                    DeliveryStatus::Delivered => Some(&mut row.delivered_at),
                    DeliveryStatus::Read => Some(&mut row.read_at),
                    DeliveryStatus::Undelivered | DeliveryStatus::Failed => {
                        Some(&mut row.failed_at)
                    }
                    DeliveryStatus::Queued | DeliveryStatus::Cancelled => None,
                };
                if let Some(stamp) = stamp {
                    stamp.get_or_insert(*at);
                }
            }
            ConversationEvent::OutboundMessageCancelled { reason, at, .. }
                if current == DeliveryStatus::Queued =>
            {
                row.status = DeliveryStatus::Cancelled.as_str().to_string();
                row.reason = Some(reason.clone());
                row.cancelled_at = Some(*at);
            }
            // The aggregate prices a message once; the row copies it whatever the status.
            ConversationEvent::OutboundMessagePriced {
                amount_micros,
                currency,
                billable,
                category,
                ..
            } => {
                row.price_micros = *amount_micros;
                row.price_currency.clone_from(currency);
                row.billable = *billable;
                row.billing_category.clone_from(category);
            }
            ConversationEvent::OutboundMessageRequeued { .. }
                if current == DeliveryStatus::Failed =>
            {
                row.status = DeliveryStatus::Queued.as_str().to_string();
                row.attempts = 0;
                row.error_code = None;
                row.error = None;
                row.reason = None;
                row.failed_at = None;
            }
            _ => {}
        }
        Ok(())
    }
}

fn new_thread(key: ThreadKey, at: DateTime<Utc>, version: i64) -> ThreadRow {
    let (tenant_id, lead_id, channel) = key;
    ThreadRow {
        tenant_id,
        lead_id,
        channel: channel.to_string(),
        handed_off: false,
        handed_off_reason: None,
        handed_off_at: None,
        handoff_notified_at: None,
        last_inbound_at: None,
        last_outbound_at: None,
        inbound_messages: 0,
        outbound_messages: 0,
        started_at: at,
        version,
    }
}

fn latest(current: Option<DateTime<Utc>>, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(current.map_or(at, |current| current.max(at)))
}

fn turn_row(
    key: ThreadKey,
    seq: i64,
    in_reply_to: Uuid,
    outcome: &str,
    at: DateTime<Utc>,
) -> AiTurnRow {
    let (tenant_id, lead_id, channel) = key;
    AiTurnRow {
        tenant_id,
        in_reply_to,
        seq,
        lead_id,
        channel: channel.to_string(),
        outcome: outcome.to_string(),
        engine: None,
        model: None,
        input_tokens: None,
        cached_input_tokens: None,
        output_tokens: None,
        cost_micros: None,
        price_version: None,
        latency_ms: None,
        intent: None,
        answers: None,
        reply_message_id: None,
        attempt: None,
        error: None,
        retry_at: None,
        at,
    }
}

fn answered(key: ThreadKey, seq: i64, turn: AiTurn) -> anyhow::Result<AiTurnRow> {
    Ok(AiTurnRow {
        engine: Some(turn.engine),
        model: Some(turn.model),
        input_tokens: Some(i64::from(turn.input_tokens)),
        cached_input_tokens: Some(i64::from(turn.cached_input_tokens)),
        output_tokens: Some(i64::from(turn.output_tokens)),
        cost_micros: Some(turn.cost_micros),
        price_version: Some(turn.price_version),
        latency_ms: Some(i64::try_from(turn.latency_ms).unwrap_or(i64::MAX)),
        intent: Some(turn.intent.as_str().to_string()),
        answers: Some(serde_json::to_value(&turn.answers).context("Failed to encode answers")?),
        reply_message_id: turn.reply_message_id.map(|id| id.as_uuid()),
        ..turn_row(key, seq, turn.in_reply_to.as_uuid(), ANSWERED, turn.at)
    })
}

/// The `ai_turns` row of a follow-up the AI wrote (see [`FOLLOW_UP`]).
fn written(key: ThreadKey, seq: i64, follow_up: AiFollowUp) -> AiTurnRow {
    let message_id = follow_up.message_id.as_uuid();
    AiTurnRow {
        engine: Some(follow_up.engine),
        model: Some(follow_up.model),
        input_tokens: Some(i64::from(follow_up.input_tokens)),
        cached_input_tokens: Some(i64::from(follow_up.cached_input_tokens)),
        output_tokens: Some(i64::from(follow_up.output_tokens)),
        cost_micros: Some(follow_up.cost_micros),
        price_version: Some(follow_up.price_version),
        latency_ms: Some(i64::try_from(follow_up.latency_ms).unwrap_or(i64::MAX)),
        reply_message_id: Some(message_id),
        error: follow_up.fallback_reason,
        ..turn_row(key, seq, message_id, FOLLOW_UP, follow_up.at)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use cqrs_es::DomainEvent;
    use domain::conversation::{MessageContent, MessageOrigin};
    use domain::values::{LeadId, MessageId};
    use domain::Channel;
    use infrastructure::metadata::EventMetadata;

    const TENANT: Uuid = Uuid::from_u128(7);

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(minute)
    }

    /// Feeds `events` to a batch as the conversation's events 1, 2, … (the first one starts it).
    fn fold(events: Vec<ConversationEvent>) -> Batch {
        let id = ConversationId::new(LeadId::from_uuid(Uuid::from_u128(1)), Channel::Sms);
        let mut batch = Batch::default();
        let started = ConversationEvent::ConversationStarted {
            lead_id: id.lead_id(),
            channel: id.channel(),
        };
        for (n, payload) in std::iter::once(started).chain(events).enumerate() {
            let event = RecordedEvent {
                position: Default::default(),
                aggregate_type: "conversation".into(),
                aggregate_id: id.to_string(),
                sequence: n as i64 + 1,
                event_type: payload.event_type(),
                event_version: payload.event_version(),
                payload: serde_json::to_string(&payload).unwrap(),
                metadata: EventMetadata {
                    tenant_id: TENANT,
                    actor: "tests".into(),
                    occurred_at: at(n as i64),
                    request_id: "r".into(),
                },
                recorded_at: at(n as i64),
            };
            batch.apply(&event, payload).unwrap();
        }
        batch
    }

    fn queued(message: MessageId) -> ConversationEvent {
        ConversationEvent::OutboundMessageQueued {
            message_id: message,
            content: MessageContent::text("Hello").unwrap(),
            origin: MessageOrigin::Outreach,
            queued_at: at(1),
        }
    }

    fn status(message: MessageId, status: DeliveryStatus, minute: i64) -> ConversationEvent {
        ConversationEvent::OutboundMessageStatusUpdated {
            message_id: message,
            status,
            at: at(minute),
            error_code: None,
        }
    }

    fn message(batch: &Batch, message: MessageId) -> &MessageRow {
        &batch.messages[&(TENANT, message.as_uuid())]
    }

    #[test]
    fn a_status_moves_only_forward_and_never_through_cancelled() {
        use DeliveryStatus::*;
        assert!(moves_forward(Queued, Sent));
        assert!(moves_forward(Sent, Read));
        assert!(moves_forward(Queued, Delivered));
        assert!(!moves_forward(Read, Delivered));
        assert!(!moves_forward(Delivered, Undelivered));
        assert!(!moves_forward(Cancelled, Sent));
        assert!(!moves_forward(Queued, Cancelled));
    }

    #[test]
    fn statuses_arriving_out_of_order_leave_the_furthest() {
        let m = MessageId::new();
        let batch = fold(vec![
            queued(m),
            status(m, DeliveryStatus::Read, 5),
            status(m, DeliveryStatus::Delivered, 4),
            ConversationEvent::OutboundMessageSent {
                message_id: m,
                provider: "twilio".into(),
                provider_message_id: "SM1".into(),
                origin: MessageOrigin::Outreach,
                sent_at: at(3),
            },
            ConversationEvent::OutboundMessageCancelled {
                message_id: m,
                reason: "opted_out".into(),
                at: at(6),
            },
        ]);
        let row = message(&batch, m);
        assert_eq!(row.status, "read");
        assert_eq!(row.read_at, Some(at(5)));
        assert_eq!(
            (row.delivered_at, row.sent_at, row.cancelled_at),
            (None, None, None)
        );
        assert_eq!(row.provider_message_id, None);
        // The thread still saw a send.
        assert_eq!(
            batch.threads.values().next().unwrap().last_outbound_at,
            Some(at(3))
        );
    }

    #[test]
    fn a_requeued_failure_is_queued_again_with_its_failure_cleared() {
        let m = MessageId::new();
        let failed = ConversationEvent::OutboundMessageFailed {
            message_id: m,
            code: Some("21610".into()),
            error: "unsubscribed".into(),
            reason: "refused".into(),
            failed_at: at(3),
        };
        let batch = fold(vec![queued(m), failed.clone()]);
        let row = message(&batch, m);
        assert_eq!(row.status, "failed");
        assert_eq!(row.error_code.as_deref(), Some("21610"));
        assert_eq!(row.failed_at, Some(at(3)));
        let batch = fold(vec![
            queued(m),
            failed,
            ConversationEvent::OutboundMessageRequeued {
                message_id: m,
                at: at(4),
            },
        ]);
        let row = message(&batch, m);
        assert_eq!(row.status, "queued");
        assert_eq!(
            (row.error_code.as_deref(), row.failed_at, row.attempts),
            (None, None, 0)
        );
    }

    #[test]
    fn a_priced_message_row_carries_the_price_and_keeps_its_status() {
        let m = MessageId::new();
        let batch = fold(vec![
            queued(m),
            status(m, DeliveryStatus::Delivered, 4),
            ConversationEvent::OutboundMessagePriced {
                message_id: m,
                provider: "twilio".into(),
                amount_micros: Some(7500),
                currency: Some("USD".into()),
                billable: None,
                category: None,
                at: at(5),
            },
        ]);
        let row = message(&batch, m);
        assert_eq!(
            (row.price_micros, row.price_currency.as_deref()),
            (Some(7500), Some("USD"))
        );
        assert_eq!(
            (row.billable, row.billing_category.as_deref()),
            (None, None)
        );
        assert_eq!(
            (row.status.as_str(), row.delivered_at),
            ("delivered", Some(at(4)))
        );
    }

    #[test]
    fn a_follow_up_the_ai_wrote_is_a_costed_turn_keyed_by_the_follow_up() {
        let m = MessageId::new();
        let batch = fold(vec![
            queued(m),
            ConversationEvent::AiFollowUpWritten(AiFollowUp {
                message_id: m,
                number: 2,
                of: 3,
                engine: "rules".into(),
                model: String::new(),
                input_tokens: 0,
                cached_input_tokens: 0,
                output_tokens: 0,
                cost_micros: 0,
                price_version: String::new(),
                latency_ms: 1,
                fallback_reason: Some("the model did not answer within 20s".into()),
                at: at(9),
            }),
        ]);
        let [turn] = batch.turns.as_slice() else {
            panic!("one turn expected, got {:?}", batch.turns);
        };
        assert_eq!(
            (
                turn.outcome.as_str(),
                turn.in_reply_to,
                turn.reply_message_id
            ),
            (FOLLOW_UP, m.as_uuid(), Some(m.as_uuid()))
        );
        assert_eq!((turn.seq, turn.at), (3, at(9)));
        assert_eq!(turn.engine.as_deref(), Some("rules"));
        assert_eq!(turn.cost_micros, Some(0));
        assert_eq!(
            turn.error.as_deref(),
            Some("the model did not answer within 20s")
        );
        assert_eq!(
            (turn.intent.as_deref(), turn.answers.as_ref()),
            (None, None)
        );
        // The message itself is untouched.
        assert_eq!(message(&batch, m).status, "queued");
    }

    #[test]
    fn an_event_applied_before_is_skipped_and_a_gap_is_refused() {
        let m = MessageId::new();
        let mut batch = fold(vec![queued(m)]);
        let thread = batch.threads.values().next().unwrap().clone();
        assert_eq!((thread.version, thread.outbound_messages), (2, 1));
        let mut event = RecordedEvent {
            position: Default::default(),
            aggregate_type: "conversation".into(),
            aggregate_id: format!("{}:sms", thread.lead_id),
            sequence: 2,
            event_type: "OutboundMessageQueued".into(),
            event_version: "1".into(),
            payload: serde_json::to_string(&queued(m)).unwrap(),
            metadata: EventMetadata {
                tenant_id: TENANT,
                actor: "tests".into(),
                occurred_at: at(0),
                request_id: "r".into(),
            },
            recorded_at: at(0),
        };
        batch.apply(&event, queued(m)).unwrap();
        assert_eq!(batch.threads.values().next().unwrap(), &thread);
        event.sequence = 4;
        assert!(batch.apply(&event, queued(MessageId::new())).is_err());
    }
}
