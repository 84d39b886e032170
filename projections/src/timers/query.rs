//! Reading what is scheduled: the timers (each engaged lead's next outreach, follow-up or
//! unresponsive check, and each confirmed appointment's next reminder) and the messages waiting
//! in the outbox (deferred to a sending window, backing off after a failure, or about to go), one
//! list ordered by due time, with a keyset cursor. Both live tables are read in one statement, so
//! the answer is one snapshot.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

/// The kind of an outbox message in the list (timers use their own kind names).
pub const MESSAGE_KIND: &str = "message";

/// One scheduled item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduled {
    /// Its key (`timer:<lead>`, `reminder:<appointment>` or `send:<message>`).
    pub key: String,
    /// `outreach`, `follow_up`, `unresponsive`, `reminder` or `message`.
    pub kind: String,
    /// The lead.
    pub lead_id: Uuid,
    /// The lead's workflow.
    pub workflow_id: Option<Uuid>,
    /// The channel.
    pub channel: String,
    /// For a message, its id.
    pub message_id: Option<Uuid>,
    /// For a reminder, its appointment.
    pub appointment_id: Option<Uuid>,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// For a timer, its step (0 outreach, n follow-up n); for a reminder, the minutes before the
    /// appointment's start; for a message, failed attempts.
    pub number: i32,
}

/// Where a page starts: after this due time and key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledCursor {
    /// Due time of the last item.
    pub due_at: DateTime<Utc>,
    /// Key of the last item.
    pub key: String,
}

impl ScheduledCursor {
    /// As an opaque URL-safe token.
    #[must_use]
    pub fn encode(&self) -> String {
        hex::encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads a token made by [`ScheduledCursor::encode`].
    #[must_use]
    pub fn decode(token: &str) -> Option<Self> {
        serde_json::from_slice(&hex::decode(token).ok()?).ok()
    }
}

/// What to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduledFilter {
    /// Only this lead's.
    pub lead_id: Option<Uuid>,
    /// Only leads of this workflow.
    pub workflow_id: Option<Uuid>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Due at or after.
    pub due_from: Option<DateTime<Utc>>,
    /// Due before.
    pub due_to: Option<DateTime<Utc>>,
    /// After this item.
    pub after: Option<ScheduledCursor>,
}

/// Up to `limit` of the tenant's scheduled items matching `filter`, soonest first.
pub async fn scheduled(
    pool: &PgPool,
    timers_schema: &str,
    tasks_schema: &str,
    tenant: Uuid,
    filter: &ScheduledFilter,
    limit: u32,
) -> anyhow::Result<Vec<Scheduled>> {
    let mut sql = QueryBuilder::<Postgres>::new("SELECT * FROM (");
    if filter.kind.as_deref() != Some(MESSAGE_KIND) {
        sql.push(format!(
            "SELECT t.task_key AS key, t.kind, t.lead_id, t.workflow_id, \
                    split_part(t.conversation_id, ':', 2) AS channel, NULL::uuid AS message_id, \
                    t.appointment_id, t.due_at, t.attempt AS number \
             FROM {timers_schema}.timers t WHERE t.tenant_id = "
        ));
        sql.push_bind(tenant);
    }
    if filter.kind.is_none() {
        sql.push(" UNION ALL ");
    }
    if filter.kind.is_none() || filter.kind.as_deref() == Some(MESSAGE_KIND) {
        sql.push(format!(
            "SELECT s.task_key AS key, '{MESSAGE_KIND}' AS kind, s.lead_id, l.workflow_id, \
                    split_part(s.conversation_id, ':', 2) AS channel, s.message_id, \
                    NULL::uuid AS appointment_id, s.due_at, s.attempt AS number \
             FROM {tasks_schema}.tasks s \
             LEFT JOIN {timers_schema}.leads l ON l.lead_id = s.lead_id \
             WHERE s.kind = 'send' AND s.tenant_id = "
        ));
        sql.push_bind(tenant);
    }
    sql.push(") AS x WHERE TRUE");
    if let Some(lead) = filter.lead_id {
        sql.push(" AND lead_id = ").push_bind(lead);
    }
    if let Some(workflow) = filter.workflow_id {
        sql.push(" AND workflow_id = ").push_bind(workflow);
    }
    if let Some(kind) = &filter.kind {
        sql.push(" AND kind = ").push_bind(kind.clone());
    }
    if let Some(from) = filter.due_from {
        sql.push(" AND due_at >= ").push_bind(from);
    }
    if let Some(to) = filter.due_to {
        sql.push(" AND due_at < ").push_bind(to);
    }
    if let Some(after) = &filter.after {
        sql.push(" AND (due_at, key) > (")
            .push_bind(after.due_at)
            .push(", ")
            .push_bind(after.key.clone())
            .push(")");
    }
    sql.push(" ORDER BY due_at, key LIMIT ")
        .push_bind(i64::from(limit));
    let rows: Vec<ScheduledTuple> = sql
        .build_query_as()
        .fetch_all(pool)
        .await
        .context("Failed to list scheduled items")?;
    Ok(rows.into_iter().map(Scheduled::from).collect())
}

type ScheduledTuple = (
    String,
    String,
    Uuid,
    Option<Uuid>,
    String,
    Option<Uuid>,
    Option<Uuid>,
    DateTime<Utc>,
    i32,
);

impl From<ScheduledTuple> for Scheduled {
    fn from(
        (key, kind, lead_id, workflow_id, channel, message_id, appointment_id, due_at, number): ScheduledTuple,
    ) -> Self {
        Self {
            key,
            kind,
            lead_id,
            workflow_id,
            channel,
            message_id,
            appointment_id,
            due_at,
            number,
        }
    }
}

/// The timers of `leads` (a page of contacts), by lead.
pub async fn timers_of(
    pool: &PgPool,
    timers_schema: &str,
    tenant: Uuid,
    leads: &[Uuid],
) -> anyhow::Result<Vec<Scheduled>> {
    let keys: Vec<String> = leads.iter().map(|id| super::timer_key(*id)).collect();
    let rows: Vec<ScheduledTuple> = sqlx::query_as(&format!(
        "SELECT t.task_key AS key, t.kind, t.lead_id, t.workflow_id, \
                split_part(t.conversation_id, ':', 2) AS channel, NULL::uuid AS message_id, \
                t.appointment_id, t.due_at, t.attempt AS number \
         FROM {timers_schema}.timers t WHERE t.task_key = ANY($1) AND t.tenant_id = $2"
    ))
    .bind(&keys)
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("Failed to read the leads' timers")?;
    Ok(rows.into_iter().map(Scheduled::from).collect())
}
