//! `GET /api/v1/leads/export.csv`: the leads the list would show, as CSV, streamed: rows go
//! from the database cursor through the CSV writer to the socket in small chunks, with a bounded
//! channel in between, so memory stays flat however many leads there are and a slow client
//! slows the read down instead of piling rows up.
//!
//! Columns are the ones the importer detects (`first_name`, `last_name`, `phone`, `email`), the
//! lead's other attributes, then one column per custom field key used by the exported leads.

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use poem::web::Data;
use poem::{Body, Request};
use poem_openapi::param::Query;
use poem_openapi::payload::Binary;
use poem_openapi::{ApiResponse, OpenApi};
use projections::contacts::export::{custom_field_keys, ContactStream};
use projections::contacts::fold::ContactRow;
use projections::contacts::query::ContactFilter;
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::auth::BearerAuth;
use crate::dto::lead_filter::LeadFilter;
use crate::error::ApiError;
use crate::routes::ApiTags;
use crate::state::AppState;

/// The fixed columns, before the custom fields.
pub const FIXED_COLUMNS: [&str; 11] = [
    "id",
    "first_name",
    "last_name",
    "phone",
    "email",
    "status",
    "workflow_id",
    "source",
    "tags",
    "created_at",
    "last_activity_at",
];

/// What separates a lead's tags in the `tags` column.
pub const TAG_SEPARATOR: &str = "|";

/// Bytes of CSV gathered before they are handed to the socket.
const CHUNK_BYTES: usize = 64 * 1024;

/// Chunks that may wait for the socket: what bounds the memory of a slow download.
const CHUNKS_IN_FLIGHT: usize = 4;

/// The export API.
#[derive(Debug, Clone, Copy)]
pub struct ExportApi;

/// A CSV download.
#[derive(Debug, ApiResponse)]
pub enum CsvExport {
    /// The leads, one per line after the header.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(Binary<Body>, #[oai(header = "Content-Disposition")] String),
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Leads")]
impl ExportApi {
    /// Export leads as CSV
    ///
    /// Takes the same filter parameters as `list_leads` (`status`, `workflow_id`, `tag`,
    /// `tag_match`, `source`, `q`, date ranges, `cf.<key>=value`, `opted_out`, `archived`, …),
    /// oldest lead first. Columns: `id`, `first_name`, `last_name`, `phone`, `email`, `status`,
    /// `workflow_id`, `source`, `tags` (joined with `|`), `created_at`, `last_activity_at`,
    /// then one column per custom field key used by the exported leads (sorted). Re-importing
    /// the file detects the name, phone and email columns; map or ignore the other attribute
    /// columns, or they become custom fields.
    #[oai(
        path = "/leads/export.csv",
        method = "get",
        operation_id = "export_leads"
    )]
    async fn export(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request: &Request,
        /// Wait until the contacts model includes the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<CsvExport, ApiError> {
        let tenant = auth.0.tenant()?;
        let filter =
            LeadFilter::from_query(request.uri().query())?.to_contact_filter(state.clock.now())?;
        let schema = projections::contacts::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        let keys = custom_field_keys(&state.pool, &schema, tenant.as_uuid(), &filter).await?;
        let body = stream_csv(state.pool.clone(), schema, tenant.as_uuid(), filter, keys);
        Ok(CsvExport::Csv(
            Binary(body),
            "attachment; filename=\"leads.csv\"".to_string(),
        ))
    }
}

/// The body: a task writes CSV chunks into a bounded channel that the body drains. If the
/// client goes away the channel closes and the task stops reading; if the read fails midway the
/// body ends in an error, so the client sees a broken download rather than a short file.
fn stream_csv(
    pool: PgPool,
    schema: String,
    tenant: Uuid,
    filter: ContactFilter,
    keys: Vec<String>,
) -> Body {
    let (tx, rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(CHUNKS_IN_FLIGHT);
    tokio::spawn(async move {
        if let Err(error) = write_csv(&pool, &schema, tenant, &filter, &keys, &tx).await {
            tracing::error!(error = format!("{error:#}"), "export failed");
            let _ = tx
                .send(Err(std::io::Error::other("the export failed")))
                .await;
        }
    });
    Body::from_bytes_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }))
}

/// Writes the header and every row; stops early (successfully) when the client has gone.
async fn write_csv(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    filter: &ContactFilter,
    keys: &[String],
    tx: &mpsc::Sender<std::io::Result<Vec<u8>>>,
) -> anyhow::Result<()> {
    let mut writer = chunk_writer();
    writer.write_record(
        FIXED_COLUMNS
            .iter()
            .copied()
            .chain(keys.iter().map(String::as_str)),
    )?;
    let mut read = ContactStream::new(schema, tenant, filter);
    let mut rows = read.rows(pool);
    while let Some(row) = rows.next().await {
        writer.write_record(record(&row?, keys))?;
        if writer.get_ref().len() >= CHUNK_BYTES {
            let full = std::mem::replace(&mut writer, chunk_writer());
            if tx.send(Ok(full.into_inner()?)).await.is_err() {
                return Ok(());
            }
        }
    }
    let last = writer.into_inner()?;
    if !last.is_empty() {
        let _ = tx.send(Ok(last)).await;
    }
    Ok(())
}

/// A CSV writer gathering one chunk in memory.
fn chunk_writer() -> csv::Writer<Vec<u8>> {
    csv::Writer::from_writer(Vec::with_capacity(CHUNK_BYTES + CHUNK_BYTES / 4))
}

/// One lead's cells, in column order.
fn record(row: &ContactRow, keys: &[String]) -> Vec<String> {
    let mut cells = vec![
        row.lead_id.to_string(),
        row.first_name.clone(),
        row.last_name.clone(),
        row.phone.clone().unwrap_or_default(),
        row.email.clone().unwrap_or_default(),
        row.status.clone(),
        row.workflow_id.map(|w| w.to_string()).unwrap_or_default(),
        row.source.clone(),
        row.tags.join(TAG_SEPARATOR),
        timestamp(row.created_at),
        timestamp(row.last_activity_at),
    ];
    cells.extend(keys.iter().map(|key| cell(row.custom_fields.get(key))));
    cells
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A custom field's value as text: strings as they are, absent or null as empty, anything else
/// as its JSON.
fn cell(value: Option<&serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_custom_field_cell_is_its_text() {
        assert_eq!(cell(None), "");
        assert_eq!(cell(Some(&json!(null))), "");
        assert_eq!(cell(Some(&json!("a, \"b\""))), "a, \"b\"");
        assert_eq!(cell(Some(&json!(42))), "42");
        assert_eq!(cell(Some(&json!(true))), "true");
    }
}
