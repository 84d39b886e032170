//! Bodies of `POST /api/v1/workflows/bulk`: one lifecycle action on many workflows, and what
//! became of each.

use poem_openapi::{Enum, Object};
use serde::Deserialize;

/// A lifecycle action on many workflows.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct WorkflowBulkRequest {
    /// What to do to each workflow.
    pub action: WorkflowBulkAction,
    /// The workflows (1 to 1,000 ids; repeats count once), acted on in this order.
    pub ids: Vec<String>,
}

/// What to do to each workflow: what its single endpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum WorkflowBulkAction {
    /// `active` → `paused` (`pause_workflow`).
    Pause,
    /// `paused` → `active` (`resume_workflow`).
    Resume,
    /// Retire for good (`archive_workflow`).
    Archive,
}

/// What the action did to each workflow, in request order.
#[derive(Debug, Clone, Object)]
pub struct WorkflowBulkResponse {
    /// One result per distinct id.
    pub results: Vec<WorkflowBulkResult>,
    /// Global position of the last event written, to pass as `min_position` to the workflow
    /// reads; `null` when nothing changed.
    pub position: Option<i64>,
}

/// What became of one workflow.
#[derive(Debug, Clone, Object)]
pub struct WorkflowBulkResult {
    /// The workflow's id, as given.
    pub id: String,
    /// `done`, `skipped` (already so) or `failed` (see `error`).
    pub outcome: WorkflowBulkOutcome,
    /// Why it failed, when it did: the single endpoint's error code and message.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<WorkflowBulkError>,
}

/// The outcome for one workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum WorkflowBulkOutcome {
    /// The action was applied.
    Done,
    /// The workflow already was where the action would put it (paused, active, archived).
    Skipped,
    /// The action was refused for this workflow.
    Failed,
}

/// Why the action failed for one workflow.
#[derive(Debug, Clone, Object)]
pub struct WorkflowBulkError {
    /// Stable code: `not_found` (unknown id, or another tenant's), `invalid_state` (the
    /// lifecycle does not allow it, e.g. pausing a draft), `concurrent_modification`.
    pub code: String,
    /// Human-readable reason.
    pub message: String,
}
