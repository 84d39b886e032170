//! Booking, rescheduling, cancelling and recording an outcome: each one transaction over the
//! reservation, the appointment and the lead (see the module docs of [`super`] for the rules).

use anyhow::Context;
use application::{CalendarProvider, CommandContext};
use chrono::{DateTime, Duration, Utc};
use domain::values::{AppointmentId, Interval, LeadId, WorkflowId};
use domain::{Appointment, AppointmentCommand, CalendarRef, Lead, LeadCommand, LeadStatus};
use sqlx::PgConnection;

use super::availability::{calendar_of, external_busy};
use super::settings::{tenant_calendar, usable_workflow};
use super::AppointmentRefusal;
use crate::calendars::CalendarResolver;
use crate::event_store::{self, StoreError};
use crate::executor::{execute_in, CommandError, CommandExecutor, Existence};

/// The reason recorded when booking has to override the lead's status.
pub const BOOKED_REASON: &str = "appointment booked";

/// What to book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookRequest {
    /// The lead who is meeting.
    pub lead_id: LeadId,
    /// The workflow the booking comes through (gives the length).
    pub workflow_id: WorkflowId,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// Free notes, possibly empty.
    pub notes: String,
}

/// A committed booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booked {
    /// The new appointment.
    pub appointment_id: AppointmentId,
    /// When it ends (start plus the workflow's appointment length).
    pub end: DateTime<Utc>,
    /// Global position of the last event written.
    pub position: Option<i64>,
}

/// A committed cancellation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    /// The lead of the appointment.
    pub lead_id: LeadId,
    /// Global position of the last event written; `None` if it was already cancelled.
    pub position: Option<i64>,
}

/// A committed change of an appointment (reschedule, notes, outcome).
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    /// The appointment after the change.
    pub appointment: Appointment,
    /// Global position of the last event written; `None` if nothing changed.
    pub position: Option<i64>,
}

/// What to change of an appointment besides its time: the notes, and/or an outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppointmentChanges {
    /// The new notes (the whole text).
    pub notes: Option<String>,
    /// What happened at the meeting, if it is being recorded.
    pub outcome: Option<Outcome>,
}

/// What happened at a meeting, once it has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The meeting took place (`Complete`).
    Completed,
    /// The lead did not come (`MarkNoShow`).
    NoShow,
}

type Step<T> = Result<T, CommandError<AppointmentRefusal>>;

fn not_found_or(error: CommandError<domain::AppointmentError>) -> CommandError<AppointmentRefusal> {
    match error {
        CommandError::NotFound => CommandError::Rejected(AppointmentRefusal::UnknownAppointment),
        other => other.map_rejection(AppointmentRefusal::from),
    }
}

/// Moves appointment `id` to `start`, keeping its length, and moves its reservation in the same
/// transaction: when another live appointment overlaps the new time, or Google reports it busy
/// for an appointment in the tenant's Google calendar, the answer is
/// [`AppointmentRefusal::Taken`] and nothing changes (the old slot stays held).
pub async fn reschedule(
    executor: &CommandExecutor,
    calendars: &CalendarResolver,
    ctx: &CommandContext,
    id: AppointmentId,
    start: DateTime<Utc>,
) -> Result<Changed, CommandError<AppointmentRefusal>> {
    let calendar = calendar_of(calendars, ctx.tenant_id).await?;
    if let Some(provider) = &calendar.provider {
        let mut conn = executor
            .pool()
            .acquire()
            .await
            .context("Failed to acquire a connection to read an appointment")
            .map_err(CommandError::Database)?;
        let current = match event_store::load::<Appointment>(
            &mut conn,
            ctx.tenant_id.as_uuid(),
            &id.to_string(),
        )
        .await
        {
            Ok(loaded) => loaded.aggregate,
            Err(StoreError::OtherTenant) => {
                return Err(CommandError::Rejected(
                    AppointmentRefusal::UnknownAppointment,
                ))
            }
            Err(error) => return Err(error.into()),
        };
        drop(conn);
        if current.is_booked() && current.calendar() == provider.calendar() {
            let own = Interval {
                start: current.start(),
                end: current.end(),
            };
            let wanted = Interval {
                start,
                end: start + current.length(),
            };
            externally_free(provider.as_ref(), wanted, Some(own)).await?;
        }
    }
    executor
        .in_transaction(|conn| {
            let ctx = ctx.clone();
            Box::pin(async move { reschedule_in(conn, &ctx, id, start).await })
        })
        .await
}

async fn reschedule_in(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    id: AppointmentId,
    start: DateTime<Utc>,
) -> Step<Changed> {
    let committed = execute_in::<Appointment>(
        conn,
        ctx,
        &id.to_string(),
        Existence::MustExist,
        AppointmentCommand::Reschedule {
            start,
            end: None,
            now: ctx.issued_at,
        },
    )
    .await
    .map_err(not_found_or)?;
    let appointment = &committed.aggregate;
    if committed.position.is_some() {
        sqlx::query(
            "DELETE FROM appointment_reservations WHERE appointment_id = $1 AND tenant_id = $2",
        )
        .bind(id.as_uuid())
        .bind(ctx.tenant_id.as_uuid())
        .execute(&mut *conn)
        .await
        .context("Failed to release an appointment's old slot")
        .map_err(CommandError::Database)?;
        reserve(
            conn,
            ctx,
            id,
            appointment.calendar(),
            appointment.lead_id(),
            appointment.start(),
            appointment.end(),
        )
        .await?;
    }
    Ok(Changed {
        appointment: committed.aggregate,
        position: committed.position,
    })
}

/// Applies `changes` to appointment `id` in one transaction: the notes first, then the outcome
/// (`Complete` or `MarkNoShow`, refused before the start). The position of the last event
/// written is `None` if nothing changed.
pub async fn update(
    executor: &CommandExecutor,
    ctx: &CommandContext,
    id: AppointmentId,
    changes: AppointmentChanges,
) -> Result<Changed, CommandError<AppointmentRefusal>> {
    executor
        .in_transaction(|conn| {
            let ctx = ctx.clone();
            let changes = changes.clone();
            Box::pin(async move { update_in(conn, &ctx, id, changes).await })
        })
        .await
}

async fn update_in(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    id: AppointmentId,
    changes: AppointmentChanges,
) -> Step<Changed> {
    let mut commands = Vec::new();
    if let Some(notes) = changes.notes {
        commands.push(AppointmentCommand::EditNotes { notes });
    }
    match changes.outcome {
        Some(Outcome::NoShow) => {
            commands.push(AppointmentCommand::MarkNoShow { at: ctx.issued_at });
        }
        Some(Outcome::Completed) => {
            commands.push(AppointmentCommand::Complete { at: ctx.issued_at });
        }
        None => {}
    }
    let mut position = None;
    let mut appointment = None;
    for command in commands {
        let committed =
            execute_in::<Appointment>(conn, ctx, &id.to_string(), Existence::MustExist, command)
                .await
                .map_err(not_found_or)?;
        position = position.max(committed.position);
        appointment = Some(committed.aggregate);
    }
    let appointment = appointment
        .context("An appointment update with no change to make")
        .map_err(CommandError::Database)?;
    Ok(Changed {
        appointment,
        position,
    })
}

/// Books `request` in the tenant's calendar (its Google calendar if connected, else the
/// built-in one), in one transaction: the lead must be the tenant's, not opted out and not
/// archived; the workflow the tenant's and not archived; the slot free — in the reservations
/// and, for Google, in what Google reports busy right now (unknown there refuses with
/// [`AppointmentRefusal::CalendarUnavailable`]). The lead becomes `booked`. Any refusal leaves
/// nothing written.
pub async fn book(
    executor: &CommandExecutor,
    calendars: &CalendarResolver,
    ctx: &CommandContext,
    request: BookRequest,
) -> Result<Booked, CommandError<AppointmentRefusal>> {
    let calendar = calendar_of(calendars, ctx.tenant_id).await?;
    if let Some(provider) = &calendar.provider {
        let length = workflow_length(executor, ctx, request.workflow_id).await?;
        let wanted = Interval {
            start: request.start,
            end: request.start + length,
        };
        externally_free(provider.as_ref(), wanted, None).await?;
    }
    executor
        .in_transaction(|conn| {
            let ctx = ctx.clone();
            let request = request.clone();
            let calendar = calendar.calendar.clone();
            Box::pin(async move { book_in(conn, &ctx, request, &calendar).await })
        })
        .await
}

/// The length of `workflow`'s appointments.
async fn workflow_length(
    executor: &CommandExecutor,
    ctx: &CommandContext,
    workflow: WorkflowId,
) -> Step<Duration> {
    let mut conn = executor
        .pool()
        .acquire()
        .await
        .context("Failed to acquire a connection to read a workflow")
        .map_err(CommandError::Database)?;
    let definition = usable_workflow(&mut conn, ctx.tenant_id, workflow).await?;
    Ok(Duration::minutes(i64::from(
        definition.appointment_duration_minutes.get(),
    )))
}

/// Whether the external calendar has `wanted` free, ignoring the busy block that is exactly
/// `own` (the appointment being moved, already in that calendar).
async fn externally_free(
    provider: &dyn CalendarProvider,
    wanted: Interval,
    own: Option<Interval>,
) -> Step<()> {
    let busy = external_busy(provider, wanted.start, wanted.end)
        .await
        .map_err(|reason| {
            CommandError::Rejected(AppointmentRefusal::CalendarUnavailable { reason })
        })?;
    let clash = busy
        .iter()
        .any(|block| Some(*block) != own && block.start < wanted.end && wanted.start < block.end);
    if clash {
        return Err(CommandError::Rejected(AppointmentRefusal::Taken));
    }
    Ok(())
}

/// [`book`] in the caller's transaction, in `calendar` (the orchestrator books with the AI turn,
/// in the calendar its availability came from).
pub(crate) async fn book_in(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    request: BookRequest,
    calendar_ref: &CalendarRef,
) -> Step<Booked> {
    let lead = bookable_lead(conn, ctx, request.lead_id).await?;
    let workflow = usable_workflow(conn, ctx.tenant_id, request.workflow_id).await?;
    let calendar = tenant_calendar(conn, ctx.tenant_id).await?;
    if request.start < ctx.issued_at {
        return Err(CommandError::Rejected(
            domain::AppointmentError::StartInPast {
                start: request.start,
                now: ctx.issued_at,
            }
            .into(),
        ));
    }
    let end =
        request.start + Duration::minutes(i64::from(workflow.appointment_duration_minutes.get()));
    let appointment_id = AppointmentId::new();
    reserve(
        conn,
        ctx,
        appointment_id,
        calendar_ref,
        request.lead_id,
        request.start,
        end,
    )
    .await?;
    let booked = execute_in::<Appointment>(
        conn,
        ctx,
        &appointment_id.to_string(),
        Existence::New,
        AppointmentCommand::Book {
            lead_id: request.lead_id,
            workflow_id: request.workflow_id,
            start: request.start,
            end,
            timezone: calendar.zone,
            calendar: calendar_ref.clone(),
            location: None,
            meeting_link: None,
            notes: request.notes,
            reminder_offsets_minutes: workflow.reminder_offsets_minutes.clone(),
            now: ctx.issued_at,
        },
    )
    .await
    .map_err(|error| error.map_rejection(AppointmentRefusal::from))?;
    let moved = move_lead_to_booked(conn, ctx, request.lead_id, &lead).await?;
    Ok(Booked {
        appointment_id,
        end,
        position: booked.position.max(moved),
    })
}

/// Cancels appointment `id` with `reason`, releases its slot, and sends its lead back to
/// `qualified` when it is `booked` with no other appointment still ahead. Cancelling a cancelled
/// appointment changes nothing.
pub async fn cancel(
    executor: &CommandExecutor,
    ctx: &CommandContext,
    id: AppointmentId,
    reason: &str,
) -> Result<Cancelled, CommandError<AppointmentRefusal>> {
    executor
        .in_transaction(|conn| {
            let ctx = ctx.clone();
            let reason = reason.to_owned();
            Box::pin(async move { cancel_in(conn, &ctx, id, reason).await })
        })
        .await
}

async fn cancel_in(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    id: AppointmentId,
    reason: String,
) -> Step<Cancelled> {
    let committed = execute_in::<Appointment>(
        conn,
        ctx,
        &id.to_string(),
        Existence::MustExist,
        AppointmentCommand::Cancel {
            reason,
            at: ctx.issued_at,
        },
    )
    .await
    .map_err(|error| match error {
        CommandError::NotFound => CommandError::Rejected(AppointmentRefusal::UnknownAppointment),
        other => other.map_rejection(AppointmentRefusal::from),
    })?;
    let lead_id = committed.aggregate.lead_id();
    sqlx::query(
        "DELETE FROM appointment_reservations WHERE appointment_id = $1 AND tenant_id = $2",
    )
    .bind(id.as_uuid())
    .bind(ctx.tenant_id.as_uuid())
    .execute(&mut *conn)
    .await
    .context("Failed to release an appointment's reservation")
    .map_err(CommandError::Database)?;
    let mut position = committed.position;
    if position.is_some() {
        position = position.max(release_lead(conn, ctx, lead_id).await?);
    }
    Ok(Cancelled { lead_id, position })
}

/// The lead, if it can be booked.
async fn bookable_lead(conn: &mut PgConnection, ctx: &CommandContext, id: LeadId) -> Step<Lead> {
    let lead = match event_store::load::<Lead>(conn, ctx.tenant_id.as_uuid(), &id.to_string()).await
    {
        Ok(loaded) => loaded.aggregate,
        Err(StoreError::OtherTenant) => {
            return Err(CommandError::Rejected(AppointmentRefusal::UnknownLead))
        }
        Err(error) => return Err(error.into()),
    };
    if !lead.is_captured() {
        return Err(CommandError::Rejected(AppointmentRefusal::UnknownLead));
    }
    if lead.is_opted_out() {
        return Err(CommandError::Rejected(AppointmentRefusal::OptedOut));
    }
    if lead.is_archived() {
        return Err(CommandError::Rejected(AppointmentRefusal::Archived));
    }
    Ok(lead)
}

/// Holds `[start, end)` in `calendar` for the appointment; an overlap is [`AppointmentRefusal::Taken`].
async fn reserve(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    appointment: AppointmentId,
    calendar: &CalendarRef,
    lead: LeadId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Step<()> {
    // A speculative insertion (`ON CONFLICT DO NOTHING`) checks the exclusion constraint before
    // its row becomes visible: two plain inserts of overlapping rows can each find the other's
    // uncommitted row and wait for each other until PostgreSQL aborts one as a deadlock.
    let inserted = sqlx::query(
        "INSERT INTO appointment_reservations (appointment_id, tenant_id, calendar, lead_id, during) \
         VALUES ($1, $2, $3, $4, tstzrange($5, $6, '[)')) ON CONFLICT DO NOTHING",
    )
    .bind(appointment.as_uuid())
    .bind(ctx.tenant_id.as_uuid())
    .bind(calendar.as_str())
    .bind(lead.as_uuid())
    .bind(start)
    .bind(end)
    .execute(&mut *conn)
    .await
    .context("Failed to reserve an appointment's slot")
    .map_err(CommandError::Database)?;
    if inserted.rows_affected() == 0 {
        return Err(CommandError::Rejected(AppointmentRefusal::Taken));
    }
    Ok(())
}

/// Moves the lead to `booked` (see the module docs); the position written, if any.
async fn move_lead_to_booked(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    id: LeadId,
    lead: &Lead,
) -> Step<Option<i64>> {
    let from = lead.status();
    if from == LeadStatus::Booked {
        return Ok(None);
    }
    let command = if from.can_advance_to(LeadStatus::Booked) {
        LeadCommand::AdvanceStatus {
            to: LeadStatus::Booked,
        }
    } else {
        LeadCommand::OverrideStatus {
            to: LeadStatus::Booked,
            reason: BOOKED_REASON.to_owned(),
        }
    };
    lead_command(conn, ctx, id, command).await
}

/// Sends a `booked` lead with no appointment still ahead back to `qualified`.
async fn release_lead(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    id: LeadId,
) -> Step<Option<i64>> {
    let lead = match event_store::load::<Lead>(conn, ctx.tenant_id.as_uuid(), &id.to_string()).await
    {
        Ok(loaded) => loaded.aggregate,
        Err(StoreError::OtherTenant) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    if lead.status() != LeadStatus::Booked {
        return Ok(None);
    }
    let another: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM appointment_reservations \
         WHERE tenant_id = $1 AND lead_id = $2 AND upper(during) > $3)",
    )
    .bind(ctx.tenant_id.as_uuid())
    .bind(id.as_uuid())
    .bind(ctx.issued_at)
    .fetch_one(&mut *conn)
    .await
    .context("Failed to look for the lead's other appointments")
    .map_err(CommandError::Database)?;
    if another {
        return Ok(None);
    }
    lead_command(
        conn,
        ctx,
        id,
        LeadCommand::AdvanceStatus {
            to: LeadStatus::Qualified,
        },
    )
    .await
}

async fn lead_command(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    id: LeadId,
    command: LeadCommand,
) -> Step<Option<i64>> {
    let committed = execute_in::<Lead>(conn, ctx, &id.to_string(), Existence::MustExist, command)
        .await
        .map_err(|error| error.map_rejection(AppointmentRefusal::from))?;
    Ok(committed.position)
}
