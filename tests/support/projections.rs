//! Driving projections from a test: rebuild one from position zero, read a target's checkpoint.

use std::sync::Arc;

use infrastructure::feed::FeedPosition;
use projections::runner::{catch_up, prepare};
use projections::{Projection, Target};
use sqlx::PgPool;

use super::feed::wait_for_feed_to_settle;

/// Builds `projection` from position zero into `schema` (fresh tables, a checkpoint of its own)
/// and returns how many events it applied: the reference a live read model must equal. Waits
/// first until every event committed so far can be read.
pub async fn rebuild(pool: &PgPool, projection: Arc<dyn Projection>, schema: &str) -> u64 {
    wait_for_feed_to_settle(pool).await;
    let target = Target::in_schema(projection, schema);
    prepare(pool, &target)
        .await
        .unwrap_or_else(|error| panic!("failed to prepare {schema}: {error:#}"));
    catch_up(pool, &target, 500)
        .await
        .unwrap_or_else(|error| panic!("failed to rebuild {schema}: {error:#}"))
}

/// A target's checkpoint: the last event applied, and how many events were applied in all.
pub async fn checkpoint(pool: &PgPool, target: &str) -> (FeedPosition, i64) {
    let (transaction_id, global_position, applied): (String, i64, i64) = sqlx::query_as(
        "SELECT transaction_id::text, global_position, events_applied \
         FROM projection_checkpoints WHERE target = $1",
    )
    .bind(target)
    .fetch_one(pool)
    .await
    .unwrap_or_else(|error| panic!("failed to read the checkpoint of {target}: {error}"));
    let transaction_id = transaction_id
        .parse()
        .unwrap_or_else(|error| panic!("bad checkpoint {transaction_id}: {error}"));
    (
        FeedPosition {
            transaction_id,
            global_position,
        },
        applied,
    )
}
