//! Whole-set reads of the contacts matching a filter, for the CSV export and for resolving the
//! target of a bulk job: the rows as a stream (the database hands them over as they are read,
//! so memory does not grow with the set), the custom field keys they use, and their ids. All
//! in a stable order: oldest first, then by id.

use anyhow::Context;
use futures::stream::BoxStream;
use futures::StreamExt;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::fold::ContactRow;
use super::query::{push_filter, ContactFilter};

/// The order every whole-set read follows.
const ORDER: &str = " ORDER BY c.created_at, c.lead_id";

/// A streamed read of the contacts matching a filter.
pub struct ContactStream {
    sql: QueryBuilder<'static, Postgres>,
}

impl std::fmt::Debug for ContactStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactStream")
            .field("sql", &self.sql.sql())
            .finish()
    }
}

impl ContactStream {
    /// The read of the tenant's contacts in `schema` matching `filter`.
    pub fn new(schema: &str, tenant: Uuid, filter: &ContactFilter) -> Self {
        let mut sql = QueryBuilder::new(format!("SELECT {} FROM ", super::COLUMNS));
        sql.push(schema).push(".contacts c");
        push_filter(&mut sql, tenant, filter);
        sql.push(ORDER);
        Self { sql }
    }

    /// The rows, one at a time as the database sends them.
    pub fn rows<'q>(&'q mut self, pool: &'q PgPool) -> BoxStream<'q, anyhow::Result<ContactRow>> {
        self.sql
            .build_query_as::<ContactRow>()
            .fetch(pool)
            .map(|row| row.context("Failed to read contacts for an export"))
            .boxed()
    }
}

/// Every custom field key used by the tenant's contacts matching `filter`, sorted (byte order).
pub async fn custom_field_keys(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    filter: &ContactFilter,
) -> anyhow::Result<Vec<String>> {
    let mut sql = QueryBuilder::<Postgres>::new("SELECT DISTINCT k.key FROM ");
    sql.push(schema)
        .push(".contacts c CROSS JOIN LATERAL jsonb_object_keys(c.custom_fields) AS k(key)");
    push_filter(&mut sql, tenant, filter);
    let mut keys: Vec<String> = sql
        .build_query_scalar()
        .fetch_all(pool)
        .await
        .context("Failed to read the custom field keys of contacts")?;
    keys.sort_unstable();
    Ok(keys)
}

/// The ids of the tenant's contacts matching `filter`, oldest first.
pub async fn matching_ids(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    filter: &ContactFilter,
) -> anyhow::Result<Vec<Uuid>> {
    let mut sql = QueryBuilder::<Postgres>::new("SELECT c.lead_id FROM ");
    sql.push(schema).push(".contacts c");
    push_filter(&mut sql, tenant, filter);
    sql.push(ORDER);
    sql.build_query_scalar()
        .fetch_all(pool)
        .await
        .context("Failed to select contacts")
}
