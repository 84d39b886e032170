//! `bookerbot bench analytics`: whether the all-time overview costs the same for a small tenant
//! as for a large one. In a database of its own it seeds two tenants (by default 10k and 1M
//! leads, captured over 365 days, with the seed's lead stories) and gives a share of each
//! tenant's leads AI-answered conversations, so the cost tables have spend to count; rebuilds the
//! funnel, costs, activity and workflows models through the projections' rebuild path; then
//! times `GET /api/v1/analytics` for each tenant (p50/p99 and the large/small ratio) and
//! `GET /api/v1/analytics/funnel` over 365 days. It prints figures; it asserts only that every
//! answer is a 200 and that the overview counts every seeded lead.
//! `--leads 200,2000 --requests 20` is the smoke mode.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use application::SystemClock;
use chrono::Utc;
use projections::rebuild::{self, RebuildOptions};
use sqlx::PgPool;

use crate::bench::{on_scratch_database, Figures};
use crate::progress::Progress;
use crate::seed::conversations::seed_ai_turns;
use crate::seed::{seed_tenant, SeededTenant};
use crate::settings::Settings;

/// Days the seeded leads are captured over.
const HISTORY_DAYS: i64 = 365;

/// The read models the measured endpoints read.
const MODELS: [&str; 4] = [
    projections::funnel::NAME,
    projections::costs::NAME,
    projections::activity::NAME,
    projections::workflows::NAME,
];

/// Requests sent before measuring, to warm the connection pool and caches.
const WARM_UP: usize = 20;

/// Options of the analytics benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct AnalyticsBench {
    /// Leads of the two tenants, small first (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [10_000u64, 1_000_000])]
    pub leads: Vec<u64>,
    /// Requests timed per measurement.
    #[arg(long, default_value_t = 500)]
    pub requests: usize,
    /// Percentage of each tenant's leads given an AI-answered conversation.
    #[arg(long, default_value_t = 30)]
    pub ai_percent: u64,
}

/// A seeded tenant and how many leads it has.
struct BenchTenant {
    seeded: SeededTenant,
    leads: u64,
}

/// Runs the benchmark on a fresh database and prints the figures.
pub async fn run_analytics(settings: Settings, options: AnalyticsBench) -> anyhow::Result<()> {
    let [small, large] = options.leads.as_slice() else {
        anyhow::bail!("--leads takes two counts, small then large (e.g. 10000,1000000)");
    };
    let sizes = [*small, *large];
    on_scratch_database(&settings.clone(), |url| async move {
        measure(&url, settings, &options, sizes).await
    })
    .await
}

async fn measure(
    url: &str,
    settings: Settings,
    options: &AnalyticsBench,
    sizes: [u64; 2],
) -> anyhow::Result<()> {
    let pool = infrastructure::db::connect(url, 16).await?;
    infrastructure::db::migrate(&pool).await?;
    println!(
        "bench analytics: tenants of {} and {} leads over {HISTORY_DAYS} days, {}% with AI \
         conversations; {} requests each",
        sizes[0], sizes[1], options.ai_percent, options.requests
    );
    let mut tenants = Vec::new();
    for (index, leads) in (0u32..).zip(sizes) {
        tenants.push(seed(&pool, index, leads, options.ai_percent).await?);
    }
    rebuild_models(&pool).await?;

    let server_settings = Settings {
        database_url: Some(url.to_string()),
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        admin_token: Some(format!("bench-{}", uuid::Uuid::new_v4().simple())),
        max_connections: 16,
        run_projections: false,
        run_workers: false,
        ..settings
    };
    let running =
        crate::server::start(pool.clone(), Arc::new(SystemClock), server_settings).await?;
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    let today = Utc::now().date_naive();
    let funnel_path = format!(
        "/api/v1/analytics/funnel?from={}&to={today}",
        today - chrono::Duration::days(HISTORY_DAYS - 1)
    );
    let mut overview = Vec::new();
    for tenant in &tenants {
        let key = &tenant.seeded.api_key;
        let body = get(&client, &base, key, "/api/v1/analytics").await?;
        let counted = body["overview"]["total_contacts"].as_u64();
        anyhow::ensure!(
            counted == Some(tenant.leads),
            "the overview counts {counted:?} leads, {} were seeded",
            tenant.leads
        );
        let figures = time(&client, &base, key, "/api/v1/analytics", options.requests).await?;
        let funnel = time(&client, &base, key, &funnel_path, options.requests).await?;
        println!("  [tenant of {} leads]", tenant.leads);
        println!("    GET /api/v1/analytics:                 {figures}");
        println!("    GET /api/v1/analytics/funnel 365 days: {funnel}");
        overview.push(figures);
    }
    if let [small, large] = overview.as_slice() {
        println!(
            "  ratio {} / {} leads: p50 {:.2}, p99 {:.2} (target <= 1.3)",
            sizes[1],
            sizes[0],
            large.p50_ms / small.p50_ms.max(f64::EPSILON),
            large.p99_ms / small.p99_ms.max(f64::EPSILON)
        );
    }
    running.stop().await?;
    Ok(())
}

/// Seeds tenant number `index` with `leads` leads and AI conversations for `percent` of them.
async fn seed(pool: &PgPool, index: u32, leads: u64, percent: u64) -> anyhow::Result<BenchTenant> {
    let started = Instant::now();
    // What autovacuum would have done (servers run without it, the shared test server among
    // them): without statistics on `events`, the planner scans the whole table for each append's
    // order check, and seeding a large tenant slows down quadratically.
    sqlx::query("ANALYZE events")
        .execute(pool)
        .await
        .context("Failed to analyze the events")?;
    let bar = Progress::new("seed", Some(leads), "leads");
    let (seeded, events) = seed_tenant(pool, 7, index, leads, HISTORY_DAYS, &mut |done| {
        bar.set(done)
    })
    .await?;
    bar.finish();
    let bar = Progress::new("seed AI", None, "conversations");
    let ai = seed_ai_turns(pool, seeded.id, percent, u64::from(index), &mut |done| {
        bar.set(done);
    })
    .await?;
    bar.finish();
    println!(
        "  seeded {leads} leads ({events} events) and {} AI conversations ({} answers, {} events, \
         {} micro-USD) in {:.1} s",
        ai.conversations,
        ai.calls,
        ai.events,
        ai.cost_micros,
        started.elapsed().as_secs_f64()
    );
    Ok(BenchTenant { seeded, leads })
}

/// Brings the measured read models up to date through the rebuild path (fresh schema, load,
/// indexes, `ANALYZE`, switch).
async fn rebuild_models(pool: &PgPool) -> anyhow::Result<()> {
    for name in MODELS {
        let target = rebuild::find(name)?;
        let bar = Progress::new(
            &format!("rebuild {name}"),
            Some(rebuild::feed_size(pool).await?),
            "events",
        );
        let report = rebuild::rebuild(pool, &target, RebuildOptions::default(), &mut |p| {
            bar.set(p.applied);
        })
        .await
        .with_context(|| format!("Failed to rebuild {name}"))?;
        bar.finish();
        println!(
            "  rebuilt {name}: {} events in {:.1} s",
            report.events,
            report.total.as_secs_f64()
        );
    }
    Ok(())
}

/// GETs `path` with `key`, failing unless the answer is a 200; returns the body.
async fn get(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    path: &str,
) -> anyhow::Result<serde_json::Value> {
    let reply = client
        .get(format!("{base}{path}"))
        .bearer_auth(key)
        .send()
        .await
        .with_context(|| format!("GET {path} failed"))?;
    anyhow::ensure!(
        reply.status() == reqwest::StatusCode::OK,
        "GET {path} answered {}",
        reply.status()
    );
    reply
        .json()
        .await
        .with_context(|| format!("GET {path} answered no JSON"))
}

/// Times `requests` sequential GETs of `path` after a warm-up.
async fn time(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    path: &str,
    requests: usize,
) -> anyhow::Result<Figures> {
    for _ in 0..WARM_UP.min(requests) {
        get(client, base, key, path).await?;
    }
    let started = Instant::now();
    let mut latencies: Vec<Duration> = Vec::with_capacity(requests);
    for _ in 0..requests {
        let sent = Instant::now();
        get(client, base, key, path).await?;
        latencies.push(sent.elapsed());
    }
    Ok(Figures::from_latencies(latencies, started.elapsed()))
}
