//! Appointments over HTTP: book a lead into a free slot (never two overlapping appointments in
//! a calendar, even across instances), reschedule, cancel, record notes and outcomes, list them
//! (a list, or a week or month calendar grouped by the tenant's local day), and the free slots
//! of a workflow. The use cases are `infrastructure::appointments`, reads the `appointments`
//! projection; a taken slot answers 409 `slot_taken` with the next free slots after the
//! requested start as `details.alternatives`.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use domain::values::{AppointmentId, TenantId, Timezone, WorkflowId};
use infrastructure::appointments::{self, AppointmentRefusal};
use infrastructure::executor::CommandError;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use projections::appointments::query::{self, AppointmentFilter, Cursor};
use uuid::Uuid;

use crate::auth::BearerAuth;
use crate::body::JsonBody;
use crate::dto::appointment::{
    parse_id, parse_time, AppointmentChangeDto, AppointmentDayDto, AppointmentDetailsDto,
    AppointmentDto, AppointmentListDto, AvailabilityDto, BookAppointmentRequest,
    CancelAppointmentRequest, CancelledAppointmentDto, RescheduleAppointmentRequest,
    UpdateAppointmentRequest,
};
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::routes::ApiTags;
use crate::state::AppState;

/// The appointments API.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppointmentsApi;

/// An appointment was booked.
#[derive(Debug, ApiResponse)]
pub enum BookedResponse {
    /// Booked: the slot is held and the lead is `booked`.
    #[oai(status = 201)]
    Created(Json<AppointmentDto>),
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Appointments")]
impl AppointmentsApi {
    /// Book an appointment
    ///
    /// Books `lead_id` at `start` in the built-in calendar for the length of `workflow_id`'s
    /// appointments, shown in the tenant's time zone; the lead becomes `booked`. Two
    /// appointments never overlap: when another holds any of that time the answer is 409
    /// `slot_taken` with `details.alternatives`, the next free slots from `start`. 409
    /// `opted_out` or `archived` for a lead that cannot be booked; 404 for a lead or workflow
    /// the tenant does not have; 422 naming the field for a malformed id or time, a start in
    /// the past, or an archived workflow.
    #[oai(
        path = "/appointments",
        method = "post",
        operation_id = "book_appointment"
    )]
    async fn book(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        body: JsonBody<BookAppointmentRequest>,
    ) -> Result<BookedResponse, ApiError> {
        let tenant = auth.0.tenant()?;
        let request = body.0.parse()?;
        let ctx = state.context(&auth.0, tenant, &request_id);
        match appointments::book(
            &state.executor,
            &state.messaging.calendars,
            &ctx,
            request.clone(),
        )
        .await
        {
            Ok(booked) => Ok(BookedResponse::Created(Json(AppointmentDto {
                id: booked.appointment_id.to_string(),
                lead_id: request.lead_id.to_string(),
                workflow_id: request.workflow_id.to_string(),
                start: request.start,
                end: booked.end,
                status: domain::AppointmentStatus::Confirmed.to_string(),
                position: booked.position,
            }))),
            Err(CommandError::Rejected(AppointmentRefusal::Taken)) => {
                let alternatives = appointments::alternatives(
                    &state.pool,
                    &state.messaging.calendars,
                    tenant,
                    request.workflow_id,
                    request.start,
                    ctx.issued_at,
                )
                .await
                .map_err(|error| ApiError::from_command(error, "workflow"))?;
                Err(ApiError::slot_taken(&alternatives))
            }
            Err(error) => Err(ApiError::from_command(error, "appointment")),
        }
    }

    /// Cancel an appointment
    ///
    /// Calls the appointment off with a `reason` and frees its slot. A `booked` lead with no
    /// other appointment still ahead goes back to `qualified`. Cancelling a cancelled
    /// appointment changes nothing (`position: null`); a completed or no-show one is a 409.
    #[oai(
        path = "/appointments/:id/cancel",
        method = "post",
        operation_id = "cancel_appointment"
    )]
    async fn cancel(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The appointment's id.
        id: Path<String>,
        body: JsonBody<CancelAppointmentRequest>,
    ) -> Result<Json<CancelledAppointmentDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let appointment: AppointmentId =
            id.0.trim()
                .parse()
                .map_err(|_| ApiError::not_found("appointment"))?;
        let ctx = state.context(&auth.0, tenant, &request_id);
        let cancelled = appointments::cancel(&state.executor, &ctx, appointment, &body.0.reason)
            .await
            .map_err(|error| ApiError::from_command(error, "appointment"))?;
        Ok(Json(CancelledAppointmentDto {
            id: appointment.to_string(),
            lead_id: cancelled.lead_id.to_string(),
            status: domain::AppointmentStatus::Cancelled.to_string(),
            position: cancelled.position,
        }))
    }

    /// Free slots
    ///
    /// The slots a lead could book through `workflow_id` starting in `[from, to)` (RFC 3339;
    /// at most 62 days): the workflow's appointment length, on a grid of that length from each
    /// day's opening, inside the workflow's business hours (else the tenant's) in the tenant's
    /// time zone, daylight-saving changes included; at least an hour ahead; clear of every
    /// booked appointment. 422 naming the field for a missing or malformed parameter or a
    /// range that is empty or too long; 404 for a workflow the tenant does not have.
    #[oai(
        path = "/availability",
        method = "get",
        operation_id = "get_availability"
    )]
    async fn availability(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The workflow whose appointments are offered.
        workflow_id: Query<Option<String>>,
        /// The earliest start (RFC 3339).
        from: Query<Option<String>>,
        /// Slots end by this time (RFC 3339).
        to: Query<Option<String>>,
    ) -> Result<Json<AvailabilityDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let workflow: WorkflowId =
            parse_id("workflow_id", required("workflow_id", &workflow_id.0)?)?;
        let from = parse_time("from", required("from", &from.0)?)?;
        let to = parse_time("to", required("to", &to.0)?)?;
        let free = appointments::availability(
            &state.pool,
            &state.messaging.calendars,
            tenant,
            workflow,
            from,
            to,
            state.clock.now(),
        )
        .await
        .map_err(|error| ApiError::from_command(error, "workflow"))?;
        Ok(Json(AvailabilityDto {
            slots: free.slots.into_iter().map(Into::into).collect(),
            calendar: free.calendar.to_string(),
            unknown_reason: free.unknown,
        }))
    }
    /// List appointments
    ///
    /// The tenant's appointments, soonest first. Filters: `status` (`confirmed`, `cancelled`,
    /// `completed`, `no_show`), `workflow_id`, `lead_id`, and `from`/`to` (RFC 3339; the start
    /// in `[from, to)`). `view=list` (default) answers `items` and `next_cursor` (pass it as
    /// `cursor`; `limit` 1 to 500, default 50). `view=week` answers `days`, Monday to Sunday of
    /// `from`'s week, and `view=month` every day of `from`'s month (now when `from` is absent;
    /// `to` is ignored), each appointment under the local day of its start in the tenant's time
    /// zone. 422 naming the field for a bad value. Pass a command's `position` as
    /// `min_position` to see its effect.
    #[oai(
        path = "/appointments",
        method = "get",
        operation_id = "list_appointments"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Only appointments in this status.
        status: Query<Option<String>>,
        /// Only those booked through this workflow.
        workflow_id: Query<Option<String>>,
        /// Only this lead's.
        lead_id: Query<Option<String>>,
        /// Only those starting at or after this time (RFC 3339).
        from: Query<Option<String>>,
        /// Only those starting before this time (RFC 3339).
        to: Query<Option<String>>,
        /// `list` (default), `week` or `month`.
        view: Query<Option<String>>,
        /// Items per page for `view=list`, 1 to 500 (default 50).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Wait (briefly) until the read model has applied the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<AppointmentListDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let mut filter = AppointmentFilter {
            status: parse_status(status.0.as_deref())?,
            workflow_id: optional_id("workflow_id", workflow_id.0.as_deref())?,
            lead_id: optional_id("lead_id", lead_id.0.as_deref())?,
            from: optional_time("from", from.0.as_deref())?,
            to: optional_time("to", to.0.as_deref())?,
        };
        let view = match view.0.as_deref().map(str::trim) {
            None | Some("list") => None,
            Some("week") => Some(CalendarView::Week),
            Some("month") => Some(CalendarView::Month),
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "view",
                    "must be list, week or month",
                ))
            }
        };
        let limit = limit.0.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid_field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = cursor.0.as_deref().map(parse_cursor).transpose()?;
        let schema = projections::appointments::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        let Some(view) = view else {
            let page = query::list(
                &state.pool,
                &schema,
                tenant.as_uuid(),
                &filter,
                limit,
                after,
            )
            .await?;
            return Ok(Json(AppointmentListDto {
                items: Some(page.items.into_iter().map(Into::into).collect()),
                next_cursor: page
                    .next
                    .map(|c| format!("{}_{}", c.start.timestamp_micros(), c.id)),
                days: None,
            }));
        };
        let zone = tenant_zone(&state, tenant).await?;
        let anchor = filter.from.unwrap_or_else(|| state.clock.now());
        let days = view.days(anchor.with_timezone(&zone.tz()).date_naive());
        let (Some(first), Some(last)) = (days.first(), days.last()) else {
            return Err(anyhow::anyhow!("A calendar view with no day").into());
        };
        filter.from = Some(local_midnight(zone, *first));
        filter.to = Some(local_midnight(zone, *last + chrono::Duration::days(1)));
        let mut rows = Vec::new();
        let mut after = None;
        loop {
            let page = query::list(
                &state.pool,
                &schema,
                tenant.as_uuid(),
                &filter,
                MAX_LIMIT,
                after,
            )
            .await?;
            rows.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut by_day: BTreeMap<NaiveDate, Vec<AppointmentDetailsDto>> =
            days.iter().map(|day| (*day, Vec::new())).collect();
        for row in rows {
            let day = row.start.with_timezone(&zone.tz()).date_naive();
            if let Some(list) = by_day.get_mut(&day) {
                list.push(row.into());
            }
        }
        Ok(Json(AppointmentListDto {
            items: None,
            next_cursor: None,
            days: Some(
                by_day
                    .into_iter()
                    .map(|(date, appointments)| AppointmentDayDto {
                        date: date.format("%Y-%m-%d").to_string(),
                        appointments,
                    })
                    .collect(),
            ),
        }))
    }

    /// Get an appointment
    ///
    /// One appointment of the tenant; 404 for another tenant's or an unknown id. Pass a
    /// command's `position` as `min_position` to see its effect.
    #[oai(
        path = "/appointments/:id",
        method = "get",
        operation_id = "get_appointment"
    )]
    async fn get(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The appointment's id.
        id: Path<String>,
        /// Wait (briefly) until the read model has applied the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<AppointmentDetailsDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let id = path_id(&id.0)?;
        let schema = projections::appointments::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        let row = query::get(&state.pool, &schema, tenant.as_uuid(), id.as_uuid())
            .await?
            .ok_or_else(|| ApiError::not_found("appointment"))?;
        Ok(Json(row.into()))
    }

    /// Update an appointment
    ///
    /// Replaces the `notes` and/or records the outcome: `status` `completed` or `no_show`,
    /// only once the appointment has started (409 `invalid_state` before, or for a cancelled
    /// one). Nothing changed answers `position: null`.
    #[oai(
        path = "/appointments/:id",
        method = "patch",
        operation_id = "update_appointment"
    )]
    async fn update(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The appointment's id.
        id: Path<String>,
        body: JsonBody<UpdateAppointmentRequest>,
    ) -> Result<Json<AppointmentChangeDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let id = path_id(&id.0)?;
        let changes = body.0.parse()?;
        let ctx = state.context(&auth.0, tenant, &request_id);
        let changed = appointments::update(&state.executor, &ctx, id, changes)
            .await
            .map_err(|error| ApiError::from_command(error, "appointment"))?;
        Ok(Json(AppointmentChangeDto::new(
            id.to_string(),
            &changed.appointment,
            changed.position,
        )))
    }

    /// Reschedule an appointment
    ///
    /// Moves a confirmed appointment to `start`, keeping its length, and moves its slot in the
    /// same transaction: the old time is free again. 409 `slot_taken` with
    /// `details.alternatives` when another appointment holds any of the new time (nothing
    /// changes); 409 `invalid_state` unless confirmed; 422 for a start in the past.
    #[oai(
        path = "/appointments/:id/reschedule",
        method = "post",
        operation_id = "reschedule_appointment"
    )]
    async fn reschedule(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The appointment's id.
        id: Path<String>,
        body: JsonBody<RescheduleAppointmentRequest>,
    ) -> Result<Json<AppointmentChangeDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let id = path_id(&id.0)?;
        let start = parse_time("start", &body.0.start)?;
        let ctx = state.context(&auth.0, tenant, &request_id);
        match appointments::reschedule(&state.executor, &state.messaging.calendars, &ctx, id, start)
            .await
        {
            Ok(changed) => Ok(Json(AppointmentChangeDto::new(
                id.to_string(),
                &changed.appointment,
                changed.position,
            ))),
            Err(CommandError::Rejected(AppointmentRefusal::Taken)) => {
                let schema = projections::appointments::live();
                let workflow = query::get(&state.pool, &schema, tenant.as_uuid(), id.as_uuid())
                    .await?
                    .map(|row| WorkflowId::from_uuid(row.workflow_id));
                let alternatives = match workflow {
                    Some(workflow) => appointments::alternatives(
                        &state.pool,
                        &state.messaging.calendars,
                        tenant,
                        workflow,
                        start,
                        ctx.issued_at,
                    )
                    .await
                    .map_err(|error| ApiError::from_command(error, "workflow"))?,
                    None => Vec::new(),
                };
                Err(ApiError::slot_taken(&alternatives))
            }
            Err(error) => Err(ApiError::from_command(error, "appointment")),
        }
    }
}

/// Default page size of the list.
const DEFAULT_LIMIT: u32 = 50;
/// Largest page size of the list.
const MAX_LIMIT: u32 = 500;

/// Which calendar a list groups into.
#[derive(Debug, Clone, Copy)]
enum CalendarView {
    Week,
    Month,
}

impl CalendarView {
    /// Every day of the week (Monday first) or month holding `day`.
    fn days(self, day: NaiveDate) -> Vec<NaiveDate> {
        let first = match self {
            Self::Week => {
                day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday()))
            }
            Self::Month => day.with_day(1).unwrap_or(day),
        };
        first
            .iter_days()
            .take_while(|d| match self {
                Self::Week => *d < first + chrono::Duration::days(7),
                Self::Month => d.month() == first.month(),
            })
            .collect()
    }
}

/// The instant `day` begins in `zone` (the first instant after a gap, when midnight is skipped).
fn local_midnight(zone: Timezone, day: NaiveDate) -> DateTime<Utc> {
    let mut at = day.and_time(NaiveTime::MIN);
    for _ in 0..24 {
        if let Some(local) = zone.tz().from_local_datetime(&at).earliest() {
            return local.with_timezone(&Utc);
        }
        at += chrono::Duration::hours(1);
    }
    Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))
}

/// The tenant's time zone.
async fn tenant_zone(state: &AppState, tenant: TenantId) -> Result<Timezone, ApiError> {
    let name: Option<String> = sqlx::query_scalar("SELECT timezone FROM tenants WHERE id = $1")
        .bind(tenant.as_uuid())
        .fetch_optional(&state.pool)
        .await
        .map_err(anyhow::Error::from)?;
    let name = name.ok_or_else(|| ApiError::not_found("tenant"))?;
    Ok(Timezone::parse(&name).map_err(|_| anyhow::anyhow!("Stored timezone {name}"))?)
}

/// An appointment id in the path; anything else is not found.
fn path_id(raw: &str) -> Result<AppointmentId, ApiError> {
    raw.trim()
        .parse()
        .map_err(|_| ApiError::not_found("appointment"))
}

fn parse_status(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    raw.map(|text| {
        text.trim()
            .parse::<domain::AppointmentStatus>()
            .map(|status| status.as_str().to_owned())
            .map_err(|error| ApiError::invalid_field("status", error))
    })
    .transpose()
}

fn optional_id(field: &str, raw: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    raw.map(|text| parse_id::<Uuid>(field, text)).transpose()
}

fn optional_time(field: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    raw.map(|text| parse_time(field, text)).transpose()
}

/// A `next_cursor`: the start in microseconds and the id, joined by `_`.
fn parse_cursor(raw: &str) -> Result<Cursor, ApiError> {
    let invalid = || ApiError::invalid_field("cursor", "must be a next_cursor of a previous page");
    let (micros, id) = raw.trim().split_once('_').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    Ok(Cursor {
        start: DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(invalid)?,
        id: id.parse().map_err(|_| invalid())?,
    })
}

/// A required query parameter, a 422 naming it when missing.
fn required<'a>(field: &str, value: &'a Option<String>) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .ok_or_else(|| ApiError::invalid_field(field, "is required"))
}
