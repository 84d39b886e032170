//! Reading the funnel model: a tenant's ever-reached stage counts and appointment outcomes
//! between two UTC days (both included), in day, ISO-week or month buckets, with the total; and
//! its leads per current status. Optionally for one workflow.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::NaiveDate;
use domain::LeadStatus;
use sqlx::PgPool;
use uuid::Uuid;

use super::fold::{COMPLETED, NO_SHOW};

/// How the days of a funnel report are bucketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One bucket per UTC day.
    Day,
    /// One bucket per ISO week (Monday to Sunday), named by its Monday.
    Week,
    /// One bucket per calendar month, named by its first day.
    Month,
}

impl Granularity {
    /// The SQL expression giving a row's bucket start.
    const fn bucket_sql(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "date_trunc('week', day::timestamp)::date",
            Self::Month => "date_trunc('month', day::timestamp)::date",
        }
    }
}

/// Ever-reached stage counts (leads, each counted once per stage, on the day it first reached
/// it) and appointment outcome marks over some days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunnelCounts {
    /// Leads captured.
    pub captured: i64,
    /// Leads first contacted (or first past contacted on the main path).
    pub contacted: i64,
    /// Leads that first replied (reached in conversation, qualified or booked).
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

impl FunnelCounts {
    /// Adds `count` to the figure of `stage` (a stage of [`super::fold::STAGES`] or an
    /// appointment outcome); other names are ignored.
    pub fn add(&mut self, stage: &str, count: i64) {
        let slot = match stage {
            "captured" => &mut self.captured,
            "contacted" => &mut self.contacted,
            "replied" => &mut self.replied,
            "qualified" => &mut self.qualified,
            "booked" => &mut self.booked,
            "opted_out" => &mut self.opted_out,
            "unresponsive" => &mut self.unresponsive,
            "handed_off" => &mut self.handed_off,
            COMPLETED => &mut self.completed,
            NO_SHOW => &mut self.no_show,
            _ => return,
        };
        *slot += count;
    }

    /// Adds every figure of `other`.
    pub fn add_all(&mut self, other: &Self) {
        self.captured += other.captured;
        self.contacted += other.contacted;
        self.replied += other.replied;
        self.qualified += other.qualified;
        self.booked += other.booked;
        self.opted_out += other.opted_out;
        self.unresponsive += other.unresponsive;
        self.handed_off += other.handed_off;
        self.completed += other.completed;
        self.no_show += other.no_show;
    }
}

/// One bucket of a funnel report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunnelBucket {
    /// Its first day (the day, the ISO week's Monday or the month's first day; it may lie
    /// before the report's `from`, but only days in the range are counted).
    pub start: NaiveDate,
    /// Its counts.
    pub counts: FunnelCounts,
}

/// A funnel report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelReport {
    /// The buckets that counted anything, by start.
    pub buckets: Vec<FunnelBucket>,
    /// The whole range.
    pub total: FunnelCounts,
    /// Leads per status now, every status in lifecycle order (not limited to the range).
    pub current: Vec<(LeadStatus, i64)>,
}

/// The tenant's funnel from `from` to `to` (UTC days, both included), in `granularity`
/// buckets, for one workflow (the nil uuid: leads in none) or all.
pub async fn funnel(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    workflow: Option<Uuid>,
    from: NaiveDate,
    to: NaiveDate,
    granularity: Granularity,
) -> anyhow::Result<FunnelReport> {
    let bucket = granularity.bucket_sql();
    let rows: Vec<(NaiveDate, String, i64)> = sqlx::query_as(&format!(
        "SELECT {bucket}, stage, SUM(count)::int8 FROM {schema}.funnel_daily \
         WHERE tenant_id = $1 AND day BETWEEN $2 AND $3 \
           AND ($4::uuid IS NULL OR workflow_id = $4) \
         GROUP BY 1, 2"
    ))
    .bind(tenant)
    .bind(from)
    .bind(to)
    .bind(workflow)
    .fetch_all(pool)
    .await
    .context("Failed to sum funnel counts")?;
    let mut buckets: BTreeMap<NaiveDate, FunnelCounts> = BTreeMap::new();
    for (start, stage, count) in rows {
        buckets.entry(start).or_default().add(&stage, count);
    }
    let mut total = FunnelCounts::default();
    for counts in buckets.values() {
        total.add_all(counts);
    }
    let current: BTreeMap<String, i64> = sqlx::query_as(&format!(
        "SELECT status, SUM(leads)::int8 FROM {schema}.funnel_current \
         WHERE tenant_id = $1 AND ($2::uuid IS NULL OR workflow_id = $2) \
         GROUP BY 1"
    ))
    .bind(tenant)
    .bind(workflow)
    .fetch_all(pool)
    .await
    .context("Failed to count leads per status")?
    .into_iter()
    .collect();
    Ok(FunnelReport {
        buckets: buckets
            .into_iter()
            .map(|(start, counts)| FunnelBucket { start, counts })
            .collect(),
        total,
        current: LeadStatus::ALL
            .into_iter()
            .map(|status| (status, current.get(status.as_str()).copied().unwrap_or(0)))
            .collect(),
    })
}
