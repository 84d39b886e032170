//! Who issues a command, for which tenant, when, and under which request: recorded in the
//! metadata of every event the command produces, so history can always answer "who did this".

use std::fmt;

use chrono::{DateTime, Utc};
use domain::values::TenantId;

/// Who asked for a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A tenant's API key (by key id, never the secret).
    ApiKey(uuid::Uuid),
    /// The platform administrator.
    Admin,
    /// The system itself (timers, projections' process managers, the demo seeder).
    System(&'static str),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApiKey(id) => write!(f, "api_key:{id}"),
            Self::Admin => f.write_str("admin"),
            Self::System(name) => write!(f, "system:{name}"),
        }
    }
}

/// Everything about a command that is not the command itself.
#[derive(Debug, Clone)]
pub struct CommandContext {
    /// The tenant every read and write is scoped to.
    pub tenant_id: TenantId,
    /// Who asked.
    pub actor: Actor,
    /// The request id, for correlating logs and events.
    pub request_id: String,
    /// When the command was issued (from the injected clock).
    pub issued_at: DateTime<Utc>,
}
