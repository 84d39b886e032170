//! Given/when/then tests of a lead's details, workflow and tags.

use super::*;

#[test]
fn updating_details_records_only_the_fields_that_change() {
    let patch = LeadDetailsPatch {
        first_name: Some("Ada".into()),
        last_name: Some(" King ".into()),
        phone: Some(Some(phone())),
        email: Some(Some(email())),
        custom_fields: Some(CustomFields::parse(json!({"budget": 5000})).unwrap()),
    };
    let expected = LeadEvent::LeadDetailsUpdated {
        first_name: None,
        last_name: Some("King".into()),
        phone: None,
        email: Some(Some(email())),
        custom_fields: Some(CustomFields::parse(json!({"budget": 5000})).unwrap()),
    };
    lead()
        .given(vec![captured()])
        .when(LeadCommand::UpdateDetails(patch))
        .then_expect_events(vec![expected]);
}

#[test]
fn updating_details_to_the_current_values_records_nothing() {
    let patch = LeadDetailsPatch {
        first_name: Some("Ada".into()),
        phone: Some(Some(phone())),
        ..LeadDetailsPatch::default()
    };
    lead()
        .given(vec![captured()])
        .when(LeadCommand::UpdateDetails(patch))
        .then_expect_events(vec![]);
}

#[test]
fn clearing_the_phone_of_a_lead_with_an_email_is_accepted() {
    let add_email = email_changed(Some(email()));
    let patch = LeadDetailsPatch {
        phone: Some(None),
        ..LeadDetailsPatch::default()
    };
    lead()
        .given(vec![captured(), add_email])
        .when(LeadCommand::UpdateDetails(patch))
        .then_expect_events(vec![LeadEvent::LeadDetailsUpdated {
            first_name: None,
            last_name: None,
            phone: Some(None),
            email: None,
            custom_fields: None,
        }]);
}

#[test]
fn clearing_the_only_contact_is_refused() {
    let patch = LeadDetailsPatch {
        phone: Some(None),
        ..LeadDetailsPatch::default()
    };
    lead()
        .given(vec![captured()])
        .when(LeadCommand::UpdateDetails(patch))
        .then_expect_error(LeadError::NoContact);
}

#[test]
fn clearing_both_phone_and_email_is_refused() {
    let patch = LeadDetailsPatch {
        phone: Some(None),
        email: Some(None),
        ..LeadDetailsPatch::default()
    };
    lead()
        .given(vec![captured(), email_changed(Some(email()))])
        .when(LeadCommand::UpdateDetails(patch))
        .then_expect_error(LeadError::NoContact);
}

#[test]
fn replacing_the_email_while_clearing_the_phone_is_accepted() {
    let patch = LeadDetailsPatch {
        phone: Some(None),
        email: Some(Some(email())),
        ..LeadDetailsPatch::default()
    };
    let result = lead()
        .given(vec![captured()])
        .when(LeadCommand::UpdateDetails(patch))
        .inspect_result();
    assert_eq!(result.map(|events| events.len()), Ok(1));
}

#[test]
fn updating_a_name_to_over_100_characters_is_refused() {
    let patch = LeadDetailsPatch {
        first_name: Some("x".repeat(101)),
        ..LeadDetailsPatch::default()
    };
    lead()
        .given(vec![captured()])
        .when(LeadCommand::UpdateDetails(patch))
        .then_expect_error(LeadError::NameTooLong {
            field: "first_name",
            max: 100,
        });
}

#[test]
fn assigning_another_workflow_records_it() {
    let other = WorkflowId::new();
    lead()
        .given(vec![captured()])
        .when(LeadCommand::AssignWorkflow {
            workflow_id: Some(other),
        })
        .then_expect_events(vec![LeadEvent::LeadWorkflowAssigned {
            workflow_id: Some(other),
        }]);
}

#[test]
fn taking_a_lead_out_of_its_workflow_records_it() {
    lead()
        .given(vec![captured()])
        .when(LeadCommand::AssignWorkflow { workflow_id: None })
        .then_expect_events(vec![LeadEvent::LeadWorkflowAssigned { workflow_id: None }]);
}

#[test]
fn assigning_the_current_workflow_records_nothing() {
    lead()
        .given(vec![captured()])
        .when(LeadCommand::AssignWorkflow {
            workflow_id: Some(workflow()),
        })
        .then_expect_events(vec![]);
}

#[test]
fn adding_a_new_tag_records_it() {
    lead()
        .given(vec![captured()])
        .when(LeadCommand::AddTag { tag: tag("hot") })
        .then_expect_events(vec![LeadEvent::LeadTagged { tag: tag("hot") }]);
}

#[test]
fn adding_a_tag_the_lead_has_records_nothing() {
    lead()
        .given(vec![captured()])
        .when(LeadCommand::AddTag { tag: tag("VIP") })
        .then_expect_events(vec![]);
}

#[test]
fn removing_a_tag_the_lead_has_records_it() {
    lead()
        .given(vec![captured()])
        .when(LeadCommand::RemoveTag { tag: tag("vip") })
        .then_expect_events(vec![LeadEvent::LeadUntagged { tag: tag("vip") }]);
}

#[test]
fn removing_a_tag_the_lead_lacks_records_nothing() {
    lead()
        .given(vec![captured()])
        .when(LeadCommand::RemoveTag { tag: tag("hot") })
        .then_expect_events(vec![]);
}
