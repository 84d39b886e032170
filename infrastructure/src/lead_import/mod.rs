//! Importing leads from a CSV file: tens of thousands of rows in seconds, in constant memory, and
//! safe to send again. The API (`POST /api/v1/leads/import`) and the CLI (`bookerbot leads
//! import`) both hand a [`CsvFile`] and [`ImportOptions`] to [`import`].
//!
//! How it works:
//! - The file is read by the `csv` crate on a blocking thread; parsed rows flow through a bounded
//!   channel to the writer in batches of [`BATCH_ROWS`], so memory does not grow with the file.
//! - Each batch is one transaction: its phones are claimed set-wise (the one-lead-per-phone rule
//!   of [`crate::lead_phones`]), every new lead's `LeadCaptured` and every merged lead's events go
//!   in with one [`crate::event_store::append_many`], and the batch's per-row outcomes and
//!   counters are recorded with them. A conflicting writer makes the batch run again.
//! - An import has an id: the client's idempotency key, or a digest of the content and the
//!   normalised options. Lead ids are derived from (tenant, import id, row), and the outcomes
//!   say which rows are done, so an import that died half-way resumes after its last batch and a
//!   completed one is answered from its record without writing anything.
//! - A row whose phone is already known in the tenant (including from an earlier row of the same
//!   file) is *merged*: the lead gains the import's source and tags, and the workflow when it has
//!   none; its details are not overwritten.
//!
//! # Layout
//! - `columns`: which column holds which field (mapping, header detection, custom keys).
//! - `reader`: the CSV reader (BOM, delimiter detection, rows into lead values).
//! - `file`: the uploaded file spooled to disk with its SHA-256 and a size limit.
//! - `identity`: import ids, option fingerprints and deterministic lead ids.
//! - `decide`: what a batch's valid rows become (new leads, merges), with the Lead aggregate.
//! - `writer`: one batch, one transaction.
//! - `records`: the `lead_imports` and `lead_import_rows` tables.
//! - `preview`: the dry run, which writes nothing.
//! - `run`: the pipeline tying them together.

mod columns;
mod decide;
mod file;
mod identity;
mod preview;
mod reader;
mod records;
mod run;
mod writer;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use domain::values::{CountryCode, LeadId, LeadSource, Tag, WorkflowId};
use serde::Serialize;

pub use columns::Field;
pub use file::CsvFile;
pub use records::{find_summary, row_outcomes};
pub use run::import;

/// Rows written per transaction.
pub const BATCH_ROWS: usize = 1000;
/// Rows of a dry run shown as parsed.
pub const PREVIEW_ROWS: usize = 20;
/// Default largest upload accepted by the API.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// How to read the file and what to do with its leads.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Workflow for new leads, and for merged leads that have none.
    pub workflow_id: Option<WorkflowId>,
    /// Tags every imported lead gets.
    pub tags: Vec<Tag>,
    /// The source recorded on every lead (`csv_import` unless told otherwise).
    pub source: LeadSource,
    /// Validate and report only; write nothing at all.
    pub dry_run: bool,
    /// The client's idempotency key; without it the id is derived from content and options.
    pub import_id: Option<String>,
    /// Field delimiter; detected from the header line among `,` `;` tab and `|` when `None`.
    pub delimiter: Option<u8>,
    /// Explicit columns (field → header); other fields are detected from the headers.
    pub mapping: BTreeMap<Field, String>,
    /// Country national phone numbers are read in (the tenant's default country).
    pub country: CountryCode,
}

impl ImportOptions {
    /// Defaults for a tenant whose national numbers are in `country`.
    pub fn new(country: CountryCode) -> Self {
        Self {
            workflow_id: None,
            tags: Vec::new(),
            source: LeadSource::CsvImport,
            dry_run: false,
            import_id: None,
            delimiter: None,
            mapping: BTreeMap::new(),
            country,
        }
    }
}

/// Reads a delimiter option: `,` `;` `|`, or a tab (`\t` or `tab`).
pub fn parse_delimiter(raw: &str) -> Result<u8, String> {
    match raw {
        "," => Ok(b','),
        ";" => Ok(b';'),
        "|" => Ok(b'|'),
        "\t" | "\\t" | "tab" | "TAB" => Ok(b'\t'),
        other => Err(format!(
            "must be one of ',', ';', '|' or 'tab' (got '{other}')"
        )),
    }
}

/// Reads a mapping given as a JSON object of field → header (`{"phone":"Mobile No"}`).
pub fn parse_mapping(raw: &str) -> Result<BTreeMap<Field, String>, String> {
    let object: BTreeMap<String, String> = serde_json::from_str(raw).map_err(|e| {
        format!("must be a JSON object of field to header, like {{\"phone\":\"Mobile\"}}: {e}")
    })?;
    object
        .into_iter()
        .map(|(field, header)| {
            let field = field.parse::<Field>()?;
            if header.trim().is_empty() {
                return Err(format!("{field}: the header must not be empty"));
            }
            Ok((field, header))
        })
        .collect()
}

/// What happened to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new lead.
    Created,
    /// Merged into the tenant's lead with the same phone.
    Merged,
    /// Not imported; see the row's column and reason.
    Rejected,
}

impl Outcome {
    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Merged => "merged",
            Self::Rejected => "rejected",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "created" => Ok(Self::Created),
            "merged" => Ok(Self::Merged),
            "rejected" => Ok(Self::Rejected),
            other => Err(format!(
                "must be one of created, merged, rejected (got '{other}')"
            )),
        }
    }
}

/// A rejected row: where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// Spreadsheet row number (the header is row 1, the first data row is row 2).
    pub row: u32,
    /// The column's header in the file (or the field's name).
    pub column: String,
    /// Why the value was refused.
    pub reason: String,
}

/// The recorded outcome of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowOutcome {
    /// Spreadsheet row number.
    pub row: u32,
    /// What happened.
    pub outcome: Outcome,
    /// The lead created or merged into.
    pub lead_id: Option<LeadId>,
    /// For a rejected row, the column at fault.
    pub column: Option<String>,
    /// For a rejected row, why.
    pub reason: Option<String>,
}

/// A row of a dry run as it was read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowPreview {
    /// Spreadsheet row number.
    pub row: u32,
    /// What the import would do with it.
    pub outcome: Outcome,
    /// The known lead it would merge into.
    pub lead_id: Option<LeadId>,
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

/// Where an import stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Being written (or interrupted: sending it again resumes it).
    Running,
    /// Every row has its outcome.
    Completed,
    /// Stopped by an error; sending it again resumes it.
    Failed,
}

impl ImportStatus {
    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    fn parse(raw: &str) -> anyhow::Result<Self> {
        match raw {
            "running" => Ok(Self::Running),
            "completed" => Ok(Self::Completed),
            "failed" => Ok(Self::Failed),
            other => Err(anyhow::anyhow!("unknown import status '{other}'")),
        }
    }
}

/// What an import did (or, for a dry run, would do).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    /// The import's id.
    pub import_id: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Whether the import had already completed and this is its stored report.
    pub replayed: bool,
    /// Data rows read (rows whose cells are all empty are skipped and not counted).
    pub rows: u64,
    /// New leads.
    pub created: u64,
    /// Rows merged into known leads.
    pub merged: u64,
    /// Rows refused.
    pub rejected: u64,
    /// Every rejected row, in file order.
    pub errors: Vec<RowError>,
    /// Global position of the last event written (`None` if nothing was written).
    pub position: Option<i64>,
    /// For a dry run, the first rows as read.
    pub preview: Vec<RowPreview>,
}

/// A recorded import, without its rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportSummary {
    /// The import's id.
    pub import_id: String,
    /// Where it stands.
    pub status: ImportStatus,
    /// The normalised options it ran with.
    pub options: serde_json::Value,
    /// Data rows processed so far.
    pub rows: u64,
    /// New leads.
    pub created: u64,
    /// Rows merged into known leads.
    pub merged: u64,
    /// Rows refused.
    pub rejected: u64,
    /// Global position of the last event written.
    pub position: Option<i64>,
    /// When it was first sent.
    pub created_at: DateTime<Utc>,
    /// When it completed or failed.
    pub finished_at: Option<DateTime<Utc>>,
}

/// How far an import has got, reported after every batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportProgress {
    /// Bytes of the file read so far.
    pub bytes: u64,
    /// Data rows processed so far.
    pub rows: u64,
}

/// Why an import could not run (a rejected row is not an error: it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// An option or the file itself is unusable; `field` names it (`mapping`, `file`, …).
    #[error("{field}: {reason}")]
    Invalid {
        /// The option or `file`.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The upload is larger than allowed.
    #[error("the file is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The upload could not be read (the client went away, a malformed multipart body).
    #[error("the upload could not be read: {0}")]
    Unreadable(String),
    /// The same import is being written right now.
    #[error("import {0} is running; wait for it to finish, then send it again for its report")]
    Running(String),
    /// The import id was already used for another file or other options.
    #[error("import {0} was already used for a different file or different options")]
    IdReused(String),
    /// The database (or the local disk) failed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ImportError {
    /// An unusable option or file.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_read_by_their_character_or_tab() {
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
        assert_eq!(parse_delimiter("\t"), Ok(b'\t'));
        assert!(parse_delimiter("::").is_err());
    }

    #[test]
    fn a_mapping_is_a_json_object_of_known_fields() {
        let mapping = parse_mapping(r#"{"phone":"Mobile No","first_name":"Given"}"#).unwrap();
        assert_eq!(mapping.get(&Field::Phone).unwrap(), "Mobile No");
        assert_eq!(mapping.get(&Field::FirstName).unwrap(), "Given");
        assert!(parse_mapping(r#"{"fax":"Fax"}"#)
            .unwrap_err()
            .contains("unknown field 'fax'"));
        assert!(parse_mapping("[1]").is_err());
        assert!(parse_mapping(r#"{"phone":" "}"#).is_err());
    }

    #[test]
    fn outcomes_parse_from_their_wire_names() {
        for outcome in [Outcome::Created, Outcome::Merged, Outcome::Rejected] {
            assert_eq!(outcome.as_str().parse::<Outcome>(), Ok(outcome));
        }
        assert!("skipped".parse::<Outcome>().is_err());
    }
}
