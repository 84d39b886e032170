//! Given/when/then tests of capturing a lead and recording its sources.

use super::*;

#[test]
fn capturing_a_new_lead_records_it() {
    lead()
        .given_no_previous_events()
        .when(LeadCommand::CaptureLead(new_lead()))
        .then_expect_events(vec![captured()]);
}

#[test]
fn capturing_a_lead_trims_names_and_drops_repeated_tags() {
    let command = NewLead {
        first_name: "  Ada ".into(),
        last_name: "Lovelace  ".into(),
        tags: vec![tag("vip"), tag("VIP"), tag("vip")],
        ..new_lead()
    };
    lead()
        .given_no_previous_events()
        .when(LeadCommand::CaptureLead(command))
        .then_expect_events(vec![captured()]);
}

#[test]
fn capturing_a_lead_with_only_an_email_is_accepted() {
    let command = NewLead {
        phone: None,
        email: Some(email()),
        tags: vec![],
        workflow_id: None,
        ..new_lead()
    };
    let result = lead()
        .given_no_previous_events()
        .when(LeadCommand::CaptureLead(command))
        .inspect_result();
    assert!(matches!(
        result.unwrap().as_slice(),
        [LeadEvent::LeadCaptured {
            phone: None,
            email: Some(_),
            ..
        }]
    ));
}

#[test]
fn capturing_a_lead_without_phone_or_email_is_refused() {
    let command = NewLead {
        phone: None,
        email: None,
        ..new_lead()
    };
    lead()
        .given_no_previous_events()
        .when(LeadCommand::CaptureLead(command))
        .then_expect_error(LeadError::NoContact);
}

#[test]
fn capturing_a_lead_with_a_name_over_100_characters_is_refused() {
    let command = NewLead {
        last_name: "x".repeat(101),
        ..new_lead()
    };
    lead()
        .given_no_previous_events()
        .when(LeadCommand::CaptureLead(command))
        .then_expect_error(LeadError::NameTooLong {
            field: "last_name",
            max: 100,
        });
}

#[test]
fn capturing_a_lead_twice_is_refused() {
    lead()
        .given(vec![captured()])
        .when(LeadCommand::CaptureLead(new_lead()))
        .then_expect_error(LeadError::AlreadyCaptured);
}

#[test]
fn every_other_command_on_an_uncaptured_lead_is_refused() {
    let commands = vec![
        LeadCommand::AddSource {
            source: LeadSource::Api,
        },
        LeadCommand::UpdateDetails(LeadDetailsPatch::default()),
        LeadCommand::AssignWorkflow { workflow_id: None },
        LeadCommand::AddTag { tag: tag("vip") },
        LeadCommand::RemoveTag { tag: tag("vip") },
        LeadCommand::AdvanceStatus {
            to: LeadStatus::Contacted,
        },
        LeadCommand::OverrideStatus {
            to: LeadStatus::Booked,
            reason: "phoned".into(),
        },
        LeadCommand::OptOut {
            reason: "STOP".into(),
        },
    ];
    for command in commands {
        lead()
            .given_no_previous_events()
            .when(command)
            .then_expect_error(LeadError::NotCaptured);
    }
}

#[test]
fn a_new_source_is_recorded() {
    lead()
        .given(vec![captured()])
        .when(LeadCommand::AddSource {
            source: LeadSource::Referral,
        })
        .then_expect_events(vec![LeadEvent::LeadSourceAdded {
            source: LeadSource::Referral,
        }]);
}

#[test]
fn adding_the_first_source_again_records_nothing() {
    lead()
        .given(vec![captured()])
        .when(LeadCommand::AddSource {
            source: LeadSource::Website,
        })
        .then_expect_events(vec![]);
}

#[test]
fn adding_a_known_additional_source_again_records_nothing() {
    lead()
        .given(vec![
            captured(),
            LeadEvent::LeadSourceAdded {
                source: LeadSource::Api,
            },
        ])
        .when(LeadCommand::AddSource {
            source: LeadSource::Api,
        })
        .then_expect_events(vec![]);
}
