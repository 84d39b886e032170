//! Given/when/then tests of the Conversation aggregate. Shared fixtures, the event wire format
//! (events are persisted, so names and shapes must not drift) and the state rebuilt from events
//! live here; the commands are tested by theme in `tests/`: inbound messages, the outbox and
//! delivery statuses, providers' prices, cancelling and retrying, WhatsApp's window, and the AI's
//! turns.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ai;
mod ai_follow_up;
mod cancel_retry;
mod delivery;
mod inbound;
mod pricing;
mod slot_offers;
mod window;

use std::collections::BTreeSet;

use chrono::TimeZone;
use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::json;
use uuid::Uuid;

use super::*;

type ConversationTestFramework = TestFramework<Conversation>;

fn conversation() -> ConversationTestFramework {
    ConversationTestFramework::with(())
}

/// The conversation's lead.
fn lead() -> LeadId {
    LeadId::from_uuid(Uuid::from_u128(1))
}

/// Someone else.
fn other_lead() -> LeadId {
    LeadId::from_uuid(Uuid::from_u128(2))
}

/// Message ids sort by `n`, so the outbox lists them in that order.
fn msg(n: u128) -> MessageId {
    MessageId::from_uuid(Uuid::from_u128(0x100 + n))
}

/// 09:00 UTC on 1 March 2025: the start of every test's clock.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap()
}

/// `seconds` after [`t0`].
fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

/// `hours` after [`t0`].
fn hours(hours: i64) -> DateTime<Utc> {
    t0() + Duration::hours(hours)
}

fn text(body: &str) -> MessageContent {
    MessageContent::text(body).unwrap()
}

fn template() -> MessageContent {
    MessageContent::template(
        "appointment_reminder",
        "en_US",
        vec!["Ada".into(), "3pm".into()],
    )
    .unwrap()
}

/// The provider for `channel`.
fn provider(channel: Channel) -> String {
    match channel {
        Channel::Sms => "twilio".into(),
        Channel::Whatsapp => "whatsapp_cloud".into(),
    }
}

fn started(channel: Channel) -> ConversationEvent {
    ConversationEvent::ConversationStarted {
        lead_id: lead(),
        channel,
    }
}

/// The lead's message `id` on `channel`, provider id `SM<id>`, at `received_at`.
fn receive(
    channel: Channel,
    id: MessageId,
    engage_ai: bool,
    received_at: DateTime<Utc>,
) -> ConversationCommand {
    ConversationCommand::ReceiveInbound {
        lead_id: lead(),
        channel,
        message_id: id,
        provider: provider(channel),
        provider_message_id: format!("SM{id}"),
        body: "Hi, is Tuesday free?".into(),
        received_at,
        engage_ai,
    }
}

/// What [`receive`] records.
fn received(
    channel: Channel,
    id: MessageId,
    ai_reply_expected: bool,
    received_at: DateTime<Utc>,
) -> ConversationEvent {
    ConversationEvent::InboundMessageReceived {
        message_id: id,
        provider: provider(channel),
        provider_message_id: format!("SM{id}"),
        body: "Hi, is Tuesday free?".into(),
        received_at,
        ai_reply_expected,
    }
}

fn queue(
    channel: Channel,
    id: MessageId,
    content: MessageContent,
    origin: MessageOrigin,
    now: DateTime<Utc>,
) -> ConversationCommand {
    ConversationCommand::QueueOutbound {
        lead_id: lead(),
        channel,
        message_id: id,
        content,
        origin,
        now,
    }
}

fn queued(
    id: MessageId,
    content: MessageContent,
    origin: MessageOrigin,
    now: DateTime<Utc>,
) -> ConversationEvent {
    ConversationEvent::OutboundMessageQueued {
        message_id: id,
        content,
        origin,
        queued_at: now,
    }
}

/// An operator's text `id`, queued at [`t0`].
fn queued_text(id: MessageId) -> ConversationEvent {
    queued(id, text("See you Tuesday"), MessageOrigin::Operator, t0())
}

fn sent(id: MessageId) -> ConversationEvent {
    ConversationEvent::OutboundMessageSent {
        message_id: id,
        provider: "twilio".into(),
        provider_message_id: format!("SM-out-{id}"),
        origin: MessageOrigin::Operator,
        sent_at: at(1),
    }
}

fn status_updated(id: MessageId, status: DeliveryStatus) -> ConversationEvent {
    ConversationEvent::OutboundMessageStatusUpdated {
        message_id: id,
        status,
        at: at(2),
        error_code: None,
    }
}

/// An SMS conversation holding the operator's message `id`, still queued.
fn with_queued(id: MessageId) -> Vec<ConversationEvent> {
    vec![started(Channel::Sms), queued_text(id)]
}

/// An SMS conversation holding the lead's message `id`, which the AI is to answer.
fn awaiting_ai(id: MessageId) -> Vec<ConversationEvent> {
    vec![
        started(Channel::Sms),
        received(Channel::Sms, id, true, t0()),
    ]
}

/// A model's answer to `in_reply_to`, naming `reply` as its reply.
fn turn(in_reply_to: MessageId, reply: Option<MessageId>) -> AiTurn {
    AiTurn {
        in_reply_to,
        engine: "openai".into(),
        model: "gpt-4o-mini".into(),
        input_tokens: 1200,
        cached_input_tokens: 1024,
        output_tokens: 80,
        cost_micros: 312,
        price_version: "2025-01".into(),
        latency_ms: 850,
        intent: Intent::Booking,
        answers: BTreeMap::from([("budget".to_owned(), "over 5k".to_owned())]),
        reply_message_id: reply,
        at: at(30),
    }
}

/// One event of every variant, in an order that makes a valid history.
fn sample_events() -> Vec<ConversationEvent> {
    vec![
        started(Channel::Sms),
        received(Channel::Sms, msg(1), true, t0()),
        ConversationEvent::AiTurnFailed {
            in_reply_to: msg(1),
            attempt: 1,
            error: "timeout".into(),
            retry_at: Some(at(10)),
        },
        ConversationEvent::AiTurnRecorded(turn(msg(1), Some(msg(2)))),
        queued(msg(2), text("Tuesday works"), MessageOrigin::Ai, at(30)),
        ConversationEvent::OutboundSendAttemptFailed {
            message_id: msg(2),
            attempt: 1,
            code: Some("20429".into()),
            error: "too many requests".into(),
            retry_at: at(40),
        },
        sent(msg(2)),
        status_updated(msg(2), DeliveryStatus::Delivered),
        ConversationEvent::OutboundMessagePriced {
            message_id: msg(2),
            provider: "twilio".into(),
            amount_micros: Some(7500),
            currency: Some("USD".into()),
            billable: None,
            category: None,
            at: at(45),
        },
        queued(msg(3), template(), MessageOrigin::Operator, at(50)),
        ConversationEvent::OutboundMessageFailed {
            message_id: msg(3),
            code: Some("21211".into()),
            error: "invalid 'To' number".into(),
            reason: "invalid_number".into(),
            failed_at: at(51),
        },
        ConversationEvent::OutboundMessageRequeued {
            message_id: msg(3),
            at: at(60),
        },
        ConversationEvent::OutboundMessageCancelled {
            message_id: msg(3),
            reason: "opted_out".into(),
            at: at(70),
        },
        received(Channel::Sms, msg(4), true, at(70)),
        ConversationEvent::AiReplySkipped {
            in_reply_to: msg(4),
            reason: "opted_out".into(),
        },
        ConversationEvent::ConversationHandedOff {
            reason: "operator".into(),
            at: at(80),
        },
        ConversationEvent::AiResumed { at: at(90) },
        ConversationEvent::AppointmentSlotsOffered {
            slots: vec![SlotOffer {
                start: hours(24),
                end: hours(24) + Duration::minutes(30),
                label: "Sun 2 Mar 09:00".into(),
            }],
            message_id: msg(2),
            at: at(95),
        },
        ConversationEvent::AppointmentBookedInConversation {
            appointment_id: crate::values::AppointmentId::from_uuid(Uuid::from_u128(9)),
            start: hours(24),
            at: at(99),
        },
    ]
}

#[test]
fn every_event_round_trips_through_json() {
    let events = sample_events();
    let names: BTreeSet<String> = events.iter().map(DomainEvent::event_type).collect();
    assert_eq!(names.len(), 17, "one sample per variant");
    for event in events {
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(
            serde_json::from_str::<ConversationEvent>(&json).unwrap(),
            event
        );
        assert_eq!(event.event_version(), "1");
    }
}

#[test]
fn event_type_names_are_stable() {
    let names: Vec<String> = sample_events()
        .iter()
        .map(DomainEvent::event_type)
        .collect();
    assert_eq!(
        names,
        [
            "ConversationStarted",
            "InboundMessageReceived",
            "AiTurnFailed",
            "AiTurnRecorded",
            "OutboundMessageQueued",
            "OutboundSendAttemptFailed",
            "OutboundMessageSent",
            "OutboundMessageStatusUpdated",
            "OutboundMessagePriced",
            "OutboundMessageQueued",
            "OutboundMessageFailed",
            "OutboundMessageRequeued",
            "OutboundMessageCancelled",
            "InboundMessageReceived",
            "AiReplySkipped",
            "ConversationHandedOff",
            "AiResumed",
            "AppointmentSlotsOffered",
            "AppointmentBookedInConversation",
        ]
    );
}

#[test]
fn each_event_type_is_the_name_of_its_json_variant() {
    for event in sample_events() {
        let json = serde_json::to_value(&event).unwrap();
        let variant = json.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(variant, event.event_type());
    }
}

#[test]
fn the_aggregate_type_is_stable() {
    assert_eq!(Conversation::TYPE, "conversation");
}

#[test]
fn a_queued_template_keeps_its_wire_shape() {
    let event = queued(msg(3), template(), MessageOrigin::FollowUp, t0());
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({"OutboundMessageQueued": {
            "message_id": "00000000-0000-0000-0000-000000000103",
            "content": {
                "type": "template",
                "name": "appointment_reminder",
                "language": "en_US",
                "variables": ["Ada", "3pm"]
            },
            "origin": "follow_up",
            "queued_at": "2025-03-01T09:00:00Z"
        }})
    );
}

#[test]
fn an_ai_turn_keeps_its_wire_shape() {
    let event = ConversationEvent::AiTurnRecorded(turn(msg(1), Some(msg(2))));
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({"AiTurnRecorded": {
            "in_reply_to": "00000000-0000-0000-0000-000000000101",
            "engine": "openai",
            "model": "gpt-4o-mini",
            "input_tokens": 1200,
            "cached_input_tokens": 1024,
            "output_tokens": 80,
            "cost_micros": 312,
            "price_version": "2025-01",
            "latency_ms": 850,
            "intent": "booking",
            "answers": {"budget": "over 5k"},
            "reply_message_id": "00000000-0000-0000-0000-000000000102",
            "at": "2025-03-01T09:00:30Z"
        }})
    );
}

#[test]
fn a_status_update_keeps_its_wire_shape() {
    let event = ConversationEvent::OutboundMessageStatusUpdated {
        message_id: msg(2),
        status: DeliveryStatus::Undelivered,
        at: at(2),
        error_code: Some("30003".into()),
    };
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({"OutboundMessageStatusUpdated": {
            "message_id": "00000000-0000-0000-0000-000000000102",
            "status": "undelivered",
            "at": "2025-03-01T09:00:02Z",
            "error_code": "30003"
        }})
    );
}

#[test]
fn the_state_reflects_every_event() {
    let mut state = Conversation::default();
    for event in sample_events() {
        state.apply(event);
    }
    assert_eq!(state.started(), Some((lead(), Channel::Sms)));
    assert_eq!(state.last_inbound_at(), Some(at(70)));
    assert_eq!(state.pending_reply(), None);
    assert_eq!(state.ai_attempts(), 0);
    assert!(!state.is_handed_off());
    assert_eq!(state.queued_messages(), vec![]);

    let reply = state.outbound(msg(2)).unwrap();
    assert_eq!(reply.origin, MessageOrigin::Ai);
    assert_eq!(reply.status, DeliveryStatus::Delivered);
    assert_eq!(reply.failed_attempts, 1);
    let price = reply.pricing.as_ref().and_then(MessagePricing::price);
    assert_eq!(
        price.map(|price| (price.amount_micros(), price.currency())),
        Some((7500, "USD"))
    );
    assert_eq!(
        reply.provider_message_id.as_deref(),
        Some(format!("SM-out-{}", msg(2)).as_str())
    );
    let withdrawn = state.outbound(msg(3)).unwrap();
    assert_eq!(withdrawn.status, DeliveryStatus::Cancelled);
    assert_eq!(withdrawn.failed_attempts, 0);
    assert_eq!(
        state.outbound(msg(1)),
        None,
        "inbound messages are not in the outbox"
    );

    let lines: Vec<(Direction, MessageId, &str)> = state
        .transcript()
        .iter()
        .map(|line| (line.direction, line.message_id, line.text.as_str()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (Direction::Inbound, msg(1), "Hi, is Tuesday free?"),
            (Direction::Outbound, msg(2), "Tuesday works"),
            (
                Direction::Outbound,
                msg(3),
                "[template appointment_reminder: Ada, 3pm]"
            ),
            (Direction::Inbound, msg(4), "Hi, is Tuesday free?"),
        ]
    );
}

#[test]
fn the_state_round_trips_through_json() {
    let mut state = Conversation::default();
    for event in sample_events() {
        state.apply(event);
    }
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<Conversation>(&json).unwrap(), state);
}
