//! The pure part of the workflows projection: workflow rows, lead memberships, count deltas.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use domain::{LeadEvent, LeadStatus, WorkflowEvent, WorkflowStatus};
use infrastructure::feed::RecordedEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A row of the workflows table (JSON field names are the column names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRow {
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The workflow.
    pub workflow_id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `sms` or `whatsapp`.
    pub channel: String,
    /// Lifecycle status.
    pub status: String,
    /// The whole definition as stored in its events.
    pub definition: serde_json::Value,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Aggregate sequence of the last event applied.
    pub version: i64,
}

/// Which workflow a lead is in, and its status (a row of `workflow_members`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The lead.
    pub lead_id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The workflow, if any.
    pub workflow_id: Option<Uuid>,
    /// The lead's status.
    pub status: String,
    /// Aggregate sequence of the last lead event applied.
    pub version: i64,
}

/// Applies one workflow event.
pub fn apply_workflow_event(
    rows: &mut HashMap<Uuid, WorkflowRow>,
    event: &RecordedEvent,
) -> anyhow::Result<()> {
    let id = event.aggregate_uuid()?;
    if rows
        .get(&id)
        .is_some_and(|row| row.version >= event.sequence)
    {
        return Ok(());
    }
    let at = event.metadata.occurred_at;
    let payload: WorkflowEvent = event.decode()?;
    if let WorkflowEvent::WorkflowCreated { definition } = &payload {
        rows.insert(
            id,
            WorkflowRow {
                tenant_id: event.metadata.tenant_id,
                workflow_id: id,
                name: definition.name.as_str().to_string(),
                description: definition.description.clone(),
                channel: definition.channel.as_str().to_string(),
                status: WorkflowStatus::Draft.as_str().to_string(),
                definition: serde_json::to_value(definition)
                    .context("Failed to encode a workflow definition")?,
                created_at: at,
                updated_at: at,
                version: event.sequence,
            },
        );
        return Ok(());
    }
    let Some(row) = rows.get_mut(&id) else {
        bail!(
            "{} for workflow {id} arrived before its creation",
            event.event_type
        );
    };
    crate::projection::ensure_next(row.version, event)?;
    let status = match payload {
        WorkflowEvent::WorkflowCreated { .. } => None,
        WorkflowEvent::WorkflowUpdated { definition } => {
            row.name = definition.name.as_str().to_string();
            row.description = definition.description.clone();
            row.channel = definition.channel.as_str().to_string();
            row.definition = serde_json::to_value(&definition)
                .context("Failed to encode a workflow definition")?;
            None
        }
        WorkflowEvent::WorkflowActivated | WorkflowEvent::WorkflowResumed => {
            Some(WorkflowStatus::Active)
        }
        WorkflowEvent::WorkflowPaused => Some(WorkflowStatus::Paused),
        WorkflowEvent::WorkflowArchived => Some(WorkflowStatus::Archived),
    };
    if let Some(status) = status {
        row.status = status.as_str().to_string();
    }
    row.updated_at = at;
    row.version = event.sequence;
    Ok(())
}

/// Applies one lead event to the lead memberships.
pub fn apply_lead_event(
    members: &mut HashMap<Uuid, Membership>,
    event: &RecordedEvent,
) -> anyhow::Result<()> {
    let lead_id = event.aggregate_uuid()?;
    if members
        .get(&lead_id)
        .is_some_and(|m| m.version >= event.sequence)
    {
        return Ok(());
    }
    let payload: LeadEvent = event.decode()?;
    if let LeadEvent::LeadCaptured { workflow_id, .. } = &payload {
        members.insert(
            lead_id,
            Membership {
                lead_id,
                tenant_id: event.metadata.tenant_id,
                workflow_id: workflow_id.map(|w| w.as_uuid()),
                status: LeadStatus::Pending.as_str().to_string(),
                version: event.sequence,
            },
        );
        return Ok(());
    }
    let Some(member) = members.get_mut(&lead_id) else {
        bail!(
            "{} for lead {lead_id} arrived before its capture",
            event.event_type
        );
    };
    crate::projection::ensure_next(member.version, event)?;
    match payload {
        LeadEvent::LeadWorkflowAssigned { workflow_id } => {
            member.workflow_id = workflow_id.map(|w| w.as_uuid());
        }
        LeadEvent::LeadStatusChanged { to, .. } | LeadEvent::LeadStatusOverridden { to, .. } => {
            member.status = to.as_str().to_string();
        }
        LeadEvent::LeadOptedOut { .. } => {
            member.status = LeadStatus::OptedOut.as_str().to_string();
        }
        _ => {}
    }
    member.version = event.sequence;
    Ok(())
}

/// The change in leads per (tenant, workflow, status) between two sets of memberships.
pub fn count_deltas(
    before: &HashMap<Uuid, Membership>,
    after: &HashMap<Uuid, Membership>,
) -> BTreeMap<(Uuid, Uuid, String), i64> {
    let mut deltas = BTreeMap::new();
    let mut add = |m: &Membership, delta: i64| {
        if let Some(workflow) = m.workflow_id {
            *deltas
                .entry((m.tenant_id, workflow, m.status.clone()))
                .or_insert(0) += delta;
        }
    };
    for m in before.values() {
        add(m, -1);
    }
    for m in after.values() {
        add(m, 1);
    }
    deltas.retain(|_, delta| *delta != 0);
    deltas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(lead: u128, workflow: Option<u128>, status: &str) -> Membership {
        Membership {
            lead_id: Uuid::from_u128(lead),
            tenant_id: Uuid::from_u128(7),
            workflow_id: workflow.map(Uuid::from_u128),
            status: status.to_string(),
            version: 1,
        }
    }

    #[test]
    fn a_status_change_moves_one_lead_between_counts() {
        let before = HashMap::from([(Uuid::from_u128(1), member(1, Some(9), "pending"))]);
        let after = HashMap::from([(Uuid::from_u128(1), member(1, Some(9), "contacted"))]);
        let deltas = count_deltas(&before, &after);
        let tenant = Uuid::from_u128(7);
        let wf = Uuid::from_u128(9);
        assert_eq!(deltas.get(&(tenant, wf, "pending".into())), Some(&-1));
        assert_eq!(deltas.get(&(tenant, wf, "contacted".into())), Some(&1));
        assert_eq!(deltas.len(), 2);
    }

    #[test]
    fn leads_outside_any_workflow_are_not_counted_and_no_change_means_no_delta() {
        let before = HashMap::from([(Uuid::from_u128(1), member(1, None, "pending"))]);
        let after = HashMap::from([
            (Uuid::from_u128(1), member(1, None, "contacted")),
            (Uuid::from_u128(2), member(2, Some(9), "pending")),
        ]);
        let deltas = count_deltas(&before, &after);
        assert_eq!(deltas.len(), 1);
        assert_eq!(deltas.values().sum::<i64>(), 1);
        assert!(count_deltas(&after, &after).is_empty());
    }
}
