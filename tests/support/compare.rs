//! Comparing two tables (or queries) of the same layout row for row, e.g. a live read model and
//! its rebuild.

use std::fmt;

use sqlx::PgPool;

/// The rows one table has and the other lacks, counting duplicates (`EXCEPT ALL` both ways), as
/// JSON objects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableDifference {
    /// Rows of the left table missing from the right one.
    pub only_left: Vec<serde_json::Value>,
    /// Rows of the right table missing from the left one.
    pub only_right: Vec<serde_json::Value>,
}

impl TableDifference {
    /// Whether the two tables hold exactly the same rows.
    pub fn is_empty(&self) -> bool {
        self.only_left.is_empty() && self.only_right.is_empty()
    }
}

impl fmt::Display for TableDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} row(s) only on the left:", self.only_left.len())?;
        for row in self.only_left.iter().take(5) {
            writeln!(f, "  {row}")?;
        }
        writeln!(f, "{} row(s) only on the right:", self.only_right.len())?;
        for row in self.only_right.iter().take(5) {
            writeln!(f, "  {row}")?;
        }
        Ok(())
    }
}

/// Compares every column of every row of `left` and `right` (qualified table names of the same
/// layout, e.g. `rm_contacts_v1.contacts`), ignoring nothing.
pub async fn table_difference(pool: &PgPool, left: &str, right: &str) -> TableDifference {
    query_difference(pool, &format!("TABLE {left}"), &format!("TABLE {right}")).await
}

/// Compares the rows of two queries with the same columns, as [`table_difference`] compares
/// tables (e.g. stored counts against a `GROUP BY` recount).
pub async fn query_difference(pool: &PgPool, left: &str, right: &str) -> TableDifference {
    TableDifference {
        only_left: rows_missing(pool, left, right).await,
        only_right: rows_missing(pool, right, left).await,
    }
}

async fn rows_missing(pool: &PgPool, from: &str, in_query: &str) -> Vec<serde_json::Value> {
    sqlx::query_scalar(&format!(
        "SELECT to_jsonb(d) FROM (({from}) EXCEPT ALL ({in_query})) d"
    ))
    .fetch_all(pool)
    .await
    .unwrap_or_else(|error| panic!("failed to compare {from} with {in_query}: {error}"))
}
