//! `/api/v1/leads/import` and `/api/v1/leads/imports/...`: import leads from a CSV file, and look
//! at an import's summary and per-row outcomes. The upload is spooled to disk (hashed, size
//! limited), then imported by [`infrastructure::lead_import`] in a task of its own, so a client
//! that hangs up does not leave an import half-written: it completes, and sending it again
//! answers its report.

use domain::values::{LeadSource, Tag, TenantId, WorkflowId};
use infrastructure::lead_import::{
    self, CsvFile, ImportError, ImportOptions, ImportReport, Outcome,
};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use serde_json::json;

use crate::auth::BearerAuth;
use crate::dto::import::{CsvUpload, ImportReportDto, ImportRowDto, ImportSummaryDto};
use crate::error::{invalid, ApiError};
use crate::middleware::RequestId;
use crate::responses::{paging, Page};
use crate::routes::ApiTags;
use crate::state::AppState;

/// The imports API.
#[derive(Debug, Clone, Copy)]
pub struct ImportsApi;

/// The answer to an import.
#[derive(Debug, ApiResponse)]
pub enum ImportResponse {
    /// The file was imported.
    #[oai(status = 201)]
    Imported(Json<ImportReportDto>),
    /// A dry run's report, or the stored report of an import that had already completed
    /// (`replayed: true`; nothing was written).
    #[oai(status = 200)]
    Reported(Json<ImportReportDto>),
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Leads")]
impl ImportsApi {
    /// Import leads from a CSV file
    ///
    /// The body is the CSV file (`text/csv`), or a `multipart/form-data` form with a `file`
    /// part. The first row names the columns: phone, email, first/last name or a full name are
    /// recognised from common headers (or named with `mapping`); every other column becomes a
    /// custom field. A row whose phone the tenant already has — or that an earlier row of the
    /// file had — is merged into that lead (it gains the source and tags, and the workflow if it
    /// has none; its details are kept). Rejected rows are reported with row number, column and
    /// reason. Sending the same import again (same `import_id`, or the same file and options)
    /// writes nothing and answers 200 with its stored report; an interrupted import resumes.
    #[oai(path = "/leads/import", method = "post", operation_id = "import_leads")]
    #[allow(clippy::too_many_arguments)]
    async fn import(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// Workflow for new leads (and merged leads that have none).
        workflow_id: Query<Option<String>>,
        /// Tags for every imported lead; repeat for several.
        #[oai(explode = true)]
        tag: Query<Option<Vec<String>>>,
        /// Source recorded on the leads (default `csv_import`).
        source: Query<Option<String>>,
        /// Validate and report without writing anything.
        dry_run: Query<Option<bool>>,
        /// Your idempotency key for this import (letters, digits, `-_.:`; at most 100).
        import_id: Query<Option<String>>,
        /// `,` `;` `|` or `tab`; detected from the header line when absent.
        delimiter: Query<Option<String>>,
        /// JSON object of field to header, e.g. `{"phone":"Mobile No"}`; fields are phone,
        /// email, first_name, last_name and name.
        mapping: Query<Option<String>>,
        body: CsvUpload,
    ) -> Result<ImportResponse, ApiError> {
        let tenant_id = auth.0.tenant()?;
        let tenant = state
            .tenants
            .get(tenant_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the key's tenant no longer exists"))?;
        let mut options = ImportOptions::new(tenant.default_country);
        options.workflow_id = workflow_id
            .0
            .map(|w| w.parse::<WorkflowId>().map_err(invalid("workflow_id")))
            .transpose()?;
        options.tags = tag
            .0
            .unwrap_or_default()
            .iter()
            .flat_map(|t| t.split(','))
            .map(|t| Tag::parse(t).map_err(invalid("tag")))
            .collect::<Result<_, _>>()?;
        if let Some(source) = source.0 {
            options.source = source.parse::<LeadSource>().map_err(invalid("source"))?;
        }
        options.dry_run = dry_run.0.unwrap_or(false);
        options.import_id = import_id.0;
        options.delimiter = delimiter
            .0
            .map(|d| lead_import::parse_delimiter(&d))
            .transpose()
            .map_err(|e| ApiError::invalid_field("delimiter", e))?;
        options.mapping = mapping
            .0
            .map(|m| lead_import::parse_mapping(&m))
            .transpose()
            .map_err(|e| ApiError::invalid_field("mapping", e))?
            .unwrap_or_default();
        let file = spool(body, state.settings.import_max_bytes).await?;
        let ctx = state.context(&auth.0, tenant_id, &request_id);
        let pool = state.pool.clone();
        let dry = options.dry_run;
        // A task of its own: if the client hangs up, the import still finishes.
        let report = tokio::spawn(async move {
            lead_import::import(&pool, &ctx, &file, &options, &|_| {}).await
        })
        .await
        .map_err(|e| ApiError::internal(&anyhow::Error::from(e)))?
        .map_err(import_error)?;
        Ok(respond(report, dry))
    }

    /// An import's summary
    #[oai(
        path = "/leads/imports/:import_id",
        method = "get",
        operation_id = "get_lead_import"
    )]
    async fn summary(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The import's id.
        import_id: Path<String>,
    ) -> Result<Json<ImportSummaryDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        find(&state, tenant, &import_id.0)
            .await
            .map(|summary| Json(summary.into()))
    }

    /// An import's rows
    ///
    /// Each row's outcome in file order, optionally only one kind (`created`, `merged`,
    /// `rejected`), page by page.
    #[oai(
        path = "/leads/imports/:import_id/rows",
        method = "get",
        operation_id = "list_lead_import_rows"
    )]
    async fn rows(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The import's id.
        import_id: Path<String>,
        /// Only rows with this outcome.
        outcome: Query<Option<String>>,
        /// Page number, from 1.
        page: Query<Option<u32>>,
        /// Rows per page (default 50, at most 500).
        page_size: Query<Option<u32>>,
    ) -> Result<Json<Page<ImportRowDto>>, ApiError> {
        let tenant = auth.0.tenant()?;
        let (page, page_size) = paging(page.0, page_size.0)?;
        let outcome = outcome
            .0
            .map(|o| o.parse::<Outcome>())
            .transpose()
            .map_err(|e| ApiError::invalid_field("outcome", e))?;
        find(&state, tenant, &import_id.0).await?;
        let (items, total) =
            lead_import::row_outcomes(&state.pool, tenant, &import_id.0, outcome, page, page_size)
                .await?;
        Ok(Json(Page {
            items: items.into_iter().map(Into::into).collect(),
            total,
            page,
            page_size,
        }))
    }
}

/// The tenant's import, or 404.
async fn find(
    state: &AppState,
    tenant: TenantId,
    import_id: &str,
) -> Result<lead_import::ImportSummary, ApiError> {
    lead_import::find_summary(&state.pool, tenant, import_id)
        .await?
        .ok_or_else(|| ApiError::not_found("import"))
}

/// Reads the upload to a temporary file: the body itself, or the form's `file` part.
async fn spool(body: CsvUpload, limit: u64) -> Result<CsvFile, ApiError> {
    match body {
        CsvUpload::Csv(body) => CsvFile::spool(body.0.into_async_read(), limit)
            .await
            .map_err(import_error),
        CsvUpload::Multipart(mut form) => loop {
            let field = form
                .0
                .next_field()
                .await
                .map_err(|e| import_error(ImportError::Unreadable(e.to_string())))?;
            let Some(field) = field else {
                return Err(ApiError::invalid_field(
                    "file",
                    "the form has no 'file' part holding the CSV file",
                ));
            };
            if field.name() == Some("file") {
                return CsvFile::spool(Box::pin(field.into_async_read()), limit)
                    .await
                    .map_err(import_error);
            }
        },
    }
}

fn respond(report: ImportReport, dry_run: bool) -> ImportResponse {
    let fresh = !dry_run && !report.replayed;
    let body = Json(ImportReportDto::from(report));
    if fresh {
        ImportResponse::Imported(body)
    } else {
        ImportResponse::Reported(body)
    }
}

/// What an import's failure means to the client.
fn import_error(error: ImportError) -> ApiError {
    match error {
        ImportError::Invalid { field, reason } => ApiError::invalid_field(field, reason),
        ImportError::TooLarge { limit } => {
            ApiError::payload_too_large(usize::try_from(limit).unwrap_or(usize::MAX))
        }
        ImportError::Unreadable(reason) => ApiError::bad_request(
            "unreadable_body",
            format!("the upload could not be read: {reason}"),
            Some("file"),
        ),
        ImportError::Running(id) => ApiError::conflict(
            "import_running",
            format!("import {id} is running; send it again once it has finished for its report"),
            json!({ "import_id": id }),
        ),
        ImportError::IdReused(id) => ApiError::conflict(
            "import_id_reused",
            format!("import {id} was already used for a different file or different options"),
            json!({ "import_id": id, "field": "import_id" }),
        ),
        ImportError::Internal(error) => ApiError::internal(&error),
    }
}
