//! The global event feed never skips and never repeats an event.
//!
//! Identity values are handed out at insert, not at commit, so a slow writer can commit a *lower*
//! global position after a reader has read past it. The feed reads only below the oldest
//! transaction still in flight, in `(transaction_id, global_position)` order; these tests race
//! real writers against a reader to show that nothing committed is ever skipped or read twice and
//! nothing rolled back is ever read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bookerbot_tests::{event_count, new_lead, read_feed, tag, tenant_ctx, TestDb};
use domain::lead::{Lead, LeadEvent};
use domain::values::TenantId;
use infrastructure::event_store;
use infrastructure::feed::{read_after, FeedPosition, RecordedEvent};
use infrastructure::metadata::EventMetadata;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Batch size of the reader: small, so it reads many times while writers are busy.
const READ_LIMIT: i64 = 50;

/// The events of a freshly captured lead carrying `extra_tags` more tags (1 + `extra_tags`
/// events), as the aggregate would record them.
fn capture_events(n: u32, extra_tags: u32) -> Vec<LeadEvent> {
    let lead = new_lead(n);
    let mut events = vec![LeadEvent::LeadCaptured {
        first_name: lead.first_name,
        last_name: lead.last_name,
        phone: lead.phone,
        email: lead.email,
        custom_fields: lead.custom_fields,
        source: lead.source,
        tags: lead.tags,
        workflow_id: lead.workflow_id,
    }];
    events.extend((0..extra_tags).map(|t| LeadEvent::LeadTagged {
        tag: tag(&format!("tag-{t}")),
    }));
    events
}

/// Appends `events` to lead `id` after `version` through the store, and returns the global
/// positions this append took (read back inside the same transaction).
async fn append(
    conn: &mut PgConnection,
    metadata: &EventMetadata,
    id: Uuid,
    version: i64,
    events: &[LeadEvent],
) -> Vec<i64> {
    let id = id.to_string();
    event_store::append::<Lead>(conn, &id, version, events, metadata)
        .await
        .unwrap();
    sqlx::query_scalar(
        "SELECT global_position FROM events \
         WHERE aggregate_type = 'lead' AND aggregate_id = $1 AND sequence > $2",
    )
    .bind(&id)
    .bind(version)
    .fetch_all(&mut *conn)
    .await
    .unwrap()
}

/// Everything the store holds, by global position.
async fn stored_positions(pool: &PgPool) -> BTreeSet<i64> {
    sqlx::query_scalar::<_, i64>("SELECT global_position FROM events")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// What one writer committed and rolled back.
#[derive(Default)]
struct Written {
    committed: Vec<i64>,
    rolled_back: Vec<i64>,
}

/// Writer `w`: `transactions` transactions, each capturing a new lead with a few events. Which
/// ones are slow (held open 100–400 ms after their first insert), split (a second append after
/// the pause, so the transaction's later events get positions far above those committed
/// meanwhile) or rolled back is a fixed function of `(w, i)`, so every run races the same way.
async fn writer(pool: PgPool, tenant: TenantId, w: u32, transactions: u32) -> Written {
    let metadata = EventMetadata::from_context(&tenant_ctx(tenant));
    let mut written = Written::default();
    for i in 0..transactions {
        let mix = (w * 7 + i * 13) % 23;
        let slow = mix % 6 == 5;
        let split = mix % 4 == 1;
        let roll_back = mix % 5 == 2;
        let lead = Uuid::new_v4();
        let events = capture_events(w * 1_000 + i, 1 + mix % 4);
        let mut tx = pool.begin().await.unwrap();
        let (first, rest) = events.split_at(if split { 1 } else { events.len() });
        let mut positions = append(&mut tx, &metadata, lead, 0, first).await;
        if slow {
            tokio::time::sleep(Duration::from_millis(100 + u64::from(mix % 4) * 100)).await;
        } else if split {
            tokio::time::sleep(Duration::from_millis(5 + u64::from(mix % 3) * 10)).await;
        }
        if !rest.is_empty() {
            positions.extend(append(&mut tx, &metadata, lead, first.len() as i64, rest).await);
        }
        if roll_back {
            tx.rollback().await.unwrap();
            written.rolled_back.extend(positions);
        } else {
            tx.commit().await.unwrap();
            written.committed.extend(positions);
        }
        tokio::task::yield_now().await;
    }
    written
}

/// Whether every transaction that wrote an event has finished, as the feed sees it: the oldest
/// transaction in flight *on the whole server* is younger than all of them. (Transaction ids are
/// server-wide, so a transaction in another database — another test — can hold the feed back
/// for a moment; an empty read alone does not prove the reader has seen everything.)
async fn all_writers_finished(conn: &mut PgConnection) -> bool {
    sqlx::query_scalar(
        "SELECT coalesce(max(transaction_id) < pg_snapshot_xmin(pg_current_snapshot()), true) \
         FROM events",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

/// Follows the feed from the start until `done` is set and a read that began after every writer
/// had finished finds nothing, checking that positions strictly increase; returns every event in
/// the order read.
async fn reader(pool: PgPool, done: Arc<AtomicBool>) -> Vec<RecordedEvent> {
    let mut conn = pool.acquire().await.unwrap();
    let mut after = FeedPosition::default();
    let mut seen = Vec::new();
    loop {
        // Sampled before reading: once writers are done and finished, a read that then comes
        // back empty has seen everything.
        let finished = done.load(Ordering::SeqCst) && all_writers_finished(&mut conn).await;
        let batch = read_after(&mut conn, after, READ_LIMIT).await.unwrap();
        if batch.is_empty() {
            if finished {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
            continue;
        }
        for event in batch {
            assert!(
                event.position > after,
                "feed went backwards: {} after {after}",
                event.position
            );
            after = event.position;
            seen.push(event);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_committed_event_is_read_exactly_once_despite_slow_and_rolled_back_writers() {
    const WRITERS: u32 = 10;
    const TRANSACTIONS: u32 = 30;
    let db = TestDb::with_pool_size(WRITERS + 4).await;
    let tenant = TenantId::new();
    let done = Arc::new(AtomicBool::new(false));
    let reading = tokio::spawn(reader(db.pool().clone(), done.clone()));

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(db.pool().clone(), tenant, w, TRANSACTIONS)))
        .collect();
    let mut committed = BTreeSet::new();
    let mut rolled_back = BTreeSet::new();
    for handle in writers {
        let written = handle.await.unwrap();
        committed.extend(written.committed);
        rolled_back.extend(written.rolled_back);
    }
    done.store(true, Ordering::SeqCst);
    let seen = reading.await.unwrap();

    let seen_positions: Vec<i64> = seen.iter().map(|e| e.position.global_position).collect();
    let seen_set: BTreeSet<i64> = seen_positions.iter().copied().collect();
    assert_eq!(
        seen_set.len(),
        seen_positions.len(),
        "an event was read twice"
    );
    let stored = stored_positions(db.pool()).await;
    assert_eq!(
        stored, committed,
        "the store does not hold exactly what was committed"
    );
    let missed: Vec<_> = stored.difference(&seen_set).collect();
    let phantom: Vec<_> = seen_set.difference(&stored).collect();
    assert!(
        missed.is_empty(),
        "the reader skipped committed events {missed:?}"
    );
    assert!(
        phantom.is_empty(),
        "the reader read events not in the store {phantom:?}"
    );
    assert!(!rolled_back.is_empty(), "the test rolled nothing back");
    assert!(
        seen_set.is_disjoint(&rolled_back),
        "the reader read rolled-back events"
    );
    assert_eq!(event_count(db.pool()).await, seen.len() as i64);

    // The race the feed exists for did happen: some event was read after one with a higher
    // global position, i.e. a reader following global_position alone would have skipped it.
    let overtaken = seen_positions.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(
        overtaken > 0,
        "no transaction committed late; the test proved nothing"
    );

    // Per aggregate, the feed delivers a lead's events in sequence order.
    let mut last_sequence = std::collections::HashMap::new();
    for event in &seen {
        let previous = last_sequence.insert(event.aggregate_id.clone(), event.sequence);
        assert_eq!(
            event.sequence,
            previous.unwrap_or(0) + 1,
            "lead {} out of order",
            event.aggregate_id
        );
        assert_eq!(event.metadata.tenant_id, tenant.as_uuid());
    }
}

/// One lead's capture, appended in its own (uncommitted) transaction on `conn`; returns the
/// position it took.
async fn capture_in(conn: &mut PgConnection, tenant: TenantId, n: u32) -> i64 {
    let metadata = EventMetadata::from_context(&tenant_ctx(tenant));
    let positions = append(conn, &metadata, Uuid::new_v4(), 0, &capture_events(n, 0)).await;
    assert_eq!(positions.len(), 1);
    positions[0]
}

/// Reads the whole feed after `after` on a connection of its own, once.
async fn read_all(pool: &PgPool, after: FeedPosition) -> Vec<RecordedEvent> {
    let mut conn = pool.acquire().await.unwrap();
    read_after(&mut conn, after, 1_000).await.unwrap()
}

fn positions(events: &[RecordedEvent]) -> Vec<i64> {
    events.iter().map(|e| e.position.global_position).collect()
}

#[tokio::test]
async fn a_reader_does_not_pass_a_transaction_still_in_flight_and_gets_its_event_once_it_commits() {
    let db = TestDb::new().await;
    let tenant = TenantId::new();
    let pool = db.pool();

    // C commits before anything else starts.
    let mut c = pool.begin().await.unwrap();
    let position_c = capture_in(&mut c, tenant, 1).await;
    c.commit().await.unwrap();

    // A takes an identity value and waits; B then commits a higher one.
    let mut a = pool.begin().await.unwrap();
    let position_a = capture_in(&mut a, tenant, 2).await;
    let mut b = pool.begin().await.unwrap();
    let position_b = capture_in(&mut b, tenant, 3).await;
    b.commit().await.unwrap();
    assert!(position_c < position_a && position_a < position_b);
    assert_eq!(
        event_count(pool).await,
        2,
        "B is committed and visible to any query"
    );

    // The reader gets C, but not B: A is in flight and older, and reading B now would move the
    // reader past A's lower position for good.
    let first = read_feed(pool, FeedPosition::default(), 1).await;
    assert_eq!(positions(&first), vec![position_c]);
    let checkpoint = first[0].position;
    assert!(read_all(pool, checkpoint).await.is_empty());

    a.commit().await.unwrap();
    let second = read_feed(pool, checkpoint, 2).await;
    assert_eq!(positions(&second), vec![position_a, position_b]);
    assert!(second[0].position < second[1].position);
    let mut everything = first;
    everything.extend(second);
    let everything: HashSet<i64> = positions(&everything).into_iter().collect();
    assert_eq!(
        everything,
        stored_positions(pool).await.into_iter().collect()
    );
}

#[tokio::test]
async fn feed_order_follows_the_older_transaction_even_when_it_took_the_higher_position() {
    let db = TestDb::new().await;
    let tenant = TenantId::new();
    let pool = db.pool();

    // A gets its transaction id first but inserts only after B has inserted and committed.
    let mut a = pool.begin().await.unwrap();
    let xid_a: String = sqlx::query_scalar("SELECT pg_current_xact_id()::text")
        .fetch_one(&mut *a)
        .await
        .unwrap();
    let mut b = pool.begin().await.unwrap();
    let position_b = capture_in(&mut b, tenant, 1).await;
    b.commit().await.unwrap();
    let position_a = capture_in(&mut a, tenant, 2).await;
    assert!(position_b < position_a);

    assert!(
        read_all(pool, FeedPosition::default()).await.is_empty(),
        "B was read while the older A was in flight"
    );
    a.commit().await.unwrap();

    let events = read_feed(pool, FeedPosition::default(), 2).await;
    assert_eq!(positions(&events), vec![position_a, position_b]);
    assert_eq!(events[0].position.transaction_id.to_string(), xid_a);
    assert!(events[0].position < events[1].position);
}

#[tokio::test]
async fn rolled_back_events_never_reach_the_feed_and_leave_no_gap_that_blocks_it() {
    let db = TestDb::new().await;
    let tenant = TenantId::new();
    let pool = db.pool();

    let mut rolled = pool.begin().await.unwrap();
    let position_rolled = capture_in(&mut rolled, tenant, 1).await;
    let mut kept = pool.begin().await.unwrap();
    let position_kept = capture_in(&mut kept, tenant, 2).await;
    kept.commit().await.unwrap();
    assert!(read_all(pool, FeedPosition::default()).await.is_empty());

    rolled.rollback().await.unwrap();
    let events = read_feed(pool, FeedPosition::default(), 1).await;
    assert_eq!(positions(&events), vec![position_kept]);
    assert_ne!(position_rolled, position_kept);
}

#[tokio::test]
async fn feed_order_compares_transaction_ids_as_numbers_even_across_a_power_of_ten() {
    // Transaction ids cross a power of ten now and then (10⁵, 10⁶, … on a live server): a batch
    // spanning 99 999 and 100 000 must still come in numeric order. Written here with explicit
    // (long finished) transaction ids, highest first, so positions run against xid order.
    let db = TestDb::new().await;
    let tenant = TenantId::new();
    let xids = [1_000u64, 100, 99, 10, 9];
    for (n, xid) in xids.iter().enumerate() {
        let metadata = EventMetadata::from_context(&tenant_ctx(tenant));
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
               payload, metadata, transaction_id) \
             VALUES ('lead', $1, 1, 'LeadCaptured', '1', $2, $3, $4::text::xid8)",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(serde_json::to_value(&capture_events(n as u32, 0)[0]).unwrap())
        .bind(serde_json::to_value(&metadata).unwrap())
        .bind(xid.to_string())
        .execute(db.pool())
        .await
        .unwrap();
    }
    let numeric_order = vec![9u64, 10, 99, 100, 1_000];

    let all_at_once: Vec<u64> = read_all(db.pool(), FeedPosition::default())
        .await
        .iter()
        .map(|e| e.position.transaction_id)
        .collect();
    assert_eq!(all_at_once, numeric_order, "one batch is not in feed order");

    let mut conn = db.pool().acquire().await.unwrap();
    let mut after = FeedPosition::default();
    let mut two_at_a_time = Vec::new();
    loop {
        let batch = read_after(&mut conn, after, 2).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = last.position;
        two_at_a_time.extend(batch.iter().map(|e| e.position.transaction_id));
        assert!(
            two_at_a_time.len() <= xids.len(),
            "events read twice: {two_at_a_time:?}"
        );
    }
    assert_eq!(
        two_at_a_time, numeric_order,
        "small batches skipped or repeated events"
    );
}
