//! Reading the contacts model: one indexed statement per request, rows decoded straight from
//! JSON built by PostgreSQL.

use anyhow::Context;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::fold::ContactRow;

/// The expression the name sort orders by (and its index covers).
pub const NAME_KEY: &str = "lower(first_name || ' ' || last_name)";

/// The text `q` searches (and its trigram index covers).
pub const SEARCH_TEXT: &str = "lower(first_name || ' ' || last_name || ' ' || coalesce(phone, '') \
     || ' ' || coalesce(email, ''))";

/// Which contacts to list. Every field narrows the result; empty means no constraint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactFilter {
    /// Any of these statuses.
    pub statuses: Vec<String>,
    /// In this workflow.
    pub workflow_id: Option<Uuid>,
    /// Carrying this tag.
    pub tag: Option<String>,
    /// From this source (first or additional).
    pub source: Option<String>,
    /// Substring of name, phone or email (case-insensitive).
    pub q: Option<String>,
}

/// A page of contacts and the total matching the filter.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactPage {
    /// The rows of the page, newest first.
    pub items: Vec<ContactRow>,
    /// How many match in all.
    pub total: i64,
}

/// One page (1-based) of the tenant's contacts matching `filter`, newest first.
pub async fn list(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    filter: &ContactFilter,
    page: u32,
    page_size: u32,
) -> anyhow::Result<ContactPage> {
    let offset = i64::from(page.saturating_sub(1)) * i64::from(page_size);
    let mut sql = QueryBuilder::<Postgres>::new("SELECT to_jsonb(c), count(*) OVER () FROM ");
    sql.push(schema).push(".contacts c");
    push_filter(&mut sql, tenant, filter);
    sql.push(" ORDER BY c.created_at DESC, c.lead_id DESC LIMIT ")
        .push_bind(i64::from(page_size))
        .push(" OFFSET ")
        .push_bind(offset);
    let rows: Vec<(Json<ContactRow>, i64)> = sql
        .build_query_as()
        .fetch_all(pool)
        .await
        .context("Failed to list contacts")?;
    let total = match rows.first() {
        Some((_, total)) => *total,
        None if offset > 0 => count(pool, schema, tenant, filter).await?,
        None => 0,
    };
    Ok(ContactPage {
        items: rows.into_iter().map(|(row, _)| row.0).collect(),
        total,
    })
}

async fn count(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    filter: &ContactFilter,
) -> anyhow::Result<i64> {
    let mut sql = QueryBuilder::<Postgres>::new("SELECT count(*) FROM ");
    sql.push(schema).push(".contacts c");
    push_filter(&mut sql, tenant, filter);
    sql.build_query_scalar()
        .fetch_one(pool)
        .await
        .context("Failed to count contacts")
}

fn push_filter(sql: &mut QueryBuilder<'_, Postgres>, tenant: Uuid, filter: &ContactFilter) {
    sql.push(" WHERE c.tenant_id = ").push_bind(tenant);
    if !filter.statuses.is_empty() {
        sql.push(" AND c.status = ANY(")
            .push_bind(filter.statuses.clone())
            .push(")");
    }
    if let Some(workflow_id) = filter.workflow_id {
        sql.push(" AND c.workflow_id = ").push_bind(workflow_id);
    }
    if let Some(tag) = &filter.tag {
        sql.push(" AND c.tags @> ARRAY[")
            .push_bind(tag.clone())
            .push("]::text[]");
    }
    if let Some(source) = &filter.source {
        sql.push(" AND (c.source = ")
            .push_bind(source.clone())
            .push(" OR c.additional_sources @> ARRAY[")
            .push_bind(source.clone())
            .push("]::text[])");
    }
    if let Some(q) = &filter.q {
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
        sql.push(
            " AND lower(c.first_name || ' ' || c.last_name || ' ' || coalesce(c.phone, '') \
             || ' ' || coalesce(c.email, '')) LIKE ",
        )
        .push_bind(pattern);
    }
}

/// Makes `%`, `_` and `\` match themselves in a LIKE pattern.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The tenant's contact `lead_id`, if the model has it.
pub async fn get(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    lead_id: Uuid,
) -> anyhow::Result<Option<ContactRow>> {
    let row: Option<Json<ContactRow>> = sqlx::query_scalar(&format!(
        "SELECT to_jsonb(c) FROM {schema}.contacts c WHERE tenant_id = $1 AND lead_id = $2"
    ))
    .bind(tenant)
    .bind(lead_id)
    .fetch_optional(pool)
    .await
    .context("Failed to read a contact")?;
    Ok(row.map(|row| row.0))
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_in_a_search_match_themselves() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
