//! Given/when/then tests of WhatsApp's 24-hour window: free text only less than 24 hours after
//! the lead's last message, approved templates at any time, and SMS never limited.

use super::*;

/// A WhatsApp conversation where the lead last wrote at `last`.
fn lead_wrote_at(last: DateTime<Utc>) -> Vec<ConversationEvent> {
    vec![
        started(Channel::Whatsapp),
        received(Channel::Whatsapp, msg(1), false, last),
    ]
}

fn free_text(channel: Channel, now: DateTime<Utc>) -> ConversationCommand {
    queue(
        channel,
        msg(2),
        text("Still keen?"),
        MessageOrigin::FollowUp,
        now,
    )
}

#[test]
fn free_text_before_the_lead_ever_wrote_is_refused() {
    conversation()
        .given_no_previous_events()
        .when(free_text(Channel::Whatsapp, t0()))
        .then_expect_error(ConversationError::WindowClosed { closed_since: None });
}

#[test]
fn free_text_after_our_own_template_is_still_refused_until_the_lead_writes() {
    conversation()
        .given(vec![
            started(Channel::Whatsapp),
            queued(msg(1), template(), MessageOrigin::Outreach, t0()),
        ])
        .when(free_text(Channel::Whatsapp, at(60)))
        .then_expect_error(ConversationError::WindowClosed { closed_since: None });
}

#[test]
fn free_text_one_second_before_the_window_closes_is_queued() {
    let now = hours(24) - Duration::seconds(1);
    conversation()
        .given(lead_wrote_at(t0()))
        .when(free_text(Channel::Whatsapp, now))
        .then_expect_events(vec![queued(
            msg(2),
            text("Still keen?"),
            MessageOrigin::FollowUp,
            now,
        )]);
}

#[test]
fn free_text_exactly_24_hours_after_the_last_inbound_is_refused() {
    conversation()
        .given(lead_wrote_at(t0()))
        .when(free_text(Channel::Whatsapp, hours(24)))
        .then_expect_error(ConversationError::WindowClosed {
            closed_since: Some(hours(24)),
        });
}

#[test]
fn the_window_closed_since_24_hours_after_the_last_inbound_not_the_first() {
    let mut history = lead_wrote_at(t0());
    history.push(ConversationEvent::InboundMessageReceived {
        message_id: msg(3),
        provider: "whatsapp_cloud".into(),
        provider_message_id: "wamid.later".into(),
        body: "thanks".into(),
        received_at: hours(5),
        ai_reply_expected: false,
    });
    conversation()
        .given(history)
        .when(free_text(Channel::Whatsapp, hours(72)))
        .then_expect_error(ConversationError::WindowClosed {
            closed_since: Some(hours(29)),
        });
}

#[test]
fn an_older_message_arriving_late_does_not_shorten_the_window() {
    let mut history = lead_wrote_at(hours(10));
    history.push(ConversationEvent::InboundMessageReceived {
        message_id: msg(3),
        provider: "whatsapp_cloud".into(),
        provider_message_id: "wamid.earlier".into(),
        body: "hello?".into(),
        received_at: t0(),
        ai_reply_expected: false,
    });
    conversation()
        .given(history)
        .when(free_text(Channel::Whatsapp, hours(30)))
        .then_expect_events(vec![queued(
            msg(2),
            text("Still keen?"),
            MessageOrigin::FollowUp,
            hours(30),
        )]);
}

#[test]
fn a_new_inbound_message_reopens_the_window() {
    let mut history = lead_wrote_at(t0());
    history.push(received(Channel::Whatsapp, msg(3), false, hours(48)));
    conversation()
        .given(history)
        .when(free_text(Channel::Whatsapp, hours(50)))
        .then_expect_events(vec![queued(
            msg(2),
            text("Still keen?"),
            MessageOrigin::FollowUp,
            hours(50),
        )]);
}

#[test]
fn a_template_is_allowed_whenever() {
    conversation()
        .given_no_previous_events()
        .when(queue(
            Channel::Whatsapp,
            msg(2),
            template(),
            MessageOrigin::Outreach,
            t0(),
        ))
        .then_expect_events(vec![
            started(Channel::Whatsapp),
            queued(msg(2), template(), MessageOrigin::Outreach, t0()),
        ]);
    conversation()
        .given(lead_wrote_at(t0()))
        .when(queue(
            Channel::Whatsapp,
            msg(2),
            template(),
            MessageOrigin::FollowUp,
            hours(72),
        ))
        .then_expect_events(vec![queued(
            msg(2),
            template(),
            MessageOrigin::FollowUp,
            hours(72),
        )]);
}

#[test]
fn sms_free_text_is_never_limited() {
    conversation()
        .given_no_previous_events()
        .when(free_text(Channel::Sms, t0()))
        .then_expect_events(vec![
            started(Channel::Sms),
            queued(msg(2), text("Still keen?"), MessageOrigin::FollowUp, t0()),
        ]);
    conversation()
        .given(vec![
            started(Channel::Sms),
            received(Channel::Sms, msg(1), false, t0()),
        ])
        .when(free_text(Channel::Sms, hours(24 * 30)))
        .then_expect_events(vec![queued(
            msg(2),
            text("Still keen?"),
            MessageOrigin::FollowUp,
            hours(24 * 30),
        )]);
}

#[test]
fn window_open_is_false_at_exactly_24_hours() {
    let mut state = Conversation::default();
    assert!(!state.window_open(t0()));
    for event in lead_wrote_at(t0()) {
        state.apply(event);
    }
    assert!(state.window_open(t0()));
    assert!(state.window_open(hours(24) - Duration::seconds(1)));
    assert!(!state.window_open(hours(24)));
}

#[test]
fn the_refusal_says_when_the_window_closed() {
    let error = ConversationError::WindowClosed {
        closed_since: Some(hours(24)),
    };
    assert_eq!(
        error.to_string(),
        "WhatsApp's 24-hour window is closed since 2025-03-02T09:00:00+00:00: only an approved template may be sent"
    );
}
