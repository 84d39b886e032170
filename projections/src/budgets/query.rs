//! Reading the budget model: a tenant's AI spend in a month, and the alert thresholds it
//! reached, newest first.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A tenant's AI use in one month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonthSpend {
    /// AI calls (turns and follow-ups).
    pub calls: i64,
    /// Cost in micro-USD, exact.
    pub cost_micros: i64,
}

/// A threshold the tenant reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdRecord {
    /// The month's first day.
    pub month: NaiveDate,
    /// The threshold, in percent of the limit.
    pub threshold_percent: i32,
    /// The monthly limit when it was reached, micro-USD.
    pub monthly_limit_micros: i64,
    /// The month's spend when it was recorded, micro-USD.
    pub spend_micros: i64,
    /// Whether the budget stops the AI at its limit.
    pub hard_stop: bool,
    /// When it was recorded.
    pub reached_at: DateTime<Utc>,
    /// When the tenant was told (`None`: not yet, or no webhook to tell).
    pub notified_at: Option<DateTime<Utc>>,
    /// Where the notice went.
    pub notified: Vec<String>,
    /// Where it could not go.
    pub failed: Vec<String>,
}

/// The tenant's AI use in the month starting on `month`.
pub async fn month_spend(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    month: NaiveDate,
) -> anyhow::Result<MonthSpend> {
    let row: Option<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT calls, cost_micros FROM {schema}.ai_spend_monthly \
         WHERE tenant_id = $1 AND month = $2"
    ))
    .bind(tenant)
    .bind(month)
    .fetch_optional(pool)
    .await
    .context("Failed to read the month's AI spend")?;
    Ok(
        row.map_or_else(MonthSpend::default, |(calls, cost_micros)| MonthSpend {
            calls,
            cost_micros,
        }),
    )
}

type ThresholdTuple = (
    NaiveDate,
    i32,
    i64,
    i64,
    bool,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Vec<String>,
    Vec<String>,
);

/// The tenant's reached thresholds, newest first, at most `limit`; only those of the month
/// starting on `month` when given.
pub async fn thresholds(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    month: Option<NaiveDate>,
    limit: i64,
) -> anyhow::Result<Vec<ThresholdRecord>> {
    let rows: Vec<ThresholdTuple> = sqlx::query_as(&format!(
        "SELECT month, threshold_percent, monthly_limit_micros, spend_micros, hard_stop, \
                reached_at, notified_at, notified, failed \
         FROM {schema}.thresholds \
         WHERE tenant_id = $1 AND ($2::date IS NULL OR month = $2) \
         ORDER BY position DESC LIMIT $3"
    ))
    .bind(tenant)
    .bind(month)
    .bind(limit)
    .fetch_all(pool)
    .await
    .context("Failed to read reached thresholds")?;
    Ok(rows
        .into_iter()
        .map(
            |(
                month,
                threshold_percent,
                monthly_limit_micros,
                spend_micros,
                hard_stop,
                reached_at,
                notified_at,
                notified,
                failed,
            )| ThresholdRecord {
                month,
                threshold_percent,
                monthly_limit_micros,
                spend_micros,
                hard_stop,
                reached_at,
                notified_at,
                notified,
                failed,
            },
        )
        .collect())
}
