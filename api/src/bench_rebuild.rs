//! `bookerbot bench rebuild`: how fast the contacts projection rebuilds, beside how fast the
//! same events can merely be read. In one run it makes sure the benchmark database holds at
//! least `--events` events (seeding synthetic tenants when it holds fewer), reads every event
//! in feed order with `COPY … TO STDOUT`, then rebuilds contacts from position zero and switches
//! it in, and prints both rates and their ratio. It asserts nothing. `--events 20000` is the
//! smoke mode CI runs.
//!
//! The database (`bookerbot_bench_rebuild` on the server `bookerbot` finds, unless told
//! otherwise) is kept between runs, so the events are seeded once.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use infrastructure::locate::{self, Purpose};
use projections::rebuild::{self, RebuildOptions, RebuildReport};
use sqlx::PgPool;

use crate::progress::Progress;
use crate::seed::{self, SeedOptions};
use crate::settings::Settings;

/// How long the benchmark waits for transactions elsewhere on the server to end.
const READABLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Leads per seeded tenant when the benchmark tops the database up.
const LEADS_PER_TENANT: u64 = 100_000;

/// Options of the rebuild benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct RebuildBench {
    /// Events the database must hold; synthetic tenants are seeded until it does.
    #[arg(long, default_value_t = 2_000_000)]
    pub events: u64,
    /// Events per loading batch of the rebuild.
    #[arg(long, default_value_t = rebuild::DEFAULT_BATCH_SIZE)]
    pub batch_size: i64,
    /// The benchmark's database on the server, kept between runs.
    #[arg(long, default_value = "bookerbot_bench_rebuild")]
    pub database: String,
}

/// Events read by `COPY` and how long that took.
#[derive(Debug, Clone, Copy)]
struct CopyFigures {
    events: u64,
    bytes: u64,
    elapsed: Duration,
}

impl CopyFigures {
    fn per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Runs the benchmark and prints the figures.
pub async fn run_rebuild(settings: Settings, options: RebuildBench) -> anyhow::Result<()> {
    let located = locate::locate(
        settings.database_url.as_deref(),
        Purpose::Server {
            data_dir: settings.data_dir.join("pgdata"),
        },
    )
    .await?;
    let url = located.database_url(&options.database);
    locate::ensure_database(&url).await?;
    let pool = infrastructure::db::connect(&url, 8).await?;
    infrastructure::db::migrate(&pool).await?;
    let events = ensure_events(&pool, options.events).await?;
    wait_until_readable(&pool).await?;
    let copy = copy_all(&pool).await?;
    let target = rebuild::find(projections::contacts::NAME)?;
    let bar = Progress::new(
        "rebuild contacts",
        Some(rebuild::feed_size(&pool).await?),
        "events",
    );
    let report = rebuild::rebuild(
        &pool,
        &target,
        RebuildOptions {
            batch_size: options.batch_size,
        },
        &mut |p| bar.set(p.applied),
    )
    .await
    .context("The rebuild failed")?;
    bar.finish();
    print_figures(&options, events, copy, &report);
    Ok(())
}

fn print_figures(options: &RebuildBench, events: u64, copy: CopyFigures, report: &RebuildReport) {
    println!(
        "bench rebuild: {events} events in database {} (batch {})",
        options.database, options.batch_size
    );
    println!(
        "  read all events (COPY in feed order): {:>9} events in {:>6.2} s  {:>9.0} events/s  ({:.0} MB)",
        copy.events,
        copy.elapsed.as_secs_f64(),
        copy.per_second(),
        copy.bytes as f64 / 1e6
    );
    println!(
        "  rebuild contacts + switch:            {:>9} events in {:>6.2} s  {:>9.0} events/s  (target >= 100000)",
        report.events,
        report.total.as_secs_f64(),
        report.events_per_second()
    );
    println!(
        "    load {:.2} s, indexes and analyse {:.2} s, switch {:.3} s",
        report.load.as_secs_f64(),
        report.finish.as_secs_f64(),
        report.switch.as_secs_f64()
    );
    println!(
        "  ratio rebuild/COPY: {:.2}",
        report.events_per_second() / copy.per_second().max(f64::EPSILON)
    );
}

/// Seeds synthetic tenants until the database holds at least `wanted` events; returns the count.
async fn ensure_events(pool: &PgPool, wanted: u64) -> anyhow::Result<u64> {
    let mut count = event_count(pool).await?;
    let mut round = 0u64;
    while count < wanted {
        let missing = wanted - count;
        // About four events per seeded lead; aim high rather than loop for crumbs.
        let leads = (missing / 3 + 1).min(LEADS_PER_TENANT);
        let bar = Progress::new("seed", Some(leads), "leads");
        let options = SeedOptions {
            tenants: 1,
            leads,
            seed: count + round,
        };
        let report = seed::seed(pool, &options, &mut |done| bar.set(done)).await?;
        bar.finish();
        println!(
            "  seeded {} leads ({} events) at {:.0} events/s",
            report.leads,
            report.events,
            report.events_per_second()
        );
        count = event_count(pool).await?;
        round += 1;
    }
    Ok(count)
}

/// Waits until every stored event can be read from the feed: the feed stops below the oldest
/// transaction running on the server (in any database), so a long transaction elsewhere would
/// make both measurements read less than the whole store.
async fn wait_until_readable(pool: &PgPool) -> anyhow::Result<()> {
    let deadline = Instant::now() + READABLE_TIMEOUT;
    loop {
        let readable: bool = sqlx::query_scalar(
            "SELECT coalesce(max(transaction_id) < pg_snapshot_xmin(pg_current_snapshot()), true) \
             FROM events",
        )
        .fetch_one(pool)
        .await
        .context("Failed to compare the feed with running transactions")?;
        if readable {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "an older transaction on the server has held the feed back for {} s; \
                 look for old transactions in pg_stat_activity",
                READABLE_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn event_count(pool: &PgPool) -> anyhow::Result<u64> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .context("Failed to count events")?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Reads every event in feed order with `COPY … TO STDOUT`: the floor under any rebuild.
async fn copy_all(pool: &PgPool) -> anyhow::Result<CopyFigures> {
    let mut conn = pool.acquire().await.context("Failed to acquire")?;
    let started = Instant::now();
    let mut stream = conn
        .copy_out_raw(
            "COPY (SELECT transaction_id::text, global_position, aggregate_type, aggregate_id, \
                    sequence, event_type, event_version, payload, metadata, recorded_at \
             FROM events ORDER BY events.transaction_id, events.global_position) TO STDOUT",
        )
        .await
        .context("Failed to start COPY")?;
    let (mut events, mut bytes) = (0u64, 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context("COPY failed")?;
        bytes += chunk.len() as u64;
        events += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    Ok(CopyFigures {
        events,
        bytes,
        elapsed: started.elapsed(),
    })
}
