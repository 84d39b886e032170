//! Given/when/then tests of an outbound message's way out: queued, sent (or failing attempts,
//! or failed for good), then the provider's status reports, which arrive late, twice or out of
//! order and must only ever move the status forward.

use super::*;

/// An SMS conversation whose message `id` was sent and then reported as `status`.
fn reported(id: MessageId, status: DeliveryStatus) -> Vec<ConversationEvent> {
    let mut events = with_queued(id);
    events.push(sent(id));
    if status != DeliveryStatus::Sent {
        events.push(status_updated(id, status));
    }
    events
}

fn report(id: MessageId, status: DeliveryStatus) -> ConversationCommand {
    ConversationCommand::RecordDeliveryStatus {
        message_id: id,
        status,
        at: at(2),
        error_code: None,
    }
}

fn record_sent(id: MessageId) -> ConversationCommand {
    ConversationCommand::RecordSent {
        message_id: id,
        provider: "twilio".into(),
        provider_message_id: format!("SM-out-{id}"),
        sent_at: at(1),
    }
}

fn attempt_failed(id: MessageId) -> ConversationCommand {
    ConversationCommand::RecordSendAttemptFailed {
        message_id: id,
        code: Some("20429".into()),
        error: "too many requests".into(),
        retry_at: at(40),
    }
}

fn attempt_failed_event(id: MessageId, attempt: u32) -> ConversationEvent {
    ConversationEvent::OutboundSendAttemptFailed {
        message_id: id,
        attempt,
        code: Some("20429".into()),
        error: "too many requests".into(),
        retry_at: at(40),
    }
}

fn record_failed(id: MessageId) -> ConversationCommand {
    ConversationCommand::RecordFailed {
        message_id: id,
        code: Some("21610".into()),
        error: "unsubscribed recipient".into(),
        reason: "unsubscribed".into(),
        failed_at: at(3),
    }
}

#[test]
fn a_message_goes_from_queued_to_sent_to_delivered() {
    conversation()
        .given(with_queued(msg(1)))
        .when(record_sent(msg(1)))
        .then_expect_events(vec![sent(msg(1))]);
    conversation()
        .given(reported(msg(1), DeliveryStatus::Sent))
        .when(report(msg(1), DeliveryStatus::Delivered))
        .then_expect_events(vec![status_updated(msg(1), DeliveryStatus::Delivered)]);
}

#[test]
fn the_sent_event_carries_the_origin_of_the_message() {
    let mut history = vec![started(Channel::Sms)];
    history.push(queued(msg(1), template(), MessageOrigin::FollowUp, t0()));
    let result = conversation()
        .given(history)
        .when(record_sent(msg(1)))
        .inspect_result();
    assert!(matches!(
        result.unwrap().as_slice(),
        [ConversationEvent::OutboundMessageSent {
            origin: MessageOrigin::FollowUp,
            ..
        }]
    ));
}

#[test]
fn the_state_follows_a_message_through_sending_and_delivery() {
    let mut state = Conversation::default();
    for event in reported(msg(1), DeliveryStatus::Delivered) {
        state.apply(event);
    }
    let message = state.outbound(msg(1)).unwrap();
    assert_eq!(message.status, DeliveryStatus::Delivered);
    assert_eq!(
        message.provider_message_id,
        Some(format!("SM-out-{}", msg(1)))
    );
    assert_eq!(state.queued_messages(), vec![]);
}

#[test]
fn every_report_after_sent_moves_the_message_on() {
    for status in [
        DeliveryStatus::Delivered,
        DeliveryStatus::Undelivered,
        DeliveryStatus::Failed,
        DeliveryStatus::Read,
    ] {
        conversation()
            .given(reported(msg(1), DeliveryStatus::Sent))
            .when(report(msg(1), status))
            .then_expect_events(vec![status_updated(msg(1), status)]);
    }
}

#[test]
fn read_after_delivered_is_recorded() {
    conversation()
        .given(reported(msg(1), DeliveryStatus::Delivered))
        .when(report(msg(1), DeliveryStatus::Read))
        .then_expect_events(vec![status_updated(msg(1), DeliveryStatus::Read)]);
}

#[test]
fn sent_arriving_after_delivered_records_nothing() {
    conversation()
        .given(reported(msg(1), DeliveryStatus::Delivered))
        .when(report(msg(1), DeliveryStatus::Sent))
        .then_expect_events(vec![]);
}

#[test]
fn failed_or_undelivered_after_delivered_records_nothing() {
    for status in [
        DeliveryStatus::Delivered,
        DeliveryStatus::Undelivered,
        DeliveryStatus::Failed,
    ] {
        conversation()
            .given(reported(msg(1), DeliveryStatus::Delivered))
            .when(report(msg(1), status))
            .then_expect_events(vec![]);
    }
}

#[test]
fn nothing_moves_a_message_once_it_is_read() {
    for status in DeliveryStatus::ALL {
        conversation()
            .given(reported(msg(1), DeliveryStatus::Read))
            .when(report(msg(1), status))
            .then_expect_events(vec![]);
    }
}

#[test]
fn a_report_of_queued_or_cancelled_never_moves_a_message() {
    for current in [DeliveryStatus::Sent, DeliveryStatus::Delivered] {
        for status in [DeliveryStatus::Queued, DeliveryStatus::Cancelled] {
            conversation()
                .given(reported(msg(1), current))
                .when(report(msg(1), status))
                .then_expect_events(vec![]);
        }
    }
}

#[test]
fn a_report_on_a_cancelled_message_records_nothing() {
    let mut history = with_queued(msg(1));
    history.push(ConversationEvent::OutboundMessageCancelled {
        message_id: msg(1),
        reason: "opted_out".into(),
        at: at(1),
    });
    for status in DeliveryStatus::ALL {
        conversation()
            .given(history.clone())
            .when(report(msg(1), status))
            .then_expect_events(vec![]);
    }
}

#[test]
fn recording_sent_twice_records_it_once() {
    conversation()
        .given(reported(msg(1), DeliveryStatus::Sent))
        .when(record_sent(msg(1)))
        .then_expect_events(vec![]);
}

#[test]
fn recording_sent_on_a_cancelled_message_records_nothing() {
    let mut history = with_queued(msg(1));
    history.push(ConversationEvent::OutboundMessageCancelled {
        message_id: msg(1),
        reason: "operator".into(),
        at: at(1),
    });
    conversation()
        .given(history)
        .when(record_sent(msg(1)))
        .then_expect_events(vec![]);
}

#[test]
fn recording_sent_after_a_delivery_report_records_nothing() {
    conversation()
        .given(reported(msg(1), DeliveryStatus::Delivered))
        .when(record_sent(msg(1)))
        .then_expect_events(vec![]);
}

#[test]
fn a_failed_send_attempt_counts_attempts() {
    conversation()
        .given(with_queued(msg(1)))
        .when(attempt_failed(msg(1)))
        .then_expect_events(vec![attempt_failed_event(msg(1), 1)]);
    let mut history = with_queued(msg(1));
    history.push(attempt_failed_event(msg(1), 1));
    history.push(attempt_failed_event(msg(1), 2));
    conversation()
        .given(history)
        .when(attempt_failed(msg(1)))
        .then_expect_events(vec![attempt_failed_event(msg(1), 3)]);
}

#[test]
fn failed_attempts_are_counted_per_message() {
    let mut history = with_queued(msg(1));
    history.push(queued_text(msg(2)));
    history.push(attempt_failed_event(msg(1), 1));
    conversation()
        .given(history)
        .when(attempt_failed(msg(2)))
        .then_expect_events(vec![attempt_failed_event(msg(2), 1)]);
}

#[test]
fn a_failed_attempt_reported_after_sending_records_nothing() {
    conversation()
        .given(reported(msg(1), DeliveryStatus::Sent))
        .when(attempt_failed(msg(1)))
        .then_expect_events(vec![]);
}

#[test]
fn a_failure_for_good_records_it_once() {
    conversation()
        .given(with_queued(msg(1)))
        .when(record_failed(msg(1)))
        .then_expect_events(vec![ConversationEvent::OutboundMessageFailed {
            message_id: msg(1),
            code: Some("21610".into()),
            error: "unsubscribed recipient".into(),
            reason: "unsubscribed".into(),
            failed_at: at(3),
        }]);
    conversation()
        .given(reported(msg(1), DeliveryStatus::Sent))
        .when(record_failed(msg(1)))
        .then_expect_events(vec![]);
}

#[test]
fn commands_about_an_unknown_message_are_refused() {
    for command in [
        record_sent(msg(9)),
        attempt_failed(msg(9)),
        record_failed(msg(9)),
        report(msg(9), DeliveryStatus::Delivered),
        ConversationCommand::CancelMessage {
            message_id: msg(9),
            reason: "operator".into(),
            at: t0(),
        },
        ConversationCommand::RetryMessage {
            message_id: msg(9),
            at: t0(),
        },
    ] {
        conversation()
            .given(with_queued(msg(1)))
            .when(command)
            .then_expect_error(ConversationError::MessageNotFound);
    }
}

#[test]
fn an_inbound_message_is_not_an_outbound_one() {
    conversation()
        .given(awaiting_ai(msg(1)))
        .when(record_sent(msg(1)))
        .then_expect_error(ConversationError::MessageNotFound);
}

#[test]
fn a_queued_message_takes_no_delivery_report_until_it_is_sent() {
    let id = msg(1);
    for status in [
        DeliveryStatus::Sent,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
        DeliveryStatus::Read,
    ] {
        conversation()
            .given(with_queued(id))
            .when(report(id, status))
            .then_expect_events(vec![]);
    }
}

#[test]
fn a_requeued_message_forgets_its_earlier_send() {
    let id = msg(1);
    let mut events = with_queued(id);
    events.push(sent(id));
    events.push(ConversationEvent::OutboundMessageFailed {
        message_id: id,
        code: Some("30003".into()),
        error: "unreachable handset".into(),
        reason: "refused".into(),
        failed_at: at(3),
    });
    events.push(ConversationEvent::OutboundMessageRequeued {
        message_id: id,
        at: at(4),
    });
    let mut state = Conversation::default();
    for event in events.clone() {
        state.apply(event);
    }
    let message = state.outbound(id).unwrap();
    assert_eq!(message.status, DeliveryStatus::Queued);
    assert_eq!(message.provider_message_id, None);
    // A late report about the earlier send changes nothing.
    conversation()
        .given(events)
        .when(report(id, DeliveryStatus::Delivered))
        .then_expect_events(vec![]);
}

#[test]
fn a_queued_message_may_be_deferred_and_a_sent_one_not() {
    let id = msg(1);
    let defer = || ConversationCommand::DeferSend {
        message_id: id,
        until: hours(10),
    };
    conversation()
        .given(with_queued(id))
        .when(defer())
        .then_expect_events(vec![ConversationEvent::OutboundSendDeferred {
            message_id: id,
            until: hours(10),
        }]);
    conversation()
        .given(reported(id, DeliveryStatus::Sent))
        .when(defer())
        .then_expect_events(vec![]);
}
