//! Bodies of the analytics operations: the AI cost report. Costs travel as exact integer
//! micro-USD and as a decimal string made from them, never through a float.

use chrono::NaiveDate;
use poem_openapi::Object;
use projections::costs::query::{CostReport, CostRow, CostSums};

use crate::error::ApiError;

/// AI spend over a group of calls.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "CostFigures")]
pub struct CostFiguresDto {
    /// AI calls (answers and follow-ups).
    pub calls: i64,
    /// Prompt tokens, cached ones included.
    pub input_tokens: i64,
    /// Prompt tokens served from the provider's cache.
    pub cached_input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
    /// Cost in micro-USD, exact.
    pub cost_micros: i64,
    /// The cost in USD as a decimal string with six places (`"0.001234"`), from `cost_micros`.
    pub cost: String,
    /// Distinct conversations that spent.
    pub conversations: i64,
    /// (input + output tokens) / conversations; `null` when no conversation spent.
    pub average_tokens_per_conversation: Option<f64>,
}

impl From<CostSums> for CostFiguresDto {
    fn from(sums: CostSums) -> Self {
        let tokens = sums.input_tokens + sums.output_tokens;
        // Token counts and conversation counts stay far below 2^53: the division is exact
        // up to the float's own rounding.
        #[allow(clippy::cast_precision_loss)]
        let average = (sums.conversations > 0).then(|| tokens as f64 / sums.conversations as f64);
        Self {
            calls: sums.calls,
            input_tokens: sums.input_tokens,
            cached_input_tokens: sums.cached_input_tokens,
            output_tokens: sums.output_tokens,
            cost_micros: sums.cost_micros,
            cost: micros_to_decimal(sums.cost_micros),
            conversations: sums.conversations,
            average_tokens_per_conversation: average,
        }
    }
}

/// One group of a cost report.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "CostRow")]
pub struct CostRowDto {
    /// The day (`YYYY-MM-DD`, UTC), workflow id (the nil uuid: leads in no workflow) or model
    /// (`rules` for the rules engine).
    pub key: String,
    /// Its figures.
    #[oai(flatten)]
    pub figures: CostFiguresDto,
}

impl From<CostRow> for CostRowDto {
    fn from(row: CostRow) -> Self {
        Self {
            key: row.key,
            figures: row.sums.into(),
        }
    }
}

/// A tenant's AI spend over a range of UTC days.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "CostReport")]
pub struct CostReportDto {
    /// `day`, `workflow` or `model`.
    pub group_by: String,
    /// The first UTC day counted (`YYYY-MM-DD`).
    pub from: String,
    /// The last UTC day counted (`YYYY-MM-DD`).
    pub to: String,
    /// One row per group that spent, by key.
    pub rows: Vec<CostRowDto>,
    /// The whole range.
    pub total: CostFiguresDto,
}

impl CostReportDto {
    /// The report of `report` for these parameters.
    #[must_use]
    pub fn new(group_by: &str, from: NaiveDate, to: NaiveDate, report: CostReport) -> Self {
        Self {
            group_by: group_by.to_owned(),
            from: from.to_string(),
            to: to.to_string(),
            rows: report.rows.into_iter().map(Into::into).collect(),
            total: report.total.into(),
        }
    }
}

/// Micro-units as a decimal string with six places: `1234` → `"0.001234"`, `-5` → `"-0.000005"`.
#[must_use]
pub fn micros_to_decimal(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let magnitude = micros.unsigned_abs();
    format!(
        "{sign}{}.{:06}",
        magnitude / 1_000_000,
        magnitude % 1_000_000
    )
}

/// A UTC day from `YYYY-MM-DD`, or the UTC day of an RFC 3339 time; a 422 naming `field`.
pub fn parse_day(field: &str, raw: &str) -> Result<NaiveDate, ApiError> {
    let raw = raw.trim();
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(day);
    }
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|at| at.with_timezone(&chrono::Utc).date_naive())
        .map_err(|_| {
            ApiError::invalid_field(
                field,
                "must be a date (2026-03-30) or an RFC 3339 time (2026-03-30T09:00:00Z)",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_become_exact_decimal_strings() {
        assert_eq!(micros_to_decimal(0), "0.000000");
        assert_eq!(micros_to_decimal(1_234), "0.001234");
        assert_eq!(micros_to_decimal(12_000_001), "12.000001");
        assert_eq!(micros_to_decimal(-5), "-0.000005");
        assert_eq!(micros_to_decimal(i64::MIN), "-9223372036854.775808");
    }
}
