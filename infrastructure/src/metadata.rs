//! What every event carries besides its payload: tenant, actor, time and request id. Stored as
//! postgres-es metadata (a flat JSON object of strings), with `tenant_id` also a generated column of the
//! `events` table so a tenant's stream can be read, exported or erased by index.

use application::CommandContext;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Metadata of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Who caused it (`api_key:<id>`, `admin`, `system:<name>`).
    pub actor: String,
    /// When the command was issued.
    pub occurred_at: DateTime<Utc>,
    /// The request that caused it.
    pub request_id: String,
}

impl EventMetadata {
    /// The metadata for events produced under `ctx`.
    pub fn from_context(ctx: &CommandContext) -> Self {
        Self {
            tenant_id: ctx.tenant_id.as_uuid(),
            actor: ctx.actor.to_string(),
            occurred_at: ctx.issued_at,
            request_id: ctx.request_id.clone(),
        }
    }

    /// Reads metadata stored with an event.
    pub fn deserialize_from(value: &serde_json::Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(value)
    }
}
