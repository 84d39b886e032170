//! Loading an aggregate and appending its new events, always inside a transaction the caller
//! owns, so a command (and whatever else must change with it, like a phone reservation) commits
//! or fails as one. The table layout is postgres-es 0.5's, so its tooling can still read it.

use anyhow::Context;
use cqrs_es::{Aggregate, DomainEvent};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::metadata::EventMetadata;

/// An aggregate rebuilt from its events, and what is needed to append after them.
#[derive(Debug)]
pub struct LoadedAggregate<A> {
    /// The aggregate's state.
    pub aggregate: A,
    /// Number of events applied (0 = it does not exist yet).
    pub version: i64,
}

/// Why loading or appending failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The aggregate belongs to another tenant: to the caller it does not exist.
    #[error("the aggregate belongs to another tenant")]
    OtherTenant,
    /// Another writer appended to the same aggregate first.
    #[error("another command changed the aggregate at the same time")]
    Conflict,
    /// The database failed, or stored data could not be read.
    #[error(transparent)]
    Database(#[from] anyhow::Error),
}

/// Loads the aggregate `id` of type `A` as seen by `tenant`.
pub async fn load<A: Aggregate>(
    conn: &mut PgConnection,
    tenant: Uuid,
    id: &str,
) -> Result<LoadedAggregate<A>, StoreError> {
    let rows: Vec<(String, Uuid)> = sqlx::query_as(
        "SELECT payload::text, tenant_id FROM events \
         WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
    )
    .bind(A::TYPE)
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .with_context(|| format!("Failed to load {} {id}", A::TYPE))?;
    let mut aggregate = A::default();
    let version = rows.len() as i64;
    for (payload, owner) in rows {
        if owner != tenant {
            return Err(StoreError::OtherTenant);
        }
        let event: A::Event = serde_json::from_str(&payload)
            .with_context(|| format!("Failed to read an event of {} {id}", A::TYPE))?;
        aggregate.apply(event);
    }
    Ok(LoadedAggregate { aggregate, version })
}

/// Loads many aggregates of type `A` in one query (bulk actions, imports), keyed by id. Ids with
/// no events, or whose events belong to another tenant, are left out: to `tenant` they do not
/// exist.
pub async fn load_many<A: Aggregate>(
    conn: &mut PgConnection,
    tenant: Uuid,
    ids: &[String],
) -> Result<std::collections::HashMap<String, LoadedAggregate<A>>, StoreError> {
    let mut loaded = std::collections::HashMap::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(loaded);
    }
    let rows: Vec<(String, Uuid, String)> = sqlx::query_as(
        "SELECT aggregate_id, tenant_id, payload::text FROM events \
         WHERE aggregate_type = $1 AND aggregate_id = ANY($2) ORDER BY aggregate_id, sequence",
    )
    .bind(A::TYPE)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await
    .with_context(|| format!("Failed to load {} {}s", ids.len(), A::TYPE))?;
    let mut foreign = Vec::new();
    for (id, owner, payload) in rows {
        if owner != tenant {
            foreign.push(id);
            continue;
        }
        let event: A::Event = serde_json::from_str(&payload)
            .with_context(|| format!("Failed to read an event of {} {id}", A::TYPE))?;
        let entry = loaded.entry(id).or_insert_with(|| LoadedAggregate {
            aggregate: A::default(),
            version: 0,
        });
        entry.aggregate.apply(event);
        entry.version += 1;
    }
    for id in foreign {
        loaded.remove(&id);
    }
    Ok(loaded)
}

/// Appends `events` after `version` and returns the global position of the last one. A
/// concurrent append at the same sequence surfaces as [`StoreError::Conflict`], and so does an
/// append that would land before the aggregate's last event in the feed (see [`append_many`]).
pub async fn append<A: Aggregate>(
    conn: &mut PgConnection,
    id: &str,
    version: i64,
    events: &[A::Event],
    metadata: &EventMetadata,
) -> Result<i64, StoreError> {
    append_many::<A>(
        conn,
        &[NewEvents {
            id,
            version,
            events,
        }],
        metadata,
    )
    .await?
    .context("The append returned no position")
    .map_err(StoreError::Database)
}

/// One aggregate's new events, for [`append_many`].
#[derive(Debug)]
pub struct NewEvents<'a, E> {
    /// The aggregate's id.
    pub id: &'a str,
    /// Its version before these events (0 for a new aggregate).
    pub version: i64,
    /// The events, in order.
    pub events: &'a [E],
}

/// Appends the new events of many aggregates of type `A` in one statement (imports, bulk
/// actions, seeding) and returns the highest global position written (`None` if there were no
/// events). All share `metadata`. If any aggregate was appended to concurrently, nothing is
/// written and the answer is [`StoreError::Conflict`]: the caller retries the batch.
pub async fn append_many<A: Aggregate>(
    conn: &mut PgConnection,
    batch: &[NewEvents<'_, A::Event>],
    metadata: &EventMetadata,
) -> Result<Option<i64>, StoreError> {
    let metadata = serde_json::to_string(metadata).context("Failed to encode event metadata")?;
    let total: usize = batch.iter().map(|b| b.events.len()).sum();
    if total == 0 {
        return Ok(None);
    }
    let mut ids = Vec::with_capacity(total);
    let mut sequences = Vec::with_capacity(total);
    let mut types = Vec::with_capacity(total);
    let mut versions = Vec::with_capacity(total);
    let mut payloads = Vec::with_capacity(total);
    for new in batch {
        for (offset, event) in new.events.iter().enumerate() {
            ids.push(new.id);
            sequences.push(new.version + 1 + offset as i64);
            types.push(event.event_type());
            versions.push(event.event_version());
            payloads.push(serde_json::to_string(event).context("Failed to encode an event")?);
        }
    }
    let mut prior_ids = Vec::with_capacity(batch.len());
    let mut prior_sequences = Vec::with_capacity(batch.len());
    for new in batch
        .iter()
        .filter(|new| new.version > 0 && !new.events.is_empty())
    {
        prior_ids.push(new.id);
        prior_sequences.push(new.version);
    }
    // The feed orders events by the id of their transaction, assigned at its first write. A
    // transaction that wrote before loading this aggregate may hold an older id than the one
    // that committed the aggregate's last event meanwhile; appending would put this event
    // before that one in the feed. Such an append writes nothing and answers a conflict: the
    // retry runs with a newer transaction id.
    let (position, in_order): (Option<i64>, bool) = sqlx::query_as(
        "WITH in_order AS ( \
           SELECT coalesce(bool_and(prior.transaction_id <= pg_current_xact_id()), true) AS ok \
           FROM events prior \
           JOIN UNNEST($8::text[], $9::bigint[]) AS last(i, s) \
             ON prior.aggregate_type = $1 AND prior.aggregate_id = last.i \
            AND prior.sequence = last.s), \
         inserted AS (INSERT INTO events \
           (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         SELECT $1, i, s, t, v, p::json, $7::json \
         FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[]) AS e(i, s, t, v, p) \
         WHERE (SELECT ok FROM in_order) \
         RETURNING global_position) \
         SELECT (SELECT max(global_position) FROM inserted), (SELECT ok FROM in_order)",
    )
    .bind(A::TYPE)
    .bind(&ids)
    .bind(&sequences)
    .bind(&types)
    .bind(&versions)
    .bind(&payloads)
    .bind(&metadata)
    .bind(&prior_ids)
    .bind(&prior_sequences)
    .fetch_one(&mut *conn)
    .await
    .map_err(|error| match &error {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => StoreError::Conflict,
        _ => StoreError::Database(
            anyhow::Error::new(error).context(format!("Failed to append {} events", A::TYPE)),
        ),
    })?;
    if !in_order {
        return Err(StoreError::Conflict);
    }
    Ok(position)
}
