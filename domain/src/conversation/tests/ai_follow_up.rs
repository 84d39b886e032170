//! Given/when/then tests of the follow-ups the AI writes: what writing one cost is recorded on
//! the queued follow-up, once, and only on a follow-up of this conversation.

use super::*;

/// Follow-up 2 of 3 written by the tenant's model into message `id`.
fn follow_up(id: MessageId) -> AiFollowUp {
    AiFollowUp {
        message_id: id,
        number: 2,
        of: 3,
        engine: "openai".into(),
        model: "gpt-4o-mini".into(),
        input_tokens: 900,
        cached_input_tokens: 512,
        output_tokens: 40,
        cost_micros: 107,
        price_version: "2025-01".into(),
        latency_ms: 640,
        fallback_reason: None,
        at: at(20),
    }
}

fn record(id: MessageId) -> ConversationCommand {
    ConversationCommand::RecordAiFollowUp {
        follow_up: follow_up(id),
    }
}

fn written(id: MessageId) -> ConversationEvent {
    ConversationEvent::AiFollowUpWritten(follow_up(id))
}

/// An SMS conversation with the follow-up `id` just queued.
fn with_follow_up(id: MessageId) -> Vec<ConversationEvent> {
    vec![
        started(Channel::Sms),
        queued(
            id,
            text("Hi Ada, just following up — Do you own your home?"),
            MessageOrigin::FollowUp,
            at(20),
        ),
    ]
}

#[test]
fn what_writing_a_queued_follow_up_cost_is_recorded() {
    conversation()
        .given(with_follow_up(msg(1)))
        .when(record(msg(1)))
        .then_expect_events(vec![written(msg(1))]);
}

#[test]
fn a_follow_up_the_rules_engine_wrote_instead_keeps_why() {
    let fallback = AiFollowUp {
        engine: "rules".into(),
        model: String::new(),
        input_tokens: 0,
        cached_input_tokens: 0,
        output_tokens: 0,
        cost_micros: 0,
        price_version: String::new(),
        latency_ms: 0,
        fallback_reason: Some("the model did not answer within 20s".into()),
        ..follow_up(msg(1))
    };
    conversation()
        .given(with_follow_up(msg(1)))
        .when(ConversationCommand::RecordAiFollowUp {
            follow_up: fallback.clone(),
        })
        .then_expect_events(vec![ConversationEvent::AiFollowUpWritten(fallback)]);
}

#[test]
fn a_follow_up_is_recorded_once() {
    let mut history = with_follow_up(msg(1));
    history.push(written(msg(1)));
    conversation()
        .given(history)
        .when(record(msg(1)))
        .then_expect_events(vec![]);
}

#[test]
fn only_a_follow_up_of_this_conversation_can_be_recorded() {
    conversation()
        .given(with_follow_up(msg(1)))
        .when(record(msg(2)))
        .then_expect_error(ConversationError::MessageNotFound);
    conversation()
        .given(with_queued(msg(1)))
        .when(record(msg(1)))
        .then_expect_error(ConversationError::MessageNotFound);
    conversation()
        .given_no_previous_events()
        .when(record(msg(1)))
        .then_expect_error(ConversationError::MessageNotFound);
}

#[test]
fn its_cost_is_recorded_even_once_a_human_has_the_conversation() {
    let mut history = with_follow_up(msg(1));
    history.push(ConversationEvent::ConversationHandedOff {
        reason: "operator".into(),
        at: at(21),
    });
    conversation()
        .given(history)
        .when(record(msg(1)))
        .then_expect_events(vec![written(msg(1))]);
}

#[test]
fn a_written_follow_up_changes_nothing_else() {
    let mut before = Conversation::default();
    let mut history = awaiting_ai(msg(9));
    history.extend(with_follow_up(msg(1)).into_iter().skip(1));
    for event in history {
        before.apply(event);
    }
    let mut after = before.clone();
    after.apply(written(msg(1)));
    assert_eq!(after.pending_reply(), Some(msg(9)));
    assert_eq!(after.transcript(), before.transcript());
    assert_eq!(after.outbound(msg(1)), before.outbound(msg(1)));
    let json = serde_json::to_string(&after).unwrap();
    assert_eq!(serde_json::from_str::<Conversation>(&json).unwrap(), after);
}

#[test]
fn a_state_stored_before_follow_ups_were_written_still_reads() {
    let mut state = Conversation::default();
    for event in with_follow_up(msg(1)) {
        state.apply(event);
    }
    let mut stored = serde_json::to_value(&state).unwrap();
    stored.as_object_mut().unwrap().remove("ai_follow_ups");
    assert_eq!(
        serde_json::from_value::<Conversation>(stored).unwrap(),
        state
    );
}

#[test]
fn a_written_follow_up_keeps_its_wire_shape() {
    let event = written(msg(1));
    assert_eq!(event.event_type(), "AiFollowUpWritten");
    assert_eq!(event.event_version(), "1");
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({"AiFollowUpWritten": {
            "message_id": "00000000-0000-0000-0000-000000000101",
            "number": 2,
            "of": 3,
            "engine": "openai",
            "model": "gpt-4o-mini",
            "input_tokens": 900,
            "cached_input_tokens": 512,
            "output_tokens": 40,
            "cost_micros": 107,
            "price_version": "2025-01",
            "latency_ms": 640,
            "fallback_reason": null,
            "at": "2025-03-01T09:00:20Z"
        }})
    );
    let json = serde_json::to_string(&event).unwrap();
    assert_eq!(
        serde_json::from_str::<ConversationEvent>(&json).unwrap(),
        event
    );
}
