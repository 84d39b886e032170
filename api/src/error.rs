//! The one place errors become HTTP. Every failure leaves the API as
//! `{"error": {"code", "message", "details"}}` with the status its variant documents; domain and
//! infrastructure errors are mapped here and nowhere else. Causes of 500s are logged, never sent.

use domain::values::ValueError;
use infrastructure::executor::CommandError;
use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use serde_json::{json, Value};

/// The body of every error response.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, for people and for programs.
#[derive(Debug, Clone, Object)]
pub struct ErrorDetail {
    /// Stable, machine-readable code (`invalid_field`, `not_found`, `conflict`, …).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Structured context; `field` names the offending input when there is one.
    pub details: Value,
}

/// Every error the API answers with.
#[derive(Debug, Clone, ApiResponse)]
pub enum ApiError {
    /// 400: the request could not be read (malformed JSON, an unparsable parameter).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// 401: no valid credentials.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// 403: valid credentials without the right to do this.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// 404: no such resource for the caller (another tenant's resources are not found).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// 409: the request conflicts with the resource's state (or a concurrent change).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// 413: the body is too large.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// 405: the route exists but does not accept this method.
    #[oai(status = 405)]
    MethodNotAllowed(Json<ErrorBody>),
    /// 415: the body is not JSON.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// 422: the request was read but a field's value is not acceptable.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// 500: something failed on our side; the cause is in the logs.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// 503: not available right now (database down, read model behind); retry after the
    /// given seconds.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
}

fn body(code: &str, message: impl Into<String>, details: Value) -> Json<ErrorBody> {
    Json(ErrorBody {
        error: ErrorDetail {
            code: code.to_string(),
            message: message.into(),
            details,
        },
    })
}

impl ApiError {
    /// 422 naming the field and why its value was refused.
    pub fn invalid_field(field: &str, message: impl std::fmt::Display) -> Self {
        Self::Unprocessable(body(
            "invalid_field",
            format!("{field}: {message}"),
            json!({ "field": field, "reason": message.to_string() }),
        ))
    }

    /// 422 whose message already names the field (domain rules that span fields).
    pub fn invalid_field_described(field: &str, message: impl std::fmt::Display) -> Self {
        Self::Unprocessable(body(
            "invalid_field",
            message.to_string(),
            json!({ "field": field, "reason": message.to_string() }),
        ))
    }

    /// 400 for a request that could not be read.
    pub fn bad_request(code: &str, message: impl Into<String>, field: Option<&str>) -> Self {
        Self::BadRequest(body(code, message, json!({ "field": field })))
    }

    /// 413 for a body over `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::PayloadTooLarge(body(
            "payload_too_large",
            format!("the body must be at most {limit} bytes"),
            json!({ "limit": limit }),
        ))
    }

    /// 404 for a resource the caller cannot see.
    pub fn not_found(resource: &str) -> Self {
        Self::NotFound(body(
            "not_found",
            format!("{resource} not found"),
            json!({ "resource": resource }),
        ))
    }

    /// 409 with a code and context.
    pub fn conflict(code: &str, message: impl Into<String>, details: Value) -> Self {
        Self::Conflict(body(code, message, details))
    }

    /// 401.
    pub fn unauthorized(message: &str) -> Self {
        Self::Unauthorized(body("unauthorized", message, json!({})))
    }

    /// 403.
    pub fn forbidden(message: &str) -> Self {
        Self::Forbidden(body("forbidden", message, json!({})))
    }

    /// 503 with a retry hint.
    pub fn unavailable(code: &str, message: impl Into<String>, retry_after: u64) -> Self {
        Self::Unavailable(body(code, message, json!({})), retry_after)
    }

    /// 500; logs the cause with the request's context and answers generically.
    pub fn internal(error: &anyhow::Error) -> Self {
        if is_database_unavailable(error) {
            tracing::warn!(error = format!("{error:#}"), "database unavailable");
            return Self::unavailable("database_unavailable", "the database is not reachable", 2);
        }
        tracing::error!(error = format!("{error:#}"), "internal error");
        Self::Internal(body(
            "internal",
            "an internal error occurred; it has been logged",
            json!({}),
        ))
    }

    /// Maps a command's failure: refusals by the domain become 409/422 per rule.
    pub fn from_command<E: DomainRefusal>(error: CommandError<E>, resource: &str) -> Self {
        match error {
            CommandError::Rejected(refusal) => refusal.to_api_error(),
            CommandError::NotFound => Self::not_found(resource),
            CommandError::Taken { field, existing_id } => Self::conflict(
                "already_taken",
                format!("{field} is already used by {resource} {existing_id}"),
                json!({ "field": field, "existing_id": existing_id }),
            ),
            CommandError::InvalidReference { field, reason } => Self::invalid_field(field, reason),
            CommandError::Conflict => Self::conflict(
                "concurrent_modification",
                format!("the {resource} was changed concurrently; retry the request"),
                json!({}),
            ),
            CommandError::Database(error) => Self::internal(&error),
        }
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(..) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

fn is_database_unavailable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed)
        )
    })
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        Self::internal(&error)
    }
}

/// A domain error that knows its HTTP meaning: 409 when the resource's state forbids the
/// command, 422 when an input value breaks a rule.
pub trait DomainRefusal: std::fmt::Display {
    /// The API error for this refusal.
    fn to_api_error(&self) -> ApiError;
}

impl DomainRefusal for domain::LeadError {
    fn to_api_error(&self) -> ApiError {
        use domain::LeadError as E;
        match self {
            E::NoContact => ApiError::invalid_field("phone", self),
            E::ReasonRequired => ApiError::invalid_field("reason", self),
            E::UseOptOutCommand => ApiError::invalid_field("status", self),
            E::NameTooLong { field, .. } => ApiError::invalid_field_described(field, self),
            E::ReasonTooLong { .. } => ApiError::invalid_field("reason", self),
            _ => ApiError::conflict("invalid_state", self.to_string(), json!({})),
        }
    }
}

impl DomainRefusal for domain::WorkflowError {
    fn to_api_error(&self) -> ApiError {
        use domain::WorkflowError as E;
        match self {
            E::NotCreated | E::AlreadyCreated | E::Archived | E::InvalidTransition { .. } => {
                ApiError::conflict("invalid_state", self.to_string(), json!({}))
            }
            E::FieldTooLong { field, .. }
            | E::FieldEmpty { field }
            | E::MinutesTooLarge { field, .. } => ApiError::invalid_field_described(field, self),
            E::TooManyReminders { .. }
            | E::ReminderOffsetOutOfRange { .. }
            | E::DuplicateReminderOffset(_) => {
                ApiError::invalid_field_described("reminder_offsets_minutes", self)
            }
            E::TooManyFollowUpTemplates { .. } => {
                ApiError::invalid_field_described("follow_up_templates", self)
            }
            E::TooManyFollowUpSteps { .. } | E::FollowUpStepsWithTemplates => {
                ApiError::invalid_field_described("follow_up_steps", self)
            }
            E::TooManyQuestions { .. } | E::DuplicateQuestionKey(_) => {
                ApiError::invalid_field_described("qualification_questions", self)
            }
        }
    }
}

impl DomainRefusal for infrastructure::messaging::MessagingError {
    fn to_api_error(&self) -> ApiError {
        use domain::conversation::ConversationError as C;
        use infrastructure::messaging::MessagingError as E;
        match self {
            E::Lead(error) => error.to_api_error(),
            E::Conversation(C::WindowClosed { .. }) => {
                ApiError::conflict("whatsapp_window_closed", self.to_string(), json!({}))
            }
            E::Conversation(C::NotRetryable(status)) => ApiError::conflict(
                "not_retryable",
                self.to_string(),
                json!({ "status": status.as_str() }),
            ),
            E::Conversation(_) => ApiError::conflict("invalid_state", self.to_string(), json!({})),
            E::OptedOut => ApiError::conflict("opted_out", self.to_string(), json!({})),
            E::Archived => ApiError::conflict("archived", self.to_string(), json!({})),
            E::NoPhone => ApiError::conflict("no_phone", self.to_string(), json!({})),
            E::NoWorkflow(_) => ApiError::conflict("no_workflow", self.to_string(), json!({})),
            E::AlreadyContacted => {
                ApiError::conflict("already_contacted", self.to_string(), json!({}))
            }
            E::Appointment(refusal) => refusal.to_api_error(),
        }
    }
}

impl DomainRefusal for infrastructure::appointments::AppointmentRefusal {
    fn to_api_error(&self) -> ApiError {
        use infrastructure::appointments::AppointmentRefusal as E;
        match self {
            E::Appointment(error) => match error.field() {
                Some(field) => ApiError::invalid_field_described(field, error),
                None => ApiError::conflict("invalid_state", error.to_string(), json!({})),
            },
            E::Lead(error) => error.to_api_error(),
            E::UnknownLead => ApiError::not_found("lead"),
            E::UnknownWorkflow => ApiError::not_found("workflow"),
            E::UnknownAppointment => ApiError::not_found("appointment"),
            E::OptedOut => ApiError::conflict("opted_out", self.to_string(), json!({})),
            E::Archived => ApiError::conflict("archived", self.to_string(), json!({})),
            E::WorkflowArchived => ApiError::invalid_field("workflow_id", self),
            E::Taken => ApiError::slot_taken(&[]),
            E::CalendarUnavailable { .. } => {
                ApiError::unavailable("calendar_unavailable", self.to_string(), 30)
            }
            E::EmptyRange | E::RangeTooLong { .. } => ApiError::invalid_field("to", self),
        }
    }
}

impl ApiError {
    /// 409 `slot_taken`: another appointment overlaps the requested time; `alternatives` are
    /// free slots offered instead (`[{"start", "end"}]`, soonest first).
    pub fn slot_taken(alternatives: &[domain::values::Interval]) -> Self {
        let alternatives: Vec<Value> = alternatives
            .iter()
            .map(|slot| json!({ "start": slot.start.to_rfc3339(), "end": slot.end.to_rfc3339() }))
            .collect();
        Self::conflict(
            "slot_taken",
            "the slot is taken: another appointment overlaps it",
            json!({ "alternatives": alternatives }),
        )
    }
}

/// Converts a [`ValueError`] for `field` into a 422.
pub fn invalid(field: &'static str) -> impl Fn(ValueError) -> ApiError {
    move |error| ApiError::invalid_field(field, error)
}

/// Turns any error poem or poem-openapi raised before a handler ran (unparsable parameters,
/// wrong content type, unknown route…) into the one JSON shape.
pub fn from_poem(error: poem::Error) -> poem::Response {
    if error.is_from_response() {
        return error.into_response();
    }
    let status = error.status();
    let message = error.to_string();
    let field = error
        .downcast_ref::<poem_openapi::error::ParseParamError>()
        .map(|e| e.name)
        .or_else(|| {
            error
                .downcast_ref::<poem_openapi::error::ParsePathError>()
                .map(|e| e.name)
        });
    let api = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound(body("not_found", "no such route", json!({}))),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(body(
            "method_not_allowed",
            "this route does not accept that method",
            json!({}),
        )),
        StatusCode::UNAUTHORIZED => ApiError::unauthorized("a valid bearer token is required"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::UnsupportedMediaType(body("unsupported_media_type", message, json!({})))
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge(body("payload_too_large", message, json!({})))
        }
        status if status.is_client_error() => {
            ApiError::bad_request("invalid_request", message, field)
        }
        _ => ApiError::internal(&anyhow::anyhow!(message)),
    };
    poem::IntoResponse::into_response(api)
}

/// The `details.field` of a 422, for tests of the edges that parse requests.
#[cfg(test)]
pub(crate) fn field_of(error: ApiError) -> String {
    match error {
        ApiError::Unprocessable(body) => body.0.error.details["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        other => panic!("expected a 422, got {other:?}"),
    }
}
