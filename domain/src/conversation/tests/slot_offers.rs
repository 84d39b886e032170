//! Given/when/then tests of offering appointment times: an offer names a message of the
//! conversation and well-formed times, replaces the earlier offer, and is used up by a booking.

use super::*;
use crate::values::AppointmentId;

/// Tuesday 4 March 2025 at `hour`:00 UTC, for 30 minutes, labelled as the lead saw it.
fn slot(hour: u32) -> SlotOffer {
    let start = Utc.with_ymd_and_hms(2025, 3, 4, hour, 0, 0).unwrap();
    SlotOffer {
        start,
        end: start + Duration::minutes(30),
        label: format!("Tue 4 Mar {hour}:00"),
    }
}

fn offer(slots: Vec<SlotOffer>, id: MessageId) -> ConversationCommand {
    ConversationCommand::OfferSlots {
        slots,
        message_id: id,
        at: at(5),
    }
}

fn offered(slots: Vec<SlotOffer>, id: MessageId) -> ConversationEvent {
    ConversationEvent::AppointmentSlotsOffered {
        slots,
        message_id: id,
        at: at(5),
    }
}

fn appointment() -> AppointmentId {
    AppointmentId::from_uuid(Uuid::from_u128(77))
}

#[test]
fn times_are_offered_in_a_message_of_the_conversation() {
    conversation()
        .given(with_queued(msg(1)))
        .when(offer(vec![slot(9), slot(14)], msg(1)))
        .then_expect_events(vec![offered(vec![slot(9), slot(14)], msg(1))]);
}

#[test]
fn an_offer_in_a_message_that_is_not_ours_is_refused() {
    conversation()
        .given(with_queued(msg(1)))
        .when(offer(vec![slot(9)], msg(2)))
        .then_expect_error(ConversationError::MessageNotFound);
}

#[test]
fn an_empty_oversized_or_malformed_offer_is_refused() {
    let backwards = SlotOffer {
        end: slot(9).start - Duration::minutes(30),
        ..slot(9)
    };
    let unlabelled = SlotOffer {
        label: "  ".into(),
        ..slot(9)
    };
    let long_label = SlotOffer {
        label: "x".repeat(MAX_SLOT_LABEL_LEN + 1),
        ..slot(9)
    };
    let six = (9..15).map(slot).collect();
    for slots in [
        vec![],
        six,
        vec![backwards],
        vec![unlabelled],
        vec![long_label],
    ] {
        conversation()
            .given(with_queued(msg(1)))
            .when(offer(slots, msg(1)))
            .then_expect_error(ConversationError::InvalidOffer);
    }
}

#[test]
fn a_new_offer_replaces_the_last_and_a_booking_uses_it_up() {
    let mut state = Conversation::default();
    for event in with_queued(msg(1)) {
        state.apply(event);
    }
    state.apply(offered(vec![slot(9), slot(14)], msg(1)));
    state.apply(offered(vec![slot(16)], msg(1)));
    assert_eq!(state.offered_slots(), &[slot(16)]);
    state.apply(ConversationEvent::AppointmentBookedInConversation {
        appointment_id: appointment(),
        start: slot(16).start,
        at: at(9),
    });
    assert!(state.offered_slots().is_empty());
}

#[test]
fn a_booking_is_recorded_in_a_started_conversation_only() {
    let command = || ConversationCommand::RecordBooking {
        appointment_id: appointment(),
        start: slot(9).start,
        at: at(9),
    };
    conversation()
        .given(with_queued(msg(1)))
        .when(command())
        .then_expect_events(vec![ConversationEvent::AppointmentBookedInConversation {
            appointment_id: appointment(),
            start: slot(9).start,
            at: at(9),
        }]);
    conversation()
        .given_no_previous_events()
        .when(command())
        .then_expect_error(ConversationError::WrongConversation);
}
