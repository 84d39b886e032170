//! Reading the contacts model: one indexed statement per page (plus one count), rows decoded
//! straight from JSON built by PostgreSQL. Pages are addressed by number or, for deep pages, by
//! a keyset cursor that costs the same on page 1000 as on page 1.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::fold::ContactRow;

/// The expression the name sort orders by (and its index covers): byte order, so the order
/// does not depend on the database's locale.
pub const NAME_KEY: &str = "(lower(first_name || ' ' || last_name) COLLATE \"C\")";

/// The text `q` searches (and its trigram index covers).
pub const SEARCH_TEXT: &str = "lower(first_name || ' ' || last_name || ' ' || coalesce(phone, '') \
     || ' ' || coalesce(email, ''))";

/// Whether a lead must carry any or all of the tags asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TagMatch {
    /// At least one of them.
    #[default]
    Any,
    /// Every one of them.
    All,
}

/// Which leads to show with regard to archiving.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ArchivedFilter {
    /// Only leads that are not archived (the default).
    #[default]
    Live,
    /// Only archived leads.
    Only,
    /// Both.
    Any,
}

/// Which contacts to list. Every field narrows the result; empty means no constraint. Ranges
/// include their start and exclude their end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactFilter {
    /// Any of these statuses.
    pub statuses: Vec<String>,
    /// In this workflow.
    pub workflow_id: Option<Uuid>,
    /// Carrying these tags (any or all, per `tag_match`).
    pub tags: Vec<String>,
    /// How `tags` combine.
    pub tag_match: TagMatch,
    /// From this source (first or additional).
    pub source: Option<String>,
    /// Substring of name, phone or email (case-insensitive).
    pub q: Option<String>,
    /// The digits of `q` when it looks like a phone number, matched against the E.164 phone.
    pub phone_digits: Option<String>,
    /// Captured at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Captured before.
    pub created_to: Option<DateTime<Utc>>,
    /// Last message at or after.
    pub last_message_from: Option<DateTime<Utc>>,
    /// Last message before.
    pub last_message_to: Option<DateTime<Utc>>,
    /// Last contacted at or before this instant (at least so many days ago). Leads never
    /// contacted do not match.
    pub contacted_at_or_before: Option<DateTime<Utc>>,
    /// Last contacted at or after this instant (at most so many days ago).
    pub contacted_at_or_after: Option<DateTime<Utc>>,
    /// At least this many follow-ups sent.
    pub follow_ups_min: Option<i32>,
    /// At most this many follow-ups sent.
    pub follow_ups_max: Option<i32>,
    /// Custom fields equal to these values (compared as text: `42` matches the number 42).
    pub custom_fields: Vec<(String, String)>,
    /// Opted out (true) or not (false).
    pub opted_out: Option<bool>,
    /// Archived leads hidden, shown alone, or mixed in.
    pub archived: ArchivedFilter,
}

/// What a list is ordered by; the lead id breaks ties, so the order is total and stable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// When the lead was captured.
    #[default]
    Created,
    /// The last thing that happened with the lead.
    LastActivity,
    /// First and last name, case-insensitive, byte order.
    Name,
    /// Status name, then capture time.
    Status,
}

impl SortKey {
    /// The columns compared, in order, before the lead id; and the SQL type of each.
    fn keys(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Created => &[("c.created_at", "timestamptz")],
            Self::LastActivity => &[("c.last_activity_at", "timestamptz")],
            Self::Name => &[(
                "(lower(c.first_name || ' ' || c.last_name) COLLATE \"C\")",
                "text",
            )],
            Self::Status => &[("c.status", "text"), ("c.created_at", "timestamptz")],
        }
    }
}

/// An order: a key and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sort {
    /// What to order by.
    pub key: SortKey,
    /// Largest first.
    pub descending: bool,
}

impl Default for Sort {
    /// Newest first.
    fn default() -> Self {
        Self {
            key: SortKey::Created,
            descending: true,
        }
    }
}

/// Where a page starts: the sort values of the last row of the page before, and the order they
/// belong to. Opaque to clients (see [`Cursor::encode`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The order the cursor was made for.
    pub sort: Sort,
    /// The sort key values of the last row, as PostgreSQL text.
    pub values: Vec<String>,
    /// The last row's lead id.
    pub lead_id: Uuid,
}

impl Cursor {
    /// The cursor as an opaque URL-safe token.
    pub fn encode(&self) -> String {
        hex::encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads a token made by [`Cursor::encode`]; `None` if it is not one.
    pub fn decode(token: &str) -> Option<Self> {
        let bytes = hex::decode(token).ok()?;
        let cursor: Self = serde_json::from_slice(&bytes).ok()?;
        (cursor.values.len() == cursor.sort.key.keys().len()).then_some(cursor)
    }
}

/// Which page: by number (1-based) or after a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRequest {
    /// The n-th page of `size` rows.
    Number(u32),
    /// The page after the cursor.
    After(Cursor),
}

/// A page of contacts, the total matching the filter, and the cursor of the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactPage {
    /// The rows of the page, in the requested order.
    pub items: Vec<ContactRow>,
    /// How many match in all.
    pub total: i64,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<Cursor>,
}

/// One page of the tenant's contacts matching `filter`, ordered by `sort`.
pub async fn list(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    filter: &ContactFilter,
    sort: Sort,
    page: &PageRequest,
    page_size: u32,
) -> anyhow::Result<ContactPage> {
    let keys = sort.key.keys();
    let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {}", super::COLUMNS));
    for (index, (expr, _)) in keys.iter().enumerate() {
        sql.push(", (")
            .push(*expr)
            .push(")::text AS sort_key_")
            .push(index);
    }
    sql.push(" FROM ").push(schema).push(".contacts c");
    push_filter(&mut sql, tenant, filter);
    let direction = if sort.descending { "DESC" } else { "ASC" };
    if let PageRequest::After(cursor) = page {
        let comparison = if sort.descending { " < " } else { " > " };
        sql.push(" AND (");
        for (expr, _) in keys {
            sql.push(*expr).push(", ");
        }
        sql.push("c.lead_id)").push(comparison).push("(");
        for ((_, kind), value) in keys.iter().zip(&cursor.values) {
            sql.push_bind(value.clone())
                .push("::")
                .push(*kind)
                .push(", ");
        }
        sql.push_bind(cursor.lead_id).push(")");
    }
    sql.push(" ORDER BY ");
    for (expr, _) in keys {
        sql.push(*expr).push(" ").push(direction).push(", ");
    }
    sql.push("c.lead_id ")
        .push(direction)
        .push(" LIMIT ")
        .push_bind(i64::from(page_size) + 1);
    if let PageRequest::Number(number) = page {
        let offset = i64::from(number.saturating_sub(1)) * i64::from(page_size);
        sql.push(" OFFSET ").push_bind(offset);
    }
    let rows = async {
        sql.build()
            .fetch_all(pool)
            .await
            .context("Failed to list contacts")
    };
    let (rows, total) = tokio::try_join!(rows, count(pool, schema, tenant, filter))?;
    let mut items = Vec::with_capacity(rows.len().min(page_size as usize));
    let mut last_values = Vec::new();
    let more = rows.len() > page_size as usize;
    for row in rows.into_iter().take(page_size as usize) {
        use sqlx::{FromRow, Row};
        let contact = ContactRow::from_row(&row).context("Failed to read a contact")?;
        last_values = (0..keys.len())
            .map(|i| row.try_get::<String, _>(format!("sort_key_{i}").as_str()))
            .collect::<Result<_, _>>()
            .context("Failed to read a sort key")?;
        items.push(contact);
    }
    let next = match items.last() {
        Some(last) if more => Some(Cursor {
            sort,
            values: last_values,
            lead_id: last.lead_id,
        }),
        _ => None,
    };
    Ok(ContactPage { items, total, next })
}

/// How many of the tenant's contacts match `filter`. A filter on statuses alone (the list's
/// tabs, or no filter at all) is answered from the `status_counts` the projection keeps, in
/// constant time however large the tenant; any other filter counts its matching rows.
pub async fn count(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    filter: &ContactFilter,
) -> anyhow::Result<i64> {
    let statuses_only = ContactFilter {
        statuses: Vec::new(),
        ..filter.clone()
    } == ContactFilter::default();
    if statuses_only {
        let mut sql = QueryBuilder::<Postgres>::new("SELECT coalesce(sum(leads), 0)::bigint FROM ");
        sql.push(schema)
            .push(".status_counts WHERE tenant_id = ")
            .push_bind(tenant);
        if !filter.statuses.is_empty() {
            sql.push(" AND status = ANY(")
                .push_bind(filter.statuses.clone())
                .push(")");
        }
        return sql
            .build_query_scalar()
            .fetch_one(pool)
            .await
            .context("Failed to sum status counts");
    }
    let mut sql = QueryBuilder::<Postgres>::new("SELECT count(*) FROM ");
    sql.push(schema).push(".contacts c");
    push_filter(&mut sql, tenant, filter);
    sql.build_query_scalar()
        .fetch_one(pool)
        .await
        .context("Failed to count contacts")
}

/// Appends ` WHERE ...` selecting the tenant's contacts that match `filter`, for a query over
/// `<schema>.contacts c`.
pub fn push_filter(sql: &mut QueryBuilder<'_, Postgres>, tenant: Uuid, filter: &ContactFilter) {
    sql.push(" WHERE c.tenant_id = ").push_bind(tenant);
    match filter.archived {
        ArchivedFilter::Live => {
            sql.push(" AND NOT c.archived");
        }
        ArchivedFilter::Only => {
            sql.push(" AND c.archived");
        }
        ArchivedFilter::Any => {}
    }
    if !filter.statuses.is_empty() {
        sql.push(" AND c.status = ANY(")
            .push_bind(filter.statuses.clone())
            .push(")");
    }
    if let Some(workflow_id) = filter.workflow_id {
        sql.push(" AND c.workflow_id = ").push_bind(workflow_id);
    }
    if !filter.tags.is_empty() {
        let operator = match filter.tag_match {
            TagMatch::Any => " AND c.tags && ",
            TagMatch::All => " AND c.tags @> ",
        };
        sql.push(operator)
            .push_bind(filter.tags.clone())
            .push("::text[]");
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
        sql.push(" AND (lower(c.first_name || ' ' || c.last_name || ' ' || coalesce(c.phone, '') || ' ' || coalesce(c.email, '')) LIKE ")
            .push_bind(pattern);
        if let Some(digits) = &filter.phone_digits {
            sql.push(" OR c.phone LIKE ")
                .push_bind(format!("%{}%", escape_like(digits)));
        }
        sql.push(")");
    }
    push_range(sql, "c.created_at", filter.created_from, filter.created_to);
    push_range(
        sql,
        "c.last_message_at",
        filter.last_message_from,
        filter.last_message_to,
    );
    if let Some(at) = filter.contacted_at_or_before {
        sql.push(" AND c.last_contacted_at <= ").push_bind(at);
    }
    if let Some(at) = filter.contacted_at_or_after {
        sql.push(" AND c.last_contacted_at >= ").push_bind(at);
    }
    if let Some(min) = filter.follow_ups_min {
        sql.push(" AND c.follow_ups_sent >= ").push_bind(min);
    }
    if let Some(max) = filter.follow_ups_max {
        sql.push(" AND c.follow_ups_sent <= ").push_bind(max);
    }
    for (key, value) in &filter.custom_fields {
        // Containment uses the GIN index; the text comparison makes `42` match a number too.
        sql.push(" AND (c.custom_fields @> ")
            .push_bind(Json(serde_json::json!({ key: value })))
            .push(" OR (jsonb_typeof(c.custom_fields -> ")
            .push_bind(key.clone())
            .push(") IN ('number', 'boolean') AND c.custom_fields ->> ")
            .push_bind(key.clone())
            .push(" = ")
            .push_bind(value.clone())
            .push("))");
    }
    match filter.opted_out {
        Some(true) => {
            sql.push(" AND c.status = 'opted_out'");
        }
        Some(false) => {
            sql.push(" AND c.status <> 'opted_out'");
        }
        None => {}
    }
}

fn push_range(
    sql: &mut QueryBuilder<'_, Postgres>,
    column: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) {
    if let Some(from) = from {
        sql.push(" AND ").push(column).push(" >= ").push_bind(from);
    }
    if let Some(to) = to {
        sql.push(" AND ").push(column).push(" < ").push_bind(to);
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
    sqlx::query_as(&format!(
        "SELECT {} FROM {schema}.contacts c WHERE tenant_id = $1 AND lead_id = $2",
        super::COLUMNS
    ))
    .bind(tenant)
    .bind(lead_id)
    .fetch_optional(pool)
    .await
    .context("Failed to read a contact")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_a_search_match_themselves() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
    }

    #[test]
    fn a_cursor_survives_its_encoding_and_garbage_is_no_cursor() {
        let cursor = Cursor {
            sort: Sort {
                key: SortKey::Status,
                descending: false,
            },
            values: vec!["pending".into(), "2026-03-29 00:30:00+00".into()],
            lead_id: Uuid::from_u128(7),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("zz"), None);
        assert_eq!(Cursor::decode(&hex::encode(b"{}")), None);
    }

    #[test]
    fn a_cursor_with_the_wrong_number_of_values_is_refused() {
        let cursor = Cursor {
            sort: Sort::default(),
            values: vec![],
            lead_id: Uuid::nil(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), None);
    }
}
