//! `bookerbot bench outreach` and `bookerbot bench timers`: the automation paths under load.
//!
//! - `outreach`: the server runs as in production (projections and workers on, sandbox channel).
//!   A CSV import of `--leads` leads into an active workflow starts, and meanwhile probe leads are
//!   captured one every `--interval-ms` (`POST /api/v1/leads`). Each probe's latency runs from its
//!   capture's 201 until its outreach (`OutboundMessageQueued` with origin `outreach`) exists in
//!   the events table, seen by polling every [`SEEN_POLL`]. The target is p99 ≤ 5 s.
//! - `timers`: `--timers` leads are imported into an active workflow, so as many outreach timers
//!   fall due at once; once the timers projection lists them all, dispatchers run in-process —
//!   1, then 3, each on a fresh database, each with its own pool like an instance — each looping
//!   `workers::run_once` until nothing is due. Counted are the timers run and the outreach
//!   messages they queued (from the events table); the dispatchers' outbox table is an empty
//!   one, so they claim timers only and nothing is sent (sends are measured by `bench replies`).
//!   Beside it, in the same run, the raw claim rate: `task_queue::claim` in a loop over a copy of
//!   the timers table, same statement, same batch, as many claimers, no work done (claimed rows
//!   are deleted in batches on the side, as the timers projection deletes the timers that ran).
//!
//! The tenant (London, UK leads) opens its business hours and quiet hours as wide as they go,
//! every day 00:00–23:59; a window cannot reach midnight, so the server and the dispatchers also
//! run on a clock shown in the output: the wall clock moved to the coming Wednesday 12:00 UTC,
//! well inside the window whatever time the benchmark runs.
//!
//! They print figures and assert nothing on time. `outreach --leads 200 --probes 10` and
//! `timers --timers 1000` are the smoke modes CI runs.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use application::Clock;
use chrono::{DateTime, Datelike, NaiveTime, SubsecRound, Utc, Weekday};
use infrastructure::messaging::{task_queue, workers, Messaging};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::bench::on_scratch_database;
use crate::server::Running;
use crate::settings::Settings;
use crate::state::AppState;

/// Options of the outreach latency benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct OutreachBench {
    /// Leads in the CSV import that runs while the probes are captured.
    #[arg(long, default_value_t = 10_000)]
    pub leads: usize,
    /// Probe leads captured one by one while the import runs (and after, if it ends first).
    #[arg(long, default_value_t = 200)]
    pub probes: usize,
    /// Milliseconds between two probe captures.
    #[arg(long, default_value_t = 50)]
    pub interval_ms: u64,
    /// How long to wait for the probes' outreach once the last probe was captured, in seconds
    /// (the import's outreach goes first, and at the default send rate the outbox drains 10
    /// messages a second).
    #[arg(long, default_value_t = 1800)]
    pub wait_seconds: u64,
}

/// Options of the timer dispatcher benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct TimersBench {
    /// Due outreach timers per run (one run with 1 dispatcher, one with 3).
    #[arg(long, default_value_t = 100_000)]
    pub timers: usize,
    /// How long the projections may take to list the timers, in seconds.
    #[arg(long, default_value_t = 900)]
    pub wait_seconds: u64,
}

/// How often the events table is asked whether the probes' outreach exists.
pub const SEEN_POLL: Duration = Duration::from_millis(10);
/// The outreach latency the issue asks for, at the 99th percentile.
const TARGET_P99: Duration = Duration::from_secs(5);
/// The dispatcher counts of the timers benchmark, each on a fresh database.
const DISPATCHERS: [usize; 2] = [1, 3];
/// Connections of each in-process dispatcher's own pool (it runs 8 timers at once by default,
/// each holding one or two).
const DISPATCHER_POOL: u32 = 16;
/// Connections of the server of the timers benchmark (projections only, and the setup).
const TIMERS_SERVER_POOL: u32 = 16;
/// The copy of the timers table the raw claims run on.
const CLAIM_COPY: &str = "public.bench_timers_copy";
/// An empty table of the tasks projection's shape: the dispatchers' outbox, so they claim
/// timers only.
const NO_TASKS: &str = "public.bench_no_tasks";
/// How long setup steps (a workflow reaching the projections) may take.
const SETUP_WAIT: Duration = Duration::from_secs(120);
/// How often a wait looks again.
const WAIT_POLL: Duration = Duration::from_millis(100);
/// The outreach every lead gets.
const INITIAL_MESSAGE: &str =
    "Hi {first_name}, this is {brand_name}. Would you like to book a visit?";

/// The wall clock moved to the coming Wednesday 12:00 UTC (still running): inside any sensible
/// sending window of a London tenant and UK recipients, whenever the benchmark runs.
#[derive(Debug, Clone, Copy)]
pub struct MiddayClock {
    offset: chrono::Duration,
}

impl MiddayClock {
    /// A clock reading the coming Wednesday 12:00 UTC now.
    #[must_use]
    pub fn new() -> Self {
        let now = Utc::now();
        let days_ahead =
            (7 + Weekday::Wed.num_days_from_monday() - now.weekday().num_days_from_monday()) % 7;
        let mut midday = now.date_naive().and_time(NaiveTime::MIN).and_utc()
            + chrono::Duration::days(i64::from(days_ahead))
            + chrono::Duration::hours(12);
        if midday < now {
            midday += chrono::Duration::days(7);
        }
        Self {
            offset: midday - now,
        }
    }
}

impl Default for MiddayClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MiddayClock {
    /// Truncated to microseconds, like the system clock.
    fn now(&self) -> DateTime<Utc> {
        (Utc::now() + self.offset).trunc_subsecs(6)
    }
}

/// Median, 99th percentile and maximum of some latencies.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spread {
    /// How many.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile (nearest rank).
    pub p99: Duration,
    /// Largest.
    pub max: Duration,
}

impl Spread {
    /// The spread of `latencies`.
    #[must_use]
    pub fn of(mut latencies: Vec<Duration>) -> Self {
        latencies.sort_unstable();
        let pick = |q: f64| {
            let index = ((latencies.len().saturating_sub(1)) as f64 * q).round() as usize;
            latencies.get(index).copied().unwrap_or_default()
        };
        Self {
            count: latencies.len(),
            p50: pick(0.50),
            p99: pick(0.99),
            max: latencies.last().copied().unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>5} probes  p50 {:>9.3} s  p99 {:>9.3} s  max {:>9.3} s",
            self.count,
            self.p50.as_secs_f64(),
            self.p99.as_secs_f64(),
            self.max.as_secs_f64()
        )
    }
}

/// The figures of the outreach benchmark.
struct OutreachMeasured {
    /// The import's rows, leads created and duration.
    import: (usize, u64, Duration),
    /// The probes' capture requests.
    captures: Spread,
    /// Capture → outreach queued, every probe; those captured while the import ran; after.
    outreach: [Spread; 3],
    /// The import's leads whose outreach was queued by the time the last probe's was, and how
    /// long from the first outreach queued to the last.
    import_reached: (u64, Duration),
    /// The sends per second per tenant and channel the server allowed.
    send_rate: u32,
    /// What the clock read when the benchmark started.
    clock: DateTime<Utc>,
}

/// Runs the outreach latency benchmark on a fresh database and prints the figures.
pub async fn run_outreach(settings: Settings, options: OutreachBench) -> anyhow::Result<()> {
    let bench = options.clone();
    let m = on_scratch_database(&settings.clone(), |url| async move {
        measure_outreach(&url, settings, &bench).await
    })
    .await?;
    let (rows, created, took) = m.import;
    println!(
        "bench outreach: a {rows}-lead CSV import into an active SMS workflow; meanwhile {} probe \
         leads captured one every {} ms (server with projections and workers, sandbox channel, \
         {} sends/s per tenant; clock at {})",
        options.probes,
        options.interval_ms,
        m.send_rate,
        m.clock.format("%a %Y-%m-%d %H:%M UTC")
    );
    println!(
        "  import (POST /api/v1/leads/import): {rows} rows, {created} leads created in {:.2} s, {:.0} rows/s",
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64().max(f64::EPSILON)
    );
    println!("  probe capture request:                    {}", m.captures);
    let [all, during, after] = &m.outreach;
    println!("  capture 201 -> outreach queued:           {all}");
    println!("    captured while the import ran:          {during}");
    println!("    captured after it had answered:         {after}");
    let (reached, span) = m.import_reached;
    println!(
        "  outreach queued, all leads: {} in {:.1} s from the first to the last, {:.0}/s \
         ({reached} of the import's {created} by the time the last probe's was)",
        reached + all.count as u64,
        span.as_secs_f64(),
        (reached + all.count as u64) as f64 / span.as_secs_f64().max(f64::EPSILON)
    );
    println!(
        "  target p99 <= {} s: {} (p99 {:.2} s; seen by polling the events table every {} ms)",
        TARGET_P99.as_secs(),
        if all.p99 <= TARGET_P99 {
            "met"
        } else {
            "NOT met"
        },
        all.p99.as_secs_f64(),
        SEEN_POLL.as_millis()
    );
    Ok(())
}

async fn measure_outreach(
    url: &str,
    settings: Settings,
    options: &OutreachBench,
) -> anyhow::Result<OutreachMeasured> {
    let clock = MiddayClock::new();
    let started_at = clock.now();
    let send_rate = settings.send_rate_per_second;
    let connections = settings.max_connections;
    let server = Server::start(url, settings, Arc::new(clock), true, connections).await?;
    let measured = outreach_phase(&server, options).await;
    let stopped = server.stop().await;
    let (import, captures, outreach, import_reached) = measured?;
    stopped?;
    Ok(OutreachMeasured {
        import,
        captures,
        outreach,
        import_reached,
        send_rate,
        clock: started_at,
    })
}

/// One probe captured: its conversation, how long the capture took, whether the import was
/// still running when it started.
struct Probe {
    conversation: String,
    request: Duration,
    during_import: bool,
}

type OutreachFigures = ((usize, u64, Duration), Spread, [Spread; 3], (u64, Duration));

async fn outreach_phase(
    server: &Server,
    options: &OutreachBench,
) -> anyhow::Result<OutreachFigures> {
    let workflow = server.active_workflow().await?;
    wait_for_projections(&server.pool, SETUP_WAIT).await?;
    let import = {
        let client = server.client.clone();
        let url = server.import_url(&workflow);
        let key = server.key.clone();
        let csv = leads_csv(0..options.leads);
        tokio::spawn(async move {
            let started = Instant::now();
            let created = import(&client, &url, &key, csv).await?;
            anyhow::Ok((created, started.elapsed()))
        })
    };
    let (seen_tx, seen_rx) = mpsc::unbounded_channel::<(String, Instant)>();
    let watcher = tokio::spawn(watch_outreach(
        server.pool.clone(),
        seen_rx,
        Duration::from_secs(options.wait_seconds),
    ));
    let mut pace = tokio::time::interval(Duration::from_millis(options.interval_ms.max(1)));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut probes = Vec::with_capacity(options.probes);
    for n in 0..options.probes {
        pace.tick().await;
        let during_import = !import.is_finished();
        let request = server
            .client
            .post(format!("{}/api/v1/leads", server.base))
            .bearer_auth(&server.key)
            .json(&json!({
                "first_name": "Probe",
                "phone": lead_phone(options.leads + n),
                "workflow_id": workflow,
            }));
        let seen_tx = seen_tx.clone();
        probes.push(tokio::spawn(async move {
            let started = Instant::now();
            let captured = checked_json(request, "capturing a probe").await?;
            let answered = Instant::now();
            let lead = captured["id"]
                .as_str()
                .context("the capture returned no id")?;
            let conversation = format!("{lead}:sms");
            seen_tx
                .send((conversation.clone(), answered))
                .context("the outreach watcher stopped early")?;
            anyhow::Ok(Probe {
                conversation,
                request: answered - started,
                during_import,
            })
        }));
    }
    drop(seen_tx);
    let mut captured = Vec::with_capacity(probes.len());
    for probe in probes {
        captured.push(probe.await.context("a probe client panicked")??);
    }
    let (created, import_took) = import.await.context("the import client panicked")??;
    let seen = watcher.await.context("the outreach watcher panicked")??;
    let mut all = Vec::new();
    let mut during = Vec::new();
    let mut after = Vec::new();
    for probe in &captured {
        let latency = *seen
            .get(&probe.conversation)
            .with_context(|| format!("no outreach seen for {}", probe.conversation))?;
        all.push(latency);
        if probe.during_import {
            during.push(latency);
        } else {
            after.push(latency);
        }
    }
    let (reached, span) = outreach_span(&server.pool).await?;
    let import_reached = (
        u64::try_from(reached)
            .unwrap_or_default()
            .saturating_sub(captured.len() as u64),
        span,
    );
    Ok((
        (options.leads, created, import_took),
        Spread::of(captured.iter().map(|p| p.request).collect()),
        [Spread::of(all), Spread::of(during), Spread::of(after)],
        import_reached,
    ))
}

/// Collects the probes announced on `probes` and polls the events table for their outreach
/// every [`SEEN_POLL`]; returns each conversation's latency, from its capture's answer to the
/// start of the first poll that found its outreach. Gives up `wait` after the last probe.
async fn watch_outreach(
    pool: PgPool,
    mut probes: mpsc::UnboundedReceiver<(String, Instant)>,
    wait: Duration,
) -> anyhow::Result<HashMap<String, Duration>> {
    let mut pending: HashMap<String, Instant> = HashMap::new();
    let mut seen = HashMap::new();
    let mut deadline: Option<Instant> = None;
    loop {
        loop {
            match probes.try_recv() {
                Ok((conversation, answered)) => {
                    pending.insert(conversation, answered);
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    deadline.get_or_insert_with(|| Instant::now() + wait);
                    break;
                }
            }
        }
        if pending.is_empty() && deadline.is_some() {
            return Ok(seen);
        }
        if !pending.is_empty() {
            let looked = Instant::now();
            let keys: Vec<&String> = pending.keys().collect();
            let found: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT aggregate_id FROM events \
                 WHERE aggregate_type = 'conversation' AND aggregate_id = ANY($1) \
                   AND event_type = 'OutboundMessageQueued' \
                   AND payload -> 'OutboundMessageQueued' ->> 'origin' = 'outreach'",
            )
            .bind(keys)
            .fetch_all(&pool)
            .await
            .context("Failed to look for the probes' outreach")?;
            for conversation in found {
                if let Some(answered) = pending.remove(&conversation) {
                    seen.insert(conversation, looked.saturating_duration_since(answered));
                }
            }
        }
        if let Some(deadline) = deadline {
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} probes got no outreach within {} s of the last capture",
                pending.len(),
                wait.as_secs()
            );
        }
        tokio::time::sleep(SEEN_POLL).await;
    }
}

/// One run of the timers benchmark.
#[derive(Debug, Clone, Copy)]
struct TimersRun {
    dispatchers: usize,
    /// Import of the leads, and until the projections listed every timer (from the import's
    /// start).
    imported: Duration,
    listed: Duration,
    /// Timers the dispatchers ran (claimed and ran).
    ran: usize,
    /// Outreach messages queued, and leads they went to.
    queued: i64,
    leads_reached: i64,
    /// Timer steps deferred instead (outside the window, overdue): expected 0.
    deferred: i64,
    dispatch: Duration,
    /// Rows claimed by the raw claimers, and how long they took.
    claimed: usize,
    claiming: Duration,
    batch: i64,
    concurrency: usize,
}

impl TimersRun {
    fn timers_per_second(&self) -> f64 {
        self.queued as f64 / self.dispatch.as_secs_f64().max(f64::EPSILON)
    }

    fn claims_per_second(&self) -> f64 {
        self.claimed as f64 / self.claiming.as_secs_f64().max(f64::EPSILON)
    }
}

/// Runs the dispatcher benchmark (1, then 3 dispatchers, each on a fresh database) and prints
/// the figures.
pub async fn run_timers(settings: Settings, options: TimersBench) -> anyhow::Result<()> {
    let clock = MiddayClock::new();
    let started_at = clock.now();
    let mut runs = Vec::new();
    for dispatchers in DISPATCHERS {
        let settings_for_run = settings.clone();
        let bench = options.clone();
        let run = on_scratch_database(&settings, |url| async move {
            measure_timers(&url, settings_for_run, &bench, clock, dispatchers).await
        })
        .await
        .with_context(|| format!("the run with {dispatchers} dispatchers failed"))?;
        runs.push(run);
    }
    print!("{}", timers_report(&options, &runs, started_at));
    Ok(())
}

fn timers_report(options: &TimersBench, runs: &[TimersRun], clock: DateTime<Utc>) -> String {
    let mut out = String::new();
    let (batch, concurrency) = runs
        .first()
        .map_or((0, 0), |run| (run.batch, run.concurrency));
    let _ = writeln!(
        out,
        "bench timers: {} due outreach timers per run (CSV import into an active SMS workflow, a \
         fresh database per run; server with projections on, workers off; clock at {})",
        options.timers,
        clock.format("%a %Y-%m-%d %H:%M UTC")
    );
    let _ = writeln!(
        out,
        "  dispatchers: in-process, each with its own pool, looping workers::run_once (batch \
         {batch}, {concurrency} timers at once) until nothing is due; counted: outreach \
         OutboundMessageQueued events in the events table, nothing sent (the dispatchers' outbox \
         table is empty, so they claim timers only)"
    );
    let _ = writeln!(
        out,
        "  raw claims: task_queue::claim over a copy of the timers table (same statement, batch \
         {batch}, as many claimers as dispatchers), no work done; claimed rows are deleted from \
         the copy in batches, as the timers projection deletes the timers that ran"
    );
    let _ = writeln!(
        out,
        "  {:>11} {:>9} {:>9} {:>9} {:>10} {:>10} {:>13} {:>9}",
        "dispatchers", "ran", "queued", "deferred", "seconds", "timers/s", "raw claims/s", "ratio"
    );
    for run in runs {
        let _ = writeln!(
            out,
            "  {:>11} {:>9} {:>9} {:>9} {:>10.2} {:>10.0} {:>13.0} {:>9.3}",
            run.dispatchers,
            run.ran,
            run.queued,
            run.deferred,
            run.dispatch.as_secs_f64(),
            run.timers_per_second(),
            run.claims_per_second(),
            run.timers_per_second() / run.claims_per_second().max(f64::EPSILON)
        );
    }
    for run in runs {
        let _ = writeln!(
            out,
            "  setup of the {}-dispatcher run: import {:.1} s, every timer listed {:.1} s after \
             the import started; {} leads got their outreach, {} raw claims in {:.2} s",
            run.dispatchers,
            run.imported.as_secs_f64(),
            run.listed.as_secs_f64(),
            run.leads_reached,
            run.claimed,
            run.claiming.as_secs_f64()
        );
    }
    if let [one, .., many] = runs {
        let _ = writeln!(
            out,
            "  {} dispatchers vs 1: {:.2}x the timers/s; raw claims {:.2}x",
            many.dispatchers,
            many.timers_per_second() / one.timers_per_second().max(f64::EPSILON),
            many.claims_per_second() / one.claims_per_second().max(f64::EPSILON)
        );
    }
    out
}

async fn measure_timers(
    url: &str,
    settings: Settings,
    options: &TimersBench,
    clock: MiddayClock,
    dispatchers: usize,
) -> anyhow::Result<TimersRun> {
    let server = Server::start(
        url,
        settings.clone(),
        Arc::new(clock),
        false,
        TIMERS_SERVER_POOL,
    )
    .await?;
    let measured = timers_phase(&server, url, settings, options, clock, dispatchers).await;
    let stopped = server.stop().await;
    let run = measured?;
    stopped?;
    Ok(run)
}

async fn timers_phase(
    server: &Server,
    url: &str,
    settings: Settings,
    options: &TimersBench,
    clock: MiddayClock,
    dispatchers: usize,
) -> anyhow::Result<TimersRun> {
    let pool = &server.pool;
    let workflow = server.active_workflow().await?;
    wait_for_projections(pool, SETUP_WAIT).await?;
    let started = Instant::now();
    let created = import(
        &server.client,
        &server.import_url(&workflow),
        &server.key,
        leads_csv(0..options.timers),
    )
    .await?;
    let imported = started.elapsed();
    anyhow::ensure!(
        created == options.timers as u64,
        "the import created {created} leads of {}",
        options.timers
    );
    let wait = Duration::from_secs(options.wait_seconds);
    wait_for_timers(pool, options.timers, &clock, wait).await?;
    wait_for_projections(pool, wait).await?;
    let listed = started.elapsed();
    prepare_tables(pool).await?;

    let mut instances = Vec::with_capacity(dispatchers);
    for _ in 0..dispatchers {
        let own = infrastructure::db::connect(url, DISPATCHER_POOL).await?;
        let state = AppState::new(own, Arc::new(clock), settings.clone())?;
        let mut messaging = state.messaging.clone();
        messaging.settings.tasks_table = NO_TASKS.to_string();
        // The benchmark measures dispatching, not the re-planning of far overdue timers.
        messaging.settings.overdue_grace = chrono::Duration::days(1);
        instances.push(messaging);
    }
    let (batch, concurrency, lease) =
        instances
            .first()
            .map_or((16, 8, Duration::from_secs(120)), |m| {
                (
                    m.settings.batch_size,
                    m.settings.concurrency,
                    m.settings.lease,
                )
            });
    let started = Instant::now();
    let mut loops = Vec::with_capacity(dispatchers);
    for (n, messaging) in instances.iter().enumerate() {
        let messaging = messaging.clone();
        loops.push(tokio::spawn(async move {
            dispatch_until_idle(&messaging, &format!("bench-dispatcher-{n}")).await
        }));
    }
    let mut ran = 0;
    for one in loops {
        ran += one.await.context("a dispatcher panicked")??;
    }
    let dispatch = started.elapsed();
    for messaging in &instances {
        messaging.executor.pool().close().await;
    }
    let (queued, leads_reached) = outreach_queued(pool).await?;
    let deferred: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'LeadEngagementDeferred'",
    )
    .fetch_one(pool)
    .await
    .context("Failed to count deferrals")?;
    wait_for_projections(pool, wait).await?;
    sqlx::query("DELETE FROM task_leases")
        .execute(pool)
        .await
        .context("Failed to forget the dispatchers' leases")?;
    let (claimed, claiming) = raw_claims(url, dispatchers, batch, lease, clock).await?;
    Ok(TimersRun {
        dispatchers,
        imported,
        listed,
        ran,
        queued,
        leads_reached,
        deferred,
        dispatch,
        claimed,
        claiming,
        batch,
        concurrency,
    })
}

/// Worker rounds until one finds nothing due; how many timers this dispatcher ran.
async fn dispatch_until_idle(messaging: &Messaging, holder: &str) -> anyhow::Result<usize> {
    let mut ran = 0;
    loop {
        let count = workers::run_once(messaging, holder).await?;
        if count == 0 {
            return Ok(ran);
        }
        ran += count;
    }
}

/// The raw claim baseline: `claimers` loops of `task_queue::claim` over [`CLAIM_COPY`] until it
/// is all claimed; rows claimed and how long it took. Claimed rows are deleted from the copy
/// off the claimers' path, in batches, as the timers projection deletes the timers that ran:
/// rows left in place would have every later claim step over them (see [`remove_claimed`]).
async fn raw_claims(
    url: &str,
    claimers: usize,
    batch: i64,
    lease: Duration,
    clock: MiddayClock,
) -> anyhow::Result<(usize, Duration)> {
    let pool = infrastructure::db::connect(url, u32::try_from(claimers).unwrap_or(1) + 2).await?;
    let (claimed_tx, claimed_rx) = mpsc::unbounded_channel::<Vec<String>>();
    let remover = tokio::spawn(remove_claimed(pool.clone(), claimed_rx));
    let started = Instant::now();
    let mut loops = Vec::with_capacity(claimers);
    for n in 0..claimers {
        let pool = pool.clone();
        let claimed_tx = claimed_tx.clone();
        loops.push(tokio::spawn(async move {
            let holder = format!("bench-claimer-{n}");
            let mut claimed = 0;
            loop {
                let rows = task_queue::claim(&pool, CLAIM_COPY, &holder, clock.now(), lease, batch)
                    .await?;
                if rows.is_empty() {
                    return anyhow::Ok(claimed);
                }
                claimed += rows.len();
                let _ = claimed_tx.send(rows.into_iter().map(|row| row.task_key).collect());
            }
        }));
    }
    drop(claimed_tx);
    let mut claimed = 0;
    for one in loops {
        claimed += one.await.context("a claimer panicked")??;
    }
    let took = started.elapsed();
    remover.await.context("the remover panicked")??;
    pool.close().await;
    Ok((claimed, took))
}

/// Deletes the claimed rows from [`CLAIM_COPY`], all that were claimed since the last delete in
/// one statement. Without it each claim scans past every row claimed before (they stay due,
/// only leased), and claiming 100,000 rows slows to tens of claims a second.
async fn remove_claimed(
    pool: PgPool,
    mut claimed: mpsc::UnboundedReceiver<Vec<String>>,
) -> anyhow::Result<()> {
    while let Some(mut keys) = claimed.recv().await {
        while let Ok(more) = claimed.try_recv() {
            keys.extend(more);
        }
        sqlx::query(&format!(
            "DELETE FROM {CLAIM_COPY} WHERE task_key = ANY($1)"
        ))
        .bind(&keys)
        .execute(&pool)
        .await
        .context("Failed to delete claimed rows")?;
    }
    Ok(())
}

/// Copies the timers table for the raw claims (keys prefixed, so their leases are their own)
/// and creates the dispatchers' empty outbox.
async fn prepare_tables(pool: &PgPool) -> anyhow::Result<()> {
    let timers = projections::timers::live_table();
    let tasks = projections::tasks::live_table();
    for statement in [
        format!("CREATE TABLE {CLAIM_COPY} (LIKE {timers} INCLUDING ALL)"),
        format!(
            "INSERT INTO {CLAIM_COPY} (task_key, tenant_id, kind, lead_id, workflow_id, \
               conversation_id, message_id, due_at, attempt, revision, priority) \
             SELECT 'raw:' || task_key, tenant_id, kind, lead_id, workflow_id, conversation_id, \
               message_id, due_at, attempt, revision, priority FROM {timers}"
        ),
        format!("ANALYZE {CLAIM_COPY}"),
        format!("CREATE TABLE {NO_TASKS} (LIKE {tasks} INCLUDING ALL)"),
        format!("ANALYZE {timers}"),
    ] {
        sqlx::query(&statement)
            .execute(pool)
            .await
            .with_context(|| format!("Failed to prepare the tables: {statement}"))?;
    }
    Ok(())
}

/// Waits until the timers projection lists `count` outreach timers due now.
async fn wait_for_timers(
    pool: &PgPool,
    count: usize,
    clock: &MiddayClock,
    wait: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + wait;
    let table = projections::timers::live_table();
    loop {
        let listed: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {table} WHERE kind = 'outreach' AND due_at <= $1"
        ))
        .bind(clock.now())
        .fetch_one(pool)
        .await
        .context("Failed to count the timers")?;
        if listed >= i64::try_from(count).unwrap_or(i64::MAX) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the timers projection listed {listed} of {count} timers within {} s",
            wait.as_secs()
        );
        tokio::time::sleep(WAIT_POLL).await;
    }
}

/// `(outreach messages queued, leads they went to)`, from the events table.
async fn outreach_queued(pool: &PgPool) -> anyhow::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT count(*), count(DISTINCT aggregate_id) FROM events \
         WHERE aggregate_type = 'conversation' AND event_type = 'OutboundMessageQueued' \
           AND payload -> 'OutboundMessageQueued' ->> 'origin' = 'outreach'",
    )
    .fetch_one(pool)
    .await
    .context("Failed to count the outreach messages")
}

/// Outreach messages queued so far, and the time from the first to the last (their events'
/// `recorded_at`).
async fn outreach_span(pool: &PgPool) -> anyhow::Result<(i64, Duration)> {
    let (count, seconds): (i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*), extract(epoch FROM max(recorded_at) - min(recorded_at))::float8 \
         FROM events \
         WHERE aggregate_type = 'conversation' AND event_type = 'OutboundMessageQueued' \
           AND payload -> 'OutboundMessageQueued' ->> 'origin' = 'outreach'",
    )
    .fetch_one(pool)
    .await
    .context("Failed to read the outreach messages' times")?;
    Ok((
        count,
        Duration::from_secs_f64(seconds.unwrap_or_default().max(0.0)),
    ))
}

/// Waits until every projection has applied every event.
async fn wait_for_projections(pool: &PgPool, wait: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        let statuses = projections::status::all(pool).await?;
        if statuses.iter().all(|s| s.lag_events == 0) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the projections did not catch up within {} s",
            wait.as_secs()
        );
        tokio::time::sleep(WAIT_POLL).await;
    }
}

/// The UK mobile of lead number `i` (the numbering `bench import` uses).
fn lead_phone(i: usize) -> String {
    format!("+4474{:02}{:06}", i / 1_000_000, i % 1_000_000)
}

/// A CSV file of the leads numbered `range`.
fn leads_csv(range: std::ops::Range<usize>) -> String {
    let mut csv = String::with_capacity(range.len() * 40 + 32);
    csv.push_str("first_name,last_name,phone\n");
    for i in range {
        let _ = writeln!(csv, "Lead{i},Bench,{}", lead_phone(i));
    }
    csv
}

/// Imports `csv` through `POST /api/v1/leads/import` (the URL carries the options); the leads
/// created.
async fn import(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    csv: String,
) -> anyhow::Result<u64> {
    let report = checked_json(
        client
            .post(url)
            .bearer_auth(key)
            .header(reqwest::header::CONTENT_TYPE, "text/csv")
            .body(csv),
        "importing the leads",
    )
    .await?;
    report["created"]
        .as_u64()
        .context("the import report has no created count")
}

/// The server started in-process on a scratch database, with one tenant.
struct Server {
    pool: PgPool,
    running: Running,
    base: String,
    client: reqwest::Client,
    key: String,
}

impl Server {
    /// Migrates, starts the server on `clock` (projections on; workers as `workers` says) with
    /// a pool of `connections`, and creates a London tenant whose business hours and quiet hours
    /// are as wide as they go (every day 00:00–23:59).
    async fn start(
        url: &str,
        settings: Settings,
        clock: Arc<dyn Clock>,
        workers: bool,
        connections: u32,
    ) -> anyhow::Result<Self> {
        let pool = infrastructure::db::connect(url, connections).await?;
        infrastructure::db::migrate(&pool).await?;
        let admin = format!("bench-{}", uuid::Uuid::new_v4().simple());
        let server_settings = Settings {
            database_url: Some(url.to_string()),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_token: Some(admin.clone()),
            run_projections: true,
            run_workers: workers,
            ..settings
        };
        let running = crate::server::start(pool.clone(), clock, server_settings).await?;
        let base = format!("http://{}", running.addr);
        let client = reqwest::Client::new();
        let all_day = json!({"start": "00:00", "end": "23:59"});
        let business_hours: serde_json::Map<String, Value> = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ]
        .into_iter()
        .map(|day| (day.to_string(), all_day.clone()))
        .collect();
        let created = checked_json(
            client
                .post(format!("{base}/api/v1/tenants"))
                .bearer_auth(&admin)
                .json(&json!({
                    "name": "Automation bench",
                    "timezone": "Europe/London",
                    "default_country": "GB",
                    "business_hours": business_hours,
                    "quiet_hours": all_day,
                })),
            "creating the tenant",
        )
        .await?;
        let key = created["api_key"]
            .as_str()
            .context("tenant creation returned no api_key")?
            .to_string();
        Ok(Self {
            pool,
            running,
            base,
            client,
            key,
        })
    }

    /// Stops the server and closes the pool.
    async fn stop(self) -> anyhow::Result<()> {
        let stopped = self.running.stop().await;
        self.pool.close().await;
        stopped
    }

    /// An active SMS workflow whose outreach is its only message; returns its id.
    async fn active_workflow(&self) -> anyhow::Result<String> {
        let created = checked_json(
            self.client
                .post(format!("{}/api/v1/workflows", self.base))
                .bearer_auth(&self.key)
                .json(&json!({
                    "name": "Outreach bench",
                    "channel": "sms",
                    "initial_message": INITIAL_MESSAGE,
                    "follow_up_count": 0,
                })),
            "creating the workflow",
        )
        .await?;
        let id = created["id"]
            .as_str()
            .context("workflow creation returned no id")?
            .to_string();
        checked_json(
            self.client
                .post(format!("{}/api/v1/workflows/{id}/activate", self.base))
                .bearer_auth(&self.key)
                .json(&json!({})),
            "activating the workflow",
        )
        .await?;
        Ok(id)
    }

    /// The import URL for a fresh import into `workflow`.
    fn import_url(&self, workflow: &str) -> String {
        format!(
            "{}/api/v1/leads/import?workflow_id={workflow}&import_id=bench-{}",
            self.base,
            uuid::Uuid::new_v4().simple()
        )
    }
}

/// Sends `request`; its JSON answer when it is a success, else an error naming `what`.
async fn checked_json(request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
    let response = request
        .send()
        .await
        .with_context(|| format!("{what}: no answer"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .with_context(|| format!("{what}: the answer broke off"))?;
    anyhow::ensure!(status.is_success(), "{what} answered {status}: {text}");
    serde_json::from_str(&text).with_context(|| format!("{what} answered no JSON: {text}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_reads_a_wednesday_midday_and_runs() {
        let clock = MiddayClock::new();
        let now = clock.now();
        assert_eq!(now.weekday(), Weekday::Wed);
        assert_eq!(now.format("%H:%M").to_string(), "12:00");
        assert!(clock.offset >= chrono::Duration::zero());
        assert!(clock.offset < chrono::Duration::days(7));
    }

    #[test]
    fn the_spread_picks_nearest_ranks() {
        let ms = Duration::from_millis;
        let spread = Spread::of((1..=100).rev().map(ms).collect());
        assert_eq!(
            (spread.count, spread.p50, spread.p99, spread.max),
            (100, ms(51), ms(99), ms(100))
        );
        let empty = Spread::of(Vec::new());
        assert_eq!((empty.count, empty.max), (0, Duration::ZERO));
    }

    #[test]
    fn the_csv_has_distinct_valid_phones() {
        let csv = leads_csv(999_998..1_000_001);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "first_name,last_name,phone");
        assert_eq!(lines[1], "Lead999998,Bench,+447400999998");
        assert_eq!(lines[3], "Lead1000000,Bench,+447401000000");
        for line in &lines[1..] {
            let phone = line.rsplit(',').next().unwrap();
            domain::values::PhoneNumber::parse_e164(phone).unwrap();
        }
    }
}
