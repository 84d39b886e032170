//! `bookerbot audit LEAD_ID [--at TIME]`: a lead's history and its state at any instant, for
//! auditors and for support ("what did we know when we sent that?").
//!
//! The history is the lead's own events, its conversations' (`<lead>:sms`, `<lead>:whatsapp`)
//! and its appointments' (every appointment whose `AppointmentBooked` names the lead), merged in
//! feed order `(transaction_id, global_position)` and limited to the lead's tenant.
//!
//! # Which clock decides "at T"
//!
//! An event belongs to the state at `T` when its `metadata.occurred_at` is at or before `T`:
//! that is the issuing command's clock, the time the business saw (a webhook's receipt, an
//! operator's click), not the moment the database happened to commit (`recorded_at`, shown beside
//! it). Since a state must be a prefix of its aggregate's history, an aggregate stops at its first
//! event after `T`: a later event stamped earlier (a skewed clock) is left out with it. The
//! states are then the aggregates' own `apply` folded over exactly the events listed.
//!
//! # Layout
//! - this file: loading the events and building the [`AuditReport`];
//! - [`summary`]: the one-line summary of a payload;
//! - [`cli`]: the subcommand's arguments and its text or JSON output.

pub mod cli;
pub mod summary;

use std::collections::HashSet;
use std::fmt;

use anyhow::Context;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::conversation::{Conversation, ConversationId};
use domain::values::{LeadId, TenantId};
use domain::{Appointment, Channel, Lead};
use infrastructure::metadata::EventMetadata;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

/// A lead's audit: its events up to `at` and the states they add up to.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// The lead.
    pub lead_id: LeadId,
    /// The lead's tenant.
    pub tenant_id: TenantId,
    /// The instant of the states (events that occurred at or before it).
    pub at: DateTime<Utc>,
    /// The events, in feed order.
    pub events: Vec<AuditEvent>,
    /// The lead as of `at` (`None` if it had not been captured yet).
    pub lead: Option<AggregateState<Lead>>,
    /// Each conversation as of `at`, in order of first event.
    pub conversations: Vec<AggregateState<Conversation>>,
    /// Each appointment as of `at`, in order of first event.
    pub appointments: Vec<AggregateState<Appointment>>,
}

/// One event of the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    /// Its global position.
    pub position: i64,
    /// The writing transaction's id (the feed's first ordering key).
    pub transaction_id: u64,
    /// `lead`, `conversation` or `appointment`.
    pub aggregate_type: String,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// The aggregate's version after it.
    pub sequence: i64,
    /// The event's type name.
    pub event_type: String,
    /// When the command that caused it was issued.
    pub occurred_at: DateTime<Utc>,
    /// When the database recorded it.
    pub recorded_at: DateTime<Utc>,
    /// Who caused it.
    pub actor: String,
    /// The request that caused it.
    pub request_id: String,
    /// The payload on one line.
    pub summary: String,
    /// The payload as stored.
    pub payload: serde_json::Value,
}

/// An aggregate's state after replaying its events.
#[derive(Debug, Clone, Serialize)]
pub struct AggregateState<A> {
    /// The aggregate's id.
    pub id: String,
    /// Events applied.
    pub version: i64,
    /// The state.
    pub state: A,
}

/// Why an audit could not be made.
#[derive(Debug)]
pub enum AuditError {
    /// No such lead (in the tenant, when one was given).
    UnknownLead {
        /// The lead asked for.
        lead_id: LeadId,
        /// The tenant it was looked for in, if any.
        tenant_id: Option<TenantId>,
    },
    /// The database failed, or a stored event could not be read.
    Database(anyhow::Error),
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownLead {
                lead_id,
                tenant_id: Some(tenant),
            } => write!(f, "no lead {lead_id} in tenant {tenant}"),
            Self::UnknownLead { lead_id, .. } => write!(f, "no lead {lead_id}"),
            Self::Database(error) => write!(f, "{error:#}"),
        }
    }
}

impl std::error::Error for AuditError {}

impl From<anyhow::Error> for AuditError {
    fn from(error: anyhow::Error) -> Self {
        Self::Database(error)
    }
}

/// Builds the audit of `lead` as of `at`, in `tenant` if given (a lead of another tenant is then
/// unknown).
pub async fn audit(
    pool: &PgPool,
    lead: LeadId,
    tenant: Option<TenantId>,
    at: DateTime<Utc>,
) -> Result<AuditReport, AuditError> {
    let owner: Option<Uuid> = sqlx::query_scalar(
        "SELECT tenant_id FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 \
         AND ($3::uuid IS NULL OR tenant_id = $3) ORDER BY sequence LIMIT 1",
    )
    .bind(Lead::TYPE)
    .bind(lead.to_string())
    .bind(tenant.map(|t| t.as_uuid()))
    .fetch_optional(pool)
    .await
    .context("Failed to find the lead")?;
    let owner = owner.ok_or(AuditError::UnknownLead {
        lead_id: lead,
        tenant_id: tenant,
    })?;
    let appointments: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT aggregate_id FROM events \
         WHERE tenant_id = $1 AND aggregate_type = $2 AND event_type = 'AppointmentBooked' \
           AND payload -> 'AppointmentBooked' ->> 'lead_id' = $3",
    )
    .bind(owner)
    .bind(Appointment::TYPE)
    .bind(lead.to_string())
    .fetch_all(pool)
    .await
    .context("Failed to find the lead's appointments")?;
    let conversations: Vec<String> = Channel::ALL
        .iter()
        .map(|channel| ConversationId::new(lead, *channel).to_string())
        .collect();
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT transaction_id::text, global_position, aggregate_type, aggregate_id, sequence, \
                event_type, payload::text, metadata::text, recorded_at \
         FROM events \
         WHERE tenant_id = $1 AND ( \
               (aggregate_type = $2 AND aggregate_id = $3) \
            OR (aggregate_type = $4 AND aggregate_id = ANY($5)) \
            OR (aggregate_type = $6 AND aggregate_id = ANY($7))) \
         ORDER BY events.transaction_id, events.global_position",
    )
    .bind(owner)
    .bind(Lead::TYPE)
    .bind(lead.to_string())
    .bind(Conversation::TYPE)
    .bind(&conversations)
    .bind(Appointment::TYPE)
    .bind(&appointments)
    .fetch_all(pool)
    .await
    .context("Failed to read the lead's events")?;
    let events = up_to(rows.into_iter().map(decode).collect::<Result<_, _>>()?, at);
    Ok(AuditReport {
        lead_id: lead,
        tenant_id: TenantId::from_uuid(owner),
        at,
        lead: replay::<Lead>(&events)?.into_iter().next(),
        conversations: replay::<Conversation>(&events)?,
        appointments: replay::<Appointment>(&events)?,
        events,
    })
}

type EventRow = (
    String,
    i64,
    String,
    String,
    i64,
    String,
    String,
    String,
    DateTime<Utc>,
);

fn decode(row: EventRow) -> anyhow::Result<AuditEvent> {
    let (tx, position, aggregate_type, aggregate_id, sequence, event_type, payload, metadata, at) =
        row;
    let metadata: EventMetadata = serde_json::from_str(&metadata)
        .with_context(|| format!("Bad metadata at position {position}"))?;
    let payload: serde_json::Value = serde_json::from_str(&payload)
        .with_context(|| format!("Bad payload at position {position}"))?;
    Ok(AuditEvent {
        position,
        transaction_id: tx
            .parse()
            .with_context(|| format!("Bad transaction id {tx}"))?,
        aggregate_type,
        aggregate_id,
        sequence,
        event_type,
        occurred_at: metadata.occurred_at,
        recorded_at: at,
        actor: metadata.actor,
        request_id: metadata.request_id,
        summary: summary::summarize(&payload),
        payload,
    })
}

/// The events of each aggregate up to its first one that occurred after `at`, in feed order.
fn up_to(events: Vec<AuditEvent>, at: DateTime<Utc>) -> Vec<AuditEvent> {
    let mut cut: HashSet<(String, String)> = HashSet::new();
    events
        .into_iter()
        .filter(|event| {
            let key = (event.aggregate_type.clone(), event.aggregate_id.clone());
            if event.occurred_at > at {
                cut.insert(key);
                return false;
            }
            !cut.contains(&key)
        })
        .collect()
}

/// Folds the events of every aggregate of type `A`, in order of each one's first event.
fn replay<A: Aggregate>(events: &[AuditEvent]) -> Result<Vec<AggregateState<A>>, AuditError> {
    let mut states: Vec<AggregateState<A>> = Vec::new();
    for event in events.iter().filter(|e| e.aggregate_type == A::TYPE) {
        let decoded: A::Event =
            serde_json::from_value(event.payload.clone()).with_context(|| {
                format!(
                    "Failed to decode {} at position {}",
                    event.event_type, event.position
                )
            })?;
        if !states.iter().any(|s| s.id == event.aggregate_id) {
            states.push(AggregateState {
                id: event.aggregate_id.clone(),
                version: 0,
                state: A::default(),
            });
        }
        if let Some(entry) = states.iter_mut().find(|s| s.id == event.aggregate_id) {
            entry.state.apply(decoded);
            entry.version += 1;
        }
    }
    Ok(states)
}
