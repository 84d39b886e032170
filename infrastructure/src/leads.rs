//! Lead commands that involve more than the Lead aggregate: the one-lead-per-phone rule. A
//! capture of a known phone becomes "add this source" on the existing lead; a phone change moves
//! the reservation. Either way the reservation and the events commit in one transaction.

use application::CommandContext;
use domain::values::{LeadId, LeadSource, WorkflowId};
use domain::{Lead, LeadCommand, LeadDetailsPatch, LeadError, NewLead};
use sqlx::PgConnection;

use crate::executor::{execute_in, CommandError, CommandExecutor, Committed, Existence};
use crate::lead_phones;

/// What a capture did.
#[derive(Debug)]
pub struct Captured {
    /// The lead (new, or the existing one with that phone).
    pub lead_id: LeadId,
    /// True when the phone was known and the capture was merged into its lead.
    pub merged: bool,
    /// What was committed.
    pub committed: Committed<Lead>,
}

/// Captures a lead, or merges the capture into the tenant's lead with the same phone.
pub async fn capture(
    executor: &CommandExecutor,
    ctx: &CommandContext,
    lead: NewLead,
) -> Result<Captured, CommandError<LeadError>> {
    executor
        .in_transaction(|conn| {
            let ctx = ctx.clone();
            let lead = lead.clone();
            Box::pin(async move { capture_in(conn, &ctx, lead).await })
        })
        .await
}

pub(crate) async fn capture_in(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead: NewLead,
) -> Result<Captured, CommandError<LeadError>> {
    let tenant = ctx.tenant_id.as_uuid();
    let lead_id = LeadId::new();
    if let Some(workflow) = lead.workflow_id {
        check_workflow(conn, ctx, workflow).await?;
    }
    if let Some(phone) = &lead.phone {
        // Reserve first: in the common case (a new number) that is the only extra statement.
        let holder = lead_phones::claim(conn, tenant, phone.as_str(), lead_id.as_uuid())
            .await
            .map_err(CommandError::Database)?
            .ok_or(CommandError::Conflict)?;
        if holder != lead_id.as_uuid() {
            return add_source(conn, ctx, LeadId::from_uuid(holder), lead.source).await;
        }
    }
    let committed = execute_in::<Lead>(
        conn,
        ctx,
        &lead_id.to_string(),
        Existence::New,
        LeadCommand::CaptureLead(lead),
    )
    .await?;
    Ok(Captured {
        lead_id,
        merged: false,
        committed,
    })
}

async fn add_source(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead_id: LeadId,
    source: LeadSource,
) -> Result<Captured, CommandError<LeadError>> {
    let committed = execute_in::<Lead>(
        conn,
        ctx,
        &lead_id.to_string(),
        Existence::MustExist,
        LeadCommand::AddSource { source },
    )
    .await?;
    Ok(Captured {
        lead_id,
        merged: true,
        committed,
    })
}

/// A change of a lead's details and, optionally, of its workflow (`Some(None)` takes it out).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadUpdate {
    /// Details to change.
    pub details: LeadDetailsPatch,
    /// Workflow to move the lead to.
    pub workflow: Option<Option<WorkflowId>>,
}

/// Changes a lead's details and workflow in one transaction; a new phone must not belong to
/// another lead of the tenant, and a workflow must be the tenant's and not archived.
pub async fn update(
    executor: &CommandExecutor,
    ctx: &CommandContext,
    lead_id: LeadId,
    update: LeadUpdate,
) -> Result<Committed<Lead>, CommandError<LeadError>> {
    executor
        .in_transaction(|conn| {
            let ctx = ctx.clone();
            let update = update.clone();
            Box::pin(async move { update_in(conn, &ctx, lead_id, update).await })
        })
        .await
}

async fn update_in(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead_id: LeadId,
    update: LeadUpdate,
) -> Result<Committed<Lead>, CommandError<LeadError>> {
    let mut committed = update_details_in(conn, ctx, lead_id, update.details).await?;
    if let Some(workflow_id) = update.workflow {
        if let Some(workflow) = workflow_id {
            check_workflow(conn, ctx, workflow).await?;
        }
        let assigned = execute_in::<Lead>(
            conn,
            ctx,
            &lead_id.to_string(),
            Existence::MustExist,
            LeadCommand::AssignWorkflow { workflow_id },
        )
        .await?;
        committed = Committed {
            position: assigned.position.or(committed.position),
            ..assigned
        };
    }
    Ok(committed)
}

/// Refuses a workflow the tenant does not have, or one that is archived.
async fn check_workflow(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    workflow: WorkflowId,
) -> Result<(), CommandError<LeadError>> {
    crate::bulk::usable_workflow(conn, ctx.tenant_id.as_uuid(), workflow)
        .await?
        .map_err(|refusal| CommandError::InvalidReference {
            field: "workflow_id",
            reason: refusal.to_string(),
        })
}

async fn update_details_in(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead_id: LeadId,
    patch: LeadDetailsPatch,
) -> Result<Committed<Lead>, CommandError<LeadError>> {
    let tenant = ctx.tenant_id.as_uuid();
    let new_phone = patch.phone.clone();
    let committed = execute_in::<Lead>(
        conn,
        ctx,
        &lead_id.to_string(),
        Existence::MustExist,
        LeadCommand::UpdateDetails(patch),
    )
    .await?;
    if committed.position.is_some() {
        if let Some(phone) = new_phone {
            lead_phones::release(conn, tenant, lead_id.as_uuid())
                .await
                .map_err(CommandError::Database)?;
            if let Some(phone) = phone {
                let holder = lead_phones::claim(conn, tenant, phone.as_str(), lead_id.as_uuid())
                    .await
                    .map_err(CommandError::Database)?
                    .ok_or(CommandError::Conflict)?;
                if holder != lead_id.as_uuid() {
                    return Err(CommandError::Taken {
                        field: "phone",
                        existing_id: holder.to_string(),
                    });
                }
            }
        }
    }
    Ok(committed)
}
