//! Bodies of the analytics operations: the AI cost report and the funnel (the overview is in
//! [`overview`], message figures in [`messages`]). Costs travel as exact integer micro-USD and as
//! a decimal string made from them, never through a float; funnel rates are ratios of exact
//! counts, rounded to four decimals, `null` when the denominator is not positive.

use chrono::NaiveDate;
use domain::LeadStatus;
use poem_openapi::Object;
use projections::costs::messages::ChannelMessages;
use projections::costs::query::{CostReport, CostRow, CostSums};
use projections::funnel::query::{FunnelBucket, FunnelCounts, FunnelReport};
use uuid::Uuid;

use crate::error::ApiError;
use messages::ChannelMessagesDto;

pub mod messages;
pub mod overview;

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
    #[oai(nullable)]
    pub average_tokens_per_conversation: Option<f64>,
}

impl From<CostSums> for CostFiguresDto {
    fn from(sums: CostSums) -> Self {
        let average = tokens_per_conversation(&sums);
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

/// (input + output tokens) / conversations; `None` when no conversation spent.
#[must_use]
pub fn tokens_per_conversation(sums: &CostSums) -> Option<f64> {
    let tokens = sums.input_tokens + sums.output_tokens;
    // Token counts and conversation counts stay far below 2^53: the division is exact up to
    // the float's own rounding.
    #[allow(clippy::cast_precision_loss)]
    (sums.conversations > 0).then(|| tokens as f64 / sums.conversations as f64)
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
    /// Messages in the range per channel that carried any, with what providers reported they
    /// cost (prices count on the UTC day of the report).
    pub messages: Vec<ChannelMessagesDto>,
}

impl CostReportDto {
    /// The report of `report` and `messages` for these parameters.
    #[must_use]
    pub fn new(
        group_by: &str,
        from: NaiveDate,
        to: NaiveDate,
        report: CostReport,
        messages: Vec<ChannelMessages>,
    ) -> Self {
        Self {
            group_by: group_by.to_owned(),
            from: from.to_string(),
            to: to.to_string(),
            rows: report.rows.into_iter().map(Into::into).collect(),
            total: report.total.into(),
            messages: messages.into_iter().map(Into::into).collect(),
        }
    }
}

/// Ever-reached stage counts and appointment outcomes over some days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Object)]
#[oai(rename = "FunnelCounts")]
pub struct FunnelCountsDto {
    /// Leads captured.
    pub captured: i64,
    /// Leads that first reached `contacted` (or a status past it: in conversation, qualified,
    /// booked).
    pub contacted: i64,
    /// Leads that first replied: reached in conversation, qualified or booked.
    pub replied: i64,
    /// Leads first qualified.
    pub qualified: i64,
    /// Leads first booked.
    pub booked: i64,
    /// Leads that first opted out.
    pub opted_out: i64,
    /// Leads that first became unresponsive.
    pub unresponsive: i64,
    /// Leads first handed off to a human.
    pub handed_off: i64,
    /// Appointments marked completed.
    pub completed: i64,
    /// Appointments marked no-show.
    pub no_show: i64,
}

impl From<FunnelCounts> for FunnelCountsDto {
    fn from(c: FunnelCounts) -> Self {
        Self {
            captured: c.captured,
            contacted: c.contacted,
            replied: c.replied,
            qualified: c.qualified,
            booked: c.booked,
            opted_out: c.opted_out,
            unresponsive: c.unresponsive,
            handed_off: c.handed_off,
            completed: c.completed,
            no_show: c.no_show,
        }
    }
}

/// One bucket of the funnel.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "FunnelBucket")]
pub struct FunnelBucketDto {
    /// Its first day (`YYYY-MM-DD`): the day, the ISO week's Monday or the month's first day
    /// (possibly before `from`; only days in the range are counted).
    pub start: String,
    /// Its counts.
    #[oai(flatten)]
    pub counts: FunnelCountsDto,
}

impl From<FunnelBucket> for FunnelBucketDto {
    fn from(bucket: FunnelBucket) -> Self {
        Self {
            start: bucket.start.to_string(),
            counts: bucket.counts.into(),
        }
    }
}

/// Leads per status now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Object)]
#[oai(rename = "FunnelCurrent")]
pub struct FunnelCurrentDto {
    /// Captured, not yet messaged.
    pub pending: i64,
    /// Messaged, no reply yet.
    pub contacted: i64,
    /// In conversation.
    pub in_conversation: i64,
    /// Qualified.
    pub qualified: i64,
    /// Booked.
    pub booked: i64,
    /// Opted out.
    pub opted_out: i64,
    /// Unresponsive.
    pub unresponsive: i64,
    /// Handed off to a human.
    pub handed_off: i64,
}

impl FunnelCurrentDto {
    fn new(current: &[(LeadStatus, i64)]) -> Self {
        let mut dto = Self::default();
        for (status, leads) in current {
            let slot = match status {
                LeadStatus::Pending => &mut dto.pending,
                LeadStatus::Contacted => &mut dto.contacted,
                LeadStatus::InConversation => &mut dto.in_conversation,
                LeadStatus::Qualified => &mut dto.qualified,
                LeadStatus::Booked => &mut dto.booked,
                LeadStatus::OptedOut => &mut dto.opted_out,
                LeadStatus::Unresponsive => &mut dto.unresponsive,
                LeadStatus::HandedOff => &mut dto.handed_off,
            };
            *slot += leads;
        }
        dto
    }
}

/// The funnel's rates over the whole range, from its ever-reached counts; `null` when the
/// denominator is not positive.
#[derive(Debug, Clone, Copy, PartialEq, Object)]
#[oai(rename = "FunnelRates")]
pub struct FunnelRatesDto {
    /// replied / contacted (replied: leads that reached in conversation, qualified or booked).
    #[oai(nullable)]
    pub response_rate: Option<f64>,
    /// qualified / (contacted − opted_out).
    #[oai(nullable)]
    pub qualification_rate: Option<f64>,
    /// booked / qualified.
    #[oai(nullable)]
    pub booking_rate: Option<f64>,
    /// opted_out / contacted.
    #[oai(nullable)]
    pub opt_out_rate: Option<f64>,
    /// completed / (completed + no_show).
    #[oai(nullable)]
    pub show_rate: Option<f64>,
}

impl From<FunnelCounts> for FunnelRatesDto {
    fn from(c: FunnelCounts) -> Self {
        Self {
            response_rate: rate(c.replied, c.contacted),
            qualification_rate: rate(c.qualified, c.contacted - c.opted_out),
            booking_rate: rate(c.booked, c.qualified),
            opt_out_rate: rate(c.opted_out, c.contacted),
            show_rate: rate(c.completed, c.completed + c.no_show),
        }
    }
}

/// `part / whole` rounded to four decimals; `None` when `whole` is not positive.
#[must_use]
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    // Counts stay far below 2^53: the division is exact up to the float's own rounding.
    #[allow(clippy::cast_precision_loss)]
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

/// A tenant's funnel over a range of UTC days.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "FunnelReport")]
pub struct FunnelReportDto {
    /// `day`, `week` or `month`.
    pub granularity: String,
    /// The first UTC day counted (`YYYY-MM-DD`).
    pub from: String,
    /// The last UTC day counted (`YYYY-MM-DD`).
    pub to: String,
    /// The workflow counted (the nil uuid: leads in none), or `null` for all.
    #[oai(nullable)]
    pub workflow_id: Option<String>,
    /// The buckets that counted anything, by start.
    pub buckets: Vec<FunnelBucketDto>,
    /// The whole range.
    pub total: FunnelCountsDto,
    /// The rates over the whole range, from `total`.
    pub rates: FunnelRatesDto,
    /// Leads per status now (whatever the range).
    pub current: FunnelCurrentDto,
}

impl FunnelReportDto {
    /// The body of `report` for these parameters.
    #[must_use]
    pub fn new(
        granularity: &str,
        from: NaiveDate,
        to: NaiveDate,
        workflow: Option<Uuid>,
        report: FunnelReport,
    ) -> Self {
        Self {
            granularity: granularity.to_owned(),
            from: from.to_string(),
            to: to.to_string(),
            workflow_id: workflow.map(|id| id.to_string()),
            buckets: report.buckets.into_iter().map(Into::into).collect(),
            total: report.total.into(),
            rates: report.total.into(),
            current: FunnelCurrentDto::new(&report.current),
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

    #[test]
    fn rates_round_to_four_decimals_and_are_null_without_a_denominator() {
        assert_eq!(rate(2, 3), Some(0.6667));
        assert_eq!(rate(1, 8), Some(0.125));
        assert_eq!(rate(5, 5), Some(1.0));
        assert_eq!(rate(0, 0), None);
        assert_eq!(rate(1, -1), None);
    }
}
