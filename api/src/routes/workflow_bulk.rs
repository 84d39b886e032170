//! `POST /api/v1/workflows/bulk`: pause, resume or archive many workflows at once. Tenants have
//! few workflows, so it runs synchronously: each id, in order, gets exactly what its single
//! endpoint does (`routes::workflows::lifecycle`), and the answer says what became of each.
//! A refusal because the workflow already is where the action would put it is a skip; any
//! other refusal is that workflow's failure, with the single endpoint's error code.

use std::collections::HashSet;

use domain::{Workflow, WorkflowCommand, WorkflowStatus};
use infrastructure::event_store;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;

use crate::auth::{BearerAuth, Caller};
use crate::body::JsonBody;
use crate::dto::workflow_bulk::{
    WorkflowBulkAction, WorkflowBulkError, WorkflowBulkOutcome, WorkflowBulkRequest,
    WorkflowBulkResponse, WorkflowBulkResult,
};
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::routes::workflows::lifecycle;
use crate::routes::ApiTags;
use crate::state::AppState;

/// Most workflows one request may name.
pub const MAX_IDS: usize = 1_000;

/// The bulk workflow actions API.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkflowBulkApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Workflows")]
impl WorkflowBulkApi {
    /// Pause, resume or archive many workflows
    ///
    /// Applies `action` (`pause`, `resume` or `archive`) to each workflow in `ids` (1 to 1,000;
    /// repeats count once), in order, exactly as `pause_workflow`, `resume_workflow` or
    /// `archive_workflow` would, and answers 200 with one result per workflow: `done`,
    /// `skipped` (already paused, already active, already archived) or `failed` with the
    /// single endpoint's `error` (`not_found` for an unknown id or another tenant's,
    /// `invalid_state` when the lifecycle forbids it, e.g. pausing a draft or resuming an
    /// archived workflow). One workflow's failure does not stop the others. `position` is that
    /// of the last event written (for `min_position`).
    #[oai(
        path = "/workflows/bulk",
        method = "post",
        operation_id = "bulk_update_workflows"
    )]
    async fn bulk(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        body: JsonBody<WorkflowBulkRequest>,
    ) -> Result<Json<WorkflowBulkResponse>, ApiError> {
        auth.0.tenant()?;
        let action = body.0.action;
        let ids = distinct_ids(body.0.ids)?;
        let mut results = Vec::with_capacity(ids.len());
        let mut position = None;
        for id in ids {
            let (outcome, error) = match run(&state, &auth.0, &request_id, &id, action).await? {
                Ok(Some(at)) => {
                    position = position.max(Some(at));
                    (WorkflowBulkOutcome::Done, None)
                }
                Ok(None) => (WorkflowBulkOutcome::Skipped, None),
                Err(error) => (WorkflowBulkOutcome::Failed, Some(error)),
            };
            results.push(WorkflowBulkResult { id, outcome, error });
        }
        Ok(Json(WorkflowBulkResponse { results, position }))
    }
}

/// The ids, checked (1 to [`MAX_IDS`]) and without repeats, in their first order.
fn distinct_ids(ids: Vec<String>) -> Result<Vec<String>, ApiError> {
    if ids.is_empty() {
        return Err(ApiError::invalid_field("ids", "name at least one workflow"));
    }
    if ids.len() > MAX_IDS {
        return Err(ApiError::invalid_field(
            "ids",
            format!("at most {MAX_IDS} ids"),
        ));
    }
    let mut seen = HashSet::with_capacity(ids.len());
    Ok(ids
        .into_iter()
        .map(|id| id.trim().to_owned())
        .filter(|id| seen.insert(id.clone()))
        .collect())
}

/// The command an action runs, and the status a workflow it already is in skips it.
fn command(action: WorkflowBulkAction) -> (WorkflowCommand, WorkflowStatus) {
    match action {
        WorkflowBulkAction::Pause => (WorkflowCommand::Pause, WorkflowStatus::Paused),
        WorkflowBulkAction::Resume => (WorkflowCommand::Resume, WorkflowStatus::Active),
        WorkflowBulkAction::Archive => (WorkflowCommand::Archive, WorkflowStatus::Archived),
    }
}

/// Runs the action on workflow `id`: the position written (`None`: it already was so), or its
/// refusal. Fails the whole request only when the service does (5xx).
async fn run(
    state: &AppState,
    caller: &Caller,
    request_id: &RequestId,
    id: &str,
    action: WorkflowBulkAction,
) -> Result<Result<Option<i64>, WorkflowBulkError>, ApiError> {
    let (command, target) = command(action);
    let error = match lifecycle(state, caller, request_id, id, command).await {
        Ok(result) => return Ok(Ok(result.0.position)),
        Err(error) if error.status().is_server_error() => return Err(error),
        Err(error) => error,
    };
    if matches!(error, ApiError::Conflict(_)) && status_of(state, caller, id).await? == Some(target)
    {
        return Ok(Ok(None));
    }
    Ok(Err(detail(&error)))
}

/// The workflow's status as the event store has it now (`None` when the caller has no such
/// workflow).
async fn status_of(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Option<WorkflowStatus>, ApiError> {
    let tenant = caller.tenant()?;
    let mut conn = state.pool.acquire().await.map_err(anyhow::Error::from)?;
    match event_store::load::<Workflow>(&mut conn, tenant.as_uuid(), id).await {
        Ok(loaded) if loaded.version > 0 => Ok(Some(loaded.aggregate.status())),
        Ok(_) | Err(event_store::StoreError::OtherTenant) => Ok(None),
        Err(error) => Err(anyhow::Error::from(error).into()),
    }
}

/// The code and message of a refusal.
fn detail(error: &ApiError) -> WorkflowBulkError {
    let body = match error {
        ApiError::BadRequest(body)
        | ApiError::Unauthorized(body)
        | ApiError::Forbidden(body)
        | ApiError::NotFound(body)
        | ApiError::Conflict(body)
        | ApiError::PayloadTooLarge(body)
        | ApiError::MethodNotAllowed(body)
        | ApiError::UnsupportedMediaType(body)
        | ApiError::Unprocessable(body)
        | ApiError::Internal(body)
        | ApiError::Unavailable(body, _) => body,
    };
    WorkflowBulkError {
        code: body.0.error.code.clone(),
        message: body.0.error.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::field_of;

    #[test]
    fn ids_are_kept_in_order_once_each() {
        let ids = distinct_ids(vec![" a".into(), "b".into(), "a".into()]).unwrap();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn no_ids_or_too_many_is_refused_naming_ids() {
        assert_eq!(field_of(distinct_ids(Vec::new()).unwrap_err()), "ids");
        let many = (0..=MAX_IDS).map(|n| n.to_string()).collect();
        assert_eq!(field_of(distinct_ids(many).unwrap_err()), "ids");
    }

    #[test]
    fn each_action_runs_its_single_endpoints_command() {
        assert_eq!(
            command(WorkflowBulkAction::Pause),
            (WorkflowCommand::Pause, WorkflowStatus::Paused)
        );
        assert_eq!(
            command(WorkflowBulkAction::Resume),
            (WorkflowCommand::Resume, WorkflowStatus::Active)
        );
        assert_eq!(
            command(WorkflowBulkAction::Archive),
            (WorkflowCommand::Archive, WorkflowStatus::Archived)
        );
    }

    #[test]
    fn a_refusal_keeps_its_code_and_message() {
        let error = detail(&ApiError::not_found("workflow"));
        assert_eq!(
            (error.code.as_str(), error.message.as_str()),
            ("not_found", "workflow not found")
        );
    }
}
