//! Given/when/then tests of withdrawing queued messages (one, or all of them and the expected AI
//! reply when the lead opts out) and of sending a failed message again.

use super::*;

fn cancelled(id: MessageId, reason: &str) -> ConversationEvent {
    ConversationEvent::OutboundMessageCancelled {
        message_id: id,
        reason: reason.into(),
        at: at(9),
    }
}

fn cancel_pending() -> ConversationCommand {
    ConversationCommand::CancelPending {
        reason: "opted_out".into(),
        at: at(9),
    }
}

fn retry(id: MessageId) -> ConversationCommand {
    ConversationCommand::RetryMessage {
        message_id: id,
        at: at(20),
    }
}

fn failed_for_good(id: MessageId) -> ConversationEvent {
    ConversationEvent::OutboundMessageFailed {
        message_id: id,
        code: None,
        error: "gave up after 5 attempts".into(),
        reason: "gave_up".into(),
        failed_at: at(10),
    }
}

#[test]
fn cancelling_a_queued_message_withdraws_it() {
    conversation()
        .given(with_queued(msg(1)))
        .when(ConversationCommand::CancelMessage {
            message_id: msg(1),
            reason: "operator".into(),
            at: at(9),
        })
        .then_expect_events(vec![cancelled(msg(1), "operator")]);
}

#[test]
fn cancelling_a_message_that_already_left_records_nothing() {
    for history_end in [
        sent(msg(1)),
        failed_for_good(msg(1)),
        cancelled(msg(1), "operator"),
    ] {
        let mut history = with_queued(msg(1));
        history.push(history_end);
        conversation()
            .given(history)
            .when(ConversationCommand::CancelMessage {
                message_id: msg(1),
                reason: "operator".into(),
                at: at(9),
            })
            .then_expect_events(vec![]);
    }
}

#[test]
fn cancelling_pending_withdraws_every_queued_message_and_the_expected_ai_reply() {
    let mut history = awaiting_ai(msg(1));
    history.extend([
        queued_text(msg(2)),
        queued_text(msg(3)),
        sent(msg(3)),
        queued(msg(4), template(), MessageOrigin::FollowUp, at(5)),
    ]);
    conversation()
        .given(history)
        .when(cancel_pending())
        .then_expect_events(vec![
            cancelled(msg(2), "opted_out"),
            cancelled(msg(4), "opted_out"),
            ConversationEvent::AiReplySkipped {
                in_reply_to: msg(1),
                reason: "opted_out".into(),
            },
        ]);
}

#[test]
fn cancelling_pending_with_nothing_pending_records_nothing() {
    let mut history = with_queued(msg(1));
    history.push(sent(msg(1)));
    conversation()
        .given(history)
        .when(cancel_pending())
        .then_expect_events(vec![]);
}

#[test]
fn after_cancelling_pending_nothing_is_left_to_send_or_answer() {
    let mut state = Conversation::default();
    let mut history = awaiting_ai(msg(1));
    history.extend([queued_text(msg(2)), queued_text(msg(3))]);
    for event in history {
        state.apply(event);
    }
    for event in state.decide(cancel_pending()).unwrap() {
        state.apply(event);
    }
    assert_eq!(state.queued_messages(), vec![]);
    assert_eq!(state.pending_reply(), None);
    assert_eq!(state.decide(cancel_pending()), Ok(vec![]));
}

#[test]
fn retrying_a_failed_message_requeues_it() {
    let mut history = with_queued(msg(1));
    history.push(failed_for_good(msg(1)));
    conversation()
        .given(history)
        .when(retry(msg(1)))
        .then_expect_events(vec![ConversationEvent::OutboundMessageRequeued {
            message_id: msg(1),
            at: at(20),
        }]);
}

#[test]
fn a_message_the_provider_reported_failed_can_be_retried() {
    let mut history = with_queued(msg(1));
    history.extend([sent(msg(1)), status_updated(msg(1), DeliveryStatus::Failed)]);
    conversation()
        .given(history)
        .when(retry(msg(1)))
        .then_expect_events(vec![ConversationEvent::OutboundMessageRequeued {
            message_id: msg(1),
            at: at(20),
        }]);
}

#[test]
fn only_a_failed_message_can_be_retried() {
    let histories: [(DeliveryStatus, Vec<ConversationEvent>); 6] = [
        (DeliveryStatus::Queued, vec![]),
        (DeliveryStatus::Sent, vec![sent(msg(1))]),
        (
            DeliveryStatus::Delivered,
            vec![
                sent(msg(1)),
                status_updated(msg(1), DeliveryStatus::Delivered),
            ],
        ),
        (
            DeliveryStatus::Undelivered,
            vec![
                sent(msg(1)),
                status_updated(msg(1), DeliveryStatus::Undelivered),
            ],
        ),
        (
            DeliveryStatus::Read,
            vec![sent(msg(1)), status_updated(msg(1), DeliveryStatus::Read)],
        ),
        (
            DeliveryStatus::Cancelled,
            vec![cancelled(msg(1), "operator")],
        ),
    ];
    for (status, tail) in histories {
        let mut history = with_queued(msg(1));
        history.extend(tail);
        conversation()
            .given(history)
            .when(retry(msg(1)))
            .then_expect_error(ConversationError::NotRetryable(status));
    }
}

#[test]
fn a_retry_resets_the_failed_attempts() {
    let mut history = with_queued(msg(1));
    history.extend([
        ConversationEvent::OutboundSendAttemptFailed {
            message_id: msg(1),
            attempt: 1,
            code: None,
            error: "timeout".into(),
            retry_at: at(1),
        },
        ConversationEvent::OutboundSendAttemptFailed {
            message_id: msg(1),
            attempt: 2,
            code: None,
            error: "timeout".into(),
            retry_at: at(2),
        },
        failed_for_good(msg(1)),
        ConversationEvent::OutboundMessageRequeued {
            message_id: msg(1),
            at: at(20),
        },
    ]);
    conversation()
        .given(history.clone())
        .when(ConversationCommand::RecordSendAttemptFailed {
            message_id: msg(1),
            code: None,
            error: "timeout".into(),
            retry_at: at(30),
        })
        .then_expect_events(vec![ConversationEvent::OutboundSendAttemptFailed {
            message_id: msg(1),
            attempt: 1,
            code: None,
            error: "timeout".into(),
            retry_at: at(30),
        }]);

    let mut state = Conversation::default();
    for event in history {
        state.apply(event);
    }
    let message = state.outbound(msg(1)).unwrap();
    assert_eq!(
        (message.status, message.failed_attempts),
        (DeliveryStatus::Queued, 0)
    );
    assert_eq!(state.queued_messages(), vec![msg(1)]);
}
