//! Given/when/then tests of engagement deferrals: recorded once per step and time.

use chrono::{TimeZone, Utc};

use super::*;

fn at(hour: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 30, hour, 0, 0).unwrap()
}

fn deferred(step: EngagementStep, hour: u32, reason: DeferralReason) -> LeadEvent {
    LeadEvent::LeadEngagementDeferred {
        step,
        until: at(hour),
        reason,
    }
}

#[test]
fn a_deferral_is_recorded_with_its_step_time_and_reason() {
    lead()
        .given(vec![captured()])
        .when(LeadCommand::DeferEngagement {
            step: 0,
            until: at(9),
            reason: DeferralReason::OutsideWindow,
        })
        .then_expect_events(vec![deferred(0, 9, DeferralReason::OutsideWindow)]);
}

#[test]
fn the_same_deferral_again_changes_nothing() {
    lead()
        .given(vec![
            captured(),
            deferred(1, 9, DeferralReason::OutsideWindow),
        ])
        .when(LeadCommand::DeferEngagement {
            step: 1,
            until: at(9),
            reason: DeferralReason::Overdue,
        })
        .then_expect_events(vec![]);
}

#[test]
fn another_step_or_time_is_recorded() {
    lead()
        .given(vec![
            captured(),
            deferred(1, 9, DeferralReason::OutsideWindow),
        ])
        .when(LeadCommand::DeferEngagement {
            step: 2,
            until: at(9),
            reason: DeferralReason::OutsideWindow,
        })
        .then_expect_events(vec![deferred(2, 9, DeferralReason::OutsideWindow)]);
    lead()
        .given(vec![
            captured(),
            deferred(1, 9, DeferralReason::OutsideWindow),
        ])
        .when(LeadCommand::DeferEngagement {
            step: 1,
            until: at(10),
            reason: DeferralReason::Overdue,
        })
        .then_expect_events(vec![deferred(1, 10, DeferralReason::Overdue)]);
}

#[test]
fn a_lead_never_captured_cannot_be_deferred() {
    lead()
        .given_no_previous_events()
        .when(LeadCommand::DeferEngagement {
            step: 0,
            until: at(9),
            reason: DeferralReason::OutsideWindow,
        })
        .then_expect_error(LeadError::NotCaptured);
}

#[test]
fn a_skipped_step_is_recorded_once() {
    lead()
        .given(vec![captured()])
        .when(LeadCommand::SkipEngagement {
            step: 1,
            reason: "whatsapp_window_closed".into(),
        })
        .then_expect_events(vec![LeadEvent::LeadEngagementSkipped {
            step: 1,
            reason: "whatsapp_window_closed".into(),
        }]);
    lead()
        .given(vec![
            captured(),
            LeadEvent::LeadEngagementSkipped {
                step: 1,
                reason: "whatsapp_window_closed".into(),
            },
        ])
        .when(LeadCommand::SkipEngagement {
            step: 1,
            reason: "no_sending_window".into(),
        })
        .then_expect_events(vec![]);
}
