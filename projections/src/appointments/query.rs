//! Reading the appointments model: a filtered list, soonest first, paged by a cursor; one
//! appointment.

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use super::fold::AppointmentRow;

/// Which appointments to list; every field narrows, `None` does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppointmentFilter {
    /// Only this status (`confirmed`, `cancelled`, `completed`, `no_show`).
    pub status: Option<String>,
    /// Only those booked through this workflow.
    pub workflow_id: Option<Uuid>,
    /// Only this lead's.
    pub lead_id: Option<Uuid>,
    /// Only those starting at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only those starting before this time.
    pub to: Option<DateTime<Utc>>,
}

/// Where a page starts: after the appointment with this start and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The start of the last appointment of the previous page.
    pub start: DateTime<Utc>,
    /// Its id.
    pub id: Uuid,
}

/// A page of appointments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppointmentPage {
    /// Soonest first (ties by id).
    pub items: Vec<AppointmentRow>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

/// Up to `limit` of the tenant's appointments matching `filter`, after `after`.
pub async fn list(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    filter: &AppointmentFilter,
    limit: u32,
    after: Option<Cursor>,
) -> anyhow::Result<AppointmentPage> {
    let fetch = i64::from(limit) + 1;
    let rows: Vec<Json<AppointmentRow>> = sqlx::query_scalar(&format!(
        "SELECT to_jsonb(a) FROM {schema}.appointments a \
         WHERE a.tenant_id = $1 \
           AND ($2::text IS NULL OR a.status = $2) \
           AND ($3::uuid IS NULL OR a.workflow_id = $3) \
           AND ($4::uuid IS NULL OR a.lead_id = $4) \
           AND ($5::timestamptz IS NULL OR a.start >= $5) \
           AND ($6::timestamptz IS NULL OR a.start < $6) \
           AND ($7::timestamptz IS NULL OR (a.start, a.id) > ($7, $8::uuid)) \
         ORDER BY a.start, a.id LIMIT $9"
    ))
    .bind(tenant)
    .bind(filter.status.as_deref())
    .bind(filter.workflow_id)
    .bind(filter.lead_id)
    .bind(filter.from)
    .bind(filter.to)
    .bind(after.map(|c| c.start))
    .bind(after.map(|c| c.id))
    .bind(fetch)
    .fetch_all(pool)
    .await
    .context("Failed to list appointments")?;
    let mut items: Vec<AppointmentRow> = rows.into_iter().map(|row| row.0).collect();
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|row| Cursor {
            start: row.start,
            id: row.id,
        })
    } else {
        None
    };
    Ok(AppointmentPage { items, next })
}

/// The tenant's appointment `id`, if the model has it.
pub async fn get(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    id: Uuid,
) -> anyhow::Result<Option<AppointmentRow>> {
    let row: Option<Json<AppointmentRow>> = sqlx::query_scalar(&format!(
        "SELECT to_jsonb(a) FROM {schema}.appointments a WHERE a.tenant_id = $1 AND a.id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(pool)
    .await
    .context("Failed to read an appointment")?;
    Ok(row.map(|row| row.0))
}
