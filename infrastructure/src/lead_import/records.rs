//! The record of every import (`lead_imports`) and of every row's outcome
//! (`lead_import_rows`), always read and written for one tenant. Outcomes and counters are
//! written inside each batch's transaction; the record is what a resumed import starts from and
//! what a completed one is answered with.
//!
//! An import being written holds a session advisory lock on its id, so a second sending while it
//! runs is told so, while one whose process died (its connection, and lock, gone) resumes.

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::values::{LeadId, TenantId};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{ImportReport, ImportStatus, ImportSummary, Outcome, RowError, RowOutcome};

/// What a new sending of an import needs to know about an earlier one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImportRecord {
    /// Where it stands.
    pub status: ImportStatus,
    /// Content and options digest it was first sent with.
    pub fingerprint: String,
    /// Every row up to this one has its outcome.
    pub last_row: u32,
}

fn lock_key(tenant: TenantId, import_id: &str) -> String {
    format!("lead-import:{tenant}:{import_id}")
}

/// Takes the import's session lock unless another session holds it.
pub(crate) async fn try_lock(
    conn: &mut PgConnection,
    tenant: TenantId,
    import_id: &str,
) -> anyhow::Result<bool> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
        .bind(lock_key(tenant, import_id))
        .fetch_one(conn)
        .await
        .context("Failed to lock the import")
}

/// The import's record, if it was ever started.
pub(crate) async fn find(
    conn: &mut PgConnection,
    tenant: TenantId,
    import_id: &str,
) -> anyhow::Result<Option<ImportRecord>> {
    let row: Option<(String, String, i32)> = sqlx::query_as(
        "SELECT status, fingerprint, last_row FROM lead_imports \
         WHERE tenant_id = $1 AND import_id = $2",
    )
    .bind(tenant.as_uuid())
    .bind(import_id)
    .fetch_optional(conn)
    .await
    .context("Failed to read the import")?;
    row.map(|(status, fingerprint, last_row)| {
        Ok(ImportRecord {
            status: ImportStatus::parse(&status)?,
            fingerprint,
            last_row: u32::try_from(last_row).unwrap_or_default(),
        })
    })
    .transpose()
}

/// Records a new import as running.
pub(crate) async fn start(
    conn: &mut PgConnection,
    tenant: TenantId,
    import_id: &str,
    fingerprint: &str,
    options: &serde_json::Value,
    created_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO lead_imports (tenant_id, import_id, status, fingerprint, options, created_at) \
         VALUES ($1, $2, 'running', $3, $4, $5)",
    )
    .bind(tenant.as_uuid())
    .bind(import_id)
    .bind(fingerprint)
    .bind(options)
    .bind(created_at)
    .execute(conn)
    .await
    .context("Failed to record the import")?;
    Ok(())
}

/// Sets the import's status; a completed or failed import gets its finishing time.
pub(crate) async fn set_status(
    conn: &mut PgConnection,
    tenant: TenantId,
    import_id: &str,
    status: ImportStatus,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE lead_imports SET status = $3, \
           finished_at = CASE WHEN $3 = 'running' THEN NULL ELSE now() END \
         WHERE tenant_id = $1 AND import_id = $2",
    )
    .bind(tenant.as_uuid())
    .bind(import_id)
    .bind(status.as_str())
    .execute(conn)
    .await
    .context("Failed to update the import's status")?;
    Ok(())
}

/// Writes a batch's outcomes and moves the import's counters, inside the batch's transaction.
/// `last_row` is the batch's last row (rows without a record, like blank lines, count as done).
pub(crate) async fn record_batch(
    conn: &mut PgConnection,
    tenant: TenantId,
    import_id: &str,
    outcomes: &[RowOutcome],
    last_row: u32,
    position: Option<i64>,
) -> anyhow::Result<()> {
    let count = |outcome: Outcome| outcomes.iter().filter(|o| o.outcome == outcome).count() as i32;
    let rows: Vec<i32> = outcomes.iter().map(|o| o.row as i32).collect();
    let kinds: Vec<&str> = outcomes.iter().map(|o| o.outcome.as_str()).collect();
    let leads: Vec<Option<Uuid>> = outcomes
        .iter()
        .map(|o| o.lead_id.map(|l| l.as_uuid()))
        .collect();
    let columns: Vec<Option<&str>> = outcomes.iter().map(|o| o.column.as_deref()).collect();
    let reasons: Vec<Option<&str>> = outcomes.iter().map(|o| o.reason.as_deref()).collect();
    sqlx::query(
        "INSERT INTO lead_import_rows \
           (tenant_id, import_id, row_num, outcome, lead_id, column_name, reason) \
         SELECT $1, $2, r, o, l, c, e \
         FROM UNNEST($3::int4[], $4::text[], $5::uuid[], $6::text[], $7::text[]) AS x(r, o, l, c, e)",
    )
    .bind(tenant.as_uuid())
    .bind(import_id)
    .bind(&rows)
    .bind(&kinds)
    .bind(&leads)
    .bind(&columns)
    .bind(&reasons)
    .execute(&mut *conn)
    .await
    .context("Failed to record the rows' outcomes")?;
    sqlx::query(
        "UPDATE lead_imports SET rows_total = rows_total + $3, created = created + $4, \
           merged = merged + $5, rejected = rejected + $6, last_row = $7, \
           position = COALESCE($8, position) \
         WHERE tenant_id = $1 AND import_id = $2",
    )
    .bind(tenant.as_uuid())
    .bind(import_id)
    .bind(outcomes.len() as i32)
    .bind(count(Outcome::Created))
    .bind(count(Outcome::Merged))
    .bind(count(Outcome::Rejected))
    .bind(last_row as i32)
    .bind(position)
    .execute(conn)
    .await
    .context("Failed to count the rows")?;
    Ok(())
}

/// The report of a recorded import: its counters and every rejected row.
pub(crate) async fn report(
    conn: &mut PgConnection,
    tenant: TenantId,
    import_id: &str,
    replayed: bool,
) -> anyhow::Result<ImportReport> {
    let (rows, created, merged, rejected, position): (i32, i32, i32, i32, Option<i64>) =
        sqlx::query_as(
            "SELECT rows_total, created, merged, rejected, position FROM lead_imports \
             WHERE tenant_id = $1 AND import_id = $2",
        )
        .bind(tenant.as_uuid())
        .bind(import_id)
        .fetch_one(&mut *conn)
        .await
        .context("Failed to read the import's counters")?;
    let errors: Vec<(i32, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT row_num, column_name, reason FROM lead_import_rows \
         WHERE tenant_id = $1 AND import_id = $2 AND outcome = 'rejected' ORDER BY row_num",
    )
    .bind(tenant.as_uuid())
    .bind(import_id)
    .fetch_all(conn)
    .await
    .context("Failed to read the rejected rows")?;
    Ok(ImportReport {
        import_id: import_id.to_string(),
        dry_run: false,
        replayed,
        rows: rows as u64,
        created: created as u64,
        merged: merged as u64,
        rejected: rejected as u64,
        errors: errors
            .into_iter()
            .map(|(row, column, reason)| RowError {
                row: row as u32,
                column: column.unwrap_or_default(),
                reason: reason.unwrap_or_default(),
            })
            .collect(),
        position,
        preview: Vec::new(),
    })
}

type SummaryRow = (
    String,
    String,
    serde_json::Value,
    i32,
    i32,
    i32,
    i32,
    Option<i64>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

/// A tenant's import, without its rows (`None` if the tenant has no such import).
pub async fn find_summary(
    pool: &PgPool,
    tenant: TenantId,
    import_id: &str,
) -> anyhow::Result<Option<ImportSummary>> {
    let row: Option<SummaryRow> = sqlx::query_as(
        "SELECT import_id, status, options, rows_total, created, merged, rejected, position, \
           created_at, finished_at \
         FROM lead_imports WHERE tenant_id = $1 AND import_id = $2",
    )
    .bind(tenant.as_uuid())
    .bind(import_id)
    .fetch_optional(pool)
    .await
    .context("Failed to read the import")?;
    row.map(|row| {
        let (id, status, options, rows, created, merged, rejected, position, created_at, finished) =
            row;
        Ok(ImportSummary {
            import_id: id,
            status: ImportStatus::parse(&status)?,
            options,
            rows: rows as u64,
            created: created as u64,
            merged: merged as u64,
            rejected: rejected as u64,
            position,
            created_at,
            finished_at: finished,
        })
    })
    .transpose()
}

/// A stored row outcome: row, outcome, lead, column, reason.
type OutcomeRow = (i32, String, Option<Uuid>, Option<String>, Option<String>);

/// A page of a tenant's import's row outcomes in row order, optionally of one outcome, and how
/// many there are in all.
pub async fn row_outcomes(
    pool: &PgPool,
    tenant: TenantId,
    import_id: &str,
    outcome: Option<Outcome>,
    page: u32,
    page_size: u32,
) -> anyhow::Result<(Vec<RowOutcome>, i64)> {
    let filter = outcome.map(Outcome::as_str);
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM lead_import_rows \
         WHERE tenant_id = $1 AND import_id = $2 AND ($3::text IS NULL OR outcome = $3)",
    )
    .bind(tenant.as_uuid())
    .bind(import_id)
    .bind(filter)
    .fetch_one(pool)
    .await
    .context("Failed to count the import's rows")?;
    let rows: Vec<OutcomeRow> = sqlx::query_as(
        "SELECT row_num, outcome, lead_id, column_name, reason FROM lead_import_rows \
         WHERE tenant_id = $1 AND import_id = $2 AND ($3::text IS NULL OR outcome = $3) \
         ORDER BY row_num LIMIT $4 OFFSET $5",
    )
    .bind(tenant.as_uuid())
    .bind(import_id)
    .bind(filter)
    .bind(i64::from(page_size))
    .bind(i64::from(page.saturating_sub(1)) * i64::from(page_size))
    .fetch_all(pool)
    .await
    .context("Failed to read the import's rows")?;
    let items = rows
        .into_iter()
        .map(|(row, outcome, lead_id, column, reason)| {
            Ok(RowOutcome {
                row: row as u32,
                outcome: outcome.parse().map_err(anyhow::Error::msg)?,
                lead_id: lead_id.map(LeadId::from_uuid),
                column,
                reason,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((items, total))
}
