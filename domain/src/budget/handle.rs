//! How the BudgetMonth aggregate decides: a pure function from state and command to the events
//! to record, or the rule that refuses it. The month and the amounts are checked first, then
//! whether the threshold is already recorded: a repeat is "nothing to do", whatever the spend
//! now (a later poll may see a refund or a raised limit).

use chrono::{DateTime, Utc};

use super::{
    BudgetCommand, BudgetError, BudgetEvent, BudgetMonth, ThresholdPercent, UtcMonth,
    MAX_NOTICE_TARGETS, MAX_NOTICE_TARGET_LEN,
};

impl BudgetMonth {
    /// The events `command` produces from the current state.
    pub(super) fn decide(&self, command: BudgetCommand) -> Result<Vec<BudgetEvent>, BudgetError> {
        match command {
            BudgetCommand::RecordThresholdReached {
                month,
                threshold_percent,
                monthly_limit_micros,
                spend_micros,
                hard_stop,
                at,
            } => {
                self.check_month(month)?;
                if monthly_limit_micros <= 0 {
                    return Err(BudgetError::LimitNotPositive);
                }
                if spend_micros < 0 {
                    return Err(BudgetError::NegativeSpend);
                }
                if self.reached.contains_key(&threshold_percent) {
                    return Ok(vec![]);
                }
                if !threshold_percent.reached(spend_micros, monthly_limit_micros) {
                    return Err(BudgetError::NotReached {
                        threshold_percent,
                        spend_micros,
                        monthly_limit_micros,
                    });
                }
                Ok(vec![BudgetEvent::CostThresholdReached {
                    month,
                    threshold_percent,
                    monthly_limit_micros,
                    spend_micros,
                    hard_stop,
                    at,
                }])
            }
            BudgetCommand::RecordThresholdNotified {
                threshold_percent,
                notified,
                failed,
                at,
            } => self.record_notice(threshold_percent, notified, failed, at),
        }
    }

    /// Refuses a month other than the one already recorded.
    fn check_month(&self, requested: UtcMonth) -> Result<(), BudgetError> {
        match self.month {
            Some(month) if month != requested => Err(BudgetError::WrongMonth { month, requested }),
            _ => Ok(()),
        }
    }

    /// Records the notice about a reached threshold, once.
    fn record_notice(
        &self,
        threshold_percent: ThresholdPercent,
        notified: Vec<String>,
        failed: Vec<String>,
        at: DateTime<Utc>,
    ) -> Result<Vec<BudgetEvent>, BudgetError> {
        let reached = self
            .reached
            .get(&threshold_percent)
            .ok_or(BudgetError::UnknownThreshold(threshold_percent))?;
        if reached.notified {
            return Ok(vec![]);
        }
        Ok(vec![BudgetEvent::CostThresholdNotified {
            threshold_percent,
            notified: cap(notified),
            failed: cap(failed),
            at,
        }])
    }
}

/// The first [`MAX_NOTICE_TARGETS`] entries, each cut to [`MAX_NOTICE_TARGET_LEN`] characters.
fn cap(entries: Vec<String>) -> Vec<String> {
    entries
        .into_iter()
        .take(MAX_NOTICE_TARGETS)
        .map(|entry| {
            if entry.chars().count() > MAX_NOTICE_TARGET_LEN {
                entry.chars().take(MAX_NOTICE_TARGET_LEN).collect()
            } else {
                entry
            }
        })
        .collect()
}
