//! Why the BudgetMonth aggregate refused a command. One variant per business rule, no technical
//! errors: the aggregate does no I/O.

use thiserror::Error;

use super::{ThresholdPercent, UtcMonth};

/// A command the BudgetMonth aggregate refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BudgetError {
    /// The spend does not reach the threshold it is reported for.
    #[error("a spend of {spend_micros} micro-USD does not reach {threshold_percent} of {monthly_limit_micros}")]
    NotReached {
        /// The threshold named.
        threshold_percent: ThresholdPercent,
        /// The spend, micro-USD.
        spend_micros: i64,
        /// The limit, micro-USD.
        monthly_limit_micros: i64,
    },
    /// One aggregate holds one month: a spend of another month belongs to that month's.
    #[error("this budget month is {month}, not {requested}")]
    WrongMonth {
        /// The month the aggregate holds.
        month: UtcMonth,
        /// The month the command named.
        requested: UtcMonth,
    },
    /// A monthly limit must be positive.
    #[error("monthly_limit_micros must be positive")]
    LimitNotPositive,
    /// A spend cannot be negative.
    #[error("spend_micros must not be negative")]
    NegativeSpend,
    /// A notice can only be recorded for a threshold reached this month.
    #[error("threshold {0} has not been reached this month")]
    UnknownThreshold(ThresholdPercent),
}
