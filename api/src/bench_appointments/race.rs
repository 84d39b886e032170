//! Clients racing for the slots of one open hour at a time, whatever books them: each picks
//! the first slot of the hour it does not know to be taken (client `w` from slot `w mod 4`), a
//! booking or a refusal marks the slot taken, and once all four are the race moves on to the
//! next open hour.

use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use chrono::{DateTime, Datelike, Duration, DurationRound, Timelike, Utc};
use domain::values::Timezone;

use super::{ms, CLOSING_HOUR, OPENING_HOUR};
use crate::bench_automation::Spread;

/// Appointment length of the booking benchmark's workflow, minutes.
pub(super) const BOOKING_MINUTES: i64 = 15;
/// Slots of one hour in the booking race.
pub(super) const SLOTS_PER_HOUR: usize = 4;

/// Whether a race's attempt got its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Attempt {
    /// 201, or the reservation inserted.
    Booked,
    /// 409 `slot_taken`, or no reservation inserted (the exclusion constraint's conflict).
    Taken,
    /// Deadlocked on every try allowed: 409 `concurrent_modification` once the executor's
    /// attempts are spent, or a raw transaction after as many. The slot may still be free.
    GaveUp,
}

/// Where the race is: the hour being fought over and which of its slots are known taken.
#[derive(Debug)]
struct Race {
    hour: DateTime<Utc>,
    taken: [bool; SLOTS_PER_HOUR],
    hours: usize,
}

/// The race every client of one half takes part in.
#[derive(Debug)]
struct Contest {
    zone: Timezone,
    race: Mutex<Race>,
}

impl Contest {
    /// A race starting at the first open hour at least a day after `now`.
    fn new(zone: Timezone, now: DateTime<Utc>) -> anyhow::Result<Self> {
        let hour = next_open_hour(zone, now + Duration::days(1))?;
        Ok(Self {
            zone,
            race: Mutex::new(Race {
                hour,
                taken: [false; SLOTS_PER_HOUR],
                hours: 1,
            }),
        })
    }

    fn race(&self) -> anyhow::Result<std::sync::MutexGuard<'_, Race>> {
        self.race
            .lock()
            .map_err(|_| anyhow::anyhow!("a racing client panicked holding the race"))
    }

    /// The slot client `worker` goes for: the first of the hour not known taken, from slot
    /// `worker mod 4`; when all are taken the race moves to the next open hour. Returns the
    /// hour and the slot's number in it.
    fn pick(&self, worker: usize) -> anyhow::Result<(DateTime<Utc>, usize)> {
        let mut race = self.race()?;
        if race.taken.iter().all(|&taken| taken) {
            race.hour = next_open_hour(self.zone, race.hour)?;
            race.taken = [false; SLOTS_PER_HOUR];
            race.hours += 1;
        }
        let slot = (0..SLOTS_PER_HOUR)
            .map(|k| (worker + k) % SLOTS_PER_HOUR)
            .find(|&slot| !race.taken.get(slot).copied().unwrap_or(true))
            .context("a fresh hour has no free slot")?;
        Ok((race.hour, slot))
    }

    /// Marks `slot` of `hour` taken, if the race is still in that hour.
    fn settle(&self, hour: DateTime<Utc>, slot: usize) -> anyhow::Result<()> {
        let mut race = self.race()?;
        if race.hour == hour {
            if let Some(taken) = race.taken.get_mut(slot) {
                *taken = true;
            }
        }
        Ok(())
    }
}

/// The first whole hour after `after` that is open (Monday to Friday, opening to closing, in
/// `zone`).
fn next_open_hour(zone: Timezone, after: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    let tz = zone.tz();
    let mut hour = after
        .duration_trunc(Duration::hours(1))
        .context("truncating to the hour")?;
    loop {
        hour += Duration::hours(1);
        let local = hour.with_timezone(&tz);
        if local.weekday().num_days_from_monday() < 5
            && (OPENING_HOUR..CLOSING_HOUR).contains(&local.hour())
            && local.minute() == 0
        {
            return Ok(hour);
        }
    }
}

/// What one race did.
#[derive(Debug, Default)]
pub(super) struct RaceFigures {
    /// Latencies of the attempts that booked, were refused, gave up.
    pub(super) booked: Vec<StdDuration>,
    pub(super) taken: Vec<StdDuration>,
    pub(super) gave_up: Vec<StdDuration>,
    /// The starts of the slots booked.
    pub(super) starts: Vec<DateTime<Utc>>,
    /// How long clients started attempts, and the attempts and bookings that ended by then.
    pub(super) window: StdDuration,
    pub(super) attempts_in_window: usize,
    pub(super) booked_in_window: usize,
    /// Until the last attempt ended.
    pub(super) elapsed: StdDuration,
    /// Hours the race went through.
    pub(super) hours: usize,
    /// Deadlocks PostgreSQL broke meanwhile (each transaction retried).
    pub(super) deadlocks: i64,
}

impl RaceFigures {
    /// Attempts that ended within the window, per second.
    pub(super) fn attempts_per_second(&self) -> f64 {
        self.attempts_in_window as f64 / self.window.as_secs_f64().max(f64::EPSILON)
    }

    /// Bookings that ended within the window, per second.
    pub(super) fn booked_per_second(&self) -> f64 {
        self.booked_in_window as f64 / self.window.as_secs_f64().max(f64::EPSILON)
    }

    /// Two lines of figures.
    pub(super) fn line(&self) -> String {
        let all = Spread::of(
            [&self.booked, &self.taken, &self.gave_up]
                .into_iter()
                .flatten()
                .copied()
                .collect(),
        );
        let booked = Spread::of(self.booked.clone());
        let taken = Spread::of(self.taken.clone());
        format!(
            "{:.1} attempts/s, {:.1} booked/s in the {} s; all {} attempts ended after {:.1} s: \
             {} booked, {} taken, {} gave up; {} hours filled; {} deadlocks\n      latency p50 \
             {:.2} ms  p99 {:.2} ms  max {:.2} ms (booked p50 {:.2} / p99 {:.2} ms; taken p50 \
             {:.2} / p99 {:.2} ms)",
            self.attempts_per_second(),
            self.booked_per_second(),
            self.window.as_secs(),
            all.count,
            self.elapsed.as_secs_f64(),
            self.booked.len(),
            self.taken.len(),
            self.gave_up.len(),
            self.hours,
            self.deadlocks,
            ms(all.p50),
            ms(all.p99),
            ms(all.max),
            ms(booked.p50),
            ms(booked.p99),
            ms(taken.p50),
            ms(taken.p99)
        )
    }

    /// Adds one attempt that took `took` and ended `in_window` or not.
    fn record(
        &mut self,
        outcome: Attempt,
        start: DateTime<Utc>,
        took: StdDuration,
        in_window: bool,
    ) {
        match outcome {
            Attempt::Booked => {
                self.booked.push(took);
                self.starts.push(start);
                self.booked_in_window += usize::from(in_window);
            }
            Attempt::Taken => self.taken.push(took),
            Attempt::GaveUp => self.gave_up.push(took),
        }
        self.attempts_in_window += usize::from(in_window);
    }

    /// Adds what another client did.
    fn merge(&mut self, other: Self) {
        self.booked.extend(other.booked);
        self.taken.extend(other.taken);
        self.gave_up.extend(other.gave_up);
        self.starts.extend(other.starts);
        self.attempts_in_window += other.attempts_in_window;
        self.booked_in_window += other.booked_in_window;
    }
}

/// Runs `attempt` from `clients` workers, each starting attempts for `duration`, all racing for
/// the slots of one open hour at a time; each attempt gets the worker and the slot's start.
pub(super) async fn race<F, Fut>(
    clients: usize,
    duration: StdDuration,
    zone: Timezone,
    attempt: F,
) -> anyhow::Result<RaceFigures>
where
    F: Fn(usize, DateTime<Utc>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<Attempt>> + Send,
{
    let contest = Arc::new(Contest::new(zone, Utc::now())?);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients);
    for worker in 0..clients {
        let (attempt, contest) = (attempt.clone(), contest.clone());
        tasks.push(tokio::spawn(async move {
            let mut figures = RaceFigures::default();
            while Instant::now() < deadline {
                let (hour, slot) = contest.pick(worker)?;
                let start = hour + Duration::minutes(BOOKING_MINUTES * slot as i64);
                let sent = Instant::now();
                let outcome = attempt(worker, start).await?;
                let ended = Instant::now();
                figures.record(outcome, start, ended - sent, ended <= deadline);
                if outcome != Attempt::GaveUp {
                    contest.settle(hour, slot)?;
                }
            }
            anyhow::Ok(figures)
        }));
    }
    let mut figures = RaceFigures {
        window: duration,
        ..RaceFigures::default()
    };
    for task in tasks {
        figures.merge(task.await.context("a racing client panicked")??);
    }
    figures.elapsed = started.elapsed();
    figures.hours = contest.race()?.hours;
    figures.starts.sort_unstable();
    Ok(figures)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::bench_appointments::ZONE;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn london() -> Timezone {
        Timezone::parse(ZONE).unwrap()
    }

    #[test]
    fn open_hours_skip_the_night_and_the_weekend() {
        assert_eq!(
            next_open_hour(london(), at("2026-03-27T15:20:00Z")).unwrap(),
            at("2026-03-27T16:00:00Z")
        );
        // Friday 16:00 is the last open hour; Monday 30 March 09:00 BST is 08:00 UTC.
        assert_eq!(
            next_open_hour(london(), at("2026-03-27T16:00:00Z")).unwrap(),
            at("2026-03-30T08:00:00Z")
        );
    }

    #[test]
    fn racers_share_out_the_hour_then_move_on() {
        // A day after Sunday 06:30 UTC is Monday 07:30 BST: the first open hour is 09:00 BST.
        let contest = Contest::new(london(), at("2026-03-29T06:30:00Z")).unwrap();
        let first = at("2026-03-30T08:00:00Z");
        assert_eq!(contest.pick(5).unwrap(), (first, 1));
        contest.settle(first, 1).unwrap();
        assert_eq!(contest.pick(5).unwrap(), (first, 2));
        for slot in [0, 2, 3] {
            contest.settle(first, slot).unwrap();
        }
        assert_eq!(contest.pick(7).unwrap(), (first + Duration::hours(1), 3));
        contest.settle(first, 0).unwrap();
        assert_eq!(contest.pick(4).unwrap(), (first + Duration::hours(1), 0));
        assert_eq!(contest.race().unwrap().hours, 2);
    }
}
