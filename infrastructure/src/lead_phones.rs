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

/// Reserves `phone` for `lead` unless another lead holds it; returns the holder either way
/// (`None` if the holder released it in between: try again). A concurrent claim of the same
/// number waits for the other transaction to finish, then sees its outcome.
pub async fn claim(
    conn: &mut PgConnection,
    tenant: Uuid,
    phone: &str,
    lead: Uuid,
) -> anyhow::Result<Option<Uuid>> {
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO lead_phones (tenant_id, phone, lead_id) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, phone) DO NOTHING RETURNING lead_id",
    )
    .bind(tenant)
    .bind(phone)
    .bind(lead)
    .fetch_optional(&mut *conn)
    .await
    .context("Failed to reserve a phone number")?;
    match inserted {
        Some(holder) => Ok(Some(holder)),
        None => owner(conn, tenant, phone).await,
    }
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
