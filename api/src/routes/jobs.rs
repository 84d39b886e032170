//! `/api/v1/jobs`: follow a background job (a bulk action): its progress, outcome, the
//! position of its last event, and the leads it could not act on.

use infrastructure::jobs;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;
use uuid::Uuid;

use crate::auth::BearerAuth;
use crate::dto::job::{JobDto, JobFailureDto};
use crate::error::ApiError;
use crate::responses::{paging, Page};
use crate::routes::ApiTags;
use crate::state::AppState;

/// Failures shown with a job; the rest are paged through `list_job_failures`.
pub const FAILURES_SHOWN: i64 = 100;

/// The jobs API.
#[derive(Debug, Clone, Copy)]
pub struct JobsApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Leads")]
impl JobsApi {
    /// Get a job
    ///
    /// Status, totals and progress, timestamps, the `position` of the last event written (pass
    /// it as `min_position` to the list to see the effect) and the first 100 failures.
    #[oai(path = "/jobs/:id", method = "get", operation_id = "get_job")]
    async fn get(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The job's id.
        id: Path<String>,
    ) -> Result<Json<JobDto>, ApiError> {
        let job = find(&auth, &state, &id.0).await?;
        let failures = jobs::failures(&state.pool, job.id, 0, FAILURES_SHOWN).await?;
        Ok(Json(JobDto::new(job, failures)))
    }

    /// List a job's failures
    ///
    /// Every lead the job could not act on, in target order.
    #[oai(
        path = "/jobs/:id/failures",
        method = "get",
        operation_id = "list_job_failures"
    )]
    async fn failures(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The job's id.
        id: Path<String>,
        /// Page number, from 1.
        page: Query<Option<u32>>,
        /// Items per page (default 50, at most 500).
        page_size: Query<Option<u32>>,
    ) -> Result<Json<Page<JobFailureDto>>, ApiError> {
        let (page, page_size) = paging(page.0, page_size.0)?;
        let job = find(&auth, &state, &id.0).await?;
        let offset = i64::from(page - 1) * i64::from(page_size);
        let items = jobs::failures(&state.pool, job.id, offset, i64::from(page_size)).await?;
        Ok(Json(Page {
            items: items.into_iter().map(JobFailureDto::from).collect(),
            total: job.failed,
            page,
            page_size,
        }))
    }
}

/// The caller's job `id`; another tenant's, or an id that does not parse, is not found.
async fn find(auth: &BearerAuth, state: &AppState, id: &str) -> Result<jobs::Job, ApiError> {
    let tenant = auth.0.tenant()?;
    let id = Uuid::parse_str(id.trim()).map_err(|_| ApiError::not_found("job"))?;
    jobs::get(&state.pool, tenant.as_uuid(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("job"))
}
