//! `bookerbot bench availability` and `bookerbot bench booking`: the appointment paths under
//! load, against the real server started in-process on a fresh database (projections as
//! configured, workers off), with a tenant in London created over the API and workflows whose
//! appointments can be booked Monday to Friday, 09:00–17:00 local time.
//!
//! - `availability`: a month's free slots on an empty calendar and on one of `--appointments`
//!   live appointments, every answer checked against an independent count.
//! - `booking`: `--clients` clients racing for the slots of one hour at a time through
//!   `POST /api/v1/appointments`, then the same race as raw reservation inserts, with the checks
//!   that nothing was booked twice.
//!
//! They print figures and fail only when an answer is wrong. `availability --appointments 100
//! --requests 20` and `booking --seconds 2 --clients 8` are the smoke modes CI runs; the full
//! runs and their figures are in `docs/performance.md`.
//!
//! # Layout
//! - [`availability`]: the availability benchmark and the independent count of free slots.
//! - [`race`]: clients racing for the slots of one hour, whatever books them.
//! - [`booking`]: the race over HTTP and over raw SQL, and the checks after it.
//! - here: the server with its tenant, shared by both.

mod availability;
mod booking;
mod race;

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use application::SystemClock;
use chrono::{DateTime, Duration, Utc};
use domain::values::{LeadId, TenantId, Timezone};
use domain::CalendarRef;
use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::server::Running;
use crate::settings::Settings;
use crate::state::AppState;

pub use availability::{run_availability, AvailabilityBench};
pub use booking::{run_booking, BookingBench};

/// The tenant's time zone.
const ZONE: &str = "Europe/London";
/// Opening and closing hour, local time, Monday to Friday.
const OPENING_HOUR: u32 = 9;
const CLOSING_HOUR: u32 = 17;
/// Concurrent requests while setting up (leads, appointments).
const SETUP_CLIENTS: usize = 8;
/// How long the projections may take to catch up with the setup.
const SETUP_WAIT: StdDuration = StdDuration::from_secs(120);
/// How often a wait looks again.
const WAIT_POLL: StdDuration = StdDuration::from_millis(100);
/// A span of time, start included, end excluded.
type Slot = (DateTime<Utc>, DateTime<Utc>);

/// The tenant's reservations in the built-in calendar, soonest first.
async fn reservations(pool: &PgPool, tenant: Uuid) -> anyhow::Result<Vec<Slot>> {
    sqlx::query_as(
        "SELECT lower(during), upper(during) FROM appointment_reservations \
         WHERE tenant_id = $1 AND calendar = $2 ORDER BY lower(during)",
    )
    .bind(tenant)
    .bind(CalendarRef::BUILTIN)
    .fetch_all(pool)
    .await
    .context("Failed to read the reservations")
}

/// The tenant's zone, [`ZONE`].
fn zone() -> anyhow::Result<Timezone> {
    Timezone::parse(ZONE).with_context(|| format!("{ZONE} is not a known time zone"))
}

/// Milliseconds, for printing.
fn ms(duration: StdDuration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// The server started in-process on a scratch database, with one tenant in [`ZONE`].
struct Bench {
    pool: PgPool,
    running: Running,
    base: String,
    client: reqwest::Client,
    key: String,
    tenant: TenantId,
    zone: Timezone,
    /// The server's state wired again on the same pool, for use cases called directly.
    state: AppState,
    run_projections: bool,
}

impl Bench {
    /// Migrates, starts the server on the system clock with a pool of `connections` and its
    /// workers off (nothing is sent; reminders would only add noise), and creates the tenant
    /// over the API.
    async fn start(url: &str, settings: Settings, connections: u32) -> anyhow::Result<Self> {
        let pool = infrastructure::db::connect(url, connections).await?;
        infrastructure::db::migrate(&pool).await?;
        let admin = format!("bench-{}", Uuid::new_v4().simple());
        let run_projections = settings.run_projections;
        let server_settings = Settings {
            database_url: Some(url.to_string()),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_token: Some(admin.clone()),
            max_connections: connections,
            run_workers: false,
            ..settings
        };
        let state = AppState::new(pool.clone(), Arc::new(SystemClock), server_settings.clone())?;
        let running =
            crate::server::start(pool.clone(), Arc::new(SystemClock), server_settings).await?;
        let base = format!("http://{}", running.addr);
        let client = reqwest::Client::new();
        let created = checked_json(
            client
                .post(format!("{base}/api/v1/tenants"))
                .bearer_auth(&admin)
                .json(&json!({"name": "Appointments bench", "timezone": ZONE})),
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
            .context("tenant creation returned a malformed id")?;
        Ok(Self {
            pool,
            running,
            base,
            client,
            key,
            tenant,
            zone: zone()?,
            state,
            run_projections,
        })
    }

    /// Stops the server and closes the pool.
    async fn stop(self) -> anyhow::Result<()> {
        let stopped = self.running.stop().await;
        self.pool.close().await;
        stopped
    }

    /// A draft SMS workflow of `length` appointments, open Monday to Friday; returns its id.
    async fn workflow(&self, name: &str, length: Duration) -> anyhow::Result<String> {
        let open = json!({
            "start": format!("{OPENING_HOUR:02}:00"),
            "end": format!("{CLOSING_HOUR:02}:00"),
        });
        let created = checked_json(
            self.client
                .post(format!("{}/api/v1/workflows", self.base))
                .bearer_auth(&self.key)
                .json(&json!({
                    "name": name,
                    "channel": "sms",
                    "initial_message": "Hi {first_name}, would you like to book a visit?",
                    "appointment_duration_minutes": length.num_minutes(),
                    "business_hours": {
                        "monday": open, "tuesday": open, "wednesday": open,
                        "thursday": open, "friday": open,
                    },
                })),
            "creating the workflow",
        )
        .await?;
        Ok(created["id"]
            .as_str()
            .context("workflow creation returned no id")?
            .to_string())
    }

    /// Captures `count` leads over the API (a few at a time); their ids, in order.
    async fn leads(&self, count: usize) -> anyhow::Result<Vec<LeadId>> {
        futures::stream::iter(0..count)
            .map(|n| {
                let request = self
                    .client
                    .post(format!("{}/api/v1/leads", self.base))
                    .bearer_auth(&self.key)
                    .json(
                        &json!({"first_name": "Bench", "email": format!("lead-{n}@bench.example")}),
                    );
                async move {
                    let captured = checked_json(request, "capturing a lead").await?;
                    captured["id"]
                        .as_str()
                        .context("the capture returned no id")?
                        .parse::<LeadId>()
                        .context("the capture returned a malformed id")
                }
            })
            .buffered(SETUP_CLIENTS)
            .try_collect()
            .await
    }

    /// Waits until the projections (when this server runs them) have applied the setup, so
    /// they do not compete with the measurement.
    async fn settle(&self) -> anyhow::Result<()> {
        if !self.run_projections {
            return Ok(());
        }
        let deadline = Instant::now() + SETUP_WAIT;
        loop {
            let statuses = projections::status::all(&self.pool).await?;
            if statuses.iter().all(|s| s.lag_events == 0) {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the projections did not catch up within {} s",
                SETUP_WAIT.as_secs()
            );
            tokio::time::sleep(WAIT_POLL).await;
        }
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
