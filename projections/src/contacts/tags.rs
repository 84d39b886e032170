//! How many live (not archived) leads carry each tag, as the contacts projection counts them in
//! `tag_counts` while it applies events.

use anyhow::Context;
use sqlx::PgPool;
use uuid::Uuid;

/// The tenant's tags carried by at least one live lead, with how many, by tag.
pub async fn counts(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
) -> anyhow::Result<Vec<(String, i64)>> {
    sqlx::query_as(&format!(
        "SELECT tag, leads FROM {schema}.tag_counts WHERE tenant_id = $1 AND leads > 0 ORDER BY tag"
    ))
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("Failed to read tag counts")
}
