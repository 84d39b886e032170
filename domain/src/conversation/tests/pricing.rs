//! Given/when/then tests of a provider's pricing of an outbound message: providers repeat it on
//! later status reports, so only the first report that carries any pricing is recorded.

use super::*;
use crate::values::Price;

/// An SMS conversation whose message `id` was sent.
fn sent_message(id: MessageId) -> Vec<ConversationEvent> {
    let mut events = with_queued(id);
    events.push(sent(id));
    events
}

/// Twilio's price for one SMS segment: "-0.00750" USD.
fn twilio_pricing() -> MessagePricing {
    MessagePricing::new(Some(Price::parse("-0.00750", "USD").unwrap()), None, None)
}

/// WhatsApp's pricing of a utility template: billed, no amount.
fn whatsapp_pricing() -> MessagePricing {
    MessagePricing::new(None, Some(true), Some("UTILITY"))
}

fn record_price(id: MessageId, provider: &str, pricing: MessagePricing) -> ConversationCommand {
    ConversationCommand::RecordMessagePrice {
        message_id: id,
        provider: provider.into(),
        pricing,
        at: at(5),
    }
}

fn twilio_priced(id: MessageId) -> ConversationEvent {
    ConversationEvent::OutboundMessagePriced {
        message_id: id,
        provider: "twilio".into(),
        amount_micros: Some(7500),
        currency: Some("USD".into()),
        billable: None,
        category: None,
        at: at(5),
    }
}

#[test]
fn the_first_price_reported_is_recorded_in_micros() {
    conversation()
        .given(sent_message(msg(1)))
        .when(record_price(msg(1), "twilio", twilio_pricing()))
        .then_expect_events(vec![twilio_priced(msg(1))]);
}

#[test]
fn whatsapp_pricing_records_billable_and_a_lower_case_category_without_an_amount() {
    conversation()
        .given(sent_message(msg(1)))
        .when(record_price(msg(1), "whatsapp_cloud", whatsapp_pricing()))
        .then_expect_events(vec![ConversationEvent::OutboundMessagePriced {
            message_id: msg(1),
            provider: "whatsapp_cloud".into(),
            amount_micros: None,
            currency: None,
            billable: Some(true),
            category: Some("utility".into()),
            at: at(5),
        }]);
}

#[test]
fn a_price_reported_again_records_nothing() {
    let mut history = sent_message(msg(1));
    history.push(twilio_priced(msg(1)));
    conversation()
        .given(history)
        .when(record_price(msg(1), "twilio", twilio_pricing()))
        .then_expect_events(vec![]);
}

#[test]
fn a_different_later_price_does_not_replace_the_first() {
    let mut history = sent_message(msg(1));
    history.push(twilio_priced(msg(1)));
    let later = MessagePricing::new(Some(Price::parse("-0.0079", "USD").unwrap()), None, None);
    conversation()
        .given(history)
        .when(record_price(msg(1), "twilio", later))
        .then_expect_events(vec![]);
}

#[test]
fn a_report_without_pricing_records_nothing_and_leaves_room_for_a_later_one() {
    conversation()
        .given(sent_message(msg(1)))
        .when(record_price(msg(1), "twilio", MessagePricing::default()))
        .then_expect_events(vec![]);
    let mut state = Conversation::default();
    for event in sent_message(msg(1)) {
        state.apply(event);
    }
    assert_eq!(state.outbound(msg(1)).unwrap().pricing, None);
}

#[test]
fn a_price_for_an_unknown_message_is_refused() {
    conversation()
        .given(sent_message(msg(1)))
        .when(record_price(msg(9), "twilio", twilio_pricing()))
        .then_expect_error(ConversationError::MessageNotFound);
}

#[test]
fn the_state_keeps_the_first_pricing_on_the_message() {
    let mut state = Conversation::default();
    let mut history = sent_message(msg(1));
    history.push(twilio_priced(msg(1)));
    for event in history {
        state.apply(event);
    }
    let pricing = state.outbound(msg(1)).unwrap().pricing.clone().unwrap();
    assert_eq!(pricing, twilio_pricing());
    assert_eq!(
        pricing.price().map(|p| (p.amount_micros(), p.currency())),
        Some((7500, "USD"))
    );
}

#[test]
fn a_priced_event_keeps_its_wire_shape() {
    assert_eq!(
        serde_json::to_value(twilio_priced(msg(2))).unwrap(),
        json!({"OutboundMessagePriced": {
            "message_id": "00000000-0000-0000-0000-000000000102",
            "provider": "twilio",
            "amount_micros": 7500,
            "currency": "USD",
            "billable": null,
            "category": null,
            "at": "2025-03-01T09:00:05Z"
        }})
    );
}

#[test]
fn a_message_stored_before_pricing_was_kept_reads_as_unpriced() {
    let mut state = Conversation::default();
    for event in sent_message(msg(1)) {
        state.apply(event);
    }
    let mut stored = serde_json::to_value(state.outbound(msg(1)).unwrap()).unwrap();
    stored.as_object_mut().unwrap().remove("pricing");
    let message: OutboundMessage = serde_json::from_value(stored).unwrap();
    assert_eq!(message.pricing, None);
}

#[test]
fn a_message_sent_again_after_a_requeue_is_priced_again_for_the_new_send() {
    let mut history = sent_message(msg(1));
    history.push(twilio_priced(msg(1)));
    history.push(ConversationEvent::OutboundMessageRequeued {
        message_id: msg(1),
        at: at(6),
    });
    history.push(sent(msg(1)));
    conversation()
        .given(history)
        .when(record_price(msg(1), "twilio", twilio_pricing()))
        .then_expect_events(vec![twilio_priced(msg(1))]);
}
