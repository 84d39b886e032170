//! Given/when/then tests of the AI's part: one answer per inbound message (and only to the
//! latest), none while a human has the conversation, failures counted until given up, and a
//! reply that can be skipped.

use super::*;

fn record_turn(in_reply_to: MessageId, reply: Option<MessageId>) -> ConversationCommand {
    ConversationCommand::RecordAiTurn {
        turn: turn(in_reply_to, reply),
        reply: reply.map(|_| text("Tuesday at 3pm works")),
    }
}

fn ai_reply(id: MessageId) -> ConversationEvent {
    queued(id, text("Tuesday at 3pm works"), MessageOrigin::Ai, at(30))
}

fn handed_off() -> ConversationEvent {
    ConversationEvent::ConversationHandedOff {
        reason: "human_request".into(),
        at: at(5),
    }
}

fn resumed() -> ConversationEvent {
    ConversationEvent::AiResumed { at: at(6) }
}

fn failure(in_reply_to: MessageId, retry_at: Option<DateTime<Utc>>) -> ConversationCommand {
    ConversationCommand::RecordAiFailure {
        in_reply_to,
        error: "model timed out".into(),
        retry_at,
    }
}

fn failed(
    in_reply_to: MessageId,
    attempt: u32,
    retry_at: Option<DateTime<Utc>>,
) -> ConversationEvent {
    ConversationEvent::AiTurnFailed {
        in_reply_to,
        attempt,
        error: "model timed out".into(),
        retry_at,
    }
}

fn skip(in_reply_to: MessageId) -> ConversationCommand {
    ConversationCommand::SkipAiReply {
        in_reply_to,
        reason: "opted_out".into(),
    }
}

fn state_after(events: Vec<ConversationEvent>) -> Conversation {
    let mut state = Conversation::default();
    for event in events {
        state.apply(event);
    }
    state
}

#[test]
fn an_inbound_message_with_engage_ai_expects_a_reply() {
    conversation()
        .given(vec![started(Channel::Sms)])
        .when(receive(Channel::Sms, msg(1), true, t0()))
        .then_expect_events(vec![received(Channel::Sms, msg(1), true, t0())]);
    let state = state_after(awaiting_ai(msg(1)));
    assert_eq!(state.pending_reply(), Some(msg(1)));
    assert_eq!(state.ai_attempts(), 0);
}

#[test]
fn an_inbound_message_without_engage_ai_expects_no_reply() {
    let history = vec![
        started(Channel::Sms),
        received(Channel::Sms, msg(1), false, t0()),
    ];
    assert_eq!(state_after(history.clone()).pending_reply(), None);
    conversation()
        .given(history)
        .when(record_turn(msg(1), Some(msg(2))))
        .then_expect_error(ConversationError::StaleReply);
}

#[test]
fn the_turn_for_the_pending_message_is_recorded_with_its_reply_queued() {
    conversation()
        .given(awaiting_ai(msg(1)))
        .when(record_turn(msg(1), Some(msg(2))))
        .then_expect_events(vec![
            ConversationEvent::AiTurnRecorded(turn(msg(1), Some(msg(2)))),
            ai_reply(msg(2)),
        ]);
}

#[test]
fn a_turn_without_a_reply_is_recorded_alone() {
    conversation()
        .given(awaiting_ai(msg(1)))
        .when(record_turn(msg(1), None))
        .then_expect_events(vec![ConversationEvent::AiTurnRecorded(turn(msg(1), None))]);
}

#[test]
fn a_recorded_turn_clears_the_pending_reply() {
    let mut history = awaiting_ai(msg(1));
    history.extend([
        ConversationEvent::AiTurnRecorded(turn(msg(1), Some(msg(2)))),
        ai_reply(msg(2)),
    ]);
    let state = state_after(history.clone());
    assert_eq!(state.pending_reply(), None);
    assert_eq!(state.outbound(msg(2)).unwrap().origin, MessageOrigin::Ai);
    conversation()
        .given(history)
        .when(record_turn(msg(1), Some(msg(3))))
        .then_expect_error(ConversationError::StaleReply);
}

#[test]
fn a_newer_inbound_message_makes_the_turn_for_the_older_one_stale() {
    let mut history = awaiting_ai(msg(1));
    history.push(received(Channel::Sms, msg(2), true, at(10)));
    conversation()
        .given(history.clone())
        .when(record_turn(msg(1), Some(msg(3))))
        .then_expect_error(ConversationError::StaleReply);
    conversation()
        .given(history)
        .when(record_turn(msg(2), Some(msg(3))))
        .then_expect_events(vec![
            ConversationEvent::AiTurnRecorded(turn(msg(2), Some(msg(3)))),
            ai_reply(msg(3)),
        ]);
}

#[test]
fn a_turn_before_the_conversation_started_is_stale() {
    conversation()
        .given_no_previous_events()
        .when(record_turn(msg(1), None))
        .then_expect_error(ConversationError::StaleReply);
}

#[test]
fn an_ai_reply_under_an_id_already_used_is_refused() {
    conversation()
        .given(awaiting_ai(msg(1)))
        .when(record_turn(msg(1), Some(msg(1))))
        .then_expect_error(ConversationError::DuplicateMessageId);
}

#[test]
fn an_ai_free_text_reply_on_whatsapp_after_the_window_closed_is_refused() {
    let last = t0() - Duration::hours(24);
    conversation()
        .given(vec![
            started(Channel::Whatsapp),
            received(Channel::Whatsapp, msg(1), true, last),
        ])
        .when(record_turn(msg(1), Some(msg(2))))
        .then_expect_error(ConversationError::WindowClosed {
            closed_since: Some(t0()),
        });
}

#[test]
fn an_ai_reply_on_whatsapp_inside_the_window_is_queued() {
    conversation()
        .given(vec![
            started(Channel::Whatsapp),
            received(Channel::Whatsapp, msg(1), true, t0()),
        ])
        .when(record_turn(msg(1), Some(msg(2))))
        .then_expect_events(vec![
            ConversationEvent::AiTurnRecorded(turn(msg(1), Some(msg(2)))),
            ai_reply(msg(2)),
        ]);
}

#[test]
fn handing_off_records_it_once() {
    conversation()
        .given(vec![started(Channel::Sms)])
        .when(ConversationCommand::HandOff {
            reason: "human_request".into(),
            at: at(5),
        })
        .then_expect_events(vec![handed_off()]);
    conversation()
        .given(vec![started(Channel::Sms), handed_off()])
        .when(ConversationCommand::HandOff {
            reason: "operator".into(),
            at: at(7),
        })
        .then_expect_events(vec![]);
}

#[test]
fn resuming_records_it_only_when_handed_off() {
    conversation()
        .given(vec![started(Channel::Sms), handed_off()])
        .when(ConversationCommand::ResumeAi { at: at(6) })
        .then_expect_events(vec![resumed()]);
    conversation()
        .given(vec![started(Channel::Sms)])
        .when(ConversationCommand::ResumeAi { at: at(6) })
        .then_expect_events(vec![]);
    conversation()
        .given(vec![started(Channel::Sms), handed_off(), resumed()])
        .when(ConversationCommand::ResumeAi { at: at(8) })
        .then_expect_events(vec![]);
}

#[test]
fn while_handed_off_an_inbound_message_expects_no_reply() {
    conversation()
        .given(vec![started(Channel::Sms), handed_off()])
        .when(receive(Channel::Sms, msg(1), true, at(10)))
        .then_expect_events(vec![received(Channel::Sms, msg(1), false, at(10))]);
}

#[test]
fn while_handed_off_a_turn_is_refused() {
    let mut history = awaiting_ai(msg(1));
    history.push(handed_off());
    conversation()
        .given(history)
        .when(record_turn(msg(1), Some(msg(2))))
        .then_expect_error(ConversationError::AiPaused);
}

#[test]
fn handing_off_drops_the_pending_reply_for_good() {
    let mut history = awaiting_ai(msg(1));
    history.extend([handed_off(), resumed()]);
    let state = state_after(history.clone());
    assert!(!state.is_handed_off());
    assert_eq!(state.pending_reply(), None);
    conversation()
        .given(history)
        .when(record_turn(msg(1), Some(msg(2))))
        .then_expect_error(ConversationError::StaleReply);
}

#[test]
fn after_resuming_a_new_inbound_message_expects_a_reply_again() {
    conversation()
        .given(vec![started(Channel::Sms), handed_off(), resumed()])
        .when(receive(Channel::Sms, msg(1), true, at(10)))
        .then_expect_events(vec![received(Channel::Sms, msg(1), true, at(10))]);
}

#[test]
fn ai_failures_count_attempts() {
    conversation()
        .given(awaiting_ai(msg(1)))
        .when(failure(msg(1), Some(at(60))))
        .then_expect_events(vec![failed(msg(1), 1, Some(at(60)))]);
    let mut history = awaiting_ai(msg(1));
    history.extend([
        failed(msg(1), 1, Some(at(60))),
        failed(msg(1), 2, Some(at(120))),
    ]);
    let state = state_after(history.clone());
    assert_eq!(state.ai_attempts(), 2);
    assert_eq!(state.pending_reply(), Some(msg(1)));
    conversation()
        .given(history)
        .when(failure(msg(1), Some(at(240))))
        .then_expect_events(vec![failed(msg(1), 3, Some(at(240)))]);
}

#[test]
fn giving_up_on_the_ai_clears_the_pending_reply() {
    let mut history = awaiting_ai(msg(1));
    history.push(failed(msg(1), 1, Some(at(60))));
    conversation()
        .given(history.clone())
        .when(failure(msg(1), None))
        .then_expect_events(vec![failed(msg(1), 2, None)]);
    history.push(failed(msg(1), 2, None));
    assert_eq!(state_after(history.clone()).pending_reply(), None);
    conversation()
        .given(history.clone())
        .when(failure(msg(1), None))
        .then_expect_events(vec![]);
    conversation()
        .given(history)
        .when(record_turn(msg(1), Some(msg(2))))
        .then_expect_error(ConversationError::StaleReply);
}

#[test]
fn a_failure_for_a_message_no_longer_pending_records_nothing() {
    let mut history = awaiting_ai(msg(1));
    history.push(received(Channel::Sms, msg(2), true, at(10)));
    conversation()
        .given(history)
        .when(failure(msg(1), Some(at(60))))
        .then_expect_events(vec![]);
}

#[test]
fn a_newer_inbound_message_starts_the_attempts_again() {
    let mut history = awaiting_ai(msg(1));
    history.extend([
        failed(msg(1), 1, Some(at(60))),
        failed(msg(1), 2, Some(at(120))),
        received(Channel::Sms, msg(2), true, at(130)),
    ]);
    assert_eq!(state_after(history.clone()).ai_attempts(), 0);
    conversation()
        .given(history)
        .when(failure(msg(2), Some(at(200))))
        .then_expect_events(vec![failed(msg(2), 1, Some(at(200)))]);
}

#[test]
fn skipping_the_pending_reply_records_it_and_makes_a_late_turn_stale() {
    conversation()
        .given(awaiting_ai(msg(1)))
        .when(skip(msg(1)))
        .then_expect_events(vec![ConversationEvent::AiReplySkipped {
            in_reply_to: msg(1),
            reason: "opted_out".into(),
        }]);
    let mut history = awaiting_ai(msg(1));
    history.push(ConversationEvent::AiReplySkipped {
        in_reply_to: msg(1),
        reason: "opted_out".into(),
    });
    assert_eq!(state_after(history.clone()).pending_reply(), None);
    conversation()
        .given(history)
        .when(record_turn(msg(1), Some(msg(2))))
        .then_expect_error(ConversationError::StaleReply);
}

#[test]
fn skipping_a_reply_that_is_not_pending_records_nothing() {
    let mut history = awaiting_ai(msg(1));
    history.push(received(Channel::Sms, msg(2), true, at(10)));
    conversation()
        .given(history)
        .when(skip(msg(1)))
        .then_expect_events(vec![]);
    conversation()
        .given(vec![started(Channel::Sms)])
        .when(skip(msg(1)))
        .then_expect_events(vec![]);
}
