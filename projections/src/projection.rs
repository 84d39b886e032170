//! What a projection is: a name, a version, the tables it owns, and a batch handler.
//!
//! A projection writes into a PostgreSQL schema of its own (`<name>_v<version>`), so a new
//! version — or a rebuild — can be built into fresh tables from position zero while the old ones
//! keep serving.

use std::sync::Arc;

use async_trait::async_trait;
use infrastructure::feed::RecordedEvent;
use sqlx::PgConnection;

/// A read model fed from the global feed. Handlers are replayable: idempotent, no external calls.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Stable name (`contacts`).
    fn name(&self) -> &'static str;

    /// Version of the table layout and handler logic; bump it to rebuild into new tables.
    fn version(&self) -> u32;

    /// Creates the projection's tables in `schema` if they do not exist.
    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()>;

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

/// The schema a projection's live tables live in.
pub fn live_schema(name: &str, version: u32) -> String {
    format!("rm_{name}_v{version}")
}
