//! Telling tenants about the budget thresholds they reached: one POST to the tenant's
//! `webhook_url` per threshold (event `ai_budget.threshold_reached`, delivery id
//! `budget-notice:<tenant>:<month's first day>:<threshold>`), recorded on the month's aggregate
//! (`CostThresholdNotified`: where it went, or why it could not). A lease in `task_leases` keeps
//! two instances from posting the same notice at once, and the aggregate — not the read model,
//! which may lag — has the last word on whether the notice is still due. One attempt, as for
//! handoff notices. A webhook set up later does not receive alerts older than a day.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use domain::budget::{budget_month_id, BudgetCommand, BudgetMonth, ThresholdPercent, UtcMonth};
use domain::values::TenantId;
use serde_json::json;
use uuid::Uuid;

use crate::executor::Existence;
use crate::messaging::suppression::load;
use crate::messaging::Messaging;

/// The webhook event of a threshold reached.
pub const THRESHOLD_EVENT: &str = "ai_budget.threshold_reached";
/// How long after a threshold is reached its notice is still sent.
const NOTICE_WINDOW: chrono::Duration = chrono::Duration::days(1);
/// How long a notice's lease holds other instances off.
const NOTICE_LEASE: chrono::Duration = chrono::Duration::minutes(2);

/// A threshold to tell a tenant about.
struct Notice {
    tenant: Uuid,
    month: NaiveDate,
    threshold: i32,
    limit_micros: i64,
    spend_micros: i64,
    hard_stop: bool,
    reached_at: DateTime<Utc>,
    url: String,
}

type NoticeRow = (Uuid, NaiveDate, i32, i64, i64, bool, DateTime<Utc>, String);

/// Tells tenants with a webhook about the thresholds reached in the last day that the read
/// model shows untold; returns how many notices were recorded.
///
/// # Errors
/// The thresholds cannot be read. A notice that fails is logged and left for a later round.
pub async fn notify(messaging: &Messaging, holder: &str) -> anyhow::Result<usize> {
    let rows: Vec<NoticeRow> = sqlx::query_as(&format!(
        "SELECT r.tenant_id, r.month, r.threshold_percent, r.monthly_limit_micros, \
                r.spend_micros, r.hard_stop, r.reached_at, t.webhook_url \
         FROM {}.thresholds r JOIN tenants t ON t.id = r.tenant_id \
         WHERE r.notified_at IS NULL AND r.reached_at > $1 AND t.webhook_url IS NOT NULL \
         ORDER BY r.reached_at",
        messaging.settings.budgets_schema
    ))
    .bind(messaging.clock.now() - NOTICE_WINDOW)
    .fetch_all(messaging.executor.pool())
    .await
    .context("Failed to find thresholds to notify")?;
    let mut done = 0;
    for (tenant, month, threshold, limit_micros, spend_micros, hard_stop, reached_at, url) in rows {
        let notice = Notice {
            tenant,
            month,
            threshold,
            limit_micros,
            spend_micros,
            hard_stop,
            reached_at,
            url,
        };
        match send(messaging, holder, &notice).await {
            Ok(true) => done += 1,
            Ok(false) => {}
            Err(error) => tracing::warn!(
                %tenant, %month, threshold, error = format!("{error:#}"),
                "could not notify a budget threshold; trying again later"
            ),
        }
    }
    Ok(done)
}

/// Posts and records `notice` unless another holder has it or it was told already.
async fn send(messaging: &Messaging, holder: &str, notice: &Notice) -> anyhow::Result<bool> {
    let key = format!(
        "budget-notice:{}:{}:{}",
        notice.tenant, notice.month, notice.threshold
    );
    if !lease(messaging, &key, holder).await? {
        return Ok(false);
    }
    let tenant = TenantId::from_uuid(notice.tenant);
    let month = UtcMonth::of(notice.month.and_time(NaiveTime::MIN).and_utc());
    let threshold = ThresholdPercent::new(i64::from(notice.threshold))
        .context("a stored threshold out of range")?;
    let id = budget_month_id(tenant, month);
    let ctx = messaging.system_ctx(tenant, "budget");
    let mut conn = messaging.executor.pool().acquire().await?;
    let aggregate: BudgetMonth = load(&mut conn, &ctx, &id)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    drop(conn);
    if !aggregate.notice_due(threshold) {
        return Ok(false);
    }
    let body = json!({
        "type": THRESHOLD_EVENT,
        "tenant_id": notice.tenant,
        "month": month.to_string(),
        "threshold_percent": notice.threshold,
        "monthly_limit_micros": notice.limit_micros,
        "spend_micros": notice.spend_micros,
        "hard_stop": notice.hard_stop,
        "ai_paused": notice.hard_stop && notice.spend_micros >= notice.limit_micros,
        "at": notice.reached_at,
    });
    let posted = crate::webhook::post(
        messaging.channels.client(),
        &notice.url,
        THRESHOLD_EVENT,
        &key,
        &body,
    )
    .await;
    let (notified, failed) = match posted {
        Ok(()) => (vec!["webhook".to_owned()], Vec::new()),
        Err(why) => (Vec::new(), vec![format!("webhook: {why}")]),
    };
    let committed = messaging
        .executor
        .execute::<BudgetMonth>(
            &ctx,
            &id,
            Existence::MustExist,
            BudgetCommand::RecordThresholdNotified {
                threshold_percent: threshold,
                notified,
                failed,
                at: messaging.clock.now(),
            },
        )
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok(committed.position.is_some())
}

/// Takes the lease on notice `key` for `holder`, unless another holder's lease is running.
async fn lease(messaging: &Messaging, key: &str, holder: &str) -> anyhow::Result<bool> {
    let now = messaging.clock.now();
    let taken: Option<String> = sqlx::query_scalar(
        "INSERT INTO task_leases (task_key, holder, lease_until, claimed_revision) \
         VALUES ($1, $2, $3, 0) \
         ON CONFLICT (task_key) DO UPDATE \
           SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until \
           WHERE task_leases.lease_until <= $4 \
         RETURNING task_key",
    )
    .bind(key)
    .bind(holder)
    .bind(now + NOTICE_LEASE)
    .bind(now)
    .fetch_optional(messaging.executor.pool())
    .await
    .context("Failed to lease a budget notice")?;
    Ok(taken.is_some())
}
