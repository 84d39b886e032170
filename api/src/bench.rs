//! `bookerbot bench commands`: lead captures and status changes over HTTP from concurrent
//! clients, then the raw-SQL equivalent of each command (load the aggregate's events, insert one
//! event, commit) at the same concurrency on the same database, and the ratio of the two rates.
//! It prints figures; it asserts nothing. `--seconds 2` is the smoke mode CI runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use application::SystemClock;
use infrastructure::locate::{self, Purpose};
use serde_json::json;

use crate::settings::Settings;

/// Options of the commands benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct CommandsBench {
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Seconds each half of the benchmark runs.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
}

/// Throughput and latency of one half of the benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Operations completed.
    pub operations: usize,
    /// Operations per second.
    pub per_second: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
}

impl Figures {
    /// The figures of `latencies` collected over `elapsed`.
    pub fn from_latencies(mut latencies: Vec<Duration>, elapsed: Duration) -> Self {
        latencies.sort_unstable();
        let pick = |q: f64| {
            if latencies.is_empty() {
                return 0.0;
            }
            let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
            latencies.get(index).map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        Self {
            operations: latencies.len(),
            per_second: latencies.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
            p50_ms: pick(0.50),
            p99_ms: pick(0.99),
        }
    }
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>8} ops  {:>9.1} ops/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
            self.operations, self.per_second, self.p50_ms, self.p99_ms
        )
    }
}

/// Runs `work` on a fresh, empty scratch database on the configured (or located) server,
/// then drops the database whatever `work` returned. Every benchmark starts this way.
pub async fn on_scratch_database<T, F, Fut>(settings: &Settings, work: F) -> anyhow::Result<T>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let located = locate::locate(
        settings.database_url.as_deref(),
        Purpose::Server {
            data_dir: settings.data_dir.join("pgdata"),
        },
    )
    .await?;
    let name = format!("bookerbot_bench_{}", uuid::Uuid::new_v4().simple());
    let url = located.database_url(&name);
    locate::ensure_database(&url).await?;
    let result = work(url).await;
    locate::drop_database(located.admin_url(), &name).await?;
    result
}

/// Runs the benchmark on a fresh database and prints the figures.
pub async fn run_commands(settings: Settings, options: CommandsBench) -> anyhow::Result<()> {
    let bench = options.clone();
    let result = on_scratch_database(&settings.clone(), |url| async move {
        measure(&url, settings, &bench).await
    })
    .await;
    let Measured { http, sql, visible } = result?;
    println!(
        "bench commands: {} clients, {} s each",
        options.clients, options.seconds
    );
    println!("  HTTP commands (capture + status change): {http}");
    println!("  raw SQL (load events, insert one, commit): {sql}");
    println!(
        "  ratio HTTP/raw SQL: {:.2} (target >= 0.60)",
        http.per_second / sql.per_second.max(f64::EPSILON)
    );
    match visible {
        Some(visible) => println!(
            "  read your writes (GET with min_position right after a capture): p50 {:.2} ms  p99 {:.2} ms",
            visible.p50_ms, visible.p99_ms
        ),
        None => println!("  read your writes: not measured (projections are off)"),
    }
    Ok(())
}

async fn measure(
    url: &str,
    settings: Settings,
    options: &CommandsBench,
) -> anyhow::Result<Measured> {
    let pool = infrastructure::db::connect(url, (options.clients as u32 + 8).max(16)).await?;
    infrastructure::db::migrate(&pool).await?;
    let admin = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let run_projections = settings.run_projections;
    let server_settings = Settings {
        database_url: Some(url.to_string()),
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        admin_token: Some(admin.clone()),
        max_connections: (options.clients as u32 + 8).max(16),
        ..settings
    };
    let running =
        crate::server::start(pool.clone(), Arc::new(SystemClock), server_settings).await?;
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("{base}/api/v1/tenants"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Bench"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let key = created["api_key"]
        .as_str()
        .context("tenant creation returned no api_key")?
        .to_string();
    let tenant = created["tenant"]["id"]
        .as_str()
        .context("tenant creation returned no id")?
        .to_string();
    let duration = Duration::from_secs(options.seconds);
    let (load_client, load_base, load_key) = (client.clone(), base.clone(), key.clone());
    let http = run_clients(options.clients, duration, move |worker, n| {
        let client = load_client.clone();
        let base = load_base.clone();
        let key = load_key.clone();
        async move { http_operation(&client, &base, &key, worker, n).await }
    })
    .await?;
    let visible = if run_projections {
        Some(read_your_writes(&client, &base, &key).await?)
    } else {
        None
    };
    running.stop().await?;
    let sql_pool = pool.clone();
    let sql = run_clients(options.clients, duration, move |worker, n| {
        let pool = sql_pool.clone();
        let tenant = tenant.clone();
        async move { sql_operation(&pool, &tenant, worker, n).await }
    })
    .await?;
    Ok(Measured { http, sql, visible })
}

/// Captures leads one at a time and reads each back with `min_position`: how long until a
/// write is visible in the contacts read model.
async fn read_your_writes(
    client: &reqwest::Client,
    base: &str,
    key: &str,
) -> anyhow::Result<Figures> {
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(READ_YOUR_WRITES_SAMPLES);
    for n in 0..READ_YOUR_WRITES_SAMPLES {
        let captured: serde_json::Value = client
            .post(format!("{base}/api/v1/leads"))
            .bearer_auth(key)
            .json(&json!({"email": format!("visible-{n}@bench.example")}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = captured["id"].as_str().context("capture returned no id")?;
        let position = captured["position"]
            .as_i64()
            .context("capture returned no position")?;
        let read = Instant::now();
        client
            .get(format!("{base}/api/v1/leads/{id}?min_position={position}"))
            .bearer_auth(key)
            .send()
            .await?
            .error_for_status()?;
        latencies.push(read.elapsed());
    }
    Ok(Figures::from_latencies(latencies, started.elapsed()))
}

/// Sequential capture-then-read rounds measured after the load.
const READ_YOUR_WRITES_SAMPLES: usize = 200;

/// The figures of one run.
struct Measured {
    http: Figures,
    sql: Figures,
    /// `None` when this instance runs no projections.
    visible: Option<Figures>,
}

/// One round: capture a new lead, then change its status — two commands, two latencies.
async fn http_operation(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    worker: usize,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    let started = Instant::now();
    let captured: serde_json::Value = client
        .post(format!("{base}/api/v1/leads"))
        .bearer_auth(key)
        .json(&json!({"first_name": "Bench", "email": format!("w{worker}-l{n}@bench.example")}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let capture = started.elapsed();
    let id = captured["id"].as_str().context("capture returned no id")?;
    let started = Instant::now();
    client
        .post(format!("{base}/api/v1/leads/{id}/status"))
        .bearer_auth(key)
        .json(&json!({"status": "contacted", "reason": "benchmark"}))
        .send()
        .await?
        .error_for_status()?;
    Ok(vec![capture, started.elapsed()])
}

/// The same two commands in raw SQL: each loads the aggregate's events, inserts one, commits.
async fn sql_operation(
    pool: &sqlx::PgPool,
    tenant: &str,
    worker: usize,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    let aggregate = format!("{worker}-{n}");
    let mut latencies = Vec::with_capacity(2);
    for _ in 0..2 {
        let started = Instant::now();
        let mut tx = pool.begin().await?;
        let events: Vec<(String,)> = sqlx::query_as(
            "SELECT payload::text FROM events WHERE aggregate_type = 'bench' AND aggregate_id = $1 \
             ORDER BY sequence",
        )
        .bind(&aggregate)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
               payload, metadata) VALUES ('bench', $1, $2, 'Benchmarked', '1', $3::json, $4::json)",
        )
        .bind(&aggregate)
        .bind(events.len() as i64 + 1)
        .bind(json!({"Benchmarked": {"n": n}}).to_string())
        .bind(
            json!({"tenant_id": tenant, "actor": "bench", "request_id": "bench",
                   "occurred_at": "2026-01-01T00:00:00Z"})
            .to_string(),
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

/// Runs `operation` from `clients` concurrent workers for `duration`; each call returns the
/// latencies of what it did.
pub async fn run_clients<F, Fut>(
    clients: usize,
    duration: Duration,
    operation: F,
) -> anyhow::Result<Figures>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<Vec<Duration>>> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients);
    for worker in 0..clients {
        let operation = operation.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                latencies.extend(operation(worker, n).await?);
                n += 1;
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.context("a benchmark client panicked")??);
    }
    Ok(Figures::from_latencies(all, started.elapsed()))
}
