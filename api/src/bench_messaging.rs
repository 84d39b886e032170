//! `bookerbot bench webhooks` and `bookerbot bench replies`: the messaging paths under load, each
//! beside the raw insert rate of the `events` table measured in the same run (single-row insert
//! and commit from concurrent clients, the floor under any write path).
//!
//! - `webhooks`: clients POST signed Twilio inbound webhooks for a tenant with Twilio configured;
//!   each is verified, parsed and recorded. Workers are off: only ingestion is measured.
//! - `replies`: leads of an active workflow with qualification questions each send one sandbox
//!   inbound at a steady pace; measured is the time from the request's start until the rules
//!   engine's reply is queued (the `OutboundMessageQueued` event with origin `ai`, by its
//!   `recorded_at`, on the database's clock).
//!
//! They print figures and assert nothing on time. `webhooks --seconds 2 --clients 4 --numbers 200`
//! and `replies --leads 20 --clients 4 --raw-seconds 1` are the smoke modes CI runs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use application::SystemClock;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use infrastructure::channels::twilio_signature;
use infrastructure::secrets::SecretBox;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::bench::{on_scratch_database, run_clients, Figures};
use crate::server::Running;
use crate::settings::Settings;

/// Options of the inbound webhook benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct WebhooksBench {
    /// Concurrent clients (webhooks, then raw inserts).
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Seconds each half of the benchmark runs.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Distinct lead numbers the messages come from (a number's first message creates its lead).
    #[arg(long, default_value_t = 1_000)]
    pub numbers: usize,
}

/// Options of the AI reply latency benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct RepliesBench {
    /// Leads; each sends one inbound message.
    #[arg(long, default_value_t = 500)]
    pub leads: usize,
    /// Inbound messages per second, at a steady pace.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Concurrent clients of the raw insert baseline.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Seconds the raw insert baseline runs.
    #[arg(long, default_value_t = 5)]
    pub raw_seconds: u64,
    /// How long to wait for the replies once the last inbound was sent, in seconds.
    #[arg(long, default_value_t = 60)]
    pub wait_seconds: u64,
}

/// Where the providers' APIs are said to be: a closed local port, so nothing real is called.
const NOWHERE: &str = "http://127.0.0.1:9";
/// The tenant's own Twilio number, the `To` of every inbound webhook.
const OUR_NUMBER: &str = "+447400999000";
/// What the leads write: no keyword, so it is a message for the AI.
const LEAD_TEXT: &str = "Hi, is there anything free on Thursday afternoon?";
/// Leads captured at once while setting up.
const SETUP_CONCURRENCY: usize = 8;
/// How often the events table is asked for replies while waiting.
const REPLY_POLL: Duration = Duration::from_millis(100);

/// Runs the webhook benchmark on a fresh database and prints the figures.
pub async fn run_webhooks(settings: Settings, options: WebhooksBench) -> anyhow::Result<()> {
    let bench = options.clone();
    let (webhooks, raw) = on_scratch_database(&settings.clone(), |url| async move {
        measure_webhooks(&url, settings, &bench).await
    })
    .await?;
    println!(
        "bench webhooks: {} clients, {} s each, messages from {} lead numbers",
        options.clients, options.seconds, options.numbers
    );
    println!("  Twilio inbound webhooks (signed, verified, recorded): {webhooks}");
    println!("  raw SQL (insert one event, commit):                   {raw}");
    println!(
        "  ratio webhooks/raw inserts: {:.2}",
        webhooks.per_second / raw.per_second.max(f64::EPSILON)
    );
    Ok(())
}

/// Runs the reply latency benchmark on a fresh database and prints the figures.
pub async fn run_replies(settings: Settings, options: RepliesBench) -> anyhow::Result<()> {
    let bench = options.clone();
    let measured = on_scratch_database(&settings.clone(), |url| async move {
        measure_replies(&url, settings, &bench).await
    })
    .await?;
    println!(
        "bench replies: {} leads, one sandbox inbound each at {:.1}/s (rules engine, workers on); \
         raw inserts: {} clients, {} s",
        options.leads, options.rate, options.clients, options.raw_seconds
    );
    println!("  sandbox inbound request:            {}", measured.inbound);
    println!("  inbound -> AI reply queued:         {}", measured.reply);
    println!("  raw SQL (insert one event, commit): {}", measured.raw);
    Ok(())
}

/// The figures of the replies benchmark.
struct RepliesMeasured {
    /// The sandbox inbound requests themselves.
    inbound: Figures,
    /// From each request's start until its reply was queued.
    reply: Figures,
    /// The raw insert baseline.
    raw: Figures,
}

async fn measure_webhooks(
    url: &str,
    settings: Settings,
    options: &WebhooksBench,
) -> anyhow::Result<(Figures, Figures)> {
    let connections = (options.clients as u32 + 8).max(16);
    let instance = Instance::start(url, settings, connections, false).await?;
    let duration = Duration::from_secs(options.seconds);
    let webhooks = webhook_phase(&instance, options, duration).await;
    let raw = instance.stop_then_raw(options.clients, duration).await;
    Ok((webhooks?, raw?))
}

/// Configures Twilio for the tenant, then posts inbound webhooks from concurrent clients and
/// checks that each answered one was recorded.
async fn webhook_phase(
    instance: &Instance,
    options: &WebhooksBench,
    duration: Duration,
) -> anyhow::Result<Figures> {
    let account_sid = format!("AC{}", Uuid::new_v4().simple());
    let auth_token = Uuid::new_v4().simple().to_string();
    checked(
        instance
            .client
            .patch(format!(
                "{}/api/v1/tenants/{}",
                instance.base, instance.tenant
            ))
            .bearer_auth(&instance.admin)
            .json(&json!({"channels": {"twilio": {
                "account_sid": account_sid,
                "auth_token": auth_token,
                "from_number": OUR_NUMBER,
            }}})),
        "configuring Twilio",
    )
    .await?;
    let target = Arc::new(WebhookTarget {
        client: instance.client.clone(),
        url: format!(
            "{}/webhooks/twilio/{}/inbound",
            instance.base, instance.tenant
        ),
        account_sid,
        auth_token,
        numbers: options.numbers.max(1),
        clients: options.clients.max(1),
    });
    let webhooks = run_clients(options.clients, duration, move |worker, n| {
        let target = target.clone();
        async move { target.post(worker, n).await }
    })
    .await?;
    let recorded = inbound_messages(&instance.pool, instance.tenant).await?;
    anyhow::ensure!(
        recorded == webhooks.operations,
        "{} webhooks were answered but {recorded} inbound messages were recorded",
        webhooks.operations
    );
    Ok(webhooks)
}

async fn measure_replies(
    url: &str,
    settings: Settings,
    options: &RepliesBench,
) -> anyhow::Result<RepliesMeasured> {
    let connections = (options.clients as u32 + 8).max(24);
    let instance = Instance::start(url, settings, connections, true).await?;
    let replies = reply_phase(&instance, options).await;
    let raw = instance
        .stop_then_raw(options.clients, Duration::from_secs(options.raw_seconds))
        .await;
    let (inbound, reply) = replies?;
    Ok(RepliesMeasured {
        inbound,
        reply,
        raw: raw?,
    })
}

/// Leads of an active workflow each send one sandbox inbound at a steady pace; the figures of
/// the requests, and of the time until each reply was queued.
async fn reply_phase(
    instance: &Instance,
    options: &RepliesBench,
) -> anyhow::Result<(Figures, Figures)> {
    let workflow = instance.active_workflow().await?;
    let leads = instance.capture_leads(&workflow, options.leads).await?;
    wait_for_projections(&instance.pool).await?;
    let offset = database_clock_offset(&instance.pool).await?;
    let sent = send_paced(instance, &leads, options.rate, offset).await?;
    let replies = wait_for_replies(
        &instance.pool,
        instance.tenant,
        leads.len(),
        Duration::from_secs(options.wait_seconds),
    )
    .await?;
    let mut latencies = Vec::with_capacity(sent.len());
    for inbound in &sent {
        let replied = replies
            .get(&format!("{}:sms", inbound.lead))
            .with_context(|| format!("lead {} got no AI reply", inbound.lead))?;
        latencies.push((*replied - inbound.started).to_std().unwrap_or_default());
    }
    let first_start = sent.iter().map(|s| s.started).min();
    let last_reply = replies.values().max().copied();
    let span = match (first_start, last_reply) {
        (Some(first), Some(last)) => (last - first).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    Ok((
        Figures::from_latencies(sent.iter().map(|s| s.request).collect(), span),
        Figures::from_latencies(latencies, span),
    ))
}

/// The server started in-process on a scratch database, with one tenant.
struct Instance {
    pool: PgPool,
    running: Running,
    base: String,
    client: reqwest::Client,
    admin: String,
    tenant: Uuid,
    key: String,
}

impl Instance {
    /// Migrates, starts the server (its `public_url` is its own address, so webhook signatures
    /// are checked against the URL the clients call; providers' APIs point nowhere) and creates
    /// a tenant. With `workers`, the workers run, and the projections that feed them; without,
    /// the projections run as `settings` say.
    async fn start(
        url: &str,
        settings: Settings,
        connections: u32,
        workers: bool,
    ) -> anyhow::Result<Self> {
        let pool = infrastructure::db::connect(url, connections).await?;
        infrastructure::db::migrate(&pool).await?;
        let listen = free_local_address()?;
        let admin = format!("bench-{}", Uuid::new_v4().simple());
        let secrets_key = settings.secrets_key.clone().unwrap_or_else(random_key);
        let server_settings = Settings {
            database_url: Some(url.to_string()),
            listen,
            admin_token: Some(admin.clone()),
            max_connections: connections,
            secrets_key: Some(secrets_key),
            public_url: Some(format!("http://{listen}")),
            twilio_api_base: NOWHERE.to_string(),
            whatsapp_api_base: NOWHERE.to_string(),
            run_projections: settings.run_projections || workers,
            run_workers: workers,
            ..settings
        };
        let running =
            crate::server::start(pool.clone(), Arc::new(SystemClock), server_settings).await?;
        let base = format!("http://{}", running.addr);
        let client = infrastructure::http_client::provider_client(Duration::from_secs(60))?;
        let created = checked_json(
            client
                .post(format!("{base}/api/v1/tenants"))
                .bearer_auth(&admin)
                .json(&json!({"name": "Messaging bench"})),
            "creating the tenant",
        )
        .await?;
        let key = created["api_key"]
            .as_str()
            .context("tenant creation returned no api_key")?
            .to_string();
        let tenant = created["tenant"]["id"]
            .as_str()
            .context("tenant creation returned no id")?
            .parse()
            .context("tenant creation returned a bad id")?;
        Ok(Self {
            pool,
            running,
            base,
            client,
            admin,
            tenant,
            key,
        })
    }

    /// Stops the server (whatever the measurement before did), then measures the raw insert
    /// baseline on the same database and closes the pool.
    async fn stop_then_raw(self, clients: usize, duration: Duration) -> anyhow::Result<Figures> {
        self.running.stop().await?;
        let raw = raw_insert_rate(&self.pool, self.tenant, clients, duration).await;
        self.pool.close().await;
        raw
    }

    /// An active SMS workflow with two qualification questions; returns its id.
    async fn active_workflow(&self) -> anyhow::Result<String> {
        let created = checked_json(
                self.client
                    .post(format!("{}/api/v1/workflows", self.base))
                    .bearer_auth(&self.key)
                    .json(&json!({
                        "name": "Reply bench",
                        "channel": "sms",
                        "initial_message": "Hi {first_name}, this is {brand_name}. Want to book a visit?",
                        "qualification_questions": [
                            {"key": "budget", "question": "What is your budget?",
                             "qualifying_answers": ["over 500"]},
                            {"key": "timing", "question": "When would you like to start?",
                             "qualifying_answers": ["this month"]}
                        ],
                    })),
                "creating the workflow",
            )
            .await?;
        let id = created["id"]
            .as_str()
            .context("workflow creation returned no id")?
            .to_string();
        checked(
            self.client
                .post(format!("{}/api/v1/workflows/{id}/activate", self.base))
                .bearer_auth(&self.key)
                .json(&json!({})),
            "activating the workflow",
        )
        .await?;
        Ok(id)
    }

    /// Captures `count` leads with distinct phones in `workflow`; returns their ids in order.
    async fn capture_leads(&self, workflow: &str, count: usize) -> anyhow::Result<Vec<String>> {
        futures::stream::iter(0..count)
            .map(|i| async move {
                let captured = checked_json(
                    self.client
                        .post(format!("{}/api/v1/leads", self.base))
                        .bearer_auth(&self.key)
                        .json(&json!({
                            "first_name": "Bench",
                            "phone": lead_number(i),
                            "workflow_id": workflow,
                        })),
                    "capturing a lead",
                )
                .await?;
                captured["id"]
                    .as_str()
                    .map(str::to_string)
                    .context("capture returned no id")
            })
            .buffered(SETUP_CONCURRENCY)
            .try_collect()
            .await
    }
}

/// Sends `request`; its body when the answer is a success, else an error naming `what`.
async fn checked(request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<String> {
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
    Ok(text)
}

/// [`checked`], the answer read as JSON.
async fn checked_json(request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
    let text = checked(request, what).await?;
    serde_json::from_str(&text).with_context(|| format!("{what} answered no JSON: {text}"))
}

/// Where Twilio POSTs a tenant's inbound messages, and what it signs them with.
struct WebhookTarget {
    client: reqwest::Client,
    /// The URL called, which is also the URL signed (`public_url` + path).
    url: String,
    account_sid: String,
    auth_token: String,
    numbers: usize,
    clients: usize,
}

impl WebhookTarget {
    /// One inbound SMS as Twilio sends it, from the next lead number in turn; its latency.
    async fn post(&self, worker: usize, n: usize) -> anyhow::Result<Vec<Duration>> {
        let sid = format!("SM{}", Uuid::new_v4().simple());
        let from = lead_number((worker + n * self.clients) % self.numbers);
        let params: Vec<(String, String)> = [
            ("MessageSid", sid.as_str()),
            ("SmsMessageSid", sid.as_str()),
            ("SmsSid", sid.as_str()),
            ("AccountSid", self.account_sid.as_str()),
            ("From", from.as_str()),
            ("To", OUR_NUMBER),
            ("Body", LEAD_TEXT),
            ("NumMedia", "0"),
            ("NumSegments", "1"),
            ("SmsStatus", "received"),
            ("ApiVersion", "2010-04-01"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
        let signature = twilio_signature(&self.auth_token, &self.url, &params);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        let started = Instant::now();
        checked(
            self.client
                .post(&self.url)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .header("X-Twilio-Signature", signature)
                .body(body),
            "an inbound webhook",
        )
        .await?;
        Ok(vec![started.elapsed()])
    }
}

/// The E.164 UK mobile of lead `i`.
fn lead_number(i: usize) -> String {
    format!("+447400{:06}", i % 1_000_000)
}

/// An address on the loopback interface nobody listens on right now. The server binds it a
/// moment later; knowing it first lets `public_url` name the server itself.
fn free_local_address() -> anyhow::Result<SocketAddr> {
    let probe = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("Failed to find a free local port")?;
    probe
        .local_addr()
        .context("The probe listener has no address")
}

/// A throwaway key sealing the bench tenant's secrets.
fn random_key() -> SecretBox {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    SecretBox::new(key)
}

/// Inbound messages recorded for `tenant`.
async fn inbound_messages(pool: &PgPool, tenant: Uuid) -> anyhow::Result<usize> {
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE tenant_id = $1 AND aggregate_type = 'conversation' \
         AND event_type = 'InboundMessageReceived'",
    )
    .bind(tenant)
    .fetch_one(pool)
    .await
    .context("Failed to count the inbound messages")?;
    Ok(usize::try_from(count).unwrap_or_default())
}

/// Waits until every projection has applied every event, so setup work does not delay the
/// first measured replies.
async fn wait_for_projections(pool: &PgPool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let statuses = projections::status::all(pool).await?;
        if statuses.iter().all(|s| s.lag_events == 0) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the projections did not catch up with the setup"
        );
        tokio::time::sleep(REPLY_POLL).await;
    }
}

/// How far the database's clock is ahead of ours, from the quickest of a few round trips.
/// Reply times are the database's `recorded_at`; request starts are taken on our clock and
/// moved onto the database's with this.
async fn database_clock_offset(pool: &PgPool) -> anyhow::Result<chrono::Duration> {
    let mut best: Option<(Duration, chrono::Duration)> = None;
    for _ in 0..5 {
        let before = Utc::now();
        let sent = Instant::now();
        let theirs: DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
            .fetch_one(pool)
            .await
            .context("Failed to read the database's clock")?;
        let round_trip = sent.elapsed();
        let ours = before + chrono::Duration::from_std(round_trip / 2)?;
        if best.is_none_or(|(quickest, _)| round_trip < quickest) {
            best = Some((round_trip, theirs - ours));
        }
    }
    best.map(|(_, offset)| offset)
        .context("no clock sample was taken")
}

/// One sandbox inbound sent.
struct Sent {
    lead: String,
    /// When the request started, on the database's clock.
    started: DateTime<Utc>,
    /// How long the request took.
    request: Duration,
}

/// Sends one sandbox inbound per lead, `rate` per second, each on its own task so a slow
/// answer does not hold back the next message.
async fn send_paced(
    instance: &Instance,
    leads: &[String],
    rate: f64,
    offset: chrono::Duration,
) -> anyhow::Result<Vec<Sent>> {
    let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.01)));
    let mut tasks = Vec::with_capacity(leads.len());
    for lead in leads {
        pace.tick().await;
        let request = instance
            .client
            .post(format!(
                "{}/api/v1/sandbox/leads/{lead}/inbound",
                instance.base
            ))
            .bearer_auth(&instance.key)
            .json(&json!({"body": LEAD_TEXT, "channel": "sms"}));
        let lead = lead.clone();
        tasks.push(tokio::spawn(async move {
            let started = Utc::now() + offset;
            let clock = Instant::now();
            checked(request, "a sandbox inbound").await?;
            anyhow::Ok(Sent {
                lead,
                started,
                request: clock.elapsed(),
            })
        }));
    }
    let mut sent = Vec::with_capacity(tasks.len());
    for task in tasks {
        sent.push(task.await.context("a benchmark client panicked")??);
    }
    Ok(sent)
}

/// Waits until `expected` conversations of `tenant` have an AI reply queued (or `wait` has
/// passed); returns when each conversation's first one was recorded.
async fn wait_for_replies(
    pool: &PgPool,
    tenant: Uuid,
    expected: usize,
    wait: Duration,
) -> anyhow::Result<HashMap<String, DateTime<Utc>>> {
    let deadline = Instant::now() + wait;
    loop {
        let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT aggregate_id, min(recorded_at) FROM events \
             WHERE tenant_id = $1 AND aggregate_type = 'conversation' \
               AND event_type = 'OutboundMessageQueued' \
               AND payload -> 'OutboundMessageQueued' ->> 'origin' = 'ai' \
             GROUP BY aggregate_id",
        )
        .bind(tenant)
        .fetch_all(pool)
        .await
        .context("Failed to read the AI replies")?;
        if rows.len() >= expected || Instant::now() >= deadline {
            anyhow::ensure!(
                rows.len() >= expected,
                "only {} of {expected} leads got an AI reply within {} s",
                rows.len(),
                wait.as_secs()
            );
            return Ok(rows.into_iter().collect());
        }
        tokio::time::sleep(REPLY_POLL).await;
    }
}

/// Single-row inserts into `events`, each in its own transaction, from `clients` concurrent
/// clients for `duration`: the floor under any write path, measured on the same database.
pub async fn raw_insert_rate(
    pool: &PgPool,
    tenant: Uuid,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Figures> {
    let pool = pool.clone();
    run_clients(clients, duration, move |worker, n| {
        let pool = pool.clone();
        async move { raw_insert(&pool, tenant, worker, n).await }
    })
    .await
}

/// `BEGIN`, one event the size of an inbound message, `COMMIT`.
async fn raw_insert(
    pool: &PgPool,
    tenant: Uuid,
    worker: usize,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
           payload, metadata) VALUES ('bench', $1, 1, 'Benchmarked', '1', $2::json, $3::json)",
    )
    .bind(format!("raw-{worker}-{n}"))
    .bind(
        json!({"Benchmarked": {"message_id": Uuid::new_v4(), "provider": "twilio",
               "provider_message_id": format!("SM{}", Uuid::new_v4().simple()),
               "body": LEAD_TEXT, "received_at": "2026-01-01T00:00:00Z"}})
        .to_string(),
    )
    .bind(
        json!({"tenant_id": tenant, "actor": "bench", "request_id": "bench",
               "occurred_at": "2026-01-01T00:00:00Z"})
        .to_string(),
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(vec![started.elapsed()])
}
