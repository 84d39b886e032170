//! Given/when/then tests of the Workflow aggregate: creation and edits here, the lifecycle in
//! `tests/lifecycle.rs`, the booking settings (reminders, buffer, notice) in `tests/booking.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod booking;
mod lifecycle;

use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};

use super::*;
use crate::values::{
    AppointmentDuration, BusinessHours, FollowUpCount, FollowUpDelayHours, MessageTemplate,
    WorkflowName,
};

type WorkflowTestFramework = TestFramework<Workflow>;

fn workflow() -> WorkflowTestFramework {
    WorkflowTestFramework::with(())
}

fn definition() -> WorkflowDefinition {
    WorkflowDefinition::new(
        WorkflowName::parse("Spring promo").unwrap(),
        Channel::Whatsapp,
        MessageTemplate::parse("Hi {first_name}, it's {brand_name}!").unwrap(),
    )
}

fn created() -> WorkflowEvent {
    WorkflowEvent::WorkflowCreated {
        definition: definition(),
    }
}

fn in_status(status: WorkflowStatus) -> Vec<WorkflowEvent> {
    use WorkflowEvent::{WorkflowActivated, WorkflowArchived, WorkflowPaused};
    match status {
        WorkflowStatus::Draft => vec![created()],
        WorkflowStatus::Active => vec![created(), WorkflowActivated],
        WorkflowStatus::Paused => vec![created(), WorkflowActivated, WorkflowPaused],
        WorkflowStatus::Archived => vec![created(), WorkflowArchived],
    }
}

fn rename(name: &str) -> WorkflowCommand {
    WorkflowCommand::UpdateWorkflow {
        patch: WorkflowPatch {
            name: Some(WorkflowName::parse(name).unwrap()),
            ..WorkflowPatch::default()
        },
    }
}

#[test]
fn creating_a_workflow_records_its_definition() {
    workflow()
        .given_no_previous_events()
        .when(WorkflowCommand::CreateWorkflow {
            definition: definition(),
        })
        .then_expect_events(vec![created()]);
}

#[test]
fn creating_a_workflow_that_breaks_a_definition_rule_is_refused() {
    let definition = WorkflowDefinition {
        description: "d".repeat(2001),
        ..definition()
    };
    workflow()
        .given_no_previous_events()
        .when(WorkflowCommand::CreateWorkflow { definition })
        .then_expect_error(WorkflowError::FieldTooLong {
            field: "description",
            max: 2000,
        });
}

#[test]
fn creating_a_workflow_twice_is_refused() {
    workflow()
        .given(vec![created()])
        .when(WorkflowCommand::CreateWorkflow {
            definition: definition(),
        })
        .then_expect_error(WorkflowError::AlreadyCreated);
}

#[test]
fn every_other_command_on_a_missing_workflow_is_refused() {
    let commands = [
        rename("New"),
        WorkflowCommand::Activate,
        WorkflowCommand::Pause,
        WorkflowCommand::Resume,
        WorkflowCommand::Archive,
    ];
    for command in commands {
        workflow()
            .given_no_previous_events()
            .when(command)
            .then_expect_error(WorkflowError::NotCreated);
    }
}

#[test]
fn updating_records_the_whole_new_definition() {
    let expected = WorkflowDefinition {
        name: WorkflowName::parse("Summer promo").unwrap(),
        ..definition()
    };
    workflow()
        .given(vec![created()])
        .when(rename("Summer promo"))
        .then_expect_events(vec![WorkflowEvent::WorkflowUpdated {
            definition: expected,
        }]);
}

#[test]
fn updating_an_active_or_paused_workflow_is_allowed() {
    for status in [WorkflowStatus::Active, WorkflowStatus::Paused] {
        let result = workflow()
            .given(in_status(status))
            .when(rename("Other"))
            .inspect_result();
        assert_eq!(result.map(|events| events.len()), Ok(1), "{status}");
    }
}

#[test]
fn updating_to_the_current_values_records_nothing() {
    workflow()
        .given(vec![created()])
        .when(rename("Spring promo"))
        .then_expect_events(vec![]);
}

#[test]
fn an_empty_patch_records_nothing() {
    workflow()
        .given(vec![created()])
        .when(WorkflowCommand::UpdateWorkflow {
            patch: WorkflowPatch::default(),
        })
        .then_expect_events(vec![]);
}

#[test]
fn an_update_is_checked_against_the_merged_definition() {
    let template = MessageTemplate::parse("Still there?").unwrap();
    let given = WorkflowEvent::WorkflowUpdated {
        definition: WorkflowDefinition {
            follow_up_templates: vec![template.clone(), template],
            ..definition()
        },
    };
    let patch = WorkflowPatch {
        follow_up_count: Some(FollowUpCount::new(1).unwrap()),
        ..WorkflowPatch::default()
    };
    workflow()
        .given(vec![created(), given])
        .when(WorkflowCommand::UpdateWorkflow { patch })
        .then_expect_error(WorkflowError::TooManyFollowUpTemplates { count: 2, max: 1 });
}

#[test]
fn an_update_with_a_repeated_question_key_is_refused() {
    let question = QualificationQuestion::parse("budget", "Budget?", ["over 5k"]).unwrap();
    let patch = WorkflowPatch {
        qualification_questions: Some(vec![question.clone(), question]),
        ..WorkflowPatch::default()
    };
    workflow()
        .given(vec![created()])
        .when(WorkflowCommand::UpdateWorkflow { patch })
        .then_expect_error(WorkflowError::DuplicateQuestionKey("budget".into()));
}

fn steps() -> Vec<FollowUpStep> {
    vec![
        FollowUpStep {
            delay_hours: FollowUpDelayHours::new(24).unwrap(),
            message: FollowUpMessage::Template(
                MessageTemplate::parse("Hi {first_name}, still keen?").unwrap(),
            ),
        },
        FollowUpStep {
            delay_hours: FollowUpDelayHours::new(48).unwrap(),
            message: FollowUpMessage::Ai,
        },
    ]
}

fn with_steps() -> WorkflowDefinition {
    WorkflowDefinition {
        follow_up_steps: steps(),
        ..definition()
    }
}

#[test]
fn creating_a_workflow_with_a_follow_up_sequence_records_it() {
    workflow()
        .given_no_previous_events()
        .when(WorkflowCommand::CreateWorkflow {
            definition: with_steps(),
        })
        .then_expect_events(vec![WorkflowEvent::WorkflowCreated {
            definition: with_steps(),
        }]);
}

#[test]
fn creating_a_workflow_with_more_than_10_steps_is_refused() {
    let definition = WorkflowDefinition {
        follow_up_steps: steps().into_iter().cycle().take(11).collect(),
        ..definition()
    };
    workflow()
        .given_no_previous_events()
        .when(WorkflowCommand::CreateWorkflow { definition })
        .then_expect_error(WorkflowError::TooManyFollowUpSteps { count: 11, max: 10 });
}

#[test]
fn adding_steps_to_a_workflow_with_templates_is_refused() {
    let given = WorkflowEvent::WorkflowUpdated {
        definition: WorkflowDefinition {
            follow_up_templates: vec![MessageTemplate::parse("Still there?").unwrap()],
            ..definition()
        },
    };
    let patch = WorkflowPatch {
        follow_up_steps: Some(steps()),
        ..WorkflowPatch::default()
    };
    workflow()
        .given(vec![created(), given])
        .when(WorkflowCommand::UpdateWorkflow { patch })
        .then_expect_error(WorkflowError::FollowUpStepsWithTemplates);
}

#[test]
fn replacing_templates_by_steps_in_one_update_is_allowed() {
    let given = WorkflowEvent::WorkflowUpdated {
        definition: WorkflowDefinition {
            follow_up_templates: vec![MessageTemplate::parse("Still there?").unwrap()],
            ..definition()
        },
    };
    let patch = WorkflowPatch {
        follow_up_templates: Some(vec![]),
        follow_up_steps: Some(steps()),
        ..WorkflowPatch::default()
    };
    workflow()
        .given(vec![created(), given])
        .when(WorkflowCommand::UpdateWorkflow { patch })
        .then_expect_events(vec![WorkflowEvent::WorkflowUpdated {
            definition: with_steps(),
        }]);
}

#[test]
fn clearing_the_steps_goes_back_to_count_and_delay() {
    let patch = WorkflowPatch {
        follow_up_steps: Some(vec![]),
        ..WorkflowPatch::default()
    };
    workflow()
        .given(vec![
            created(),
            WorkflowEvent::WorkflowUpdated {
                definition: with_steps(),
            },
        ])
        .when(WorkflowCommand::UpdateWorkflow { patch })
        .then_expect_events(vec![WorkflowEvent::WorkflowUpdated {
            definition: definition(),
        }]);
}

#[test]
fn updating_an_archived_workflow_is_refused() {
    workflow()
        .given(in_status(WorkflowStatus::Archived))
        .when(rename("Other"))
        .then_expect_error(WorkflowError::Archived);
}

/// A definition with every field set away from its default.
fn full_definition() -> WorkflowDefinition {
    WorkflowDefinition {
        description: "Spring leads".into(),
        ai_instructions: "Be brief.".into(),
        ai_model: None,
        opt_out_message: "Bye.".into(),
        follow_up_count: FollowUpCount::new(2).unwrap(),
        follow_up_delay_hours: FollowUpDelayHours::new(48).unwrap(),
        follow_up_templates: vec![MessageTemplate::parse(
            "Still keen, {first_name}? {custom.budget}",
        )
        .unwrap()],
        appointment_duration_minutes: AppointmentDuration::new(45).unwrap(),
        qualification_questions: vec![QualificationQuestion::parse(
            "budget",
            "Budget?",
            ["over 5k"],
        )
        .unwrap()],
        business_hours: Some(BusinessHours::default()),
        ..definition()
    }
}

#[test]
fn every_event_round_trips_through_json() {
    let events = vec![
        WorkflowEvent::WorkflowCreated {
            definition: full_definition(),
        },
        WorkflowEvent::WorkflowUpdated {
            definition: definition(),
        },
        WorkflowEvent::WorkflowUpdated {
            definition: with_steps(),
        },
        WorkflowEvent::WorkflowActivated,
        WorkflowEvent::WorkflowPaused,
        WorkflowEvent::WorkflowResumed,
        WorkflowEvent::WorkflowArchived,
    ];
    for event in events {
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            serde_json::from_value::<WorkflowEvent>(json).unwrap(),
            event,
            "{}",
            event.event_type()
        );
        assert_eq!(event.event_version(), "1");
    }
}

#[test]
fn the_state_follows_the_lifecycle() {
    let mut state = Workflow::default();
    assert!(!state.is_created());
    for event in in_status(WorkflowStatus::Paused) {
        state.apply(event);
    }
    assert_eq!(state.status(), WorkflowStatus::Paused);
    assert_eq!(state.definition(), Some(&definition()));
    state.apply(WorkflowEvent::WorkflowResumed);
    assert!(state.is_active());
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<Workflow>(&json).unwrap(), state);
}

#[test]
fn the_aggregate_type_is_stable() {
    assert_eq!(Workflow::TYPE, "workflow");
}

#[test]
fn a_patch_replaces_only_the_fields_it_sets() {
    let patch = WorkflowPatch {
        business_hours: Some(None),
        channel: Some(Channel::Sms),
        follow_up_steps: Some(steps()),
        ..WorkflowPatch::default()
    };
    let merged = patch.apply_to(&full_definition());
    assert_eq!(
        merged,
        WorkflowDefinition {
            business_hours: None,
            channel: Channel::Sms,
            follow_up_steps: steps(),
            ..full_definition()
        }
    );
    assert!(WorkflowPatch::default().is_empty());
    assert!(!patch.is_empty());
}
