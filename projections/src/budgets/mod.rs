//! The budget read model: each tenant's AI spend per UTC calendar month (what its monthly AI
//! budget is held against), and the alert thresholds it reached (`CostThresholdReached`) with
//! whether the tenant was told (`CostThresholdNotified`).
//!
//! Handler kind: replayable; additive UPSERT sums for the spend, inserts keyed by (tenant,
//! month, threshold) for the thresholds (a replay writes nothing twice). The projection decides
//! nothing: the budget worker (`infrastructure::budget`) compares the month's spend with the
//! tenant's budget *now* and asks the `BudgetMonth` aggregate to record a crossing, which it does
//! once per threshold and month — so a rebuild of this model, which only re-reads events, can
//! never raise an alert again.

pub mod fold;
pub mod query;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::Aggregate;
use domain::budget::BudgetMonth;
use domain::conversation::Conversation;
use infrastructure::feed::RecordedEvent;
use sqlx::{Executor, PgConnection};
use uuid::Uuid;

use crate::projection::{live_schema, Projection};
use fold::State;

/// The budgets projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct BudgetsProjection;

/// Its name.
pub const NAME: &str = "budgets";
/// Its table layout version.
pub const VERSION: u32 = 1;

/// The schema queries read from.
pub fn live() -> String {
    live_schema(NAME, VERSION)
}

#[async_trait]
impl Projection for BudgetsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        VERSION
    }

    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {schema}.ai_spend_monthly (
                tenant_id uuid NOT NULL,
                month date NOT NULL,
                calls bigint NOT NULL,
                cost_micros bigint NOT NULL,
                PRIMARY KEY (tenant_id, month)
            );
            CREATE TABLE IF NOT EXISTS {schema}.thresholds (
                tenant_id uuid NOT NULL,
                month date NOT NULL,
                threshold_percent int4 NOT NULL,
                monthly_limit_micros bigint NOT NULL,
                spend_micros bigint NOT NULL,
                hard_stop boolean NOT NULL,
                reached_at timestamptz NOT NULL,
                position bigint NOT NULL,
                notified_at timestamptz,
                notified text[] NOT NULL DEFAULT '{{}}',
                failed text[] NOT NULL DEFAULT '{{}}',
                PRIMARY KEY (tenant_id, month, threshold_percent)
            )"
        );
        conn.execute(ddl.as_str())
            .await
            .context("Failed to create the budget tables")?;
        Ok(())
    }

    fn indexes(&self, schema: &str) -> Vec<String> {
        vec![
            format!(
                "CREATE INDEX IF NOT EXISTS thresholds_by_tenant_position \
                 ON {schema}.thresholds (tenant_id, position)"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS thresholds_untold \
                 ON {schema}.thresholds (reached_at) WHERE notified_at IS NULL"
            ),
        ]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()> {
        let mut state = State::default();
        for event in events {
            if event.aggregate_type == Conversation::TYPE {
                state.apply_conversation(event)?;
            } else if event.aggregate_type == BudgetMonth::TYPE {
                state.apply_budget(event)?;
            }
        }
        write_spend(tx, schema, &state).await?;
        write_reached(tx, schema, &state).await?;
        write_notified(tx, schema, &state).await
    }
}

async fn write_spend(tx: &mut PgConnection, schema: &str, state: &State) -> anyhow::Result<()> {
    if state.spend.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = state.spend.keys().map(|k| k.0).collect();
    let months: Vec<NaiveDate> = state.spend.keys().map(|k| k.1).collect();
    let calls: Vec<i64> = state.spend.values().map(|s| s.calls).collect();
    let costs: Vec<i64> = state.spend.values().map(|s| s.cost_micros).collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.ai_spend_monthly (tenant_id, month, calls, cost_micros) \
         SELECT * FROM UNNEST($1::uuid[], $2::date[], $3::int8[], $4::int8[]) \
         ON CONFLICT (tenant_id, month) DO UPDATE SET \
           calls = ai_spend_monthly.calls + EXCLUDED.calls, \
           cost_micros = ai_spend_monthly.cost_micros + EXCLUDED.cost_micros"
    ))
    .bind(&tenants)
    .bind(&months)
    .bind(&calls)
    .bind(&costs)
    .execute(&mut *tx)
    .await
    .context("Failed to add AI spend")?;
    Ok(())
}

async fn write_reached(tx: &mut PgConnection, schema: &str, state: &State) -> anyhow::Result<()> {
    if state.reached.is_empty() {
        return Ok(());
    }
    let rows = &state.reached;
    let tenants: Vec<Uuid> = rows.iter().map(|r| r.tenant).collect();
    let months: Vec<NaiveDate> = rows.iter().map(|r| r.month).collect();
    let thresholds: Vec<i32> = rows.iter().map(|r| r.threshold_percent).collect();
    let limits: Vec<i64> = rows.iter().map(|r| r.monthly_limit_micros).collect();
    let spends: Vec<i64> = rows.iter().map(|r| r.spend_micros).collect();
    let stops: Vec<bool> = rows.iter().map(|r| r.hard_stop).collect();
    let ats: Vec<DateTime<Utc>> = rows.iter().map(|r| r.reached_at).collect();
    let positions: Vec<i64> = rows.iter().map(|r| r.position).collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.thresholds \
           (tenant_id, month, threshold_percent, monthly_limit_micros, spend_micros, hard_stop, \
            reached_at, position) \
         SELECT * FROM UNNEST($1::uuid[], $2::date[], $3::int4[], $4::int8[], $5::int8[], \
                              $6::bool[], $7::timestamptz[], $8::int8[]) \
         ON CONFLICT (tenant_id, month, threshold_percent) DO NOTHING"
    ))
    .bind(&tenants)
    .bind(&months)
    .bind(&thresholds)
    .bind(&limits)
    .bind(&spends)
    .bind(&stops)
    .bind(&ats)
    .bind(&positions)
    .execute(&mut *tx)
    .await
    .context("Failed to record reached thresholds")?;
    Ok(())
}

async fn write_notified(tx: &mut PgConnection, schema: &str, state: &State) -> anyhow::Result<()> {
    for notice in &state.notified {
        sqlx::query(&format!(
            "UPDATE {schema}.thresholds SET notified_at = $4, notified = $5, failed = $6 \
             WHERE tenant_id = $1 AND month = $2 AND threshold_percent = $3"
        ))
        .bind(notice.tenant)
        .bind(notice.month)
        .bind(notice.threshold_percent)
        .bind(notice.at)
        .bind(&notice.notified)
        .bind(&notice.failed)
        .execute(&mut *tx)
        .await
        .context("Failed to record a threshold notice")?;
    }
    Ok(())
}
