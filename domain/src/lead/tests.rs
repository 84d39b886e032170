//! Given/when/then tests of the Lead aggregate: capture, sources, details, workflow and tags
//! here; the status lifecycle in `tests/lifecycle.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod capture;
mod details;
mod engagement;
mod lifecycle;

use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::json;

use super::*;
use crate::values::{
    CountryCode, CustomFields, EmailAddress, LeadSource, PhoneNumber, Tag, WorkflowId,
};

type LeadTestFramework = TestFramework<Lead>;

fn lead() -> LeadTestFramework {
    LeadTestFramework::with(())
}

fn phone() -> PhoneNumber {
    PhoneNumber::parse("07400 123456", CountryCode::default()).unwrap()
}

fn email() -> EmailAddress {
    EmailAddress::parse("ada@example.com").unwrap()
}

fn tag(name: &str) -> Tag {
    Tag::parse(name).unwrap()
}

fn workflow() -> WorkflowId {
    WorkflowId::from_uuid(uuid::Uuid::nil())
}

fn new_lead() -> NewLead {
    NewLead {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        phone: Some(phone()),
        email: None,
        custom_fields: CustomFields::default(),
        source: LeadSource::Website,
        tags: vec![tag("vip")],
        workflow_id: Some(workflow()),
    }
}

/// The event `new_lead()` produces.
fn captured() -> LeadEvent {
    LeadEvent::LeadCaptured {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        phone: Some(phone()),
        email: None,
        custom_fields: CustomFields::default(),
        source: LeadSource::Website,
        tags: vec![tag("vip")],
        workflow_id: Some(workflow()),
    }
}

/// A details update that changes only the email.
fn email_changed(email: Option<EmailAddress>) -> LeadEvent {
    LeadEvent::LeadDetailsUpdated {
        first_name: None,
        last_name: None,
        phone: None,
        email: Some(email),
        custom_fields: None,
    }
}

#[test]
fn the_state_reflects_every_event() {
    let mut state = Lead::default();
    for event in sample_events() {
        state.apply(event);
    }
    assert!(state.is_captured());
    assert_eq!(
        (state.first_name(), state.last_name()),
        ("Grace", "Lovelace")
    );
    assert_eq!((state.phone(), state.email()), (None, Some(&email())));
    assert_eq!(state.source(), Some(LeadSource::Website));
    assert_eq!(state.additional_sources(), &[LeadSource::Api]);
    assert_eq!(state.tags().iter().collect::<Vec<_>>(), vec![&tag("hot")]);
    assert_eq!(state.workflow_id(), None);
    assert_eq!(state.status(), LeadStatus::OptedOut);
    assert!(state.is_opted_out());
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<Lead>(&json).unwrap(), state);
}

/// One event of every variant, in an order that makes a valid history.
fn sample_events() -> Vec<LeadEvent> {
    vec![
        captured(),
        LeadEvent::LeadSourceAdded {
            source: LeadSource::Api,
        },
        LeadEvent::LeadDetailsUpdated {
            first_name: Some("Grace".into()),
            last_name: None,
            phone: Some(None),
            email: Some(Some(email())),
            custom_fields: Some(CustomFields::parse(json!({"budget": 5000, "vip": true})).unwrap()),
        },
        LeadEvent::LeadWorkflowAssigned { workflow_id: None },
        LeadEvent::LeadTagged { tag: tag("hot") },
        LeadEvent::LeadUntagged { tag: tag("vip") },
        LeadEvent::LeadStatusChanged {
            from: LeadStatus::Pending,
            to: LeadStatus::Contacted,
        },
        LeadEvent::LeadStatusOverridden {
            from: LeadStatus::Contacted,
            to: LeadStatus::Booked,
            reason: "phoned".into(),
        },
        LeadEvent::LeadOptedOut {
            from: LeadStatus::Booked,
            reason: "STOP".into(),
        },
    ]
}

#[test]
fn every_event_round_trips_through_json() {
    let events = sample_events();
    let mut names: Vec<String> = events.iter().map(DomainEvent::event_type).collect();
    names.dedup();
    assert_eq!(names.len(), 9, "one sample per variant");
    for event in events {
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(serde_json::from_value::<LeadEvent>(json).unwrap(), event);
        assert_eq!(event.event_version(), "1");
    }
}

#[test]
fn the_aggregate_type_is_stable() {
    assert_eq!(Lead::TYPE, "lead");
}

#[test]
fn a_cleared_phone_and_an_untouched_email_stay_distinct_in_json() {
    let event = LeadEvent::LeadDetailsUpdated {
        first_name: None,
        last_name: None,
        phone: Some(None),
        email: None,
        custom_fields: None,
    };
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(
        json,
        json!({"LeadDetailsUpdated": {"first_name": null, "last_name": null, "phone": null, "custom_fields": null}})
    );
    assert_eq!(serde_json::from_value::<LeadEvent>(json).unwrap(), event);
}
