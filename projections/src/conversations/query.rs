//! Reading a lead's conversations: its threads, a window of its messages (the newest, or the
//! ones before a given message) in time order, and the AI turns that answered them. Three
//! indexed statements whatever the thread's length.

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::rows::{AiTurnRow, MessageRow, ThreadRow};

/// Which messages of a lead to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    /// Only this channel (`sms`, `whatsapp`).
    pub channel: Option<String>,
    /// Only messages before this one, as `(created_at, message_id)` (see [`position`]).
    pub before: Option<(DateTime<Utc>, Uuid)>,
    /// At most this many, the newest of those that match.
    pub limit: u32,
}

/// What a lead's conversations look like.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationView {
    /// The lead's threads, by channel.
    pub threads: Vec<ThreadRow>,
    /// The window's messages, oldest first (by `created_at`, then id).
    pub messages: Vec<MessageRow>,
    /// The AI answers and failures on the window's inbound messages, by message then sequence.
    pub turns: Vec<AiTurnRow>,
    /// Whether older messages match too (ask again `before` the first message).
    pub more_before: bool,
}

/// Where message `message_id` of the tenant's lead sits in its thread, if the lead has it.
pub async fn position(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    lead: Uuid,
    message_id: Uuid,
) -> anyhow::Result<Option<(DateTime<Utc>, Uuid)>> {
    sqlx::query_as(&format!(
        "SELECT created_at, message_id FROM {schema}.messages \
         WHERE tenant_id = $1 AND message_id = $2 AND lead_id = $3"
    ))
    .bind(tenant)
    .bind(message_id)
    .bind(lead)
    .fetch_optional(pool)
    .await
    .context("Failed to find a message")
}

/// The tenant's lead `lead`: threads, the messages of `window`, and their AI turns. A lead
/// with no conversation has no threads and no messages.
pub async fn conversation(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    lead: Uuid,
    window: &Window,
) -> anyhow::Result<ConversationView> {
    let (threads, mut messages) = tokio::try_join!(
        threads(pool, schema, tenant, lead, window.channel.as_deref()),
        messages(pool, schema, tenant, lead, window),
    )?;
    let more_before = messages.len() > window.limit as usize;
    messages.truncate(window.limit as usize);
    messages.reverse();
    // AI turns hang off the lead's messages they answer, and off the follow-ups the AI wrote.
    let with_turns: Vec<Uuid> = messages
        .iter()
        .filter(|m| m.direction == super::rows::INBOUND || m.origin.as_deref() == Some("follow_up"))
        .map(|m| m.message_id)
        .collect();
    let turns = turns(pool, schema, tenant, &with_turns).await?;
    Ok(ConversationView {
        threads,
        messages,
        turns,
        more_before,
    })
}

async fn threads(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    lead: Uuid,
    channel: Option<&str>,
) -> anyhow::Result<Vec<ThreadRow>> {
    let rows: Vec<Json<ThreadRow>> = sqlx::query_scalar(&format!(
        "SELECT to_jsonb(t) FROM {schema}.threads t \
         WHERE tenant_id = $1 AND lead_id = $2 AND ($3::text IS NULL OR channel = $3) \
         ORDER BY channel"
    ))
    .bind(tenant)
    .bind(lead)
    .bind(channel)
    .fetch_all(pool)
    .await
    .context("Failed to read threads")?;
    Ok(rows.into_iter().map(|Json(row)| row).collect())
}

/// Up to `limit + 1` messages of the window, newest first (the extra one tells whether there
/// are more).
async fn messages(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    lead: Uuid,
    window: &Window,
) -> anyhow::Result<Vec<MessageRow>> {
    let mut sql = QueryBuilder::<Postgres>::new("SELECT to_jsonb(m) FROM ");
    sql.push(schema)
        .push(".messages m WHERE m.tenant_id = ")
        .push_bind(tenant)
        .push(" AND m.lead_id = ")
        .push_bind(lead);
    if let Some(channel) = &window.channel {
        sql.push(" AND m.channel = ").push_bind(channel.clone());
    }
    if let Some((created_at, message_id)) = window.before {
        sql.push(" AND (m.created_at, m.message_id) < (")
            .push_bind(created_at)
            .push(", ")
            .push_bind(message_id)
            .push(")");
    }
    sql.push(" ORDER BY m.created_at DESC, m.message_id DESC LIMIT ")
        .push_bind(i64::from(window.limit) + 1);
    let rows: Vec<Json<MessageRow>> = sql
        .build_query_scalar()
        .fetch_all(pool)
        .await
        .context("Failed to read messages")?;
    Ok(rows.into_iter().map(|Json(row)| row).collect())
}

async fn turns(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    messages: &[Uuid],
) -> anyhow::Result<Vec<AiTurnRow>> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Json<AiTurnRow>> = sqlx::query_scalar(&format!(
        "SELECT to_jsonb(a) FROM {schema}.ai_turns a \
         WHERE tenant_id = $1 AND in_reply_to = ANY($2) ORDER BY in_reply_to, seq"
    ))
    .bind(tenant)
    .bind(messages)
    .fetch_all(pool)
    .await
    .context("Failed to read AI turns")?;
    Ok(rows.into_iter().map(|Json(row)| row).collect())
}
