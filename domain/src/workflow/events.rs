//! Everything that can happen to a workflow. Persisted: never rename a variant or its
//! `event_type`.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::WorkflowDefinition;

/// An event of the Workflow aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WorkflowEvent {
    /// A workflow was created, in `draft`.
    WorkflowCreated {
        /// The full definition.
        definition: WorkflowDefinition,
    },
    /// The definition was edited (the whole new definition).
    WorkflowUpdated {
        /// The definition after the edit.
        definition: WorkflowDefinition,
    },
    /// `draft` → `active`: leads start being contacted.
    WorkflowActivated,
    /// `active` → `paused`: no new messages are sent.
    WorkflowPaused,
    /// `paused` → `active`.
    WorkflowResumed,
    /// Final: the workflow is retired.
    WorkflowArchived,
}

impl DomainEvent for WorkflowEvent {
    fn event_type(&self) -> String {
        match self {
            Self::WorkflowCreated { .. } => "WorkflowCreated",
            Self::WorkflowUpdated { .. } => "WorkflowUpdated",
            Self::WorkflowActivated => "WorkflowActivated",
            Self::WorkflowPaused => "WorkflowPaused",
            Self::WorkflowResumed => "WorkflowResumed",
            Self::WorkflowArchived => "WorkflowArchived",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
