//! Holding a tenant's AI to its monthly budget (`Tenant::ai_budget`, ADR 0013).
//!
//! - **Alerts** ([`check`]): each budgeted tenant's month-to-date AI spend (the budgets read
//!   model) against its budget *now*; every threshold reached that the read model does not show
//!   is recorded on the month's `BudgetMonth` aggregate, which records it once whoever asks and
//!   however often.
//! - **Notices** ([`notices`]): each threshold reached and not yet told is POSTed to the tenant's
//!   `webhook_url` and recorded (`CostThresholdNotified`).
//! - **Hard stop** ([`ai_paused`]): whether a tenant's AI must not spend now. Replies are then
//!   handed to a person (see the orchestrator) and follow-ups written by the rules engine, which
//!   costs nothing; raising the limit or the new month lifts it.
//!
//! [`run`] drives checks and notices on two loops of their own, so a slow webhook never delays
//! another tenant's alert.

pub mod check;
pub mod notices;

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::budget::{AiBudget, UtcMonth};
use domain::values::TenantId;
use sqlx::types::Json;
use tokio::sync::watch;

use crate::messaging::Messaging;

pub use check::check;
pub use notices::notify;

/// Why a reply was handed off, or a follow-up written by the rules engine.
pub const BUDGET_EXHAUSTED: &str = "ai_budget_exhausted";
/// How often each loop runs.
const POLL: Duration = Duration::from_secs(1);

/// Whether `tenant`'s AI must not spend at `now`: its budget (read from `tenants`, not the
/// settings cache, so a raised limit lifts the pause on every instance at once) has a hard stop
/// and the month's spend reached the limit.
///
/// # Errors
/// The budget or the spend cannot be read.
pub async fn ai_paused(
    messaging: &Messaging,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let row: Option<(Option<Json<AiBudget>>, Option<i64>)> = sqlx::query_as(&format!(
        "SELECT t.ai_budget, s.cost_micros FROM tenants t \
         LEFT JOIN {}.ai_spend_monthly s ON s.tenant_id = t.id AND s.month = $2 \
         WHERE t.id = $1",
        messaging.settings.budgets_schema
    ))
    .bind(tenant.as_uuid())
    .bind(UtcMonth::of(now).first_day())
    .fetch_optional(messaging.executor.pool())
    .await
    .context("Failed to read the AI budget and the month's spend")?;
    Ok(match row {
        Some((Some(Json(budget)), spend)) => budget.stops_at(spend.unwrap_or(0)),
        _ => false,
    })
}

/// Runs [`check`] and [`notify`], each every second, until `shutdown` turns true.
pub async fn run(messaging: Messaging, shutdown: watch::Receiver<bool>) {
    let holder = format!("budget-{}", uuid::Uuid::now_v7());
    let checks = every_second(shutdown.clone(), || async {
        if let Err(error) = check(&messaging).await {
            tracing::warn!(error = format!("{error:#}"), "the budget check failed");
        }
    });
    let notices = every_second(shutdown, || async {
        if let Err(error) = notify(&messaging, &holder).await {
            tracing::warn!(error = format!("{error:#}"), "the budget notices failed");
        }
    });
    tokio::join!(checks, notices);
}

async fn every_second<F, Fut>(mut shutdown: watch::Receiver<bool>, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        if *shutdown.borrow() {
            return;
        }
        round().await;
        tokio::select! {
            _ = shutdown.changed() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}
