//! Given/when/then tests of the lead's messages: the first one starts the conversation, a
//! webhook retried by the provider is recorded once, and a conversation belongs to one lead on
//! one channel.

use super::*;

#[test]
fn the_first_inbound_message_starts_the_conversation() {
    conversation()
        .given_no_previous_events()
        .when(receive(Channel::Sms, msg(1), false, t0()))
        .then_expect_events(vec![
            started(Channel::Sms),
            received(Channel::Sms, msg(1), false, t0()),
        ]);
}

#[test]
fn a_later_inbound_message_is_only_recorded() {
    conversation()
        .given(vec![
            started(Channel::Sms),
            received(Channel::Sms, msg(1), false, t0()),
        ])
        .when(receive(Channel::Sms, msg(2), false, at(5)))
        .then_expect_events(vec![received(Channel::Sms, msg(2), false, at(5))]);
}

#[test]
fn the_first_outbound_message_also_starts_the_conversation() {
    conversation()
        .given_no_previous_events()
        .when(queue(
            Channel::Sms,
            msg(1),
            text("Hello Ada"),
            MessageOrigin::Outreach,
            t0(),
        ))
        .then_expect_events(vec![
            started(Channel::Sms),
            queued(msg(1), text("Hello Ada"), MessageOrigin::Outreach, t0()),
        ]);
}

#[test]
fn the_same_provider_message_twice_records_nothing() {
    conversation()
        .given(vec![
            started(Channel::Sms),
            received(Channel::Sms, msg(1), false, t0()),
        ])
        .when(receive(Channel::Sms, msg(1), false, t0()))
        .then_expect_events(vec![]);
}

#[test]
fn a_retried_webhook_under_a_new_message_id_records_nothing() {
    let retry = ConversationCommand::ReceiveInbound {
        lead_id: lead(),
        channel: Channel::Sms,
        message_id: msg(9),
        provider: "twilio".into(),
        provider_message_id: format!("SM{}", msg(1)),
        body: "Hi, is Tuesday free?".into(),
        received_at: at(60),
        engage_ai: true,
    };
    conversation()
        .given(vec![
            started(Channel::Sms),
            received(Channel::Sms, msg(1), false, t0()),
        ])
        .when(retry)
        .then_expect_events(vec![]);
}

#[test]
fn the_same_message_id_from_another_provider_is_a_new_message() {
    let sandbox = ConversationCommand::ReceiveInbound {
        lead_id: lead(),
        channel: Channel::Sms,
        message_id: msg(2),
        provider: "sandbox".into(),
        provider_message_id: format!("SM{}", msg(1)),
        body: "hello".into(),
        received_at: at(5),
        engage_ai: false,
    };
    let result = conversation()
        .given(vec![
            started(Channel::Sms),
            received(Channel::Sms, msg(1), false, t0()),
        ])
        .when(sandbox)
        .inspect_result();
    assert!(matches!(
        result.unwrap().as_slice(),
        [ConversationEvent::InboundMessageReceived { message_id, .. }] if *message_id == msg(2)
    ));
}

#[test]
fn an_inbound_message_from_another_lead_is_refused() {
    let mut command = receive(Channel::Sms, msg(2), false, at(5));
    if let ConversationCommand::ReceiveInbound { lead_id, .. } = &mut command {
        *lead_id = other_lead();
    }
    conversation()
        .given(vec![
            started(Channel::Sms),
            received(Channel::Sms, msg(1), false, t0()),
        ])
        .when(command)
        .then_expect_error(ConversationError::WrongConversation);
}

#[test]
fn an_inbound_message_on_another_channel_is_refused() {
    conversation()
        .given(vec![
            started(Channel::Sms),
            received(Channel::Sms, msg(1), false, t0()),
        ])
        .when(receive(Channel::Whatsapp, msg(2), false, at(5)))
        .then_expect_error(ConversationError::WrongConversation);
}

#[test]
fn queueing_for_another_lead_or_channel_is_refused() {
    let for_other_lead = ConversationCommand::QueueOutbound {
        lead_id: other_lead(),
        channel: Channel::Sms,
        message_id: msg(2),
        content: text("Hello"),
        origin: MessageOrigin::Operator,
        now: t0(),
    };
    conversation()
        .given(with_queued(msg(1)))
        .when(for_other_lead)
        .then_expect_error(ConversationError::WrongConversation);
    conversation()
        .given(with_queued(msg(1)))
        .when(queue(
            Channel::Whatsapp,
            msg(2),
            template(),
            MessageOrigin::Operator,
            t0(),
        ))
        .then_expect_error(ConversationError::WrongConversation);
}

#[test]
fn an_inbound_message_reusing_an_outbound_id_is_refused() {
    conversation()
        .given(with_queued(msg(1)))
        .when(receive(Channel::Sms, msg(1), false, at(5)))
        .then_expect_error(ConversationError::DuplicateMessageId);
}

#[test]
fn an_inbound_message_reusing_an_inbound_id_under_a_new_provider_id_is_refused() {
    let command = ConversationCommand::ReceiveInbound {
        lead_id: lead(),
        channel: Channel::Sms,
        message_id: msg(1),
        provider: "twilio".into(),
        provider_message_id: "SM-other".into(),
        body: "another message".into(),
        received_at: at(5),
        engage_ai: false,
    };
    conversation()
        .given(vec![
            started(Channel::Sms),
            received(Channel::Sms, msg(1), false, t0()),
        ])
        .when(command)
        .then_expect_error(ConversationError::DuplicateMessageId);
}

#[test]
fn queueing_under_an_id_already_used_is_refused() {
    conversation()
        .given(with_queued(msg(1)))
        .when(queue(
            Channel::Sms,
            msg(1),
            text("again"),
            MessageOrigin::Operator,
            at(5),
        ))
        .then_expect_error(ConversationError::DuplicateMessageId);
    conversation()
        .given(vec![
            started(Channel::Sms),
            received(Channel::Sms, msg(1), false, t0()),
        ])
        .when(queue(
            Channel::Sms,
            msg(1),
            text("reply"),
            MessageOrigin::Operator,
            at(5),
        ))
        .then_expect_error(ConversationError::DuplicateMessageId);
}

#[test]
fn the_state_keeps_the_latest_inbound_time_when_messages_arrive_out_of_order() {
    let mut state = Conversation::default();
    for event in [
        started(Channel::Sms),
        received(Channel::Sms, msg(1), false, hours(10)),
        received(Channel::Sms, msg(2), false, hours(2)),
    ] {
        state.apply(event);
    }
    assert_eq!(state.last_inbound_at(), Some(hours(10)));
    assert_eq!(state.transcript().len(), 2);
}
