//! The send rate limit (`infrastructure::messaging::rate_limit`) against a real PostgreSQL:
//! concurrent takers on several pools (standing in for several instances) get exactly
//! `rate × seconds` slots, a refusal names the instant the next slot frees, idle time banks no
//! more than one second's worth, and tenants and channels are limited independently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bookerbot_tests::TestDb;
use chrono::{DateTime, Duration, Utc};
use domain::values::TenantId;
use domain::Channel;
use infrastructure::messaging::rate_limit::{take, Slot};
use sqlx::PgPool;

/// Monday 2026-03-30, 10:00 UTC: where every test's clock starts.
fn t0() -> DateTime<Utc> {
    "2026-03-30T10:00:00Z".parse().unwrap()
}

fn ms(millis: i64) -> Duration {
    Duration::milliseconds(millis)
}

/// Takes one slot on `pool`.
async fn take_one(
    pool: &PgPool,
    tenant: TenantId,
    channel: Channel,
    rate: u32,
    at: DateTime<Utc>,
) -> Slot {
    take(pool, tenant, channel, rate, at).await.unwrap()
}

/// Takes slots one after another until one is refused: how many were taken, and the refusal.
async fn drain(
    pool: &PgPool,
    tenant: TenantId,
    channel: Channel,
    rate: u32,
    at: DateTime<Utc>,
) -> (u32, DateTime<Utc>) {
    let mut taken = 0;
    loop {
        match take_one(pool, tenant, channel, rate, at).await {
            Slot::Taken => taken += 1,
            Slot::Refused(until) => return (taken, until),
        }
        assert!(taken <= rate, "more than a burst at one instant");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_takers_on_several_pools_get_exactly_rate_times_seconds_slots() {
    const RATE: u32 = 5;
    const SECONDS: i64 = 4;
    const TAKERS: usize = 40;
    let db = TestDb::new().await;
    let mut pools = vec![db.pool().clone()];
    for _ in 0..3 {
        pools.push(infrastructure::db::connect(db.url(), 4).await.unwrap());
    }
    let tenant = TenantId::new();
    let mut total = 0;
    for second in 0..SECONDS {
        let now = t0() + Duration::seconds(second);
        let takers: Vec<_> = (0..TAKERS)
            .map(|i| {
                let pool = pools[i % pools.len()].clone();
                tokio::spawn(async move { take(&pool, tenant, Channel::Sms, RATE, now).await })
            })
            .collect();
        let mut taken = 0;
        for taker in takers {
            match taker.await.unwrap().unwrap() {
                Slot::Taken => taken += 1,
                // One emission interval (200 ms) after the burst's last slot.
                Slot::Refused(until) => assert_eq!(until, now + ms(200), "second {second}"),
            }
        }
        assert_eq!(taken, RATE, "second {second}");
        total += taken;
    }
    assert_eq!(i64::from(total), i64::from(RATE) * SECONDS);
}

#[tokio::test]
async fn a_refusal_names_when_the_next_slot_frees_and_idle_time_banks_one_burst() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let tenant = TenantId::new();
    // 4 a second: one every 250 ms after a burst of 4.
    let (taken, until) = drain(pool, tenant, Channel::Sms, 4, t0()).await;
    assert_eq!((taken, until), (4, t0() + ms(250)));
    // Just before that instant: still refused, for the same instant.
    assert_eq!(
        take_one(pool, tenant, Channel::Sms, 4, t0() + ms(249)).await,
        Slot::Refused(t0() + ms(250))
    );
    // At it: one slot, then the next one 250 ms later.
    let (taken, until) = drain(pool, tenant, Channel::Sms, 4, t0() + ms(250)).await;
    assert_eq!((taken, until), (1, t0() + ms(500)));
    // At one second, the slots of 500, 750 and 1000 ms have freed.
    let (taken, until) = drain(pool, tenant, Channel::Sms, 4, t0() + ms(1000)).await;
    assert_eq!((taken, until), (3, t0() + ms(1250)));
    // After an hour of silence: one burst, not an hour's worth.
    let later = t0() + Duration::hours(1);
    let (taken, until) = drain(pool, tenant, Channel::Sms, 4, later).await;
    assert_eq!((taken, until), (4, later + ms(250)));
    // One a second: no burst at all.
    let other = TenantId::new();
    let (taken, until) = drain(pool, other, Channel::Sms, 1, t0()).await;
    assert_eq!((taken, until), (1, t0() + Duration::seconds(1)));
}

#[tokio::test]
async fn tenants_and_channels_are_limited_independently_and_zero_is_no_limit() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let (acme, globex) = (TenantId::new(), TenantId::new());
    assert_eq!(drain(pool, acme, Channel::Sms, 3, t0()).await.0, 3);
    assert_eq!(drain(pool, acme, Channel::Whatsapp, 3, t0()).await.0, 3);
    assert_eq!(drain(pool, globex, Channel::Sms, 3, t0()).await.0, 3);
    assert_eq!(
        take_one(pool, acme, Channel::Sms, 3, t0()).await,
        Slot::Refused(t0() + Duration::microseconds(333_333))
    );
    // 0: every send is taken and nothing is written.
    for _ in 0..100 {
        assert_eq!(
            take_one(pool, acme, Channel::Sms, 0, t0()).await,
            Slot::Taken
        );
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM send_rate_limits")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(rows, 3);
}
