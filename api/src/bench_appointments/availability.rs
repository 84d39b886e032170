//! `bookerbot bench availability`: a whole month's free slots over HTTP, on an empty calendar
//! and on one of `--appointments` live appointments, each answer compared with the slots worked
//! out here without `domain::values::free_slots`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use application::{Actor, CommandContext};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc};
use domain::values::{Timezone, WorkflowId};
use futures::{StreamExt, TryStreamExt};
use infrastructure::appointments::{self, BookRequest};
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use super::{ms, reservations, zone, Bench, Slot, CLOSING_HOUR, OPENING_HOUR, SETUP_CLIENTS, ZONE};
use crate::bench::on_scratch_database;
use crate::bench_automation::Spread;
use crate::settings::Settings;

/// Options of the availability benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct AvailabilityBench {
    /// Live appointments on the calendar, spread over the month.
    #[arg(long, default_value_t = 1_000)]
    pub appointments: usize,
    /// Availability requests for the whole month, in all.
    #[arg(long, default_value_t = 500)]
    pub requests: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
}

/// Appointment length of the availability benchmark's workflow, minutes.
const AVAILABILITY_MINUTES: i64 = 30;
/// Free time kept around every appointment, and how far ahead of now the earliest slot is
/// offered, in minutes: the workflows' defaults, which the benchmark leaves alone. The month it
/// asks for starts at least a day ahead, so the notice never binds.
const BUFFER_MINUTES: i64 = 0;
const NOTICE_MINUTES: i64 = 60;

/// The figures of the availability benchmark.
struct AvailabilityMeasured {
    month: Slot,
    /// Minutes between two booked appointments' starts.
    spacing: i64,
    setup: StdDuration,
    /// The month asked for on the empty calendar, then with the appointments booked.
    empty: Asked,
    busy: Asked,
}

/// The requests for a month's availability, all answered with the same slots.
struct Asked {
    /// Free slots in every answer.
    free: usize,
    latencies: Spread,
    elapsed: StdDuration,
}

impl std::fmt::Display for Asked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>5} requests  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  {:>7.1} requests/s  \
             ({} free slots each)",
            self.latencies.count,
            ms(self.latencies.p50),
            ms(self.latencies.p99),
            ms(self.latencies.max),
            self.latencies.count as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON),
            self.free
        )
    }
}

/// Runs the availability benchmark on a fresh database and prints the figures.
pub async fn run_availability(
    settings: Settings,
    options: AvailabilityBench,
) -> anyhow::Result<()> {
    let bench = options.clone();
    let m = on_scratch_database(&settings.clone(), |url| async move {
        let server = Bench::start(&url, settings, bench.clients as u32 + 8).await?;
        let measured = availability_phase(&server, &bench).await;
        let stopped = server.stop().await;
        let measured = measured?;
        stopped?;
        Ok(measured)
    })
    .await?;
    let (from, to) = m.month;
    let tz = zone()?.tz();
    println!(
        "bench availability: GET /api/v1/availability for a whole month ({} to {}) of \
         {AVAILABILITY_MINUTES}-minute slots, Mon-Fri {OPENING_HOUR:02}:00-{CLOSING_HOUR:02}:00 \
         {ZONE}; {} clients, {} requests each run",
        from.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"),
        to.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"),
        options.clients,
        options.requests
    );
    println!("  empty calendar:                {}", m.empty);
    println!(
        "  {:>5} live appointments:       {}",
        options.appointments, m.busy
    );
    println!(
        "  setup: {n} leads captured over HTTP and {n} appointments booked through \
         appointments::book in {:.1} s, one every {} min over the month, day and night",
        m.setup.as_secs_f64(),
        m.spacing,
        n = options.appointments
    );
    println!(
        "  checked: every answer lists exactly the free slots worked out independently ({} of \
         the {} the business hours hold with the appointments)",
        m.busy.free, m.empty.free
    );
    Ok(())
}

async fn availability_phase(
    server: &Bench,
    options: &AvailabilityBench,
) -> anyhow::Result<AvailabilityMeasured> {
    let length = Duration::minutes(AVAILABILITY_MINUTES);
    let workflow = server.workflow("Availability bench", length).await?;
    let (from, to) = coming_month(server.zone, Utc::now())?;
    let booked = spread(from, to, options.appointments, length)?;
    let spacing = booked
        .get(1)
        .zip(booked.first())
        .map_or(0, |(second, first)| (second.0 - first.0).num_minutes());
    let url = format!(
        "{}/api/v1/availability?workflow_id={workflow}&from={}&to={}",
        server.base,
        from.to_rfc3339_opts(SecondsFormat::Secs, true),
        to.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    let leads = server.leads(options.appointments).await?;
    server.settle().await?;
    let open = expected_slots(server.zone, (from, to), Utc::now(), length, &[])?;
    let empty = ask(server, &url, open, options).await?;

    let started = Instant::now();
    // Wired as the server wires it; the tenant connects no external calendar.
    let executor = &server.state.executor;
    let calendars = &server.state.messaging.calendars;
    let tenant = server.tenant;
    let workflow_id: WorkflowId = workflow.parse().context("the workflow id")?;
    futures::stream::iter(leads.into_iter().zip(booked.iter().copied()))
        .map(|(lead, (start, _))| async move {
            let ctx = CommandContext {
                tenant_id: tenant,
                actor: Actor::System("bench"),
                request_id: format!("bench-{}", Uuid::new_v4().simple()),
                issued_at: Utc::now(),
            };
            let request = BookRequest {
                lead_id: lead,
                workflow_id,
                start,
                notes: String::new(),
            };
            appointments::book(executor, calendars, &ctx, request)
                .await
                .with_context(|| format!("booking the appointment at {start}"))
        })
        .buffer_unordered(SETUP_CLIENTS)
        .try_collect::<Vec<_>>()
        .await?;
    let setup = started.elapsed();
    let held = reservations(&server.pool, tenant.as_uuid()).await?;
    anyhow::ensure!(
        held == booked,
        "the calendar holds {} reservations, not the {} appointments booked",
        held.len(),
        booked.len()
    );
    server.settle().await?;
    let free = expected_slots(server.zone, (from, to), Utc::now(), length, &booked)?;
    let busy = ask(server, &url, free, options).await?;
    Ok(AvailabilityMeasured {
        month: (from, to),
        spacing,
        setup,
        empty,
        busy,
    })
}

/// `--requests` GETs of `url` from `--clients` clients; every answer must be `expected`.
async fn ask(
    server: &Bench,
    url: &str,
    expected: Vec<Slot>,
    options: &AvailabilityBench,
) -> anyhow::Result<Asked> {
    let expected = Arc::new(expected);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(options.clients);
    for _ in 0..options.clients.max(1) {
        let (client, url, key) = (server.client.clone(), url.to_owned(), server.key.clone());
        let (next, expected, requests) = (next.clone(), expected.clone(), options.requests);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let sent = Instant::now();
                let response = client
                    .get(&url)
                    .bearer_auth(&key)
                    .send()
                    .await
                    .context("availability: no answer")?;
                let status = response.status();
                let text = response
                    .text()
                    .await
                    .context("availability: the answer broke off")?;
                latencies.push(sent.elapsed());
                anyhow::ensure!(
                    status == StatusCode::OK,
                    "availability answered {status}: {text}"
                );
                check_slots(&text, &expected)?;
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(options.requests);
    for task in tasks {
        latencies.extend(task.await.context("an availability client panicked")??);
    }
    Ok(Asked {
        free: expected.len(),
        latencies: Spread::of(latencies),
        elapsed: started.elapsed(),
    })
}

/// Fails unless the availability answer `text` lists exactly `expected`.
fn check_slots(text: &str, expected: &[Slot]) -> anyhow::Result<()> {
    let answer: Value = serde_json::from_str(text).context("availability answered no JSON")?;
    let slots = answer["slots"]
        .as_array()
        .context("availability answered no slots")?
        .iter()
        .map(|slot| Ok((time(&slot["start"])?, time(&slot["end"])?)))
        .collect::<anyhow::Result<Vec<Slot>>>()?;
    if slots != expected {
        let first = slots
            .iter()
            .zip(expected)
            .find(|(got, want)| got != want)
            .map_or_else(
                || "one list is a prefix of the other".to_owned(),
                |(got, want)| format!("first difference: {got:?} instead of {want:?}"),
            );
        anyhow::bail!(
            "availability answered {} slots where {} are free ({first})",
            slots.len(),
            expected.len()
        );
    }
    Ok(())
}

/// The first instant of the month after the one `now` plus a day falls in, and of the month
/// after that, in `zone`: a whole month, at least a day ahead.
fn coming_month(zone: Timezone, now: DateTime<Utc>) -> anyhow::Result<Slot> {
    let tz = zone.tz();
    let day = (now + Duration::days(1)).with_timezone(&tz).date_naive();
    let first = first_of_next_month(day)?;
    let after = first_of_next_month(first)?;
    let midnight = |date: NaiveDate| {
        tz.from_local_datetime(&date.and_time(NaiveTime::MIN))
            .earliest()
            .map(|at| at.with_timezone(&Utc))
            .with_context(|| format!("midnight of {date} does not exist in {zone}"))
    };
    Ok((midnight(first)?, midnight(after)?))
}

fn first_of_next_month(day: NaiveDate) -> anyhow::Result<NaiveDate> {
    let (year, month) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1).context("a date past the calendar's end")
}

/// `count` appointments of `length` spread evenly over `[from, to)`, whole minutes apart,
/// soonest first; refused when they cannot all fit without overlapping.
fn spread(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    count: usize,
    length: Duration,
) -> anyhow::Result<Vec<Slot>> {
    anyhow::ensure!(count > 0, "--appointments must be at least 1");
    let spacing = (to - from).num_minutes() / i64::try_from(count).unwrap_or(i64::MAX);
    anyhow::ensure!(
        spacing >= length.num_minutes(),
        "{count} appointments of {} minutes do not fit in the month; at most {}",
        length.num_minutes(),
        (to - from).num_minutes() / length.num_minutes().max(1)
    );
    Ok((0..count)
        .map(|i| {
            let start = from + Duration::minutes(spacing * i as i64);
            (start, start + length)
        })
        .collect())
}

/// The free slots the availability endpoint must answer, worked out without
/// `domain::values::free_slots`: each local day of `range` from Monday to Friday, the starts
/// every `length` from the opening hour while the whole slot ends by closing, converted to UTC;
/// kept when inside `range`, at least the minimum notice after `now`, and clear of every
/// `booked` appointment by the buffer.
fn expected_slots(
    zone: Timezone,
    (from, to): Slot,
    now: DateTime<Utc>,
    length: Duration,
    booked: &[Slot],
) -> anyhow::Result<Vec<Slot>> {
    let tz = zone.tz();
    let earliest = from.max(now + Duration::minutes(NOTICE_MINUTES));
    let buffer = Duration::minutes(BUFFER_MINUTES);
    let last = to.with_timezone(&tz).date_naive();
    let mut day = from.with_timezone(&tz).date_naive();
    let mut slots = Vec::new();
    while day <= last {
        if day.weekday().num_days_from_monday() < 5 {
            let close = day.and_time(o_clock(CLOSING_HOUR)?);
            let mut local = day.and_time(o_clock(OPENING_HOUR)?);
            while local + length <= close {
                let start = tz
                    .from_local_datetime(&local)
                    .single()
                    .with_context(|| format!("{local} is not one instant in {zone}"))?
                    .with_timezone(&Utc);
                let end = start + length;
                let clear = booked
                    .iter()
                    .all(|&(s, e)| !(s - buffer < end && start < e + buffer));
                if start >= earliest && end <= to && clear {
                    slots.push((start, end));
                }
                local += length;
            }
        }
        day = day.succ_opt().context("a date past the calendar's end")?;
    }
    Ok(slots)
}

fn o_clock(hour: u32) -> anyhow::Result<NaiveTime> {
    NaiveTime::from_hms_opt(hour, 0, 0).with_context(|| format!("{hour}:00 is no time of day"))
}

/// A slot's time in an answer.
fn time(value: &Value) -> anyhow::Result<DateTime<Utc>> {
    let text = value.as_str().context("a slot time is not a string")?;
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .with_context(|| format!("a slot time is not RFC 3339: {text}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn london() -> Timezone {
        Timezone::parse(ZONE).unwrap()
    }

    #[test]
    fn the_coming_month_is_whole_and_at_least_a_day_ahead() {
        let (from, to) = coming_month(london(), at("2026-02-27T23:30:00Z")).unwrap();
        // 1 April is in BST: its midnight is 23:00 UTC the day before.
        assert_eq!(
            (from, to),
            (at("2026-03-01T00:00:00Z"), at("2026-03-31T23:00:00Z"))
        );
        let (from, to) = coming_month(london(), at("2026-12-31T12:00:00Z")).unwrap();
        assert_eq!(
            (from, to),
            (at("2027-02-01T00:00:00Z"), at("2027-03-01T00:00:00Z"))
        );
    }

    #[test]
    fn a_month_without_appointments_holds_sixteen_slots_each_weekday() {
        // March 2026 has 22 weekdays; London moves to BST on Sunday 29 March.
        let month = coming_month(london(), at("2026-02-15T12:00:00Z")).unwrap();
        let length = Duration::minutes(30);
        let slots =
            expected_slots(london(), month, at("2026-02-15T12:00:00Z"), length, &[]).unwrap();
        assert_eq!(slots.len(), 22 * 16);
        assert_eq!(
            slots[0],
            (at("2026-03-02T09:00:00Z"), at("2026-03-02T09:30:00Z"))
        );
        assert_eq!(slots[slots.len() - 1].0, at("2026-03-31T15:30:00Z"));
    }

    #[test]
    fn a_booked_appointment_takes_every_slot_it_touches() {
        let month = coming_month(london(), at("2026-02-15T12:00:00Z")).unwrap();
        let length = Duration::minutes(30);
        let booked = [(at("2026-03-02T09:10:00Z"), at("2026-03-02T09:40:00Z"))];
        let slots =
            expected_slots(london(), month, at("2026-02-15T12:00:00Z"), length, &booked).unwrap();
        assert_eq!(slots.len(), 22 * 16 - 2);
        assert_eq!(slots[0].0, at("2026-03-02T10:00:00Z"));
    }

    #[test]
    fn appointments_are_spread_evenly_and_refused_when_they_cannot_fit() {
        let (from, to) = (at("2026-03-01T00:00:00Z"), at("2026-03-31T00:00:00Z"));
        let booked = spread(from, to, 1000, Duration::minutes(30)).unwrap();
        assert_eq!(booked.len(), 1000);
        assert_eq!(booked[1].0 - booked[0].0, Duration::minutes(43));
        assert_eq!(booked[999].1, from + Duration::minutes(43 * 999 + 30));
        assert!(spread(from, to, 1441, Duration::minutes(30)).is_err());
    }
}
