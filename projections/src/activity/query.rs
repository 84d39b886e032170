//! Reading the activity feed: the tenant's activity, newest first, optionally of one kind or one
//! lead, paged by a keyset cursor on the position.

use anyhow::Context;
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use super::fold::ActivityRow;

/// Which activity to list; every field narrows, `None` does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    /// Only this kind (see [`super::fold::kind`]).
    pub kind: Option<String>,
    /// Only this lead's.
    pub lead_id: Option<Uuid>,
}

/// A page of activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityPage {
    /// Newest first.
    pub items: Vec<ActivityRow>,
    /// The position the next page starts before; `None` on the last page.
    pub next: Option<i64>,
}

/// Up to `limit` of the tenant's activity matching `filter`, older than position `before`.
pub async fn list(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    filter: &ActivityFilter,
    limit: u32,
    before: Option<i64>,
) -> anyhow::Result<ActivityPage> {
    let rows: Vec<Json<ActivityRow>> = sqlx::query_scalar(&format!(
        "SELECT to_jsonb(a) FROM {schema}.activity a \
         WHERE a.tenant_id = $1 \
           AND ($2::text IS NULL OR a.kind = $2) \
           AND ($3::uuid IS NULL OR a.lead_id = $3) \
           AND ($4::int8 IS NULL OR a.position < $4) \
         ORDER BY a.position DESC LIMIT $5"
    ))
    .bind(tenant)
    .bind(filter.kind.as_deref())
    .bind(filter.lead_id)
    .bind(before)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await
    .context("Failed to list activity")?;
    let mut items: Vec<ActivityRow> = rows.into_iter().map(|row| row.0).collect();
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|row| row.position)
    } else {
        None
    };
    Ok(ActivityPage { items, next })
}
