//! Where each projection target stands: its checkpoint, how far behind the feed it is, and
//! waiting until it has reached a given event (read your writes).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use infrastructure::feed::{self, FeedPosition};
use sqlx::PgPool;
use uuid::Uuid;

/// One target's position and lag.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetStatus {
    /// The schema written (and checkpoint key).
    pub target: String,
    /// The projection's name.
    pub projection: String,
    /// Last event applied.
    pub position: FeedPosition,
    /// Events applied since the target was created.
    pub events_applied: i64,
    /// Committed events not yet applied.
    pub lag_events: i64,
    /// Age of the oldest event not yet applied, in seconds (0 when caught up).
    pub lag_seconds: f64,
    /// When the checkpoint last moved.
    pub updated_at: DateTime<Utc>,
}

/// The status of every target.
pub async fn all(pool: &PgPool) -> anyhow::Result<Vec<TargetStatus>> {
    let rows: Vec<(String, String, String, i64, i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT target, projection, transaction_id::text, global_position, events_applied, updated_at \
         FROM projection_checkpoints ORDER BY target",
    )
    .fetch_all(pool)
    .await
    .context("Failed to read checkpoints")?;
    let mut conn = pool.acquire().await.context("Failed to acquire")?;
    let mut statuses = Vec::with_capacity(rows.len());
    for (target, projection, tx, global_position, events_applied, updated_at) in rows {
        let position = FeedPosition::parse(&tx, global_position)?;
        let (lag_events, lag_seconds) = feed::lag(&mut conn, position).await?;
        statuses.push(TargetStatus {
            target,
            projection,
            position,
            events_applied,
            lag_events,
            lag_seconds: lag_seconds.unwrap_or(0.0).max(0.0),
            updated_at,
        });
    }
    Ok(statuses)
}

/// How a wait for a position ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The target has applied the event.
    Reached,
    /// It had not within the time allowed.
    TimedOut,
    /// No committed event has that position.
    UnknownPosition,
}

/// Waits until `target` has applied `tenant`'s event at `global_position`, for at most
/// `timeout`. Takes a connection per look, never holding one while it sleeps, so waiting
/// readers cannot starve commands of connections.
pub async fn wait_for(
    pool: &PgPool,
    target: &str,
    tenant: Uuid,
    global_position: i64,
    timeout: Duration,
) -> anyhow::Result<WaitOutcome> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        let mut conn = pool.acquire().await.context("Failed to acquire")?;
        let reached: Option<(String, i64)> = sqlx::query_as(
            "SELECT transaction_id::text, global_position FROM projection_checkpoints WHERE target = $1",
        )
        .bind(target)
        .fetch_optional(&mut *conn)
        .await
        .context("Failed to read a checkpoint")?;
        if let Some((tx, position)) = reached {
            let reached = FeedPosition::parse(&tx, position)?;
            match feed::is_covered(&mut conn, tenant, global_position, reached).await? {
                Some(true) => return Ok(WaitOutcome::Reached),
                None => return Ok(WaitOutcome::UnknownPosition),
                Some(false) => {}
            }
        }
        drop(conn);
        if Instant::now() + pause > deadline {
            return Ok(WaitOutcome::TimedOut);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

static APPLIED: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// Counts events applied by this process, per target (exported on `/metrics`).
pub fn record_applied(target: &str, events: usize) {
    let mut applied = APPLIED.lock().unwrap_or_else(PoisonError::into_inner);
    *applied.entry(target.to_string()).or_default() += events as u64;
}

/// Events applied by this process so far, per target.
pub fn applied_in_process() -> BTreeMap<String, u64> {
    APPLIED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}
