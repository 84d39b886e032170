//! A tenant's tag definitions: the colour operators gave a tag name. Configuration, not
//! event-sourced: leads carry tags through their own events whether or not a tag is defined, and
//! removing a definition leaves every lead's tags as they are.

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A defined tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagDefinition {
    /// The tag (normalised, as leads carry it).
    pub name: String,
    /// `#rrggbb`, lower-case.
    pub colour: String,
    /// Defined.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

type Row = (String, String, DateTime<Utc>, DateTime<Utc>);

fn definition((name, colour, created_at, updated_at): Row) -> TagDefinition {
    TagDefinition {
        name,
        colour,
        created_at,
        updated_at,
    }
}

/// Defines `name` with `colour`; `None` if the tenant has already defined it.
pub async fn create(
    pool: &PgPool,
    tenant: Uuid,
    name: &str,
    colour: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<TagDefinition>> {
    let row: Option<Row> = sqlx::query_as(
        "INSERT INTO tag_definitions (tenant_id, name, colour, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (tenant_id, name) DO NOTHING \
         RETURNING name, colour, created_at, updated_at",
    )
    .bind(tenant)
    .bind(name)
    .bind(colour)
    .bind(now)
    .fetch_optional(pool)
    .await
    .context("Failed to define a tag")?;
    Ok(row.map(definition))
}

/// Every tag the tenant has defined, by name.
pub async fn list(pool: &PgPool, tenant: Uuid) -> anyhow::Result<Vec<TagDefinition>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT name, colour, created_at, updated_at FROM tag_definitions \
         WHERE tenant_id = $1 ORDER BY name",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("Failed to list tag definitions")?;
    Ok(rows.into_iter().map(definition).collect())
}

/// The tenant's definition of `name`, if any.
pub async fn get(pool: &PgPool, tenant: Uuid, name: &str) -> anyhow::Result<Option<TagDefinition>> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT name, colour, created_at, updated_at FROM tag_definitions \
         WHERE tenant_id = $1 AND name = $2",
    )
    .bind(tenant)
    .bind(name)
    .fetch_optional(pool)
    .await
    .context("Failed to read a tag definition")?;
    Ok(row.map(definition))
}

/// Changes the colour of `name`; `None` if the tenant has not defined it.
pub async fn set_colour(
    pool: &PgPool,
    tenant: Uuid,
    name: &str,
    colour: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<TagDefinition>> {
    let row: Option<Row> = sqlx::query_as(
        "UPDATE tag_definitions SET colour = $3, updated_at = $4 \
         WHERE tenant_id = $1 AND name = $2 \
         RETURNING name, colour, created_at, updated_at",
    )
    .bind(tenant)
    .bind(name)
    .bind(colour)
    .bind(now)
    .fetch_optional(pool)
    .await
    .context("Failed to change a tag's colour")?;
    Ok(row.map(definition))
}

/// Removes the definition of `name`; false if there was none.
pub async fn delete(pool: &PgPool, tenant: Uuid, name: &str) -> anyhow::Result<bool> {
    let deleted = sqlx::query("DELETE FROM tag_definitions WHERE tenant_id = $1 AND name = $2")
        .bind(tenant)
        .bind(name)
        .execute(pool)
        .await
        .context("Failed to delete a tag definition")?
        .rows_affected();
    Ok(deleted == 1)
}
