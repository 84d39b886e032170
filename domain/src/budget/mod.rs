//! AI budgets: a tenant's monthly limit on AI spend (see [`AiBudget`]), and the BudgetMonth
//! aggregate, one per tenant and UTC month, which records each alert threshold reached and the
//! notice about it exactly once, however many pollers race and however often read models are
//! rebuilt: racing pollers write at the same sequence of the same aggregate, so the loser gets a
//! conflict and, retrying, finds the threshold recorded.
//!
//! What it does not decide: the spend and the budget (the poller looks them up and puts them in
//! the command), and who is told (the notifier records the outcome afterwards).
//!
//! Deciding lives in `handle.rs`; this file holds the state and how events change it.

mod commands;
mod errors;
mod events;
mod handle;
mod month;
mod settings;
#[cfg(test)]
mod settings_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::values::TenantId;

pub use commands::BudgetCommand;
pub use errors::BudgetError;
pub use events::BudgetEvent;
pub use month::{UtcMonth, MAX_MONTH_YEAR, MIN_MONTH_YEAR};
pub use settings::{
    AiBudget, ThresholdPercent, DEFAULT_THRESHOLDS, MAX_MONTHLY_LIMIT_MICROS, MAX_THRESHOLDS,
    MAX_THRESHOLD_PERCENT,
};

/// Most targets kept in each list of a notice.
pub const MAX_NOTICE_TARGETS: usize = 10;
/// Longest target entry kept in a notice, in characters.
pub const MAX_NOTICE_TARGET_LEN: usize = 500;

/// The aggregate id of `tenant`'s budget in `month`: `<tenant uuid>:<YYYY-MM>`.
#[must_use]
pub fn budget_month_id(tenant: TenantId, month: UtcMonth) -> String {
    format!("{}:{month}", tenant.as_uuid())
}

/// A threshold reached this month, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachedThreshold {
    /// The monthly limit when it was reached, micro-USD.
    pub monthly_limit_micros: i64,
    /// The month-to-date spend that reached it, micro-USD.
    pub spend_micros: i64,
    /// Whether the budget stopped the AI once the limit was spent.
    pub hard_stop: bool,
    /// When it was seen.
    pub at: DateTime<Utc>,
    /// Whether the notice about it was recorded.
    pub notified: bool,
}

/// The state of a tenant's budget month, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetMonth {
    /// The month, once a threshold was recorded.
    month: Option<UtcMonth>,
    /// The thresholds reached, ascending.
    reached: BTreeMap<ThresholdPercent, ReachedThreshold>,
}

impl BudgetMonth {
    /// The month, once a threshold was recorded.
    #[must_use]
    pub const fn month(&self) -> Option<UtcMonth> {
        self.month
    }

    /// The thresholds reached this month, ascending.
    pub fn reached(&self) -> impl Iterator<Item = ThresholdPercent> + '_ {
        self.reached.keys().copied()
    }

    /// What was recorded when `threshold` was reached, if it was.
    #[must_use]
    pub fn reached_threshold(&self, threshold: ThresholdPercent) -> Option<&ReachedThreshold> {
        self.reached.get(&threshold)
    }

    /// Whether `threshold` was reached and no notice about it is recorded yet.
    #[must_use]
    pub fn notice_due(&self, threshold: ThresholdPercent) -> bool {
        self.reached
            .get(&threshold)
            .is_some_and(|reached| !reached.notified)
    }
}

impl Aggregate for BudgetMonth {
    const TYPE: &'static str = "budget_month";
    type Command = BudgetCommand;
    type Event = BudgetEvent;
    type Error = BudgetError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _service: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            BudgetEvent::CostThresholdReached {
                month,
                threshold_percent,
                monthly_limit_micros,
                spend_micros,
                hard_stop,
                at,
            } => {
                self.month = Some(month);
                self.reached.insert(
                    threshold_percent,
                    ReachedThreshold {
                        monthly_limit_micros,
                        spend_micros,
                        hard_stop,
                        at,
                        notified: false,
                    },
                );
            }
            BudgetEvent::CostThresholdNotified {
                threshold_percent, ..
            } => {
                if let Some(reached) = self.reached.get_mut(&threshold_percent) {
                    reached.notified = true;
                }
            }
        }
    }
}
