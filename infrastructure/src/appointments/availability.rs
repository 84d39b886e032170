//! A workflow's free slots: slots of the workflow's appointment length on a grid of that length
//! from each day's opening, inside the workflow's business hours (else the tenant's) in the
//! tenant's time zone, at least the workflow's `booking_notice_minutes` ahead, clear by its
//! `appointment_buffer_minutes` of every busy time of the tenant: the reservations of its live
//! appointments (in whichever calendar) and, when the tenant connected Google Calendar, the busy times Google
//! reports. When Google cannot say what is busy (a per-calendar error, a lost grant, an outage)
//! nothing is offered: unknown is not free. The pure computation is
//! [`domain::values::free_slots`]; this reads its inputs.

use std::sync::Arc;

use anyhow::Context;
use application::{CalendarProvider, FreeBusy};
use chrono::{DateTime, Duration, Utc};
use domain::values::{free_slots, Interval, SlotRules, TenantId, WorkflowId};
use domain::CalendarRef;
use sqlx::{PgConnection, PgPool};

use super::settings::{tenant_calendar, usable_workflow};
use super::{AppointmentRefusal, ALTERNATIVES};
use crate::calendars::CalendarResolver;
use crate::executor::CommandError;

/// The longest range availability is asked for, in days.
pub const MAX_RANGE_DAYS: i64 = 62;

type Step<T> = Result<T, CommandError<AppointmentRefusal>>;

/// The free slots of a workflow, and the calendar they are free in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    /// Free slots, soonest first.
    pub slots: Vec<Interval>,
    /// The tenant's calendar: `builtin`, or its Google calendar.
    pub calendar: CalendarRef,
    /// Why the external calendar's busy times are unknown, if they are (then `slots` is empty).
    pub unknown: Option<String>,
}

/// The tenant's calendar: the external one it connected, else the built-in calendar.
pub(super) struct TenantCalendarRef {
    /// The calendar's reference.
    pub calendar: CalendarRef,
    /// The provider to ask, for an external calendar.
    pub provider: Option<Arc<dyn CalendarProvider>>,
}

/// Resolves `tenant`'s calendar.
pub(super) async fn calendar_of(
    calendars: &CalendarResolver,
    tenant: TenantId,
) -> Step<TenantCalendarRef> {
    let provider = calendars
        .provider_for(tenant)
        .await
        .map_err(CommandError::Database)?;
    Ok(TenantCalendarRef {
        calendar: provider
            .as_ref()
            .map_or_else(CalendarRef::builtin, |provider| provider.calendar().clone()),
        provider,
    })
}

/// What the external calendar has busy in `[from, to)`: `Ok(busy)`, or `Err(why unknown)`.
pub(super) async fn external_busy(
    provider: &dyn CalendarProvider,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Interval>, String> {
    match provider.free_busy(from, to).await {
        Ok(FreeBusy::Known(busy)) => Ok(busy),
        Ok(FreeBusy::Unknown { reason }) => Err(reason),
        Err(error) => Err(error.to_string()),
    }
}

/// The free slots of `workflow` starting in `[from, to)` (ending by `to`), soonest first.
/// Refused when the range is empty or longer than [`MAX_RANGE_DAYS`].
pub async fn availability(
    pool: &PgPool,
    calendars: &CalendarResolver,
    tenant: TenantId,
    workflow: WorkflowId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Step<Availability> {
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
    let definition = usable_workflow(&mut conn, tenant, workflow).await?;
    let settings = tenant_calendar(&mut conn, tenant).await?;
    let length = Duration::minutes(i64::from(definition.appointment_duration_minutes.get()));
    let rules = SlotRules {
        hours: definition.business_hours.unwrap_or(settings.hours),
        zone: settings.zone,
        length,
        buffer: Duration::minutes(i64::from(definition.appointment_buffer_minutes)),
        min_notice: Duration::minutes(i64::from(definition.booking_notice_minutes)),
        step: length,
    };
    let calendar = calendar_of(calendars, tenant).await?;
    let (busy_from, busy_to) = (from - rules.buffer, to + rules.buffer);
    let mut busy = reserved(&mut conn, tenant, busy_from, busy_to).await?;
    drop(conn);
    if let Some(provider) = &calendar.provider {
        match external_busy(provider.as_ref(), busy_from, busy_to).await {
            Ok(external) => busy.extend(external),
            Err(reason) => {
                return Ok(Availability {
                    slots: Vec::new(),
                    calendar: calendar.calendar,
                    unknown: Some(reason),
                })
            }
        }
    }
    busy.sort_by_key(|interval| interval.start);
    Ok(Availability {
        slots: free_slots(&rules, from, to, now, &busy),
        calendar: calendar.calendar,
        unknown: None,
    })
}

/// The first [`ALTERNATIVES`] free slots of `workflow` starting at or after `after`, looking
/// up to [`MAX_RANGE_DAYS`] ahead: what a refused booking offers instead.
pub async fn alternatives(
    pool: &PgPool,
    calendars: &CalendarResolver,
    tenant: TenantId,
    workflow: WorkflowId,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Step<Vec<Interval>> {
    let mut free = availability(
        pool,
        calendars,
        tenant,
        workflow,
        after,
        after + Duration::days(MAX_RANGE_DAYS),
        now,
    )
    .await?
    .slots;
    free.truncate(ALTERNATIVES);
    Ok(free)
}

/// The tenant's reservations overlapping `[from, to)`, whichever calendar holds them: the
/// business's time is the tenant's (`migrations/0011_reservations_per_tenant.sql`).
async fn reserved(
    conn: &mut PgConnection,
    tenant: TenantId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Step<Vec<Interval>> {
    let rows: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT lower(during), upper(during) FROM appointment_reservations \
         WHERE tenant_id = $1 AND during && tstzrange($2, $3, '[)') \
         ORDER BY lower(during)",
    )
    .bind(tenant.as_uuid())
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
    .context("Failed to read the tenant's reservations")
    .map_err(CommandError::Database)?;
    Ok(rows
        .into_iter()
        .map(|(start, end)| Interval { start, end })
        .collect())
}
