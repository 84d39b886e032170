//! `bookerbot bench list`: how fast a filtered, sorted page of leads comes back, over HTTP from
//! concurrent clients and as the raw SQL of the same query in the same run; how that changes
//! when the database grows from a small tenant alone to a million leads; and what a deep page
//! costs by cursor compared with the first. It prints figures; it asserts nothing.
//! `--leads 20000 --tenant-leads 5000 --small-leads 1000 --seconds 1` is the smoke mode.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use application::SystemClock;
use sqlx::PgPool;
use uuid::Uuid;

use crate::bench::{on_scratch_database, run_clients, Figures};
use crate::seed::{seed, SeedOptions};
use crate::settings::Settings;

/// Options of the list benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct ListBench {
    /// Leads in the database for the large phase (all tenants together).
    #[arg(long, default_value_t = 1_000_000)]
    pub leads: u64,
    /// Leads of each large tenant (the measured one among them).
    #[arg(long, default_value_t = 100_000)]
    pub tenant_leads: u64,
    /// Leads of the small tenant, alone in the database for the first phase.
    #[arg(long, default_value_t = 10_000)]
    pub small_leads: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// How deep the cursor walk goes.
    #[arg(long, default_value_t = 1_000)]
    pub deep_page: usize,
}

/// The query measured: two statuses, newest activity first, a page of 50.
const QUERY: &str = "status=contacted,in_conversation&sort=last_activity&order=desc&page_size=50";

/// The raw SQL of [`QUERY`]: the page (one extra row tells whether there is a next page) and
/// the total (from the status counts, as the API answers a status-only filter), run side by
/// side as the API does.
fn raw_sql() -> (String, String) {
    let schema = projections::contacts::live();
    let page = format!(
        "SELECT to_jsonb(c), (c.last_activity_at)::text FROM {schema}.contacts c \
         WHERE c.tenant_id = $1 AND NOT c.archived AND c.status = ANY($2) \
         ORDER BY c.last_activity_at DESC, c.lead_id DESC LIMIT 51"
    );
    let count = format!(
        "SELECT coalesce(sum(leads), 0)::bigint FROM {schema}.status_counts \
         WHERE tenant_id = $1 AND status = ANY($2)"
    );
    (page, count)
}

/// Runs the benchmark on a fresh database and prints the figures.
pub async fn run_list(settings: Settings, options: ListBench) -> anyhow::Result<()> {
    on_scratch_database(&settings.clone(), |url| async move {
        measure(&url, settings, &options).await
    })
    .await
}

async fn measure(url: &str, settings: Settings, options: &ListBench) -> anyhow::Result<()> {
    let connections = (options.clients as u32 * 2 + 8).max(16);
    let pool = infrastructure::db::connect(url, connections).await?;
    infrastructure::db::migrate(&pool).await?;
    println!(
        "bench list: {} clients, {} s each; query `{QUERY}`",
        options.clients, options.seconds
    );

    let small = seed_tenants(&pool, 1, options.small_leads, 1).await?;
    let small = small.first().context("no small tenant was seeded")?.clone();
    let admin = format!("bench-{}", Uuid::new_v4().simple());
    let server_settings = Settings {
        database_url: Some(url.to_string()),
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        admin_token: Some(admin),
        max_connections: connections,
        ..settings
    };
    let running =
        crate::server::start(pool.clone(), Arc::new(SystemClock), server_settings).await?;
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();

    let alone = phase(&client, &base, &pool, &small, options).await?;
    print_phase(
        &format!("{} leads, small tenant alone", options.small_leads),
        &alone,
    );

    let large_tenants = options
        .leads
        .saturating_sub(options.small_leads)
        .div_ceil(options.tenant_leads.max(1));
    let large = seed_tenants(&pool, large_tenants as u32, options.tenant_leads, 2).await?;
    let large = large.first().context("no large tenant was seeded")?.clone();
    let total = options.small_leads + large_tenants * options.tenant_leads;
    let big = phase(&client, &base, &pool, &large, options).await?;
    print_phase(
        &format!("{total} leads, tenant of {}", options.tenant_leads),
        &big,
    );
    let small_in_big = phase(&client, &base, &pool, &small, options).await?;
    print_phase(
        &format!("{total} leads, tenant of {}", options.small_leads),
        &small_in_big,
    );
    println!(
        "  growth: p99 at {total} leads / p99 at {} leads: {:.2} (tenant of {}), {:.2} (tenant of {}) (target <= 1.3)",
        options.small_leads,
        big.http.p99_ms / alone.http.p99_ms.max(f64::EPSILON),
        options.tenant_leads,
        small_in_big.http.p99_ms / alone.http.p99_ms.max(f64::EPSILON),
        options.small_leads,
    );

    let (first, deep, depth) = cursor_depth(&client, &base, &large, options.deep_page).await?;
    println!("  page 1 (sort=created):                  {first}");
    println!("  page {depth} by cursor:                  {deep}");
    println!(
        "  ratio page {depth} / page 1 (p99): {:.2} (target <= 2.0)",
        deep.p99_ms / first.p99_ms.max(f64::EPSILON)
    );
    running.stop().await?;
    Ok(())
}

/// A seeded tenant: its id and an API key.
type BenchTenant = (Uuid, Arc<str>);

/// Seeds `tenants` tenants of `leads` leads and waits until the read models have them all.
async fn seed_tenants(
    pool: &PgPool,
    tenants: u32,
    leads: u64,
    generator_seed: u64,
) -> anyhow::Result<Vec<BenchTenant>> {
    let started = Instant::now();
    let report = seed(
        pool,
        &SeedOptions {
            tenants,
            leads,
            seed: generator_seed,
        },
        &mut |_| {},
    )
    .await?;
    for target in projections::all() {
        projections::runner::prepare(pool, &target).await?;
        projections::runner::catch_up(pool, &target, projections::runner::DEFAULT_BATCH_SIZE)
            .await?;
    }
    // What autovacuum would do a minute later: statistics for the planner, and the visibility
    // map that lets counts use index-only scans. Measuring before it would measure bad plans.
    sqlx::query(&format!(
        "VACUUM ANALYZE {}.contacts",
        projections::contacts::live()
    ))
    .execute(pool)
    .await
    .context("Failed to analyze the contacts")?;
    println!(
        "  seeded {} leads ({} events) in {:.1} s, read models caught up",
        report.leads,
        report.events,
        started.elapsed().as_secs_f64()
    );
    Ok(report
        .tenants
        .into_iter()
        .map(|t| (t.id.as_uuid(), Arc::from(t.api_key)))
        .collect())
}

/// The figures of one tenant in one database state.
struct Phase {
    http: Figures,
    sql: Figures,
}

fn print_phase(label: &str, phase: &Phase) {
    println!("  [{label}]");
    println!("    HTTP GET /api/v1/leads: {}", phase.http);
    println!("    raw SQL (page + count): {}", phase.sql);
    println!(
        "    ratio HTTP/raw SQL p99: {:.2} (target <= 2.0)",
        phase.http.p99_ms / phase.sql.p99_ms.max(f64::EPSILON)
    );
}

async fn phase(
    client: &reqwest::Client,
    base: &str,
    pool: &PgPool,
    tenant: &BenchTenant,
    options: &ListBench,
) -> anyhow::Result<Phase> {
    let duration = Duration::from_secs(options.seconds);
    let (id, key) = tenant.clone();
    let url = format!("{base}/api/v1/leads?{QUERY}");
    let http_client = client.clone();
    let http = run_clients(options.clients, duration, move |_, _| {
        let client = http_client.clone();
        let url = url.clone();
        let key = key.clone();
        async move {
            let started = Instant::now();
            client
                .get(&url)
                .bearer_auth(&*key)
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            Ok(vec![started.elapsed()])
        }
    })
    .await?;
    let sql_pool = pool.clone();
    let (page_sql, count_sql) = raw_sql();
    let sql = run_clients(options.clients, duration, move |_, _| {
        let pool = sql_pool.clone();
        let (page_sql, count_sql) = (page_sql.clone(), count_sql.clone());
        async move {
            let statuses = vec!["contacted".to_string(), "in_conversation".to_string()];
            let started = Instant::now();
            let page = sqlx::query(&page_sql)
                .bind(id)
                .bind(&statuses)
                .fetch_all(&pool);
            let count = sqlx::query_scalar::<_, i64>(&count_sql)
                .bind(id)
                .bind(&statuses)
                .fetch_one(&pool);
            tokio::try_join!(page, count)?;
            Ok(vec![started.elapsed()])
        }
    })
    .await?;
    Ok(Phase { http, sql })
}

/// Walks `depth` pages by cursor (or as far as the tenant goes), then times the first page and
/// the deepest one reached, sequentially.
async fn cursor_depth(
    client: &reqwest::Client,
    base: &str,
    tenant: &BenchTenant,
    depth: usize,
) -> anyhow::Result<(Figures, Figures, usize)> {
    let key = &*tenant.1;
    let first_url = format!("{base}/api/v1/leads?sort=created&page_size=50");
    let mut url = first_url.clone();
    let mut reached = 1;
    while reached < depth {
        let page: serde_json::Value = client
            .get(&url)
            .bearer_auth(key)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let Some(cursor) = page["next_cursor"].as_str() else {
            break;
        };
        url = format!("{first_url}&cursor={cursor}");
        reached += 1;
    }
    let time = |url: String| async move {
        let started = Instant::now();
        let mut latencies = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let request = Instant::now();
            client
                .get(&url)
                .bearer_auth(key)
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            latencies.push(request.elapsed());
        }
        Ok::<_, anyhow::Error>(Figures::from_latencies(latencies, started.elapsed()))
    };
    let first = time(first_url).await?;
    let deep = time(url).await?;
    Ok((first, deep, reached))
}

/// Requests timed for each of the first and the deep page.
const SAMPLES: usize = 200;
