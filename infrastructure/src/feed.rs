//! The global event feed: every committed event, exactly once, in one total order, for
//! projections and anything else that follows the store.
//!
//! Order is `(transaction_id, global_position)`. A reader takes only events of transactions older
//! than the oldest one still running (`pg_snapshot_xmin(pg_current_snapshot())`): identity values
//! are handed out before commit, so a slow writer can commit a *lower* position after a reader has
//! passed it; but its transaction id is below the snapshot's xmin only once it has finished, so a
//! reader that stops at xmin never skips it. Writers are never serialised.

use std::fmt;
use std::str::FromStr;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::metadata::EventMetadata;

/// The channel `NOTIFY`ed after every append.
pub const EVENTS_CHANNEL: &str = "bookerbot_events";

/// A point in the feed: everything up to and including it has been read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedPosition {
    /// The writing transaction's id (xid8).
    pub transaction_id: u64,
    /// The event's global position.
    pub global_position: i64,
}

impl FeedPosition {
    /// A position as stored: the transaction id as text (`xid8::text`, since sqlx has no xid8
    /// type) and the global position.
    pub fn parse(transaction_id: &str, global_position: i64) -> anyhow::Result<Self> {
        Ok(Self {
            transaction_id: transaction_id
                .parse()
                .with_context(|| format!("Bad transaction id {transaction_id}"))?,
            global_position,
        })
    }
}

impl fmt::Display for FeedPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transaction_id, self.global_position)
    }
}

/// One event as read from the feed.
#[derive(Debug, Clone)]
pub struct RecordedEvent {
    /// Where it sits in the feed.
    pub position: FeedPosition,
    /// The aggregate's type (`lead`, `workflow`, …).
    pub aggregate_type: String,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// The aggregate's version after this event.
    pub sequence: i64,
    /// The event's type name.
    pub event_type: String,
    /// The event's schema version.
    pub event_version: String,
    /// The serialized event, as stored (JSON text): decoded straight into the event type by
    /// [`RecordedEvent::decode`], never through an intermediate `Value`.
    pub payload: String,
    /// Tenant, actor, time, request id.
    pub metadata: EventMetadata,
    /// When the database recorded it.
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    /// The aggregate id as a UUID (every BookerBot aggregate id is one).
    pub fn aggregate_uuid(&self) -> anyhow::Result<Uuid> {
        Uuid::from_str(&self.aggregate_id)
            .with_context(|| format!("Aggregate id {} is not a UUID", self.aggregate_id))
    }

    /// The payload as the aggregate's event type.
    pub fn decode<E: serde::de::DeserializeOwned>(&self) -> anyhow::Result<E> {
        serde_json::from_str(&self.payload)
            .with_context(|| format!("Failed to decode {} at {}", self.event_type, self.position))
    }
}

type EventRow = (
    String,
    i64,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
);

/// Reads up to `limit` events after `after`, stopping below the oldest running transaction.
pub async fn read_after(
    conn: &mut PgConnection,
    after: FeedPosition,
    limit: i64,
) -> anyhow::Result<Vec<RecordedEvent>> {
    // The text copy of `transaction_id` must not be what ORDER BY sorts on: output columns win
    // name resolution there, and text order puts "100007" before "99992". Qualified names sort
    // the xid8 itself, which is also what the `events_feed_order` index serves.
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT transaction_id::text, global_position, aggregate_type, aggregate_id, sequence, \
                event_type, event_version, payload::text, metadata::text, recorded_at \
         FROM events \
         WHERE (transaction_id, global_position) > ($1::text::xid8, $2) \
           AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
         ORDER BY events.transaction_id, events.global_position \
         LIMIT $3",
    )
    .bind(after.transaction_id.to_string())
    .bind(after.global_position)
    .bind(limit)
    .fetch_all(conn)
    .await
    .context("Failed to read the event feed")?;
    rows.into_iter().map(decode_row).collect()
}

fn decode_row(row: EventRow) -> anyhow::Result<RecordedEvent> {
    let (
        tx,
        global_position,
        aggregate_type,
        aggregate_id,
        sequence,
        event_type,
        event_version,
        payload,
        metadata,
        recorded_at,
    ) = row;
    let position = FeedPosition::parse(&tx, global_position)?;
    let metadata: EventMetadata = serde_json::from_str(&metadata)
        .with_context(|| format!("Bad metadata at position {global_position}"))?;
    Ok(RecordedEvent {
        position,
        aggregate_type,
        aggregate_id,
        sequence,
        event_type,
        event_version,
        payload,
        metadata,
        recorded_at,
    })
}

/// Whether `tenant`'s event at `global_position` is at or before `reached` in feed order (used to
/// wait for a read model to catch up with a command). `None` if the tenant has no such event.
pub async fn is_covered(
    conn: &mut PgConnection,
    tenant: Uuid,
    global_position: i64,
    reached: FeedPosition,
) -> anyhow::Result<Option<bool>> {
    sqlx::query_scalar(
        "SELECT (transaction_id, global_position) <= ($2::text::xid8, $3) \
         FROM events WHERE global_position = $1 AND tenant_id = $4",
    )
    .bind(global_position)
    .bind(reached.transaction_id.to_string())
    .bind(reached.global_position)
    .bind(tenant)
    .fetch_optional(conn)
    .await
    .context("Failed to compare feed positions")
}

/// How far behind `reached` is: events not yet read, and the age of the oldest of them.
pub async fn lag(
    conn: &mut PgConnection,
    reached: FeedPosition,
) -> anyhow::Result<(i64, Option<f64>)> {
    sqlx::query_as(
        "SELECT count(*), EXTRACT(EPOCH FROM now() - min(recorded_at))::float8 FROM events \
         WHERE (transaction_id, global_position) > ($1::text::xid8, $2)",
    )
    .bind(reached.transaction_id.to_string())
    .bind(reached.global_position)
    .fetch_one(conn)
    .await
    .context("Failed to measure feed lag")
}
