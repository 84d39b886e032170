//! The context commands of a test run under.

use application::{Actor, CommandContext};
use chrono::Utc;
use domain::values::TenantId;

/// The context of a command issued by the system actor `tests` for `tenant`, now, under a fresh
/// request id (so a test can tell which request wrote an event).
pub fn tenant_ctx(tenant: TenantId) -> CommandContext {
    CommandContext {
        tenant_id: tenant,
        actor: Actor::System("tests"),
        request_id: format!("req-{}", uuid::Uuid::new_v4().simple()),
        issued_at: Utc::now(),
    }
}
