//! Runs projections: each batch reads the feed after the target's checkpoint, applies the events
//! and moves the checkpoint in one transaction.
//!
//! One active runner per target across instances: a batch starts by locking the target's
//! checkpoint row with `FOR UPDATE SKIP LOCKED`; a second runner finds it locked and skips, and a
//! runner can never apply a batch from a stale checkpoint, since it reads the checkpoint under the
//! lock. Runners wake on `NOTIFY` after every append and poll as a fallback.

use std::time::Duration;

use anyhow::Context;
use infrastructure::feed::{self, FeedPosition};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;
use tracing::Instrument;

use crate::projection::Target;

/// Events per batch unless configured otherwise.
pub const DEFAULT_BATCH_SIZE: i64 = 2_000;

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Applied this many events.
    Applied(usize),
    /// Nothing new to apply.
    CaughtUp,
    /// Another runner holds the target right now.
    Busy,
}

/// Creates the target's schema, tables and checkpoint row if missing. Safe to race.
pub async fn prepare(pool: &PgPool, target: &Target) -> anyhow::Result<()> {
    let mut tx = pool.begin().await.context("Failed to begin")?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("projection-schema:{}", target.schema))
        .execute(&mut *tx)
        .await
        .context("Failed to lock the projection schema")?;
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {}", target.schema))
        .execute(&mut *tx)
        .await
        .with_context(|| format!("Failed to create schema {}", target.schema))?;
    target
        .projection
        .create_tables(&mut tx, &target.schema)
        .await
        .with_context(|| format!("Failed to create the tables of {}", target.schema))?;
    for index in target.projection.indexes(&target.schema) {
        sqlx::query(&index)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("Failed to create an index of {}", target.schema))?;
    }
    sqlx::query(
        "INSERT INTO projection_checkpoints (target, projection) VALUES ($1, $2) \
         ON CONFLICT (target) DO NOTHING",
    )
    .bind(&target.schema)
    .bind(target.projection.name())
    .execute(&mut *tx)
    .await
    .context("Failed to create a checkpoint")?;
    tx.commit().await.context("Failed to commit")?;
    Ok(())
}

/// Applies at most one batch of up to `batch_size` events to `target`.
pub async fn run_batch(
    pool: &PgPool,
    target: &Target,
    batch_size: i64,
) -> anyhow::Result<BatchOutcome> {
    let span = tracing::debug_span!("projections.batch", target = %target.schema);
    async {
        let mut tx = pool.begin().await.context("Failed to begin a batch")?;
        // A batch and its checkpoint commit together, so a batch lost in a crash before its WAL
        // reached disk is simply applied again from the feed: it need not wait for the flush.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await
            .context("Failed to relax the batch's commit")?;
        let checkpoint: Option<(String, i64)> = sqlx::query_as(
            "SELECT transaction_id::text, global_position FROM projection_checkpoints \
             WHERE target = $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(&target.schema)
        .fetch_optional(&mut *tx)
        .await
        .context("Failed to lock the checkpoint")?;
        let Some((transaction_id, global_position)) = checkpoint else {
            return Ok(BatchOutcome::Busy);
        };
        let after = FeedPosition::parse(&transaction_id, global_position)?;
        let events = feed::read_after(&mut tx, after, batch_size).await?;
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(BatchOutcome::CaughtUp);
        };
        target
            .projection
            .apply(&mut tx, &target.schema, &events)
            .await
            .with_context(|| format!("Projection {} failed after {after}", target.schema))?;
        sqlx::query(
            "UPDATE projection_checkpoints SET transaction_id = $2::text::xid8, \
               global_position = $3, events_applied = events_applied + $4, updated_at = now() \
             WHERE target = $1",
        )
        .bind(&target.schema)
        .bind(last.transaction_id.to_string())
        .bind(last.global_position)
        .bind(events.len() as i64)
        .execute(&mut *tx)
        .await
        .context("Failed to move the checkpoint")?;
        tx.commit().await.context("Failed to commit a batch")?;
        crate::status::record_applied(&target.schema, events.len());
        Ok(BatchOutcome::Applied(events.len()))
    }
    .instrument(span)
    .await
}

/// Applies batches until `target` has caught up with everything committed so far.
pub async fn catch_up(pool: &PgPool, target: &Target, batch_size: i64) -> anyhow::Result<u64> {
    let mut applied = 0u64;
    loop {
        match run_batch(pool, target, batch_size).await? {
            BatchOutcome::Applied(n) => applied += n as u64,
            BatchOutcome::CaughtUp => return Ok(applied),
            BatchOutcome::Busy => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Wakes workers: bumps a counter on every `NOTIFY` of `channel` (the events channel for
/// projection runners, the jobs channel for the job worker). Reconnects on failure; while
/// disconnected, workers still poll.
pub fn spawn_listener(
    pool: PgPool,
    channel: &'static str,
    mut shutdown: watch::Receiver<bool>,
) -> watch::Receiver<u64> {
    let (tx, rx) = watch::channel(0u64);
    tokio::spawn(async move {
        loop {
            let listener = async {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(channel).await?;
                loop {
                    listener.recv().await?;
                    tx.send_modify(|n| *n = n.wrapping_add(1));
                }
                #[allow(unreachable_code)]
                Ok::<(), sqlx::Error>(())
            };
            tokio::select! {
                result = listener => {
                    if let Err(error) = result {
                        tracing::warn!(%error, "event listener failed; reconnecting");
                    }
                }
                _ = shutdown.changed() => return,
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    rx
}

/// How often an idle runner looks at the feed without being woken.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How long a runner that just applied a partial batch of `n` events lets new events gather:
/// about a millisecond per event, between 5 and 100 ms. A trickle of commands is applied
/// within milliseconds; a flood settles into batches of a hundred milliseconds' worth, which
/// costs a fraction of the transactions (the per-batch overhead is what dominates).
fn gather(n: usize) -> Duration {
    Duration::from_millis((n as u64).clamp(5, 100))
}

/// Runs `target` until `shutdown` turns true, stopping only at a batch boundary.
///
/// A full batch is followed at once by the next. After a partial batch the runner pauses (see
/// [`gather`]) so a steady stream of commands becomes a few larger batches rather than one per
/// event. When caught up it waits for a wake-up; since a woken event may still sit behind an
/// older transaction in flight (below which the feed stops), it then looks again soon, backing
/// off up to [`POLL_INTERVAL`].
pub async fn run(
    pool: PgPool,
    target: Target,
    batch_size: i64,
    mut wake: watch::Receiver<u64>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    let mut retry_soon = Duration::ZERO;
    let mut wake_open = true;
    while !*shutdown.borrow() {
        wake.borrow_and_update();
        let (pause, wakeable) = match run_batch(&pool, &target, batch_size).await {
            Ok(BatchOutcome::Applied(n)) if n as i64 >= batch_size => {
                failures = 0;
                continue;
            }
            Ok(BatchOutcome::Applied(n)) => {
                failures = 0;
                retry_soon = Duration::from_millis(5);
                (gather(n), false)
            }
            Ok(BatchOutcome::CaughtUp) => {
                failures = 0;
                let pause = if retry_soon.is_zero() {
                    POLL_INTERVAL
                } else {
                    retry_soon
                };
                retry_soon = if retry_soon.is_zero() || retry_soon >= POLL_INTERVAL {
                    Duration::ZERO
                } else {
                    retry_soon * 2
                };
                (pause, true)
            }
            Ok(BatchOutcome::Busy) => (POLL_INTERVAL, true),
            Err(error) => {
                failures += 1;
                tracing::error!(target = %target.schema, error = format!("{error:#}"), "projection batch failed");
                (
                    Duration::from_millis(100 * 2u64.pow(failures.min(6))),
                    false,
                )
            }
        };
        tokio::select! {
            changed = wake.changed(), if wake_open && wakeable => {
                match changed {
                    Ok(()) => retry_soon = Duration::from_millis(5),
                    Err(_) => wake_open = false,
                }
            }
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::info!(target = %target.schema, "projection runner stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trickle_is_applied_quickly_and_a_flood_gathers_into_larger_batches() {
        assert_eq!(gather(1), Duration::from_millis(5));
        assert_eq!(gather(40), Duration::from_millis(40));
        assert_eq!(gather(5_000), Duration::from_millis(100));
    }
}
