//! Appointments over HTTP: book a lead into a free slot (never two overlapping appointments in
//! a calendar, even across instances), cancel, and the free slots of a workflow. The use cases
//! are `infrastructure::appointments`; a taken slot answers 409 `slot_taken` with the next free
//! slots after the requested start as `details.alternatives`.

use domain::values::{AppointmentId, WorkflowId};
use infrastructure::appointments::{self, AppointmentRefusal};
use infrastructure::executor::CommandError;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use crate::auth::BearerAuth;
use crate::body::JsonBody;
use crate::dto::appointment::{
    parse_id, parse_time, AppointmentDto, AvailabilityDto, BookAppointmentRequest,
    CancelAppointmentRequest, CancelledAppointmentDto,
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
        match appointments::book(&state.executor, &ctx, request.clone()).await {
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
        let slots =
            appointments::availability(&state.pool, tenant, workflow, from, to, state.clock.now())
                .await
                .map_err(|error| ApiError::from_command(error, "workflow"))?;
        Ok(Json(AvailabilityDto {
            slots: slots.into_iter().map(Into::into).collect(),
        }))
    }
}

/// A required query parameter, a 422 naming it when missing.
fn required<'a>(field: &str, value: &'a Option<String>) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .ok_or_else(|| ApiError::invalid_field(field, "is required"))
}
