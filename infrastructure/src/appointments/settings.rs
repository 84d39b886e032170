//! What the appointment use cases read besides the appointment: the tenant's time zone and
//! business hours (its row in `tenants`), and the workflow a booking comes through.

use anyhow::Context;
use domain::values::{BusinessHours, TenantId, Timezone, WorkflowId};
use domain::{Workflow, WorkflowDefinition, WorkflowStatus};
use sqlx::PgConnection;

use super::AppointmentRefusal;
use crate::event_store::{self, StoreError};
use crate::executor::CommandError;

/// The tenant's zone and business hours.
pub(super) struct TenantCalendar {
    /// Where the business is.
    pub zone: Timezone,
    /// When it is open.
    pub hours: BusinessHours,
}

/// Reads the tenant's zone and business hours in the caller's transaction.
pub(super) async fn tenant_calendar(
    conn: &mut PgConnection,
    tenant: TenantId,
) -> Result<TenantCalendar, CommandError<AppointmentRefusal>> {
    let row: Option<(String, serde_json::Value)> =
        sqlx::query_as("SELECT timezone, business_hours FROM tenants WHERE id = $1")
            .bind(tenant.as_uuid())
            .fetch_optional(&mut *conn)
            .await
            .context("Failed to read the tenant's calendar settings")
            .map_err(CommandError::Database)?;
    let (zone, hours) = row
        .context("The command's tenant does not exist")
        .map_err(CommandError::Database)?;
    Ok(TenantCalendar {
        zone: Timezone::parse(&zone)
            .with_context(|| format!("Stored timezone {zone}"))
            .map_err(CommandError::Database)?,
        hours: serde_json::from_value(hours)
            .context("Stored business hours")
            .map_err(CommandError::Database)?,
    })
}

/// The workflow's definition, if it exists for the tenant and is not archived.
pub(super) async fn usable_workflow(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: WorkflowId,
) -> Result<WorkflowDefinition, CommandError<AppointmentRefusal>> {
    let workflow =
        match event_store::load::<Workflow>(conn, tenant.as_uuid(), &id.to_string()).await {
            Ok(loaded) => loaded.aggregate,
            Err(StoreError::OtherTenant) => {
                return Err(CommandError::Rejected(AppointmentRefusal::UnknownWorkflow))
            }
            Err(error) => return Err(error.into()),
        };
    if workflow.status() == WorkflowStatus::Archived {
        return Err(CommandError::Rejected(AppointmentRefusal::WorkflowArchived));
    }
    workflow
        .definition()
        .cloned()
        .ok_or(CommandError::Rejected(AppointmentRefusal::UnknownWorkflow))
}
