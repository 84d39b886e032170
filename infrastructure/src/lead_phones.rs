//! The one-lead-per-phone rule needs a fact no single Lead aggregate holds: which lead owns a
//! number in a tenant. This table holds it, written in the same transaction as the lead's events,
//! so it can never disagree with the event store.

use std::collections::HashMap;

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

/// The holders of many numbers at once (imports): phone → lead, for those that have one.
pub async fn owners(
    conn: &mut PgConnection,
    tenant: Uuid,
    phones: &[&str],
) -> anyhow::Result<HashMap<String, Uuid>> {
    let rows: Vec<(String, Uuid)> = sqlx::query_as(
        "SELECT phone, lead_id FROM lead_phones WHERE tenant_id = $1 AND phone = ANY($2)",
    )
    .bind(tenant)
    .bind(phones)
    .fetch_all(conn)
    .await
    .context("Failed to look up phone reservations")?;
    Ok(rows.into_iter().collect())
}

/// Reserves many numbers at once, each for its lead (`claims` are phone → lead, phones
/// distinct), and returns the holder of every number: the claimant where the number was free,
/// the existing lead otherwise. A number missing from the answer was released in between:
/// retry. Claims are made in phone order, so two concurrent batches wait for each other instead
/// of deadlocking.
pub async fn claim_many(
    conn: &mut PgConnection,
    tenant: Uuid,
    claims: &[(&str, Uuid)],
) -> anyhow::Result<HashMap<String, Uuid>> {
    let mut sorted: Vec<&(&str, Uuid)> = claims.iter().collect();
    sorted.sort_unstable_by_key(|(phone, _)| *phone);
    let phones: Vec<&str> = sorted.iter().map(|(phone, _)| *phone).collect();
    let leads: Vec<Uuid> = sorted.iter().map(|(_, lead)| *lead).collect();
    let inserted: Vec<(String, Uuid)> = sqlx::query_as(
        "INSERT INTO lead_phones (tenant_id, phone, lead_id) \
         SELECT $1, p, l FROM UNNEST($2::text[], $3::uuid[]) WITH ORDINALITY AS c(p, l, n) ORDER BY n \
         ON CONFLICT (tenant_id, phone) DO NOTHING RETURNING phone, lead_id",
    )
    .bind(tenant)
    .bind(&phones)
    .bind(&leads)
    .fetch_all(&mut *conn)
    .await
    .context("Failed to reserve phone numbers")?;
    let mut holders: HashMap<String, Uuid> = inserted.into_iter().collect();
    if holders.len() < phones.len() {
        let taken: Vec<&str> = phones
            .iter()
            .copied()
            .filter(|phone| !holders.contains_key(*phone))
            .collect();
        holders.extend(owners(conn, tenant, &taken).await?);
    }
    Ok(holders)
}
