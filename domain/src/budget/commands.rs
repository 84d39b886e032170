//! What can be asked of a budget month, in the imperative. The poller that compares each
//! tenant's month-to-date spend with its budget looks both up and puts them in the command, with
//! the time read from its clock, so the aggregate stays pure and decides only "first time or
//! not".

use chrono::{DateTime, Utc};

use super::{ThresholdPercent, UtcMonth};

/// A command for the BudgetMonth aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetCommand {
    /// Record that `spend_micros` reached `threshold_percent` of the limit. No event if that
    /// threshold is already recorded this month, whatever the amounts now, so racing pollers
    /// and replays record it once.
    RecordThresholdReached {
        /// The UTC month the spend is in (the aggregate's month once one is recorded).
        month: UtcMonth,
        /// The threshold, in percent of the limit.
        threshold_percent: ThresholdPercent,
        /// The monthly limit, micro-USD (positive).
        monthly_limit_micros: i64,
        /// The month-to-date spend, micro-USD (not negative).
        spend_micros: i64,
        /// Whether the budget stops the AI once the limit is spent.
        hard_stop: bool,
        /// When the spend was seen.
        at: DateTime<Utc>,
    },
    /// Record that the tenant was told of a reached threshold. No event if already recorded.
    /// Each list keeps its first [`super::MAX_NOTICE_TARGETS`] entries, each cut to
    /// [`super::MAX_NOTICE_TARGET_LEN`] characters, so a provider's long error cannot bloat
    /// the store.
    RecordThresholdNotified {
        /// The threshold the notice was about.
        threshold_percent: ThresholdPercent,
        /// The targets that received it.
        notified: Vec<String>,
        /// The targets that failed, with why.
        failed: Vec<String>,
        /// When.
        at: DateTime<Utc>,
    },
}
