//! What can be asked of a workflow.

use super::{WorkflowDefinition, WorkflowPatch};

/// A command for the Workflow aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkflowCommand {
    /// Create the workflow in `draft`.
    CreateWorkflow {
        /// The definition, already parsed.
        definition: WorkflowDefinition,
    },
    /// Change part of the definition (not once archived). The aggregate merges the patch into the
    /// current definition and checks the whole; no event if nothing changed.
    UpdateWorkflow {
        /// The fields to change.
        patch: WorkflowPatch,
    },
    /// `draft` → `active`.
    Activate,
    /// `active` → `paused`.
    Pause,
    /// `paused` → `active`.
    Resume,
    /// Any state but `archived` → `archived`.
    Archive,
}
