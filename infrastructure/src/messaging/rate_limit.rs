//! A per-tenant, per-channel send rate that holds across instances: the generic cell rate
//! algorithm (GCRA) over one row per tenant and channel in `send_rate_limits`.
//!
//! At `rate` sends a second the emission interval is `T = 1/rate` and a burst of one second's
//! worth (`rate` sends at one instant) is allowed: the row's `next_free_at` is the theoretical
//! time of the next send on schedule, and a send at `now` is allowed when
//! `next_free_at - now <= (rate - 1) * T`; it then moves `next_free_at` to
//! `greatest(next_free_at, now) + T`. Otherwise the next slot frees at
//! `next_free_at - (rate - 1) * T`. So from idle exactly `rate` sends go at once, then one every
//! `T`, and an idle stretch never banks more than one second's worth.
//!
//! Taking a slot is one atomic statement, `INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING`,
//! so any number of workers on any number of instances share the rate without coordinating.
//! The row lock lasts that one statement: run it outside any longer transaction (autocommit), or
//! every send of the tenant and channel would wait for the one holding it. Time comes from the
//! caller (the injectable clock), never from the database's `now()`.

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::values::TenantId;
use domain::Channel;
use sqlx::PgExecutor;

/// Microseconds in a second: PostgreSQL's `timestamptz` counts microseconds, so this is also the
/// highest rate it can space out (faster rates are held to it).
const MICROS_PER_SECOND: i64 = 1_000_000;

/// The answer to a request for a send slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The send may go now.
    Taken,
    /// Over the rate: no slot frees before this instant.
    Refused(DateTime<Utc>),
}

/// The statement: take a slot, or report (under the row's lock, so the latest committed value)
/// when the next one frees. `$3` is now, `$4` the emission interval and `$5` the burst
/// tolerance.
const TAKE: &str = "\
WITH taken AS ( \
    INSERT INTO send_rate_limits AS l (tenant_id, channel, next_free_at, tolerance) \
    VALUES ($1, $2, $3 + $4, $5) \
    ON CONFLICT (tenant_id, channel) DO UPDATE \
       SET next_free_at = greatest(l.next_free_at, $3) + $4, tolerance = $5 \
     WHERE l.next_free_at - $3 <= $5 \
    RETURNING next_free_at), \
held AS ( \
    SELECT next_free_at FROM send_rate_limits \
     WHERE tenant_id = $1 AND channel = $2 AND NOT EXISTS (SELECT 1 FROM taken) \
     FOR UPDATE) \
SELECT (SELECT next_free_at FROM taken) IS NOT NULL AS taken, \
       (SELECT next_free_at FROM held) - $5 AS frees_at";

/// Takes a send slot of `tenant` on `channel` at `now`, at `rate_per_second` (0: no limit,
/// always [`Slot::Taken`] without touching the database).
///
/// # Errors
/// When the database fails.
pub async fn take<'c>(
    executor: impl PgExecutor<'c>,
    tenant: TenantId,
    channel: Channel,
    rate_per_second: u32,
    now: DateTime<Utc>,
) -> anyhow::Result<Slot> {
    let Some(rate) = Rate::per_second(rate_per_second) else {
        return Ok(Slot::Taken);
    };
    let (taken, frees_at): (bool, Option<DateTime<Utc>>) = sqlx::query_as(TAKE)
        .bind(tenant.as_uuid())
        .bind(channel.as_str())
        .bind(now)
        .bind(chrono::Duration::microseconds(rate.interval_micros))
        .bind(chrono::Duration::microseconds(rate.tolerance_micros))
        .fetch_one(executor)
        .await
        .context("Failed to take a send slot")?;
    if taken {
        return Ok(Slot::Taken);
    }
    // No row to report: it was inserted by a concurrent first taker after this statement's
    // snapshot. Its slot is gone; the next one is an interval away at the earliest.
    let frees_at =
        frees_at.unwrap_or_else(|| now + chrono::Duration::microseconds(rate.interval_micros));
    // Never in the past: a refusal means "not now".
    Ok(Slot::Refused(frees_at.max(now)))
}

/// The GCRA parameters of a rate, in whole microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rate {
    /// `T`, 1/rate rounded down, so a second holds at least `rate` sends.
    interval_micros: i64,
    /// How far ahead of the clock `next_free_at` may be for a send to go: `(rate - 1) * T`, so
    /// exactly `rate` sends fit at one instant.
    tolerance_micros: i64,
}

impl Rate {
    /// The parameters of `per_second` sends a second; `None` for 0 (no limit).
    fn per_second(per_second: u32) -> Option<Self> {
        let rate = i64::from(per_second).min(MICROS_PER_SECOND);
        if rate == 0 {
            return None;
        }
        let interval_micros = MICROS_PER_SECOND / rate;
        Some(Self {
            interval_micros,
            tolerance_micros: (rate - 1) * interval_micros,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_no_limit() {
        assert_eq!(Rate::per_second(0), None);
    }

    #[test]
    fn one_a_second_allows_no_burst() {
        let rate = Rate::per_second(1).unwrap();
        assert_eq!(
            (rate.interval_micros, rate.tolerance_micros),
            (1_000_000, 0)
        );
    }

    #[test]
    fn a_burst_is_one_seconds_worth_and_fits_in_a_second() {
        for per_second in [2, 3, 7, 10, 30, 999, 1_000, 250_000, 1_000_000] {
            let rate = Rate::per_second(per_second).unwrap();
            // The burst's last send is due within the second; one more is not.
            assert!(rate.tolerance_micros < MICROS_PER_SECOND, "{per_second}/s");
            assert_eq!(
                rate.tolerance_micros / rate.interval_micros + 1,
                i64::from(per_second),
                "{per_second}/s"
            );
        }
    }

    #[test]
    fn a_rate_faster_than_the_clock_ticks_is_held_to_one_a_microsecond() {
        let rate = Rate::per_second(u32::MAX).unwrap();
        assert_eq!(
            (rate.interval_micros, rate.tolerance_micros),
            (1, MICROS_PER_SECOND - 1)
        );
    }
}
