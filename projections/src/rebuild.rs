//! Rebuilding a projection while its live tables keep serving, then switching atomically.
//!
//! A rebuild loads a fresh schema (`<live>_rebuild_<unix time>`) from position zero with large
//! batches, reading the feed on one connection while the previous batch is applied on another,
//! with the secondary indexes created once at the end. The live runner keeps applying to the
//! live schema meanwhile. The switch is one transaction: it locks the live checkpoint row
//! (waiting for, then blocking, the live runner's batch), applies what is left to the fresh
//! schema, drops the live schema, renames the fresh one in its place and moves the live
//! checkpoint to the fresh position. Readers see the old tables or the new ones, never neither.
//! See `docs/decisions/0006-rebuild-and-switch.md`.
//!
//! A rebuild that fails or is interrupted never touches the live schema; what it leaves behind
//! is dropped by the next rebuild of that projection. Only one rebuild of a projection runs at
//! a time: an advisory lock, held in a transaction of its own, refuses a second one.

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use infrastructure::feed::{self, FeedPosition, RecordedEvent};
use sqlx::{PgConnection, PgPool};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::projection::Target;
use crate::runner;

/// Events per batch while loading unless told otherwise: large batches amortise the per-batch
/// statements (measured in `docs/performance.md`).
pub const DEFAULT_BATCH_SIZE: i64 = 50_000;

/// How long the switch waits for a lock (the live runner's batch, or a long reader of the live
/// tables) before it backs off, catches up again and retries.
const SWITCH_LOCK_TIMEOUT: &str = "5s";

/// How many times the switch is tried before the rebuild gives up (leaving the live model as
/// it was).
const SWITCH_ATTEMPTS: u32 = 5;

/// How a rebuild loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildOptions {
    /// Events per loading batch.
    pub batch_size: i64,
}

impl Default for RebuildOptions {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

/// Where a rebuild stands, reported after every batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildProgress {
    /// Events applied to the fresh schema so far.
    pub applied: u64,
    /// Events in the feed when the rebuild started (an estimate: counted from positions).
    pub total: u64,
}

/// What a finished rebuild did.
#[derive(Debug, Clone, PartialEq)]
pub struct RebuildReport {
    /// The live schema, now holding the rebuilt tables.
    pub target: String,
    /// The schema the tables were built in before the switch renamed it.
    pub built_in: String,
    /// Events applied in all.
    pub events: u64,
    /// The live checkpoint after the switch.
    pub position: FeedPosition,
    /// Time spent loading (both catch-ups, before the switch).
    pub load: Duration,
    /// Time spent creating indexes and analysing the tables.
    pub finish: Duration,
    /// Time the switch transaction took (the only moment the live tables are locked).
    pub switch: Duration,
    /// Wall time of the whole rebuild.
    pub total: Duration,
}

impl RebuildReport {
    /// Events per second over the whole rebuild.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.total.as_secs_f64().max(f64::EPSILON)
    }
}

/// The answer when a rebuild of the same projection is already running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadyRunning {
    /// The live schema being rebuilt.
    pub target: String,
}

impl fmt::Display for AlreadyRunning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a rebuild of {} is already running; wait for it to finish",
            self.target
        )
    }
}

impl std::error::Error for AlreadyRunning {}

/// The answer for a projection name this build does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProjection {
    /// The name asked for.
    pub name: String,
    /// The names that exist.
    pub known: Vec<&'static str>,
}

impl fmt::Display for UnknownProjection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown projection {:?}; the projections are: {}",
            self.name,
            self.known.join(", ")
        )
    }
}

impl std::error::Error for UnknownProjection {}

/// The live target of the projection called `name`.
pub fn find(name: &str) -> Result<Target, UnknownProjection> {
    let targets = crate::all();
    let known = targets.iter().map(|t| t.projection.name()).collect();
    targets
        .into_iter()
        .find(|t| t.projection.name() == name)
        .ok_or_else(|| UnknownProjection {
            name: name.to_string(),
            known,
        })
}

/// The prefix of the schemas rebuilds of `live` load into.
pub fn rebuild_prefix(live: &str) -> String {
    format!("{live}_rebuild_")
}

/// Rebuilds `live` from position zero into fresh tables and switches them in atomically.
/// `progress` is called after every batch. Fails with [`AlreadyRunning`] if another rebuild of
/// the same projection holds the lock.
pub async fn rebuild(
    pool: &PgPool,
    live: &Target,
    options: RebuildOptions,
    progress: &mut (dyn FnMut(RebuildProgress) + Send),
) -> anyhow::Result<RebuildReport> {
    let started = Instant::now();
    // A transaction-level lock on a connection of its own: released when the rebuild ends,
    // and also when its future is dropped (the pool rolls the transaction back).
    let mut guard = pool.begin().await.context("Failed to begin")?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext($1))")
        .bind(format!("projection-rebuild:{}", live.schema))
        .fetch_one(&mut *guard)
        .await
        .context("Failed to take the rebuild lock")?;
    if !locked {
        return Err(AlreadyRunning {
            target: live.schema.clone(),
        }
        .into());
    }
    runner::prepare(pool, live).await?;
    drop_leftovers(pool, &live.schema).await?;
    let fresh = Target::in_schema(
        live.projection.clone(),
        format!(
            "{}{}",
            rebuild_prefix(&live.schema),
            chrono::Utc::now().timestamp()
        ),
    );
    let built = build_and_switch(pool, live, &fresh, options, progress, started).await;
    if built.is_err() {
        if let Err(error) = drop_schema(pool, &fresh.schema).await {
            tracing::warn!(schema = %fresh.schema, error = format!("{error:#}"),
                "failed to drop a failed rebuild's schema; the next rebuild drops it");
        }
    }
    guard
        .rollback()
        .await
        .context("Failed to release the lock")?;
    built
}

async fn build_and_switch(
    pool: &PgPool,
    live: &Target,
    fresh: &Target,
    options: RebuildOptions,
    progress: &mut (dyn FnMut(RebuildProgress) + Send),
    started: Instant,
) -> anyhow::Result<RebuildReport> {
    create_fresh(pool, fresh).await?;
    let total = feed_size(pool).await?;
    let mut loaded = Loaded {
        position: FeedPosition::default(),
        applied: 0,
    };
    let mut report = |applied| progress(RebuildProgress { applied, total });
    let load_started = Instant::now();
    loaded = load(pool, fresh, loaded, options.batch_size, &mut report).await?;
    let mut load_time = load_started.elapsed();
    let finish_started = Instant::now();
    finish_tables(pool, fresh).await?;
    let finish = finish_started.elapsed();
    let mut attempt = 1;
    loop {
        let catch_up_started = Instant::now();
        loaded = load(pool, fresh, loaded, options.batch_size, &mut report).await?;
        load_time += catch_up_started.elapsed();
        let switch_started = Instant::now();
        match switch(pool, live, fresh, loaded, options.batch_size).await {
            Ok(switched) => {
                report(switched.applied);
                return Ok(RebuildReport {
                    target: live.schema.clone(),
                    built_in: fresh.schema.clone(),
                    events: switched.applied,
                    position: switched.position,
                    load: load_time,
                    finish,
                    switch: switch_started.elapsed(),
                    total: started.elapsed(),
                });
            }
            Err(error) if attempt < SWITCH_ATTEMPTS && is_lock_timeout(&error) => {
                tracing::warn!(target = %live.schema, attempt, "the switch waited too long for a lock; retrying");
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Where loading has reached.
#[derive(Debug, Clone, Copy)]
struct Loaded {
    position: FeedPosition,
    applied: u64,
}

/// The estimated number of events in the feed, from the position index (rolled-back appends
/// leave gaps, so it may slightly overcount): a `count(*)` would scan every event.
pub async fn feed_size(pool: &PgPool) -> anyhow::Result<u64> {
    let (min, max): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT min(global_position), max(global_position) FROM events")
            .fetch_one(pool)
            .await
            .context("Failed to size the feed")?;
    Ok(match (min, max) {
        (Some(min), Some(max)) => u64::try_from(max - min + 1).unwrap_or(0),
        _ => 0,
    })
}

/// Drops what earlier, unfinished rebuilds of `live` left behind: their schemas and checkpoints.
async fn drop_leftovers(pool: &PgPool, live: &str) -> anyhow::Result<()> {
    let prefix = rebuild_prefix(live);
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE left(nspname, length($1)) = $1 \
         UNION SELECT target FROM projection_checkpoints WHERE left(target, length($1)) = $1",
    )
    .bind(&prefix)
    .fetch_all(pool)
    .await
    .context("Failed to find leftover rebuilds")?;
    for schema in schemas {
        tracing::info!(%schema, "dropping what an unfinished rebuild left");
        drop_schema(pool, &schema).await?;
    }
    Ok(())
}

/// Drops a rebuild schema and its checkpoint.
async fn drop_schema(pool: &PgPool, schema: &str) -> anyhow::Result<()> {
    let mut tx = pool.begin().await.context("Failed to begin")?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&mut *tx)
        .await
        .with_context(|| format!("Failed to drop schema {schema}"))?;
    sqlx::query("DELETE FROM projection_checkpoints WHERE target = $1")
        .bind(schema)
        .execute(&mut *tx)
        .await
        .context("Failed to delete a checkpoint")?;
    tx.commit().await.context("Failed to commit")?;
    Ok(())
}

/// Creates the fresh schema with its tables (no secondary indexes yet) and a checkpoint at zero.
async fn create_fresh(pool: &PgPool, fresh: &Target) -> anyhow::Result<()> {
    let mut tx = pool.begin().await.context("Failed to begin")?;
    sqlx::query(&format!("CREATE SCHEMA {}", fresh.schema))
        .execute(&mut *tx)
        .await
        .with_context(|| format!("Failed to create schema {}", fresh.schema))?;
    fresh
        .projection
        .create_tables(&mut tx, &fresh.schema)
        .await
        .with_context(|| format!("Failed to create the tables of {}", fresh.schema))?;
    sqlx::query("INSERT INTO projection_checkpoints (target, projection) VALUES ($1, $2)")
        .bind(&fresh.schema)
        .bind(fresh.projection.name())
        .execute(&mut *tx)
        .await
        .context("Failed to create the rebuild's checkpoint")?;
    tx.commit().await.context("Failed to commit")?;
    Ok(())
}

/// The tables of `schema`.
async fn tables(conn: &mut PgConnection, schema: &str) -> anyhow::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY tablename",
    )
    .bind(schema)
    .fetch_all(conn)
    .await
    .context("Failed to list tables")
}

/// Makes loaded tables ready to serve: indexed and analysed. The indexes are built several at
/// a time, each on its own connection (PostgreSQL lets index builds of one table run side by
/// side), as many at once as this machine has cores.
async fn finish_tables(pool: &PgPool, fresh: &Target) -> anyhow::Result<()> {
    let at_once = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let builds = fresh
        .projection
        .indexes(&fresh.schema)
        .into_iter()
        .map(|statement| async move {
            let mut tx = pool.begin().await.context("Failed to begin")?;
            sqlx::query("SET LOCAL maintenance_work_mem = '1GB'")
                .execute(&mut *tx)
                .await
                .context("Failed to raise maintenance_work_mem")?;
            sqlx::query(&statement)
                .execute(&mut *tx)
                .await
                .with_context(|| format!("Failed to build an index of {}", fresh.schema))?;
            tx.commit().await.context("Failed to commit an index")
        });
    futures::stream::iter(builds)
        .buffer_unordered(at_once)
        .try_collect::<Vec<()>>()
        .await?;
    let mut conn = pool.acquire().await.context("Failed to acquire")?;
    for table in tables(&mut conn, &fresh.schema).await? {
        sqlx::query(&format!("ANALYZE {}.{table}", fresh.schema))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("Failed to analyse {table}"))?;
    }
    Ok(())
}

/// Aborts a spawned task when dropped, so an interrupted rebuild stops reading the feed.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Applies everything committed after `from` to `fresh`, a batch per transaction, while the
/// next batch is being read; returns where it reached once the feed has nothing more.
async fn load(
    pool: &PgPool,
    fresh: &Target,
    from: Loaded,
    batch_size: i64,
    progress: &mut (dyn FnMut(u64) + Send),
) -> anyhow::Result<Loaded> {
    let (sender, mut batches) = mpsc::channel::<anyhow::Result<Vec<RecordedEvent>>>(2);
    let reader_pool = pool.clone();
    let _reader = AbortOnDrop(tokio::spawn(async move {
        let read = async {
            let mut conn = reader_pool.acquire().await.context("Failed to acquire")?;
            let mut after = from.position;
            loop {
                let events = feed::read_after(&mut conn, after, batch_size).await?;
                let Some(last) = events.last().map(|e| e.position) else {
                    return Ok(());
                };
                after = last;
                if sender.send(Ok(events)).await.is_err() {
                    return Ok(());
                }
            }
        };
        if let Err(error) = read.await {
            let _ = sender.send(Err(error)).await;
        }
    }));
    let mut loaded = from;
    while let Some(events) = batches.recv().await {
        let events = events?;
        let mut tx = pool.begin().await.context("Failed to begin a batch")?;
        // As in the runner: a batch lost in a crash is simply not part of the rebuild.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await
            .context("Failed to relax the batch's commit")?;
        loaded = apply(&mut tx, fresh, loaded, &events).await?;
        tx.commit().await.context("Failed to commit a batch")?;
        progress(loaded.applied);
    }
    Ok(loaded)
}

/// Applies `events` to `fresh` and moves its checkpoint, in the caller's transaction.
async fn apply(
    tx: &mut PgConnection,
    fresh: &Target,
    loaded: Loaded,
    events: &[RecordedEvent],
) -> anyhow::Result<Loaded> {
    let Some(last) = events.last().map(|e| e.position) else {
        return Ok(loaded);
    };
    fresh
        .projection
        .apply(&mut *tx, &fresh.schema, events)
        .await
        .with_context(|| {
            format!(
                "Rebuild of {} failed after {}",
                fresh.schema, loaded.position
            )
        })?;
    let applied = loaded.applied + events.len() as u64;
    sqlx::query(
        "UPDATE projection_checkpoints SET transaction_id = $2::text::xid8, \
           global_position = $3, events_applied = $4, updated_at = now() \
         WHERE target = $1",
    )
    .bind(&fresh.schema)
    .bind(last.transaction_id.to_string())
    .bind(last.global_position)
    .bind(applied as i64)
    .execute(&mut *tx)
    .await
    .context("Failed to move the rebuild's checkpoint")?;
    Ok(Loaded {
        position: last,
        applied,
    })
}

/// The switch: in one transaction, lock the live checkpoint (so no live batch runs), apply what
/// is left, put the fresh schema in the live one's place and move the live checkpoint.
async fn switch(
    pool: &PgPool,
    live: &Target,
    fresh: &Target,
    from: Loaded,
    batch_size: i64,
) -> anyhow::Result<Loaded> {
    let mut tx = pool.begin().await.context("Failed to begin the switch")?;
    sqlx::query(&format!("SET LOCAL lock_timeout = '{SWITCH_LOCK_TIMEOUT}'"))
        .execute(&mut *tx)
        .await
        .context("Failed to bound the switch's lock waits")?;
    // The lock `runner::prepare` takes, in the same order (then the checkpoint row): an instance
    // starting now cannot recreate the live schema between the drop and the rename.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("projection-schema:{}", live.schema))
        .execute(&mut *tx)
        .await
        .context("Failed to lock the live schema")?;
    sqlx::query("SELECT 1 FROM projection_checkpoints WHERE target = $1 FOR UPDATE")
        .bind(&live.schema)
        .execute(&mut *tx)
        .await
        .context("Failed to lock the live checkpoint")?;
    let mut loaded = from;
    loop {
        let events = feed::read_after(&mut tx, loaded.position, batch_size).await?;
        if events.is_empty() {
            break;
        }
        loaded = apply(&mut tx, fresh, loaded, &events).await?;
    }
    sqlx::query(&format!("DROP SCHEMA {} CASCADE", live.schema))
        .execute(&mut *tx)
        .await
        .with_context(|| format!("Failed to drop schema {}", live.schema))?;
    sqlx::query(&format!(
        "ALTER SCHEMA {} RENAME TO {}",
        fresh.schema, live.schema
    ))
    .execute(&mut *tx)
    .await
    .with_context(|| format!("Failed to rename {} to {}", fresh.schema, live.schema))?;
    sqlx::query(
        "UPDATE projection_checkpoints SET transaction_id = $2::text::xid8, \
           global_position = $3, events_applied = $4, updated_at = now() \
         WHERE target = $1",
    )
    .bind(&live.schema)
    .bind(loaded.position.transaction_id.to_string())
    .bind(loaded.position.global_position)
    .bind(loaded.applied as i64)
    .execute(&mut *tx)
    .await
    .context("Failed to move the live checkpoint")?;
    sqlx::query("DELETE FROM projection_checkpoints WHERE target = $1")
        .bind(&fresh.schema)
        .execute(&mut *tx)
        .await
        .context("Failed to delete the rebuild's checkpoint")?;
    tx.commit().await.context("Failed to commit the switch")?;
    Ok(loaded)
}

/// Whether the switch gave up waiting for a lock (`lock_timeout`).
fn is_lock_timeout(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::Database(db)) if db.code().as_deref() == Some("55P03")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_name_lists_the_projections() {
        let error = find("contcts").err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("unknown projection \"contcts\"; the projections are: contacts, workflows, conversations, tasks, timers, appointments, calendar_sync, costs, funnel, activity, budgets")
        );
        assert_eq!(
            find("workflows").map(|t| t.schema).ok().as_deref(),
            Some(crate::workflows::live().as_str())
        );
    }
}
