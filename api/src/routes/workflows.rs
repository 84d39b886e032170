//! `/api/v1/workflows`: create, read, change and run a tenant's workflows. Commands go through
//! the Workflow aggregate (event-sourced) and answer with what they committed; reads come from
//! the workflows read model, never from the event store, and can wait for a command's position.
//!
//! Every route acts for the caller's tenant. A workflow id that does not parse, that does not
//! exist, or that belongs to another tenant is the same 404, so ids never reveal existence.

use domain::values::{TenantId, WorkflowId};
use domain::{Workflow, WorkflowCommand, WorkflowDefinition, WorkflowPatch};
use infrastructure::executor::Existence;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;

use crate::auth::{BearerAuth, Caller};
use crate::body::JsonBody;
use crate::dto::workflow::{
    CreateWorkflowRequest, UpdateWorkflowRequest, WorkflowDto, WorkflowStatus,
};
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::responses::{paging, CommandResult, Created, Page};
use crate::routes::ApiTags;
use crate::state::AppState;

/// The resource name used in errors.
const RESOURCE: &str = "workflow";

/// The workflows resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkflowsApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Workflows")]
impl WorkflowsApi {
    /// Create a workflow
    ///
    /// Creates a workflow in `draft`; activate it to start engaging leads. Only `name`,
    /// `channel` and `initial_message` are required. Templates may use `{first_name}`,
    /// `{last_name}`, `{brand_name}` and `{custom.KEY}`; any other merge field is refused with
    /// a 422 naming the field. Follow-ups are either `follow_up_count` messages
    /// `follow_up_delay_hours` apart (texts from `follow_up_templates`, else written by the AI)
    /// or an explicit `follow_up_steps` sequence, not both. Answers the new workflow's id and
    /// the position to pass as `min_position` to read it back.
    #[oai(path = "/workflows", method = "post", operation_id = "create_workflow")]
    async fn create_workflow(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        body: JsonBody<CreateWorkflowRequest>,
    ) -> Result<Created<CommandResult>, ApiError> {
        let tenant = auth.0.tenant()?;
        let definition = WorkflowDefinition::try_from(body.0)?;
        let command = WorkflowCommand::CreateWorkflow { definition };
        let result = execute(
            &state,
            &auth.0,
            tenant,
            &request_id,
            WorkflowId::new(),
            Existence::MayCreate,
            command,
        )
        .await?;
        Ok(Created::Created(Json(result)))
    }

    /// List workflows
    ///
    /// The tenant's workflows, newest first, with their lead counts per status. Filter by
    /// `status`; pass a command's `position` as `min_position` to see its effect.
    #[oai(path = "/workflows", method = "get", operation_id = "list_workflows")]
    async fn list_workflows(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Only workflows in this status.
        status: Query<Option<WorkflowStatus>>,
        /// Page number, from 1 (default 1).
        page: Query<Option<u32>>,
        /// Items per page, 1 to 500 (default 50).
        page_size: Query<Option<u32>>,
        /// Wait (briefly) until the read model has applied the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<Page<WorkflowDto>>, ApiError> {
        let tenant = auth.0.tenant()?;
        let (page, page_size) = paging(page.0, page_size.0)?;
        let schema = projections::workflows::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        let status = status.0.map(|s| domain::WorkflowStatus::from(s).as_str());
        let found = projections::workflows::query::list(
            &state.pool,
            &schema,
            tenant.as_uuid(),
            status,
            page,
            page_size,
        )
        .await?;
        let items = found
            .items
            .into_iter()
            .map(WorkflowDto::try_from)
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Json(Page {
            items,
            total: found.total,
            page,
            page_size,
        }))
    }

    /// Get a workflow
    ///
    /// One workflow with its definition, status and lead counts per status. Pass a command's
    /// `position` as `min_position` to see its effect.
    #[oai(path = "/workflows/:id", method = "get", operation_id = "get_workflow")]
    async fn get_workflow(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The workflow's id.
        id: Path<String>,
        /// Wait (briefly) until the read model has applied the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<WorkflowDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let id = parse_id(&id.0)?;
        let schema = projections::workflows::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        let view = projections::workflows::query::get(
            &state.pool,
            &schema,
            tenant.as_uuid(),
            id.as_uuid(),
        )
        .await?
        .ok_or_else(|| ApiError::not_found(RESOURCE))?;
        Ok(Json(WorkflowDto::try_from(view)?))
    }

    /// Update a workflow
    ///
    /// Changes only the fields given; lists (`follow_up_templates`, `follow_up_steps`,
    /// `qualification_questions`) are replaced whole, `follow_up_steps: []` clears the sequence
    /// so the count, delay and templates apply again, and `business_hours: null` drops the
    /// workflow's own hours so the tenant's apply. The result is checked as a whole (e.g. no
    /// more follow-up templates than `follow_up_count`, not both templates and steps). An archived workflow cannot change (409). A change that changes
    /// nothing records nothing and answers `position: null`.
    #[oai(
        path = "/workflows/:id",
        method = "patch",
        operation_id = "update_workflow"
    )]
    async fn update_workflow(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The workflow's id.
        id: Path<String>,
        body: JsonBody<UpdateWorkflowRequest>,
    ) -> Result<Json<CommandResult>, ApiError> {
        auth.0.tenant()?;
        let patch = WorkflowPatch::try_from(body.0)?;
        lifecycle(
            &state,
            &auth.0,
            &request_id,
            &id.0,
            WorkflowCommand::UpdateWorkflow { patch },
        )
        .await
    }

    /// Activate a workflow
    ///
    /// `draft` → `active`: leads assigned to it start being contacted. Any other status
    /// answers 409.
    #[oai(
        path = "/workflows/:id/activate",
        method = "post",
        operation_id = "activate_workflow"
    )]
    async fn activate_workflow(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The workflow's id.
        id: Path<String>,
    ) -> Result<Json<CommandResult>, ApiError> {
        lifecycle(
            &state,
            &auth.0,
            &request_id,
            &id.0,
            WorkflowCommand::Activate,
        )
        .await
    }

    /// Pause a workflow
    ///
    /// `active` → `paused`: no new messages go out until it is resumed. Any other status
    /// answers 409.
    #[oai(
        path = "/workflows/:id/pause",
        method = "post",
        operation_id = "pause_workflow"
    )]
    async fn pause_workflow(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The workflow's id.
        id: Path<String>,
    ) -> Result<Json<CommandResult>, ApiError> {
        lifecycle(&state, &auth.0, &request_id, &id.0, WorkflowCommand::Pause).await
    }

    /// Resume a workflow
    ///
    /// `paused` → `active`. Any other status answers 409.
    #[oai(
        path = "/workflows/:id/resume",
        method = "post",
        operation_id = "resume_workflow"
    )]
    async fn resume_workflow(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The workflow's id.
        id: Path<String>,
    ) -> Result<Json<CommandResult>, ApiError> {
        lifecycle(&state, &auth.0, &request_id, &id.0, WorkflowCommand::Resume).await
    }

    /// Archive a workflow
    ///
    /// Retires the workflow for good, from `draft`, `active` or `paused`; it can no longer
    /// change. Archiving an archived workflow answers 409.
    #[oai(
        path = "/workflows/:id/archive",
        method = "post",
        operation_id = "archive_workflow"
    )]
    async fn archive_workflow(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The workflow's id.
        id: Path<String>,
    ) -> Result<Json<CommandResult>, ApiError> {
        lifecycle(
            &state,
            &auth.0,
            &request_id,
            &id.0,
            WorkflowCommand::Archive,
        )
        .await
    }
}

/// A path id that is not a UUID names no workflow: 404, like any unknown id.
fn parse_id(raw: &str) -> Result<WorkflowId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(RESOURCE))
}

/// Runs `command` on the existing workflow named by the path id `raw_id`.
pub(crate) async fn lifecycle(
    state: &AppState,
    caller: &Caller,
    request_id: &RequestId,
    raw_id: &str,
    command: WorkflowCommand,
) -> Result<Json<CommandResult>, ApiError> {
    let tenant = caller.tenant()?;
    let id = parse_id(raw_id)?;
    execute(
        state,
        caller,
        tenant,
        request_id,
        id,
        Existence::MustExist,
        command,
    )
    .await
    .map(Json)
}

/// Runs `command` on workflow `id` for `tenant` and reports what was committed.
async fn execute(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    request_id: &RequestId,
    id: WorkflowId,
    existence: Existence,
    command: WorkflowCommand,
) -> Result<CommandResult, ApiError> {
    state
        .run_command::<Workflow>(
            caller,
            tenant,
            request_id,
            &id.to_string(),
            existence,
            command,
            RESOURCE,
        )
        .await
}
