//! Reading the global feed from a test.

use std::time::Duration;

use infrastructure::feed::{read_after, FeedPosition, RecordedEvent};
use sqlx::PgPool;

/// How long [`read_feed`] waits for the events it expects.
const FEED_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads the feed after `after` until `count` events have come, then checks nothing more is
/// there; panics after 5 s or on more events.
///
/// A read right after a commit may come back short: the feed stops below the oldest transaction
/// in flight on the *whole server* (transaction ids are server-wide), so a transaction of another
/// test, in another database, can hold it back for a moment. Never for long, and never by
/// skipping: waiting is the right response.
pub async fn read_feed(pool: &PgPool, after: FeedPosition, count: usize) -> Vec<RecordedEvent> {
    let deadline = tokio::time::Instant::now() + FEED_TIMEOUT;
    let mut conn = pool
        .acquire()
        .await
        .unwrap_or_else(|error| panic!("failed to acquire a connection: {error}"));
    let mut events: Vec<RecordedEvent> = Vec::new();
    while events.len() < count && tokio::time::Instant::now() < deadline {
        let from = events.last().map_or(after, |e| e.position);
        let batch = read_after(&mut conn, from, 1_000)
            .await
            .unwrap_or_else(|error| panic!("failed to read the feed: {error:#}"));
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        events.extend(batch);
    }
    assert_eq!(
        events.len(),
        count,
        "expected {count} events from the feed after {after}, read {}",
        events.len()
    );
    let from = events.last().map_or(after, |e| e.position);
    let more = read_after(&mut conn, from, 1_000)
        .await
        .unwrap_or_else(|error| panic!("failed to read the feed: {error:#}"));
    assert!(
        more.is_empty(),
        "the feed holds {} more events than expected",
        more.len()
    );
    events
}

/// Waits (at most 5 s) until every event in the store can be read from the feed: until no
/// transaction that might still be writing one is older than the newest event's. Until then a
/// projection's `catch_up` may report "caught up" short of the end, held back by some other
/// test's transaction on the same server.
pub async fn wait_for_feed_to_settle(pool: &PgPool) {
    let deadline = tokio::time::Instant::now() + FEED_TIMEOUT;
    loop {
        let settled: bool = sqlx::query_scalar(
            "SELECT coalesce(max(transaction_id) < pg_snapshot_xmin(pg_current_snapshot()), true) \
             FROM events",
        )
        .fetch_one(pool)
        .await
        .unwrap_or_else(|error| {
            panic!("failed to compare the feed with running transactions: {error}")
        });
        if settled {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "an older transaction held the feed back for {} s",
            FEED_TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
