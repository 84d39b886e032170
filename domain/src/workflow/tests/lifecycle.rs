//! Given/when/then tests of the workflow lifecycle: activate, pause, resume, archive.

use super::*;

#[test]
fn activating_a_draft_records_it() {
    workflow()
        .given(in_status(WorkflowStatus::Draft))
        .when(WorkflowCommand::Activate)
        .then_expect_events(vec![WorkflowEvent::WorkflowActivated]);
}

#[test]
fn activating_an_active_or_paused_workflow_is_refused() {
    for from in [WorkflowStatus::Active, WorkflowStatus::Paused] {
        workflow()
            .given(in_status(from))
            .when(WorkflowCommand::Activate)
            .then_expect_error(WorkflowError::InvalidTransition {
                from,
                to: WorkflowStatus::Active,
            });
    }
}

#[test]
fn pausing_an_active_workflow_records_it() {
    workflow()
        .given(in_status(WorkflowStatus::Active))
        .when(WorkflowCommand::Pause)
        .then_expect_events(vec![WorkflowEvent::WorkflowPaused]);
}

#[test]
fn pausing_a_draft_or_paused_workflow_is_refused() {
    for from in [WorkflowStatus::Draft, WorkflowStatus::Paused] {
        workflow()
            .given(in_status(from))
            .when(WorkflowCommand::Pause)
            .then_expect_error(WorkflowError::InvalidTransition {
                from,
                to: WorkflowStatus::Paused,
            });
    }
}

#[test]
fn resuming_a_paused_workflow_records_it() {
    workflow()
        .given(in_status(WorkflowStatus::Paused))
        .when(WorkflowCommand::Resume)
        .then_expect_events(vec![WorkflowEvent::WorkflowResumed]);
}

#[test]
fn resuming_a_workflow_that_is_not_paused_is_refused() {
    for from in [WorkflowStatus::Draft, WorkflowStatus::Active] {
        workflow()
            .given(in_status(from))
            .when(WorkflowCommand::Resume)
            .then_expect_error(WorkflowError::InvalidTransition {
                from,
                to: WorkflowStatus::Active,
            });
    }
}

#[test]
fn archiving_from_draft_active_or_paused_records_it() {
    for status in [
        WorkflowStatus::Draft,
        WorkflowStatus::Active,
        WorkflowStatus::Paused,
    ] {
        workflow()
            .given(in_status(status))
            .when(WorkflowCommand::Archive)
            .then_expect_events(vec![WorkflowEvent::WorkflowArchived]);
    }
}

#[test]
fn every_lifecycle_command_on_an_archived_workflow_is_refused() {
    let commands = [
        WorkflowCommand::Activate,
        WorkflowCommand::Pause,
        WorkflowCommand::Resume,
        WorkflowCommand::Archive,
    ];
    for command in commands {
        workflow()
            .given(in_status(WorkflowStatus::Archived))
            .when(command)
            .then_expect_error(WorkflowError::Archived);
    }
}
