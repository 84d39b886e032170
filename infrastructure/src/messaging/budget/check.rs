//! Recording the budget thresholds tenants reached (ADR 0013). Only the current UTC month is
//! checked, plus the previous one during the first hour of a month (spend recorded just before
//! midnight) for tenants whose settings did not change since that month ended — so neither a
//! rebuild nor a budget changed later ever raises an alert about a month gone by.

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::budget::{
    budget_month_id, AiBudget, BudgetCommand, BudgetMonth, ThresholdPercent, UtcMonth,
};
use domain::values::TenantId;
use serde_json::Value;
use uuid::Uuid;

use crate::executor::Existence;
use crate::messaging::Messaging;

/// How long into a month the previous month is still checked.
const LATE_SPEND_GRACE: chrono::Duration = chrono::Duration::hours(1);

/// The months to check at `now`, each with the instant the tenant's settings must predate
/// (`None`: any).
#[must_use]
pub fn months_to_check(now: DateTime<Utc>) -> Vec<(UtcMonth, Option<DateTime<Utc>>)> {
    let month = UtcMonth::of(now);
    match month.previous() {
        Some(previous) if now - month.start() < LATE_SPEND_GRACE => {
            vec![(previous, Some(previous.end())), (month, None)]
        }
        _ => vec![(month, None)],
    }
}

/// Records the thresholds budgeted tenants reached and the read model does not show yet;
/// returns how many commands recorded one.
///
/// # Errors
/// The database cannot be read. A tenant whose stored budget does not parse, or whose command
/// fails, is logged and skipped (tried again next round).
pub async fn check(messaging: &Messaging) -> anyhow::Result<usize> {
    let mut recorded = 0;
    for (month, settings_before) in months_to_check(messaging.clock.now()) {
        let rows: Vec<(Uuid, Value, i64, Vec<i32>)> = sqlx::query_as(&format!(
            "SELECT t.id, t.ai_budget, s.cost_micros, \
                    COALESCE((SELECT array_agg(r.threshold_percent) FROM {schema}.thresholds r \
                              WHERE r.tenant_id = t.id AND r.month = $1), '{{}}') \
             FROM tenants t \
             JOIN {schema}.ai_spend_monthly s ON s.tenant_id = t.id AND s.month = $1 \
             WHERE t.ai_budget IS NOT NULL AND ($2::timestamptz IS NULL OR t.updated_at < $2)",
            schema = messaging.settings.budgets_schema
        ))
        .bind(month.first_day())
        .bind(settings_before)
        .fetch_all(messaging.executor.pool())
        .await
        .context("Failed to compare spend with budgets")?;
        for (tenant, budget, spend, known) in rows {
            let budget: AiBudget = match serde_json::from_value(budget) {
                Ok(budget) => budget,
                Err(error) => {
                    tracing::warn!(%tenant, %error, "a stored AI budget does not parse; skipped");
                    continue;
                }
            };
            for threshold in budget.reached(spend) {
                if known.contains(&i32::from(threshold.get())) {
                    continue;
                }
                match record(messaging, tenant, month, &budget, threshold, spend).await {
                    Ok(true) => recorded += 1,
                    Ok(false) => {}
                    Err(error) => tracing::warn!(
                        %tenant, %month, %threshold, error = format!("{error:#}"),
                        "could not record a budget threshold; trying again next round"
                    ),
                }
            }
        }
    }
    Ok(recorded)
}

/// Asks the month's aggregate to record `threshold`; whether it did (not: recorded before).
async fn record(
    messaging: &Messaging,
    tenant: Uuid,
    month: UtcMonth,
    budget: &AiBudget,
    threshold: ThresholdPercent,
    spend: i64,
) -> anyhow::Result<bool> {
    let tenant = TenantId::from_uuid(tenant);
    let ctx = messaging.system_ctx(tenant, "budget");
    let committed = messaging
        .executor
        .execute::<BudgetMonth>(
            &ctx,
            &budget_month_id(tenant, month),
            Existence::MayCreate,
            BudgetCommand::RecordThresholdReached {
                month,
                threshold_percent: threshold,
                monthly_limit_micros: budget.monthly_limit_micros(),
                spend_micros: spend,
                hard_stop: budget.hard_stop(),
                at: ctx.issued_at,
            },
        )
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let fresh = committed.position.is_some();
    if fresh {
        tracing::info!(%tenant, %month, %threshold, spend_micros = spend, "AI budget threshold reached");
    }
    Ok(fresh)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(raw: &str) -> DateTime<Utc> {
        raw.parse().unwrap()
    }

    #[test]
    fn the_previous_month_is_checked_only_in_the_first_hour_of_a_month() {
        let march = UtcMonth::parse("2026-03").unwrap();
        let april = UtcMonth::parse("2026-04").unwrap();
        assert_eq!(
            months_to_check(t("2026-04-01T00:59:59Z")),
            [(march, Some(t("2026-04-01T00:00:00Z"))), (april, None)]
        );
        assert_eq!(months_to_check(t("2026-04-01T01:00:00Z")), [(april, None)]);
        assert_eq!(months_to_check(t("2026-03-31T23:59:59Z")), [(march, None)]);
    }
}
