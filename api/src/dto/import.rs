//! Bodies of the CSV import: the upload (a CSV body, or a multipart form with a `file` part —
//! both read as streams, never buffered whole), the import report, the import's summary and its
//! per-row outcomes.

use chrono::{DateTime, Utc};
use infrastructure::lead_import::{ImportReport, ImportSummary, RowError, RowOutcome, RowPreview};
use poem::{Body, FromRequest, Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::{ApiRequest, Object};

/// The content types read as a bare CSV body (spreadsheets and browsers label CSV variously).
const CSV_TYPES: [&str; 5] = [
    "text/csv",
    "application/csv",
    "text/plain",
    "application/octet-stream",
    "application/vnd.ms-excel",
];

/// The file to import.
#[derive(Debug, ApiRequest)]
pub enum CsvUpload {
    /// The CSV file as the request body.
    Csv(CsvBody),
    /// A form with the CSV file in its `file` part (other parts are ignored).
    Multipart(CsvForm),
}

/// A CSV file sent as the body, not yet read.
#[derive(Debug)]
pub struct CsvBody(pub Body);

/// A multipart form holding the CSV file, not yet read.
pub struct CsvForm(pub poem::web::Multipart);

impl std::fmt::Debug for CsvForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsvForm")
    }
}

fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn binary_schema() -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        format: Some("binary"),
        ..MetaSchema::new("string")
    }))
}

impl Payload for CsvBody {
    const CONTENT_TYPE: &'static str = "text/csv";

    fn check_content_type(content_type: &str) -> bool {
        CSV_TYPES.contains(&essence(content_type).as_str())
    }

    fn schema_ref() -> MetaSchemaRef {
        binary_schema()
    }
}

impl ParsePayload for CsvBody {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(Body::from_request(request, body).await?))
    }
}

impl Payload for CsvForm {
    const CONTENT_TYPE: &'static str = "multipart/form-data";

    fn check_content_type(content_type: &str) -> bool {
        essence(content_type) == "multipart/form-data"
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            required: vec!["file"],
            properties: vec![("file", binary_schema())],
            ..MetaSchema::new("object")
        }))
    }
}

impl ParsePayload for CsvForm {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(
            poem::web::Multipart::from_request(request, body).await?,
        ))
    }
}

/// What an import did, or — for a dry run — would do.
#[derive(Debug, Clone, Object)]
pub struct ImportReportDto {
    /// The import's id: the `import_id` sent, or one derived from the file and options.
    pub import_id: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Whether this import had already completed and this is its stored report.
    pub replayed: bool,
    /// Data rows read (the header is not counted).
    pub rows: u64,
    /// New leads.
    pub created: u64,
    /// Rows whose phone was already known (in the tenant or earlier in the file).
    pub merged: u64,
    /// Rows not imported.
    pub rejected: u64,
    /// Every rejected row, in file order.
    pub errors: Vec<ImportRowErrorDto>,
    /// Global position of the last event written: pass it as `min_position` to list the leads.
    pub position: Option<i64>,
    /// Dry run only: the first rows that would be imported, as read.
    #[oai(skip_serializing_if_is_empty)]
    pub preview: Vec<ImportPreviewRowDto>,
}

impl From<ImportReport> for ImportReportDto {
    fn from(report: ImportReport) -> Self {
        Self {
            import_id: report.import_id,
            dry_run: report.dry_run,
            replayed: report.replayed,
            rows: report.rows,
            created: report.created,
            merged: report.merged,
            rejected: report.rejected,
            errors: report.errors.into_iter().map(Into::into).collect(),
            position: report.position,
            preview: report.preview.into_iter().map(Into::into).collect(),
        }
    }
}

/// A rejected row.
#[derive(Debug, Clone, Object)]
pub struct ImportRowErrorDto {
    /// Spreadsheet row number: the header is row 1, the first data row is row 2.
    pub row: u32,
    /// The column's header in the file (or the field's name).
    pub column: String,
    /// Why the value was refused.
    pub reason: String,
}

impl From<RowError> for ImportRowErrorDto {
    fn from(error: RowError) -> Self {
        Self {
            row: error.row,
            column: error.column,
            reason: error.reason,
        }
    }
}

/// A row of a dry run as it was read.
#[derive(Debug, Clone, Object)]
pub struct ImportPreviewRowDto {
    /// Spreadsheet row number.
    pub row: u32,
    /// `created` or `merged`.
    pub outcome: String,
    /// The known lead the row would merge into.
    pub lead_id: Option<String>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Phone in E.164.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Custom fields.
    pub custom_fields: serde_json::Value,
}

impl From<RowPreview> for ImportPreviewRowDto {
    fn from(row: RowPreview) -> Self {
        Self {
            row: row.row,
            outcome: row.outcome.as_str().to_string(),
            lead_id: row.lead_id.map(|id| id.to_string()),
            first_name: row.first_name,
            last_name: row.last_name,
            phone: row.phone,
            email: row.email,
            custom_fields: row.custom_fields,
        }
    }
}

/// A recorded import.
#[derive(Debug, Clone, Object)]
pub struct ImportSummaryDto {
    /// The import's id.
    pub import_id: String,
    /// `running`, `completed` or `failed` (sending a failed or interrupted import again
    /// resumes it).
    pub status: String,
    /// The options it ran with, normalised.
    pub options: serde_json::Value,
    /// Data rows processed so far.
    pub rows: u64,
    /// New leads.
    pub created: u64,
    /// Rows merged into known leads.
    pub merged: u64,
    /// Rows not imported.
    pub rejected: u64,
    /// Global position of the last event written.
    pub position: Option<i64>,
    /// When it was first sent.
    pub created_at: DateTime<Utc>,
    /// When it completed or failed.
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<ImportSummary> for ImportSummaryDto {
    fn from(summary: ImportSummary) -> Self {
        Self {
            import_id: summary.import_id,
            status: summary.status.as_str().to_string(),
            options: summary.options,
            rows: summary.rows,
            created: summary.created,
            merged: summary.merged,
            rejected: summary.rejected,
            position: summary.position,
            created_at: summary.created_at,
            finished_at: summary.finished_at,
        }
    }
}

/// One row's outcome.
#[derive(Debug, Clone, Object)]
pub struct ImportRowDto {
    /// Spreadsheet row number.
    pub row: u32,
    /// `created`, `merged` or `rejected`.
    pub outcome: String,
    /// The lead created or merged into.
    pub lead_id: Option<String>,
    /// For a rejected row, the column at fault.
    pub column: Option<String>,
    /// For a rejected row, why.
    pub reason: Option<String>,
}

impl From<RowOutcome> for ImportRowDto {
    fn from(row: RowOutcome) -> Self {
        Self {
            row: row.row,
            outcome: row.outcome.as_str().to_string(),
            lead_id: row.lead_id.map(|id| id.to_string()),
            column: row.column,
            reason: row.reason,
        }
    }
}
