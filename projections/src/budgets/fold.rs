//! How AI spend and budget events change the budget model (see the module docs of [`super`]):
//! a pure fold into month sums to add and threshold rows to write.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use domain::budget::{BudgetEvent, UtcMonth};
use domain::conversation::ConversationEvent;
use infrastructure::feed::RecordedEvent;
use uuid::Uuid;

/// AI calls and spend one batch adds to a tenant's month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpendDelta {
    /// AI calls (turns and follow-ups).
    pub calls: i64,
    /// Cost in micro-USD.
    pub cost_micros: i64,
}

/// A threshold the tenant reached in a month (`CostThresholdReached`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    /// The tenant.
    pub tenant: Uuid,
    /// The month's first day.
    pub month: NaiveDate,
    /// The threshold, in percent of the limit.
    pub threshold_percent: i32,
    /// The limit then, micro-USD.
    pub monthly_limit_micros: i64,
    /// The month's spend when it was recorded, micro-USD.
    pub spend_micros: i64,
    /// Whether the budget stopped the AI at its limit.
    pub hard_stop: bool,
    /// When.
    pub reached_at: DateTime<Utc>,
    /// The event's feed position.
    pub position: i64,
}

/// The tenant was told about a threshold (`CostThresholdNotified`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notified {
    /// The tenant.
    pub tenant: Uuid,
    /// The month's first day.
    pub month: NaiveDate,
    /// The threshold.
    pub threshold_percent: i32,
    /// Where the notice went.
    pub notified: Vec<String>,
    /// Where it could not go.
    pub failed: Vec<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// What a batch writes.
#[derive(Debug, Default)]
pub struct State {
    /// Spend to add, by (tenant, month's first day).
    pub spend: BTreeMap<(Uuid, NaiveDate), SpendDelta>,
    /// Thresholds reached, in feed order.
    pub reached: Vec<Reached>,
    /// Notices recorded, in feed order (after `reached`: a notice never precedes its threshold).
    pub notified: Vec<Notified>,
}

impl State {
    /// Applies a conversation event: only AI spend matters here.
    pub fn apply_conversation(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        let payload: ConversationEvent = event
            .decode()
            .with_context(|| format!("conversation event at {}", event.position))?;
        let (cost_micros, at) = match payload {
            ConversationEvent::AiTurnRecorded(turn) => (turn.cost_micros, turn.at),
            ConversationEvent::AiFollowUpWritten(follow_up) => {
                (follow_up.cost_micros, follow_up.at)
            }
            _ => return Ok(()),
        };
        let month = UtcMonth::of(at).first_day();
        let sums = self
            .spend
            .entry((event.metadata.tenant_id, month))
            .or_default();
        sums.calls += 1;
        sums.cost_micros += cost_micros;
        Ok(())
    }

    /// Applies a budget event.
    pub fn apply_budget(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        let payload: BudgetEvent = event
            .decode()
            .with_context(|| format!("budget event at {}", event.position))?;
        let tenant = event.metadata.tenant_id;
        match payload {
            BudgetEvent::CostThresholdReached {
                month,
                threshold_percent,
                monthly_limit_micros,
                spend_micros,
                hard_stop,
                at,
            } => self.reached.push(Reached {
                tenant,
                month: month.first_day(),
                threshold_percent: i32::from(threshold_percent.get()),
                monthly_limit_micros,
                spend_micros,
                hard_stop,
                reached_at: at,
                position: event.position.global_position,
            }),
            BudgetEvent::CostThresholdNotified {
                threshold_percent,
                notified,
                failed,
                at,
            } => self.notified.push(Notified {
                tenant,
                month: month_of_aggregate(&event.aggregate_id)?,
                threshold_percent: i32::from(threshold_percent.get()),
                notified,
                failed,
                at,
            }),
        }
        Ok(())
    }
}

/// The month a `BudgetMonth` aggregate id (`<tenant>:<YYYY-MM>`) names.
fn month_of_aggregate(id: &str) -> anyhow::Result<NaiveDate> {
    let month = id
        .rsplit_once(':')
        .map(|(_, month)| month)
        .with_context(|| format!("budget month id {id}"))?;
    Ok(UtcMonth::parse(month)
        .with_context(|| format!("budget month id {id}"))?
        .first_day())
}
