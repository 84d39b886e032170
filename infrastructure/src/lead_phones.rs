//! The one-lead-per-phone rule needs a fact no single Lead aggregate holds: which lead owns a
//! number in a tenant. This table holds it, written in the same transaction as the lead's events,
//! so it can never disagree with the event store.

use anyhow::Context;
use sqlx::PgConnection;
use uuid::Uuid;

/// The lead that owns `phone` in `tenant`, if any.
pub async fn owner(
    conn: &mut PgConnection,
    tenant: Uuid,
    phone: &str,
) -> anyhow::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT lead_id FROM lead_phones WHERE tenant_id = $1 AND phone = $2")
        .bind(tenant)
        .bind(phone)
        .fetch_optional(conn)
        .await
        .context("Failed to look up a phone reservation")
}

/// Reserves `phone` for `lead`. Returns false if another lead holds it (waiting for a concurrent
/// reservation of the same number to commit or roll back first).
pub async fn reserve(
    conn: &mut PgConnection,
    tenant: Uuid,
    phone: &str,
    lead: Uuid,
) -> anyhow::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO lead_phones (tenant_id, phone, lead_id) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, phone) DO NOTHING",
    )
    .bind(tenant)
    .bind(phone)
    .bind(lead)
    .execute(&mut *conn)
    .await
    .context("Failed to reserve a phone number")?
    .rows_affected();
    if inserted == 1 {
        return Ok(true);
    }
    Ok(owner(conn, tenant, phone).await? == Some(lead))
}

/// Releases whatever number `lead` held (when its phone changes or is cleared).
pub async fn release(conn: &mut PgConnection, tenant: Uuid, lead: Uuid) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM lead_phones WHERE tenant_id = $1 AND lead_id = $2")
        .bind(tenant)
        .bind(lead)
        .execute(conn)
        .await
        .context("Failed to release a phone reservation")?;
    Ok(())
}
