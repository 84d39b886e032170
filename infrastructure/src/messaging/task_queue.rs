//! Claiming due tasks of the tasks projection, safely with any number of workers on any number
//! of instances. A claim is one statement: lock due rows nobody holds with `FOR UPDATE SKIP
//! LOCKED` (concurrent claimers take disjoint rows without waiting for each other), then record a
//! lease in `task_leases` until `now + lease`. A worker that dies leaves its lease to expire, and
//! the task is claimed again; the aggregate's state decides whether anything is left to do, so a
//! task run twice does its work once.
//!
//! Sends of a tenant and channel whose next slot under their rate limit is not free yet
//! (`send_rate_limits`, see [`super::rate_limit`]) are not claimed: one tenant's backlog waits its
//! turn without filling every worker's batch with sends that would only be refused, so other
//! tenants' sends, AI replies and timers keep flowing.
//!
//! Due rows are claimed by `priority` first (a bulk import's timers yield to leads captured one
//! by one), then by due time.
//!
//! A lease holds one *revision* of a task (the position of the event that last put it). A finished task stays held
//! for a short cool-down until the projection removes it, but when the task changes — a newer
//! inbound message for the AI, a retry time, a requeued message — the new version is claimable
//! at once.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A claimed task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedTask {
    /// The task's key.
    pub task_key: String,
    /// The tenant.
    pub tenant_id: Uuid,
    /// `send` or `reply`.
    pub kind: String,
    /// The lead.
    pub lead_id: Uuid,
    /// `<lead>:<channel>`.
    pub conversation_id: String,
    /// The message to send or to answer.
    pub message_id: Uuid,
    /// When it fell due.
    pub due_at: DateTime<Utc>,
    /// Failed attempts so far.
    pub attempt: i32,
}

/// Claims up to `limit` tasks of `table` due at `now`, leased to `holder` for `lease`.
pub async fn claim(
    pool: &PgPool,
    table: &str,
    holder: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> anyhow::Result<Vec<ClaimedTask>> {
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let rows: Vec<TaskTuple> = sqlx::query_as(&format!(
        "WITH due AS ( \
           SELECT t.* FROM {table} t \
           WHERE t.due_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM task_leases l \
                             WHERE l.task_key = t.task_key AND l.lease_until > $1 \
                               AND l.claimed_revision = t.revision) \
             AND (t.kind <> 'send' OR NOT EXISTS ( \
                   SELECT 1 FROM send_rate_limits r \
                   WHERE r.tenant_id = t.tenant_id \
                     AND r.channel = split_part(t.conversation_id, ':', 2) \
                     AND r.next_free_at - r.tolerance > $1)) \
           ORDER BY t.priority, t.due_at, t.task_key LIMIT $2 \
           FOR UPDATE OF t SKIP LOCKED), \
         leased AS ( \
           INSERT INTO task_leases \
             (task_key, holder, lease_until, claimed_revision) \
           SELECT task_key, $3, $4, revision FROM due \
           ON CONFLICT (task_key) DO UPDATE \
             SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until, \
                 claimed_revision = EXCLUDED.claimed_revision \
             WHERE task_leases.lease_until <= $1 \
                OR task_leases.claimed_revision <> EXCLUDED.claimed_revision \
           RETURNING task_key) \
         SELECT d.task_key, d.tenant_id, d.kind, d.lead_id, d.conversation_id, d.message_id, \
                d.due_at, d.attempt \
         FROM due d JOIN leased USING (task_key) ORDER BY d.priority, d.due_at, d.task_key"
    ))
    .bind(now)
    .bind(limit)
    .bind(holder)
    .bind(until)
    .fetch_all(pool)
    .await
    .context("Failed to claim tasks")?;
    Ok(rows
        .into_iter()
        .map(
            |(task_key, tenant_id, kind, lead_id, conversation_id, message_id, due_at, attempt)| {
                ClaimedTask {
                    task_key,
                    tenant_id,
                    kind,
                    lead_id,
                    conversation_id,
                    message_id,
                    due_at,
                    attempt,
                }
            },
        )
        .collect())
}

type TaskTuple = (String, Uuid, String, Uuid, String, Uuid, DateTime<Utc>, i32);

/// Keeps `task_key` from being claimed again until `until` (a short cool-down after the work,
/// while the projection catches up and removes the task).
pub async fn release(
    pool: &PgPool,
    task_key: &str,
    holder: &str,
    until: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE task_leases SET lease_until = $3 WHERE task_key = $1 AND holder = $2")
        .bind(task_key)
        .bind(holder)
        .bind(until)
        .execute(pool)
        .await
        .context("Failed to release a task")?;
    Ok(())
}

/// Forgets leases that ran out before `before` (their tasks are done or claimable anyway).
pub async fn forget_expired(pool: &PgPool, before: DateTime<Utc>) -> anyhow::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM task_leases WHERE lease_until < $1")
            .bind(before)
            .execute(pool)
            .await
            .context("Failed to forget expired leases")?
            .rows_affected(),
    )
}
