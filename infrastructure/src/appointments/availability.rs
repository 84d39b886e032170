//! A workflow's free slots: slots of the workflow's appointment length on a grid of that length
//! from each day's opening, inside the workflow's business hours (else the tenant's) in the
//! tenant's time zone, at least [`MIN_NOTICE_MINUTES`] ahead, clear of every live reservation
//! of the built-in calendar by [`BUFFER_MINUTES`]. The pure computation is
//! [`domain::values::free_slots`]; this reads its inputs.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use domain::values::{free_slots, Interval, SlotRules, TenantId, WorkflowId};
use domain::CalendarRef;
use sqlx::{PgConnection, PgPool};

use super::settings::{tenant_calendar, usable_workflow};
use super::{AppointmentRefusal, ALTERNATIVES, BUFFER_MINUTES, MIN_NOTICE_MINUTES};
use crate::executor::CommandError;

/// The longest range availability is asked for, in days.
pub const MAX_RANGE_DAYS: i64 = 62;

type Step<T> = Result<T, CommandError<AppointmentRefusal>>;

/// The free slots of `workflow` starting in `[from, to)` (ending by `to`), soonest first.
/// Refused when the range is empty or longer than [`MAX_RANGE_DAYS`].
pub async fn availability(
    pool: &PgPool,
    tenant: TenantId,
    workflow: WorkflowId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Step<Vec<Interval>> {
    if to <= from {
        return Err(CommandError::Rejected(AppointmentRefusal::EmptyRange));
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(CommandError::Rejected(AppointmentRefusal::RangeTooLong {
            max_days: MAX_RANGE_DAYS,
        }));
    }
    let mut conn = pool
        .acquire()
        .await
        .context("Failed to acquire a connection for availability")
        .map_err(CommandError::Database)?;
    slots_in(&mut conn, tenant, workflow, from, to, now).await
}

/// The first [`ALTERNATIVES`] free slots of `workflow` starting at or after `after`, looking
/// up to [`MAX_RANGE_DAYS`] ahead: what a refused booking offers instead.
pub async fn alternatives(
    pool: &PgPool,
    tenant: TenantId,
    workflow: WorkflowId,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Step<Vec<Interval>> {
    let mut slots = availability(
        pool,
        tenant,
        workflow,
        after,
        after + Duration::days(MAX_RANGE_DAYS),
        now,
    )
    .await?;
    slots.truncate(ALTERNATIVES);
    Ok(slots)
}

async fn slots_in(
    conn: &mut PgConnection,
    tenant: TenantId,
    workflow: WorkflowId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Step<Vec<Interval>> {
    let definition = usable_workflow(conn, tenant, workflow).await?;
    let calendar = tenant_calendar(conn, tenant).await?;
    let rules = SlotRules {
        hours: definition.business_hours.unwrap_or(calendar.hours),
        zone: calendar.zone,
        length: Duration::minutes(i64::from(definition.appointment_duration_minutes.get())),
        buffer: Duration::minutes(BUFFER_MINUTES),
        min_notice: Duration::minutes(MIN_NOTICE_MINUTES),
        step: Duration::minutes(i64::from(definition.appointment_duration_minutes.get())),
    };
    let busy = busy(conn, tenant, from - rules.buffer, to + rules.buffer).await?;
    Ok(free_slots(&rules, from, to, now, &busy))
}

/// The reservations of the built-in calendar overlapping `[from, to)`.
async fn busy(
    conn: &mut PgConnection,
    tenant: TenantId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Step<Vec<Interval>> {
    let rows: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT lower(during), upper(during) FROM appointment_reservations \
         WHERE tenant_id = $1 AND calendar = $2 AND during && tstzrange($3, $4, '[)') \
         ORDER BY lower(during)",
    )
    .bind(tenant.as_uuid())
    .bind(CalendarRef::BUILTIN)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
    .context("Failed to read the calendar's reservations")
    .map_err(CommandError::Database)?;
    Ok(rows
        .into_iter()
        .map(|(start, end)| Interval { start, end })
        .collect())
}
