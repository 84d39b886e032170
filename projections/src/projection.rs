//! What a projection is: a name, a version, the tables it owns, and a batch handler.
//!
//! A projection writes into a PostgreSQL schema of its own (`<name>_v<version>`), so a new
//! version — or a rebuild — can be built into fresh tables from position zero while the old ones
//! keep serving.

use std::sync::Arc;

use async_trait::async_trait;
use infrastructure::feed::RecordedEvent;
use sqlx::PgConnection;
use uuid::Uuid;

/// A read model fed from the global feed. Handlers are replayable: idempotent, no external calls.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Stable name (`contacts`).
    fn name(&self) -> &'static str;

    /// Version of the table layout and handler logic; bump it to rebuild into new tables.
    fn version(&self) -> u32;

    /// Creates the projection's tables in `schema` if they do not exist.
    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()>;

    /// The statements creating the secondary indexes queries need in `schema` (each
    /// `CREATE INDEX IF NOT EXISTS`). Kept apart from the tables so a rebuild can load its
    /// fresh tables first and build the indexes once, at the end, several at a time.
    fn indexes(&self, schema: &str) -> Vec<String> {
        let _ = schema;
        Vec::new()
    }

    /// Applies `events` (in feed order) to the tables in `schema`, inside the caller's
    /// transaction. Must work set-wise: fold in memory, write with few statements.
    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()>;
}

/// A projection and the schema it writes into.
#[derive(Clone)]
pub struct Target {
    /// The projection.
    pub projection: Arc<dyn Projection>,
    /// Its schema (also the checkpoint's key).
    pub schema: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("projection", &self.projection.name())
            .field("schema", &self.schema)
            .finish()
    }
}

impl Target {
    /// The projection at its live schema, the one queries read.
    pub fn live(projection: Arc<dyn Projection>) -> Self {
        let schema = live_schema(projection.name(), projection.version());
        Self { projection, schema }
    }

    /// The projection writing into another schema (rebuilds, comparisons).
    pub fn in_schema(projection: Arc<dyn Projection>, schema: impl Into<String>) -> Self {
        Self {
            projection,
            schema: schema.into(),
        }
    }
}

/// The distinct (tenant, aggregate id) pairs of `events`, as two parallel arrays for `UNNEST`:
/// read models are keyed by tenant first, so lookups by both use their primary keys.
pub fn aggregate_keys<'a>(
    events: impl IntoIterator<Item = &'a RecordedEvent>,
) -> anyhow::Result<(Vec<Uuid>, Vec<Uuid>)> {
    let mut keys = events
        .into_iter()
        .map(|e| Ok((e.metadata.tenant_id, e.aggregate_uuid()?)))
        .collect::<anyhow::Result<Vec<(Uuid, Uuid)>>>()?;
    keys.sort_unstable();
    keys.dedup();
    Ok(keys.into_iter().unzip())
}

/// Refuses an event that is not the next of its aggregate after `version`. The feed delivers an
/// aggregate's events in order: the event store refuses (as a conflict, retried) an append whose
/// transaction id is older than that of the aggregate's last event — which a transaction that
/// wrote before loading the aggregate could hold. A gap would mean that invariant broke, and
/// skipping would lose an update.
pub fn ensure_next(version: i64, event: &RecordedEvent) -> anyhow::Result<()> {
    if event.sequence == version + 1 {
        return Ok(());
    }
    anyhow::bail!(
        "{} {} event {} arrived after version {version}: the feed lost an aggregate's order",
        event.aggregate_type,
        event.aggregate_id,
        event.sequence
    )
}

/// The schema a projection's live tables live in.
pub fn live_schema(name: &str, version: u32) -> String {
    format!("rm_{name}_v{version}")
}
