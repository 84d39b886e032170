//! `bookerbot bench booking`: a workflow of 15-minute appointments (4 slots an hour) and one
//! lead per client; `--clients` clients book through `POST /api/v1/appointments` for
//! `--seconds`, racing for the slots of one open hour at a time ([`super::race`]). Afterwards the
//! 201s must be exactly the `AppointmentBooked` events and the reservations, and no two may
//! overlap. Then, server stopped, the same race over raw SQL on as many connections: `BEGIN`,
//! the reservation insert as a booking writes it (`INSERT … ON CONFLICT DO NOTHING`; no row is a
//! taken slot), `COMMIT`; checked against the table and printed beside the API with the ratio of
//! the rates. Rates count the attempts that ended within `--seconds`; each line also says when
//! the last one ended.
//!
//! A deadlock (40P01) is retried after [`conflict_backoff`], as the command executor retries
//! it, and counted: the API's from `pg_stat_database`, read once its connections have closed.
//! With plain inserts (a 23P01 for a taken slot) two racing inserts of overlapping rows could
//! each wait for the other's uncommitted row, and every waiter behind them stalled until
//! `deadlock_timeout` broke the cycle; docs/performance.md has the figures, before and after.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use domain::values::AppointmentId;
use domain::CalendarRef;
use infrastructure::executor::conflict_backoff;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::race::{race, Attempt, RaceFigures, BOOKING_MINUTES, SLOTS_PER_HOUR};
use super::{reservations, zone, Bench, Slot, CLOSING_HOUR, OPENING_HOUR, ZONE};
use crate::bench::on_scratch_database;
use crate::settings::Settings;

/// Options of the booking contention benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct BookingBench {
    /// Concurrent clients (and raw SQL connections), all racing for the same hour.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Seconds each race runs (the API, then each raw statement).
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
}

/// How long a closed backend may take to publish its statistics.
const STATS_FLUSH: StdDuration = StdDuration::from_secs(1);
/// The reservation, as `infrastructure::appointments` writes it: an overlap inserts nothing.
const RESERVE: &str = "INSERT INTO appointment_reservations \
    (appointment_id, tenant_id, calendar, lead_id, during) \
    VALUES ($1, $2, $3, $4, tstzrange($5, $6, '[)')) ON CONFLICT DO NOTHING";

/// The figures of the booking benchmark.
struct BookingMeasured {
    api: RaceFigures,
    raw: RaceFigures,
    /// PostgreSQL's `deadlock_timeout`.
    timeout: String,
}

/// Runs the booking contention benchmark on a fresh database and prints the figures.
pub async fn run_booking(settings: Settings, options: BookingBench) -> anyhow::Result<()> {
    let bench = options.clone();
    let max_attempts = settings.command_attempts;
    let m = on_scratch_database(&settings.clone(), |url| async move {
        let connections = (bench.clients as u32 + 8).max(16);
        let server = Bench::start(&url, settings, connections).await?;
        let before = deadlocks(&server.pool).await;
        let api = api_race(&server, &bench).await;
        let stopped = server.stop().await;
        let (before, mut api) = (before?, api?);
        stopped?;
        let (raw, after, timeout) = raw_race(&url, &bench, max_attempts).await?;
        api.deadlocks = after - before;
        Ok(BookingMeasured { api, raw, timeout })
    })
    .await?;
    println!(
        "bench booking: {} clients racing for the {SLOTS_PER_HOUR} slots of one open hour at a \
         time ({BOOKING_MINUTES}-minute workflow, Mon-Fri {OPENING_HOUR:02}:00-\
         {CLOSING_HOUR:02}:00 {ZONE}), {} s each; deadlock_timeout {}",
        options.clients, options.seconds, m.timeout
    );
    println!("  API, POST /api/v1/appointments (201 booked, 409 slot_taken):");
    println!("      {}", m.api.line());
    println!(
        "  raw SQL on {} connections, BEGIN + INSERT INTO appointment_reservations … ON CONFLICT \
         DO NOTHING + COMMIT (no row: taken):",
        options.clients
    );
    println!("      {}", m.raw.line());
    println!(
        "  ratio API/raw, in the {} s: booked/s {:.3}, attempts/s {:.3}",
        options.seconds,
        m.api.booked_per_second() / m.raw.booked_per_second().max(f64::EPSILON),
        m.api.attempts_per_second() / m.raw.attempts_per_second().max(f64::EPSILON)
    );
    println!(
        "  checked: {} 201s = {0} AppointmentBooked events = {0} reservations, same starts, no \
         two overlapping; raw: {} inserts = as many rows, no two overlapping",
        m.api.booked.len(),
        m.raw.booked.len()
    );
    Ok(())
}

/// The race through the API, then the checks that it booked exactly what it answered.
async fn api_race(server: &Bench, options: &BookingBench) -> anyhow::Result<RaceFigures> {
    let workflow = server
        .workflow("Booking bench", Duration::minutes(BOOKING_MINUTES))
        .await?;
    let leads: Arc<Vec<String>> = Arc::new(
        server
            .leads(options.clients)
            .await?
            .iter()
            .map(ToString::to_string)
            .collect(),
    );
    server.settle().await?;
    let url = format!("{}/api/v1/appointments", server.base);
    let (client, key) = (server.client.clone(), server.key.clone());
    let figures = race(
        options.clients,
        StdDuration::from_secs(options.seconds),
        server.zone,
        move |worker, start| {
            let request = client.post(&url).bearer_auth(&key).json(&json!({
                "lead_id": leads.get(worker),
                "workflow_id": workflow,
                "start": start.to_rfc3339_opts(SecondsFormat::Secs, true),
            }));
            async move { book_over_http(request, start).await }
        },
    )
    .await?;
    let distinct = {
        let mut starts = figures.starts.clone();
        starts.dedup();
        starts.len()
    };
    anyhow::ensure!(
        distinct == figures.starts.len(),
        "{} bookings answered 201 for {distinct} distinct starts",
        figures.starts.len()
    );
    let events = booked_events(&server.pool, server.tenant.as_uuid()).await?;
    let held = reservations(&server.pool, server.tenant.as_uuid()).await?;
    for (what, slots) in [
        ("AppointmentBooked events", &events),
        ("reservations", &held),
    ] {
        anyhow::ensure!(
            slots.len() == figures.booked.len(),
            "{} {what} for {} bookings answered 201",
            slots.len(),
            figures.booked.len()
        );
        anyhow::ensure!(
            slots
                .iter()
                .map(|slot| slot.0)
                .eq(figures.starts.iter().copied()),
            "the {what} start at other times than the bookings answered 201"
        );
        no_overlap(what, slots)?;
    }
    Ok(figures)
}

/// Books over HTTP: 201 is [`Attempt::Booked`], 409 `slot_taken` [`Attempt::Taken`], 409
/// `concurrent_modification` [`Attempt::GaveUp`], anything else an error.
async fn book_over_http(
    request: reqwest::RequestBuilder,
    start: DateTime<Utc>,
) -> anyhow::Result<Attempt> {
    let response = request.send().await.context("booking: no answer")?;
    let status = response.status();
    let text = response
        .text()
        .await
        .context("booking: the answer broke off")?;
    match status {
        StatusCode::CREATED => Ok(Attempt::Booked),
        StatusCode::CONFLICT => {
            let body: Value = serde_json::from_str(&text).context("a 409 with no JSON")?;
            match body["error"]["code"].as_str() {
                Some("slot_taken") => Ok(Attempt::Taken),
                Some("concurrent_modification") => Ok(Attempt::GaveUp),
                _ => anyhow::bail!("booking {start} answered 409 {text}"),
            }
        }
        _ => anyhow::bail!("booking {start} answered {status}: {text}"),
    }
}

/// The same race as raw reservation inserts, on a tenant of its own and as many connections as
/// clients, checked against the table. Also returns the database's deadlock count from before it
/// (the API's connections have closed by then, so it includes theirs) and `deadlock_timeout`.
async fn raw_race(
    url: &str,
    options: &BookingBench,
    max_attempts: u32,
) -> anyhow::Result<(RaceFigures, i64, String)> {
    let pool = infrastructure::db::connect(url, options.clients.max(1) as u32).await?;
    let raced = raw_race_on(&pool, options, max_attempts).await;
    pool.close().await;
    raced
}

async fn raw_race_on(
    pool: &PgPool,
    options: &BookingBench,
    max_attempts: u32,
) -> anyhow::Result<(RaceFigures, i64, String)> {
    // Backends publish their statistics when they go idle or exit: give the API's a moment.
    tokio::time::sleep(STATS_FLUSH).await;
    let before = deadlocks(pool).await?;
    let timeout: String = sqlx::query_scalar("SHOW deadlock_timeout")
        .fetch_one(pool)
        .await
        .context("Failed to read deadlock_timeout")?;
    let raced = inserts(pool, options, max_attempts).await?;
    Ok((raced, before, timeout))
}

/// The raw race itself, on a fresh tenant.
async fn inserts(
    pool: &PgPool,
    options: &BookingBench,
    max_attempts: u32,
) -> anyhow::Result<RaceFigures> {
    let tenant = Uuid::new_v4();
    let leads: Arc<Vec<Uuid>> = Arc::new((0..options.clients).map(|_| Uuid::new_v4()).collect());
    let broken = Arc::new(AtomicUsize::new(0));
    let duration = StdDuration::from_secs(options.seconds);
    let (inserting, counting) = (pool.clone(), broken.clone());
    let mut figures = race(options.clients, duration, zone()?, move |worker, start| {
        let (pool, deadlocks) = (inserting.clone(), counting.clone());
        let lead = leads.get(worker).copied().unwrap_or_default();
        let reservation = Reservation {
            tenant,
            lead,
            start,
        };
        async move { reservation.insert(&pool, &deadlocks, max_attempts).await }
    })
    .await?;
    figures.deadlocks = i64::try_from(broken.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
    let held = reservations(pool, tenant).await?;
    anyhow::ensure!(
        held.len() == figures.booked.len(),
        "{} raw reservations for {} inserts",
        held.len(),
        figures.booked.len()
    );
    no_overlap("raw reservations", &held)?;
    Ok(figures)
}

/// Deadlocks PostgreSQL has broken in this database so far (its cumulative statistics).
async fn deadlocks(pool: &PgPool) -> anyhow::Result<i64> {
    sqlx::query_scalar("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        .fetch_one(pool)
        .await
        .context("Failed to read the deadlock count")
}

/// One raw booking attempt's reservation.
struct Reservation {
    tenant: Uuid,
    lead: Uuid,
    start: DateTime<Utc>,
}

impl Reservation {
    /// `BEGIN`, the insert, `COMMIT`: [`Attempt::Booked`] when the row went in, else
    /// [`Attempt::Taken`] (rolled back). A deadlock (40P01) is counted in `deadlocks` and the
    /// transaction run again after the executor's backoff, up to `max_attempts` times in all
    /// ([`Attempt::GaveUp`]).
    async fn insert(
        &self,
        pool: &PgPool,
        deadlocks: &AtomicUsize,
        max_attempts: u32,
    ) -> anyhow::Result<Attempt> {
        let mut attempt = 1;
        loop {
            let mut tx = pool.begin().await.context("Failed to begin")?;
            let inserted = sqlx::query(RESERVE)
                .bind(AppointmentId::new().as_uuid())
                .bind(self.tenant)
                .bind(CalendarRef::BUILTIN)
                .bind(self.lead)
                .bind(self.start)
                .bind(self.start + Duration::minutes(BOOKING_MINUTES))
                .execute(&mut *tx)
                .await;
            match inserted {
                Ok(done) if done.rows_affected() > 0 => {
                    tx.commit()
                        .await
                        .context("Failed to commit a reservation")?;
                    return Ok(Attempt::Booked);
                }
                Ok(_) => {
                    tx.rollback().await.context("Failed to roll back")?;
                    return Ok(Attempt::Taken);
                }
                Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("40P01") => {
                    tx.rollback().await.context("Failed to roll back")?;
                    deadlocks.fetch_add(1, Ordering::Relaxed);
                    if attempt >= max_attempts {
                        return Ok(Attempt::GaveUp);
                    }
                    tokio::time::sleep(conflict_backoff(attempt)).await;
                    attempt += 1;
                }
                Err(error) => {
                    return Err(anyhow::Error::from(error).context("Failed to insert a reservation"))
                }
            }
        }
    }
}

/// Fails if two of `slots` (sorted by start) overlap.
fn no_overlap(what: &str, slots: &[Slot]) -> anyhow::Result<()> {
    if let Some(pair) = slots.windows(2).find(|pair| match pair {
        [first, second] => second.0 < first.1,
        _ => false,
    }) {
        anyhow::bail!("two {what} overlap: {pair:?}");
    }
    Ok(())
}

/// The times of the tenant's `AppointmentBooked` events, soonest first.
async fn booked_events(pool: &PgPool, tenant: Uuid) -> anyhow::Result<Vec<Slot>> {
    sqlx::query_as(
        "SELECT (payload -> 'AppointmentBooked' ->> 'start')::timestamptz AS start, \
                (payload -> 'AppointmentBooked' ->> 'end')::timestamptz \
         FROM events WHERE tenant_id = $1 AND aggregate_type = 'appointment' \
           AND event_type = 'AppointmentBooked' ORDER BY start",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("Failed to read the AppointmentBooked events")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn overlapping_slots_are_found() {
        let a = (at("2026-03-02T09:00:00Z"), at("2026-03-02T09:15:00Z"));
        let b = (at("2026-03-02T09:15:00Z"), at("2026-03-02T09:30:00Z"));
        let c = (at("2026-03-02T09:20:00Z"), at("2026-03-02T09:35:00Z"));
        assert!(no_overlap("slots", &[a, b]).is_ok());
        assert!(no_overlap("slots", &[a, b, c]).is_err());
    }
}
