//! Everything that can happen to a tenant's budget month, in the past tense. Persisted: never
//! rename a variant, a field or its `event_type`; add a new version instead.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::{ThresholdPercent, UtcMonth};

/// An event of the BudgetMonth aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BudgetEvent {
    /// The month's AI spend reached a threshold of the budget, for the first time this month.
    CostThresholdReached {
        /// The UTC month.
        month: UtcMonth,
        /// The threshold reached, in percent of the limit.
        threshold_percent: ThresholdPercent,
        /// The monthly limit when it was reached, micro-USD.
        monthly_limit_micros: i64,
        /// The month-to-date spend that reached it, micro-USD.
        spend_micros: i64,
        /// Whether the budget stops the AI once the limit is spent.
        hard_stop: bool,
        /// When it was seen.
        at: DateTime<Utc>,
    },
    /// The tenant was told a threshold was reached (delivered to some targets, maybe not all).
    CostThresholdNotified {
        /// The threshold the notice was about.
        threshold_percent: ThresholdPercent,
        /// The targets that received it (capped, see [`super::MAX_NOTICE_TARGETS`]).
        notified: Vec<String>,
        /// The targets that failed, with why (capped likewise).
        failed: Vec<String>,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for BudgetEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CostThresholdReached { .. } => "CostThresholdReached",
            Self::CostThresholdNotified { .. } => "CostThresholdNotified",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
