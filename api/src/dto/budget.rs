//! Bodies of the AI budget operations: where a tenant's month stands against its budget, and
//! the alert thresholds it reached. Amounts travel as exact micro-USD and as decimal strings
//! made from them, never through a float.

use chrono::{DateTime, NaiveDate, Utc};
use domain::budget::{AiBudget, UtcMonth};
use poem_openapi::Object;
use projections::budgets::query::{MonthSpend, ThresholdRecord};

use crate::dto::analytics::micros_to_decimal;
use crate::dto::tenant::budget::AiBudgetDto;

/// A tenant's AI spend in a month against its budget.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "AiBudgetStatus")]
pub struct BudgetStatusDto {
    /// The UTC calendar month (`YYYY-MM`).
    pub month: String,
    /// The tenant's budget now (`null`: none set).
    #[oai(nullable)]
    pub budget: Option<AiBudgetDto>,
    /// AI calls in the month (answers and follow-ups).
    pub calls: i64,
    /// What the AI spent in the month, micro-USD, exact.
    pub spend_micros: i64,
    /// The same in US dollars with six decimals.
    pub spend: String,
    /// Spend / limit, four decimals (1.0 = the whole budget); `null` without a budget.
    #[oai(nullable)]
    pub used: Option<f64>,
    /// Whether the AI is stopped now: the budget has `hard_stop` and the month's spend reached
    /// the limit (always `false` for a month other than the current one).
    pub ai_paused: bool,
    /// The thresholds reached in the month, newest first.
    pub thresholds_reached: Vec<ThresholdReachedDto>,
}

impl BudgetStatusDto {
    /// The status of `month` from its spend and reached thresholds, under `budget`; `current`
    /// says whether `month` is the month now.
    #[must_use]
    pub fn new(
        month: UtcMonth,
        budget: Option<&AiBudget>,
        spend: MonthSpend,
        reached: Vec<ThresholdRecord>,
        current: bool,
    ) -> Self {
        let used = budget.map(|b| ratio(spend.cost_micros, b.monthly_limit_micros()));
        Self {
            month: month.to_string(),
            ai_paused: current && budget.is_some_and(|b| b.stops_at(spend.cost_micros)),
            budget: budget.map(AiBudgetDto::from),
            calls: spend.calls,
            spend_micros: spend.cost_micros,
            spend: micros_to_decimal(spend.cost_micros),
            used,
            thresholds_reached: reached.into_iter().map(ThresholdReachedDto::from).collect(),
        }
    }
}

/// `part / whole` to four decimals (`whole` is positive: budgets have positive limits).
fn ratio(part: i64, whole: i64) -> f64 {
    // Micro-USD amounts of a month stay far below 2^53: the division is exact up to the
    // float's own rounding.
    #[allow(clippy::cast_precision_loss)]
    let exact = part as f64 / whole as f64;
    (exact * 10_000.0).round() / 10_000.0
}

/// An alert threshold a tenant's AI spend reached in a month (`CostThresholdReached`).
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "AiBudgetThresholdReached")]
pub struct ThresholdReachedDto {
    /// The UTC calendar month (`YYYY-MM`).
    pub month: String,
    /// The threshold, in percent of the monthly limit.
    pub threshold_percent: i32,
    /// The monthly limit then, micro-USD.
    pub monthly_limit_micros: i64,
    /// The same in US dollars with six decimals.
    pub monthly_limit: String,
    /// The month's spend when the threshold was recorded, micro-USD (at least the threshold's
    /// share of the limit; spend recorded in the same instant may take it past later
    /// thresholds too).
    pub spend_micros: i64,
    /// The same in US dollars with six decimals.
    pub spend: String,
    /// Whether the budget stopped the AI at its limit then.
    pub hard_stop: bool,
    /// When it was recorded.
    pub reached_at: DateTime<Utc>,
    /// When the tenant was told (`null`: not yet, or no `webhook_url` to tell).
    #[oai(nullable)]
    pub notified_at: Option<DateTime<Utc>>,
    /// Where the notice went (`webhook`).
    pub notified: Vec<String>,
    /// Where it could not go, and why.
    pub failed: Vec<String>,
}

impl From<ThresholdRecord> for ThresholdReachedDto {
    fn from(record: ThresholdRecord) -> Self {
        Self {
            month: month_label(record.month),
            threshold_percent: record.threshold_percent,
            monthly_limit_micros: record.monthly_limit_micros,
            monthly_limit: micros_to_decimal(record.monthly_limit_micros),
            spend_micros: record.spend_micros,
            spend: micros_to_decimal(record.spend_micros),
            hard_stop: record.hard_stop,
            reached_at: record.reached_at,
            notified_at: record.notified_at,
            notified: record.notified,
            failed: record.failed,
        }
    }
}

/// `YYYY-MM` of a month's first day.
fn month_label(first_day: NaiveDate) -> String {
    first_day.format("%Y-%m").to_string()
}

/// The thresholds a tenant reached, newest first.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "AiBudgetThresholdList")]
pub struct ThresholdListDto {
    /// The thresholds, newest first.
    pub items: Vec<ThresholdReachedDto>,
}
