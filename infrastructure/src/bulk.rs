//! One bulk action applied to a chunk of leads inside the caller's transaction: the chunk's
//! events are read in one statement, each lead decides with its aggregate, and everything the
//! leads decided is appended in one statement. A lead the aggregate refuses is reported with the
//! rule's code and the others proceed; a lead the action would not change is counted as skipped.
//!
//! The `outreach` action is the exception: it queues messages rather than commanding the lead,
//! one lead per transaction, in [`crate::messaging::bulk_outreach`].

use std::collections::HashMap;

use anyhow::Context;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use domain::values::{Tag, WorkflowId};
use domain::{Lead, LeadCommand, LeadError, LeadEvent, LeadStatus, Workflow, WorkflowStatus};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::event_store::{self, NewEvents, StoreError};
use crate::metadata::EventMetadata;

/// What a bulk job does to each of its leads. Stored with the job (`{"type": ...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BulkAction {
    /// An operator's status override, with its reason.
    SetStatus {
        /// The new status (never `opted_out`).
        status: LeadStatus,
        /// Why, kept in each lead's history.
        reason: String,
    },
    /// Put the leads into a workflow, or take them out of any (`None`).
    AssignWorkflow {
        /// The workflow.
        workflow_id: Option<WorkflowId>,
    },
    /// Tag the leads.
    AddTag {
        /// The tag.
        tag: Tag,
    },
    /// Untag the leads.
    RemoveTag {
        /// The tag.
        tag: Tag,
    },
    /// Opt the leads out.
    OptOut {
        /// Why.
        reason: String,
    },
    /// Archive the leads.
    Archive,
    /// Queue each lead's workflow outreach, once per lead (see
    /// [`crate::messaging::bulk_outreach`]).
    Outreach,
}

impl BulkAction {
    /// The command each lead is given; `None` for [`BulkAction::Outreach`], which queues
    /// messages instead (with [`crate::messaging::bulk_outreach::apply`]).
    pub fn command(&self) -> Option<LeadCommand> {
        Some(match self {
            Self::SetStatus { status, reason } => LeadCommand::OverrideStatus {
                to: *status,
                reason: reason.clone(),
            },
            Self::AssignWorkflow { workflow_id } => LeadCommand::AssignWorkflow {
                workflow_id: *workflow_id,
            },
            Self::AddTag { tag } => LeadCommand::AddTag { tag: tag.clone() },
            Self::RemoveTag { tag } => LeadCommand::RemoveTag { tag: tag.clone() },
            Self::OptOut { reason } => LeadCommand::OptOut {
                reason: reason.clone(),
            },
            Self::Archive => LeadCommand::Archive,
            Self::Outreach => return None,
        })
    }
}

/// A lead the action could not be applied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadFailure {
    /// Its index in the chunk.
    pub index: usize,
    /// The lead.
    pub lead_id: Uuid,
    /// Stable code of the rule that refused it (`not_found`, `opted_out_is_final`, …).
    pub code: String,
    /// Human-readable reason.
    pub message: String,
}

/// What applying the action to a chunk did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkOutcome {
    /// Leads changed.
    pub succeeded: i64,
    /// Leads the action did not change (already so).
    pub skipped: i64,
    /// Leads refused, in chunk order.
    pub failures: Vec<LeadFailure>,
    /// Global position of the last event written, if any.
    pub position: Option<i64>,
}

/// Applies `action` to `leads` of `tenant` inside the caller's transaction. Leads that do not
/// exist for the tenant are failures (`not_found`). A concurrent write to one of the leads
/// surfaces as [`StoreError::Conflict`]: the caller rolls back and runs the chunk again. The
/// outreach action is refused (it is not a lead command: see [`BulkAction::command`]).
pub async fn apply(
    conn: &mut PgConnection,
    tenant: Uuid,
    action: &BulkAction,
    leads: &[Uuid],
    metadata: &EventMetadata,
) -> Result<ChunkOutcome, StoreError> {
    if matches!(action, BulkAction::OptOut { .. }) {
        // Before anything is written: wait for sends to these leads that are at a provider now.
        crate::messaging::suppression::lock_many_for_opt_out(conn, leads)
            .await
            .map_err(StoreError::Database)?;
    }
    let Some(command) = action.command() else {
        return Err(StoreError::Database(anyhow::anyhow!(
            "the {action:?} action is not a lead command; apply it with messaging::bulk_outreach"
        )));
    };
    let mut loaded = load_leads(conn, tenant, leads).await?;
    let ids: Vec<String> = leads.iter().map(Uuid::to_string).collect();
    let mut decided: Vec<(usize, i64, Vec<LeadEvent>)> = Vec::with_capacity(leads.len());
    let mut outcome = ChunkOutcome::default();
    for (index, lead_id) in leads.iter().enumerate() {
        let Some((lead, version)) = loaded.remove(lead_id) else {
            outcome.failures.push(failure(
                index,
                *lead_id,
                "not_found",
                "no such lead".to_owned(),
            ));
            continue;
        };
        match decide(lead, command.clone()).await {
            Ok(events) if events.is_empty() => outcome.skipped += 1,
            Ok(events) => {
                outcome.succeeded += 1;
                decided.push((index, version, events));
            }
            Err(error) if is_already_so(&error) => outcome.skipped += 1,
            Err(error) => outcome.failures.push(failure(
                index,
                *lead_id,
                refusal_code(&error),
                error.to_string(),
            )),
        }
    }
    let batch: Vec<NewEvents<'_, LeadEvent>> = decided
        .iter()
        .map(|(index, version, events)| NewEvents {
            id: &ids[*index],
            version: *version,
            events,
        })
        .collect();
    outcome.position = event_store::append_many::<Lead>(conn, &batch, metadata).await?;
    Ok(outcome)
}

fn failure(index: usize, lead_id: Uuid, code: &str, message: String) -> LeadFailure {
    LeadFailure {
        index,
        lead_id,
        code: code.to_owned(),
        message,
    }
}

/// The leads of `tenant` among `ids`, with their versions; another tenant's lead is left
/// out, as if it did not exist.
async fn load_leads(
    conn: &mut PgConnection,
    tenant: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, (Lead, i64)>, StoreError> {
    let keys: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    event_store::load_many::<Lead>(conn, tenant, &keys)
        .await?
        .into_iter()
        .map(|(id, loaded)| {
            let id = Uuid::parse_str(&id).with_context(|| format!("Bad lead id {id}"))?;
            Ok((id, (loaded.aggregate, loaded.version)))
        })
        .collect()
}

/// What the aggregate decides for `command`.
async fn decide(mut lead: Lead, command: LeadCommand) -> Result<Vec<LeadEvent>, LeadError> {
    let sink = EventSink::default();
    lead.handle(command, &(), &sink).await?;
    Ok(sink.collect().await)
}

/// Refusals that mean the lead is already where the action would put it: counted as skipped.
fn is_already_so(error: &LeadError) -> bool {
    matches!(
        error,
        LeadError::AlreadyInStatus(_) | LeadError::AlreadyOptedOut
    )
}

/// A stable, machine-readable code for each rule a lead can refuse a bulk action by.
pub fn refusal_code(error: &LeadError) -> &'static str {
    match error {
        LeadError::NotCaptured => "not_found",
        LeadError::AlreadyCaptured => "already_captured",
        LeadError::NoContact => "no_contact",
        LeadError::InvalidTransition { .. } => "invalid_transition",
        LeadError::AlreadyInStatus(_) => "already_in_status",
        LeadError::UseOptOutCommand => "use_opt_out",
        LeadError::ReasonRequired => "reason_required",
        LeadError::ReasonTooLong { .. } => "reason_too_long",
        LeadError::AlreadyOptedOut => "already_opted_out",
        LeadError::OptedOutIsFinal => "opted_out_is_final",
        LeadError::NameTooLong { .. } => "name_too_long",
    }
}

/// Why a workflow cannot be assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowRefusal {
    /// The tenant has no such workflow.
    #[error("no such workflow")]
    Unknown,
    /// The workflow is archived.
    #[error("the workflow is archived")]
    Archived,
}

/// Checks that `workflow` is one of `tenant`'s and not archived.
pub async fn usable_workflow(
    conn: &mut PgConnection,
    tenant: Uuid,
    workflow: WorkflowId,
) -> Result<Result<(), WorkflowRefusal>, StoreError> {
    let loaded = match event_store::load::<Workflow>(conn, tenant, &workflow.to_string()).await {
        Ok(loaded) => loaded,
        Err(StoreError::OtherTenant) => return Ok(Err(WorkflowRefusal::Unknown)),
        Err(error) => return Err(error),
    };
    Ok(if loaded.version == 0 {
        Err(WorkflowRefusal::Unknown)
    } else if loaded.aggregate.status() == WorkflowStatus::Archived {
        Err(WorkflowRefusal::Archived)
    } else {
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_action_is_stored_tagged_by_its_type() {
        let action = BulkAction::AddTag {
            tag: Tag::parse("VIP").unwrap(),
        };
        let json = serde_json::to_value(&action).unwrap();
        assert_eq!(json, serde_json::json!({"type": "add_tag", "tag": "vip"}));
        assert_eq!(serde_json::from_value::<BulkAction>(json).unwrap(), action);
        assert_eq!(
            serde_json::to_value(BulkAction::Archive).unwrap(),
            serde_json::json!({"type": "archive"})
        );
        assert_eq!(
            serde_json::to_value(BulkAction::Outreach).unwrap(),
            serde_json::json!({"type": "outreach"})
        );
        assert_eq!(
            serde_json::from_value::<BulkAction>(serde_json::json!({"type": "outreach"})).unwrap(),
            BulkAction::Outreach
        );
    }

    #[test]
    fn each_action_becomes_its_lead_command() {
        assert_eq!(BulkAction::Archive.command(), Some(LeadCommand::Archive));
        assert_eq!(BulkAction::Outreach.command(), None);
        assert_eq!(
            BulkAction::SetStatus {
                status: LeadStatus::Booked,
                reason: "called".into()
            }
            .command(),
            Some(LeadCommand::OverrideStatus {
                to: LeadStatus::Booked,
                reason: "called".into()
            })
        );
    }

    #[test]
    fn being_already_there_is_a_skip_not_a_failure() {
        assert!(is_already_so(&LeadError::AlreadyOptedOut));
        assert!(is_already_so(&LeadError::AlreadyInStatus(
            LeadStatus::Booked
        )));
        assert!(!is_already_so(&LeadError::OptedOutIsFinal));
    }
}
