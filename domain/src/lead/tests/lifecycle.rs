//! Given/when/then tests of the lead's status lifecycle: advancing, overriding, opting out.

use super::*;

fn in_status(status: LeadStatus) -> Vec<LeadEvent> {
    let mut events = vec![captured()];
    if status != LeadStatus::Pending {
        events.push(LeadEvent::LeadStatusOverridden {
            from: LeadStatus::Pending,
            to: status,
            reason: "test setup".into(),
        });
    }
    events
}

fn opted_out() -> Vec<LeadEvent> {
    let mut events = in_status(LeadStatus::Contacted);
    events.push(LeadEvent::LeadOptedOut {
        from: LeadStatus::Contacted,
        reason: "STOP".into(),
    });
    events
}

#[test]
fn advancing_along_the_lifecycle_records_the_change() {
    lead()
        .given(in_status(LeadStatus::Qualified))
        .when(LeadCommand::AdvanceStatus {
            to: LeadStatus::Booked,
        })
        .then_expect_events(vec![LeadEvent::LeadStatusChanged {
            from: LeadStatus::Qualified,
            to: LeadStatus::Booked,
        }]);
}

#[test]
fn every_move_the_table_allows_is_recorded() {
    for from in LeadStatus::ALL {
        for to in LeadStatus::ALL
            .into_iter()
            .filter(|to| from.can_advance_to(*to))
        {
            lead()
                .given(in_status(from))
                .when(LeadCommand::AdvanceStatus { to })
                .then_expect_events(vec![LeadEvent::LeadStatusChanged { from, to }]);
        }
    }
}

#[test]
fn advancing_to_a_status_the_lifecycle_forbids_is_refused() {
    lead()
        .given(in_status(LeadStatus::Pending))
        .when(LeadCommand::AdvanceStatus {
            to: LeadStatus::Booked,
        })
        .then_expect_error(LeadError::InvalidTransition {
            from: LeadStatus::Pending,
            to: LeadStatus::Booked,
        });
}

#[test]
fn advancing_to_the_current_status_is_refused() {
    lead()
        .given(in_status(LeadStatus::Contacted))
        .when(LeadCommand::AdvanceStatus {
            to: LeadStatus::Contacted,
        })
        .then_expect_error(LeadError::AlreadyInStatus(LeadStatus::Contacted));
}

#[test]
fn advancing_to_opted_out_is_refused_in_favour_of_the_opt_out_command() {
    lead()
        .given(in_status(LeadStatus::InConversation))
        .when(LeadCommand::AdvanceStatus {
            to: LeadStatus::OptedOut,
        })
        .then_expect_error(LeadError::UseOptOutCommand);
}

#[test]
fn advancing_an_opted_out_lead_is_refused() {
    lead()
        .given(opted_out())
        .when(LeadCommand::AdvanceStatus {
            to: LeadStatus::InConversation,
        })
        .then_expect_error(LeadError::OptedOutIsFinal);
}

#[test]
fn overriding_the_status_records_the_trimmed_reason() {
    lead()
        .given(in_status(LeadStatus::Pending))
        .when(LeadCommand::OverrideStatus {
            to: LeadStatus::Booked,
            reason: " booked by phone ".into(),
        })
        .then_expect_events(vec![LeadEvent::LeadStatusOverridden {
            from: LeadStatus::Pending,
            to: LeadStatus::Booked,
            reason: "booked by phone".into(),
        }]);
}

#[test]
fn overriding_without_a_reason_is_refused() {
    lead()
        .given(in_status(LeadStatus::Pending))
        .when(LeadCommand::OverrideStatus {
            to: LeadStatus::Booked,
            reason: "  ".into(),
        })
        .then_expect_error(LeadError::ReasonRequired);
}

#[test]
fn overriding_with_a_reason_over_1000_characters_is_refused() {
    lead()
        .given(in_status(LeadStatus::Pending))
        .when(LeadCommand::OverrideStatus {
            to: LeadStatus::Booked,
            reason: "x".repeat(1001),
        })
        .then_expect_error(LeadError::ReasonTooLong { max: 1000 });
}

#[test]
fn overriding_to_opted_out_is_refused_in_favour_of_the_opt_out_command() {
    lead()
        .given(in_status(LeadStatus::Pending))
        .when(LeadCommand::OverrideStatus {
            to: LeadStatus::OptedOut,
            reason: "asked".into(),
        })
        .then_expect_error(LeadError::UseOptOutCommand);
}

#[test]
fn overriding_an_opted_out_lead_is_refused() {
    lead()
        .given(opted_out())
        .when(LeadCommand::OverrideStatus {
            to: LeadStatus::Pending,
            reason: "mistake".into(),
        })
        .then_expect_error(LeadError::OptedOutIsFinal);
}

#[test]
fn overriding_to_the_current_status_is_refused() {
    lead()
        .given(in_status(LeadStatus::Booked))
        .when(LeadCommand::OverrideStatus {
            to: LeadStatus::Booked,
            reason: "again".into(),
        })
        .then_expect_error(LeadError::AlreadyInStatus(LeadStatus::Booked));
}

#[test]
fn opting_out_records_the_previous_status_and_reason() {
    lead()
        .given(in_status(LeadStatus::InConversation))
        .when(LeadCommand::OptOut {
            reason: "keyword STOP".into(),
        })
        .then_expect_events(vec![LeadEvent::LeadOptedOut {
            from: LeadStatus::InConversation,
            reason: "keyword STOP".into(),
        }]);
}

#[test]
fn opting_out_without_a_reason_is_refused() {
    lead()
        .given(in_status(LeadStatus::Pending))
        .when(LeadCommand::OptOut {
            reason: String::new(),
        })
        .then_expect_error(LeadError::ReasonRequired);
}

#[test]
fn opting_out_twice_is_refused() {
    lead()
        .given(opted_out())
        .when(LeadCommand::OptOut {
            reason: "STOP".into(),
        })
        .then_expect_error(LeadError::AlreadyOptedOut);
}

#[test]
fn archiving_records_it_once_and_restoring_undoes_it() {
    lead()
        .given(vec![captured()])
        .when(LeadCommand::Archive)
        .then_expect_events(vec![LeadEvent::LeadArchived]);
    lead()
        .given(vec![captured(), LeadEvent::LeadArchived])
        .when(LeadCommand::Archive)
        .then_expect_events(vec![]);
    lead()
        .given(vec![captured(), LeadEvent::LeadArchived])
        .when(LeadCommand::Restore)
        .then_expect_events(vec![LeadEvent::LeadRestored]);
    lead()
        .given(vec![captured()])
        .when(LeadCommand::Restore)
        .then_expect_events(vec![]);
}

#[test]
fn an_archived_lead_knows_it() {
    let mut state = Lead::default();
    state.apply(captured());
    state.apply(LeadEvent::LeadArchived);
    assert!(state.is_archived());
    state.apply(LeadEvent::LeadRestored);
    assert!(!state.is_archived());
}
