//! `/api/v1/leads`: capture, read, change and opt out leads. Commands go through the event
//! store; reads come from the contacts read model (pass `min_position` to read your writes);
//! history comes straight from the event store, since it is the audit trail.

use domain::values::{CustomFields, EmailAddress, LeadId, PhoneNumber, Tag, WorkflowId};
use domain::{Lead, LeadCommand, LeadDetailsPatch, NewLead};
use infrastructure::executor::Existence;
use infrastructure::leads::{self, LeadUpdate};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, OpenApi};
use projections::contacts::query::{self, ContactFilter};

use crate::auth::{BearerAuth, Caller};
use crate::body::JsonBody;
use crate::dto::lead::{
    AddTagRequest, CaptureLeadRequest, CaptureResult, HistoryEntry, LeadDto, OptOutRequest,
    SetStatusRequest, UpdateLeadRequest,
};
use crate::error::{invalid, ApiError};
use crate::middleware::RequestId;
use crate::responses::{paging, CommandResult, Page};
use crate::routes::ApiTags;
use crate::state::AppState;

/// The leads API.
#[derive(Debug, Clone, Copy)]
pub struct LeadsApi;

/// The answer to a capture: 201 for a new lead, 200 when merged into a known one.
#[derive(Debug, ApiResponse)]
pub enum CaptureResponse {
    /// A new lead was created.
    #[oai(status = 201)]
    Created(Json<CaptureResult>),
    /// The phone was known: the capture was merged into that lead.
    #[oai(status = 200)]
    Merged(Json<CaptureResult>),
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Leads")]
impl LeadsApi {
    /// Capture a lead
    ///
    /// Creates a lead, or — when the phone is already known in the tenant — adds this capture's
    /// source to the existing lead (answering 200 with `merged: true`).
    #[oai(path = "/leads", method = "post", operation_id = "capture_lead")]
    async fn capture(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        body: JsonBody<CaptureLeadRequest>,
    ) -> Result<CaptureResponse, ApiError> {
        let tenant_id = auth.0.tenant()?;
        let tenant = state
            .tenants
            .get(tenant_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the key's tenant no longer exists"))?;
        let lead = new_lead(body.0, &tenant.default_country)?;
        let ctx = state.context(&auth.0, tenant_id, &request_id);
        let captured = leads::capture(&state.executor, &ctx, lead)
            .await
            .map_err(|e| ApiError::from_command(e, "lead"))?;
        let result = CaptureResult {
            id: captured.lead_id.to_string(),
            version: captured.committed.version,
            position: captured.committed.position,
            merged: captured.merged,
        };
        Ok(if captured.merged {
            CaptureResponse::Merged(Json(result))
        } else {
            CaptureResponse::Created(Json(result))
        })
    }

    /// List leads
    ///
    /// Newest first. Filters combine with AND; `status` may repeat (or be comma-separated) and
    /// matches any of the given statuses; `q` matches a substring of the name, phone or email.
    #[oai(path = "/leads", method = "get", operation_id = "list_leads")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Only leads in any of these statuses (`pending`, `contacted`, `in_conversation`,
        /// `qualified`, `booked`, `opted_out`, `unresponsive`, `handed_off`).
        #[oai(explode = true)]
        status: Query<Option<Vec<String>>>,
        /// Only leads in this workflow.
        workflow_id: Query<Option<String>>,
        /// Only leads with this tag.
        tag: Query<Option<String>>,
        /// Only leads from this source (first or additional).
        source: Query<Option<String>>,
        /// Substring of name, phone or email.
        q: Query<Option<String>>,
        /// Page number, from 1.
        page: Query<Option<u32>>,
        /// Items per page (default 50, at most 500).
        page_size: Query<Option<u32>>,
        /// Wait until the read model includes the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<Page<LeadDto>>, ApiError> {
        let tenant = auth.0.tenant()?;
        let (page, page_size) = paging(page.0, page_size.0)?;
        let filter = ContactFilter {
            statuses: parse_statuses(status.0.unwrap_or_default())?,
            workflow_id: workflow_id
                .0
                .map(|w| w.parse::<WorkflowId>().map_err(invalid("workflow_id")))
                .transpose()?
                .map(|w| w.as_uuid()),
            tag: tag
                .0
                .map(|t| Tag::parse(&t).map_err(invalid("tag")))
                .transpose()?
                .map(|t| t.as_str().to_string()),
            source: source
                .0
                .map(|s| {
                    s.parse::<domain::values::LeadSource>()
                        .map_err(invalid("source"))
                })
                .transpose()?
                .map(|s| s.as_str().to_string()),
            q: q.0.map(|q| q.trim().to_string()).filter(|q| !q.is_empty()),
        };
        let schema = projections::contacts::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        let result = query::list(
            &state.pool,
            &schema,
            tenant.as_uuid(),
            &filter,
            page,
            page_size,
        )
        .await?;
        Ok(Json(Page {
            items: result.items.into_iter().map(LeadDto::from).collect(),
            total: result.total,
            page,
            page_size,
        }))
    }

    /// Get a lead
    #[oai(path = "/leads/:id", method = "get", operation_id = "get_lead")]
    async fn get(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The lead's id.
        id: Path<String>,
        /// Wait until the read model includes the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<LeadDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let id = lead_id(&id.0)?;
        let schema = projections::contacts::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        query::get(&state.pool, &schema, tenant.as_uuid(), id.as_uuid())
            .await?
            .map(|row| Json(LeadDto::from(row)))
            .ok_or_else(|| ApiError::not_found("lead"))
    }

    /// Update a lead
    ///
    /// Changes the given details (and workflow) in one step; absent fields stay as they are.
    #[oai(path = "/leads/:id", method = "patch", operation_id = "update_lead")]
    async fn update(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The lead's id.
        id: Path<String>,
        body: JsonBody<UpdateLeadRequest>,
    ) -> Result<Json<CommandResult>, ApiError> {
        let tenant_id = auth.0.tenant()?;
        let id = lead_id(&id.0)?;
        let tenant = state
            .tenants
            .get(tenant_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the key's tenant no longer exists"))?;
        let update = lead_update(body.0, &tenant.default_country)?;
        let ctx = state.context(&auth.0, tenant_id, &request_id);
        let committed = leads::update(&state.executor, &ctx, id, update)
            .await
            .map_err(|e| ApiError::from_command(e, "lead"))?;
        Ok(Json(CommandResult {
            id: id.to_string(),
            version: committed.version,
            position: committed.position,
        }))
    }

    /// Set a lead's status by hand
    ///
    /// An operator's override, recorded with its reason. Opting out has its own operation.
    #[oai(
        path = "/leads/:id/status",
        method = "post",
        operation_id = "set_lead_status"
    )]
    async fn set_status(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The lead's id.
        id: Path<String>,
        body: JsonBody<SetStatusRequest>,
    ) -> Result<Json<CommandResult>, ApiError> {
        let command = LeadCommand::OverrideStatus {
            to: body.0.status.into(),
            reason: body.0.reason,
        };
        execute(&auth.0, &state, &request_id, &id.0, command).await
    }

    /// Tag a lead
    #[oai(
        path = "/leads/:id/tags",
        method = "post",
        operation_id = "add_lead_tag"
    )]
    async fn add_tag(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The lead's id.
        id: Path<String>,
        body: JsonBody<AddTagRequest>,
    ) -> Result<Json<CommandResult>, ApiError> {
        let tag = Tag::parse(&body.0.tag).map_err(invalid("tag"))?;
        execute(
            &auth.0,
            &state,
            &request_id,
            &id.0,
            LeadCommand::AddTag { tag },
        )
        .await
    }

    /// Remove a tag from a lead
    #[oai(
        path = "/leads/:id/tags/:tag",
        method = "delete",
        operation_id = "remove_lead_tag"
    )]
    async fn remove_tag(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The lead's id.
        id: Path<String>,
        /// The tag to remove.
        tag: Path<String>,
    ) -> Result<Json<CommandResult>, ApiError> {
        let tag = Tag::parse(&tag.0).map_err(invalid("tag"))?;
        execute(
            &auth.0,
            &state,
            &request_id,
            &id.0,
            LeadCommand::RemoveTag { tag },
        )
        .await
    }

    /// Opt a lead out
    ///
    /// The lead will never be messaged again (until they re-subscribe themselves).
    #[oai(
        path = "/leads/:id/opt-out",
        method = "post",
        operation_id = "opt_out_lead"
    )]
    async fn opt_out(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The lead's id.
        id: Path<String>,
        body: JsonBody<OptOutRequest>,
    ) -> Result<Json<CommandResult>, ApiError> {
        let reason = body
            .0
            .reason
            .unwrap_or_else(|| "opted out by an operator".to_string());
        execute(
            &auth.0,
            &state,
            &request_id,
            &id.0,
            LeadCommand::OptOut { reason },
        )
        .await
    }

    /// A lead's history
    ///
    /// Every event of the lead in order, with who caused it and when.
    #[oai(
        path = "/leads/:id/history",
        method = "get",
        operation_id = "get_lead_history"
    )]
    async fn history(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The lead's id.
        id: Path<String>,
    ) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
        let tenant = auth.0.tenant()?;
        let id = lead_id(&id.0)?;
        let rows: Vec<HistoryRow> = sqlx::query_as(
            "SELECT sequence, event_type, event_version, payload::jsonb, metadata::jsonb, global_position \
             FROM events WHERE aggregate_type = 'lead' AND aggregate_id = $1 AND tenant_id = $2 \
             ORDER BY sequence",
        )
        .bind(id.to_string())
        .bind(tenant.as_uuid())
        .fetch_all(&state.pool)
        .await
        .map_err(anyhow::Error::from)?;
        if rows.is_empty() {
            return Err(ApiError::not_found("lead"));
        }
        rows.into_iter()
            .map(history_entry)
            .collect::<Result<_, _>>()
            .map(Json)
    }
}

type HistoryRow = (
    i64,
    String,
    String,
    serde_json::Value,
    serde_json::Value,
    i64,
);

fn history_entry(row: HistoryRow) -> Result<HistoryEntry, ApiError> {
    let (sequence, event_type, event_version, payload, metadata, position) = row;
    let metadata = infrastructure::metadata::EventMetadata::deserialize_from(&metadata)
        .map_err(|e| ApiError::internal(&anyhow::Error::from(e)))?;
    // Events are stored externally tagged (`{"LeadCaptured": {...}}`): show the inner data.
    let data = match payload {
        serde_json::Value::Object(map) if map.len() == 1 => {
            map.into_iter().next().map(|(_, v)| v).unwrap_or_default()
        }
        other => other,
    };
    Ok(HistoryEntry {
        sequence,
        event_type,
        event_version,
        data,
        actor: metadata.actor,
        request_id: metadata.request_id,
        occurred_at: metadata.occurred_at,
        position,
    })
}

/// Runs a single Lead command for the caller's tenant.
async fn execute(
    caller: &Caller,
    state: &AppState,
    request_id: &RequestId,
    id: &str,
    command: LeadCommand,
) -> Result<Json<CommandResult>, ApiError> {
    let tenant = caller.tenant()?;
    let id = lead_id(id)?;
    state
        .run_command::<Lead>(
            caller,
            tenant,
            request_id,
            &id.to_string(),
            Existence::MustExist,
            command,
            "lead",
        )
        .await
        .map(Json)
}

/// An id in a path: one that does not parse names no lead, so it is a 404 like any other.
fn lead_id(raw: &str) -> Result<LeadId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("lead"))
}

fn parse_statuses(raw: Vec<String>) -> Result<Vec<String>, ApiError> {
    raw.iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<domain::LeadStatus>()
                .map(|status| status.as_str().to_string())
                .map_err(invalid("status"))
        })
        .collect()
}

fn optional_text(value: Option<String>) -> String {
    value.map(|v| v.trim().to_string()).unwrap_or_default()
}

fn new_lead(
    body: CaptureLeadRequest,
    country: &domain::values::CountryCode,
) -> Result<NewLead, ApiError> {
    let phone = body
        .phone
        .filter(|p| !p.trim().is_empty())
        .map(|p| PhoneNumber::parse(&p, *country).map_err(invalid("phone")))
        .transpose()?;
    let email = body
        .email
        .filter(|e| !e.trim().is_empty())
        .map(|e| EmailAddress::parse(&e).map_err(invalid("email")))
        .transpose()?;
    if phone.is_none() && email.is_none() {
        return Err(ApiError::invalid_field(
            "phone",
            "a lead needs a phone number or an email address",
        ));
    }
    let custom_fields = body
        .custom_fields
        .map(|c| CustomFields::parse(c).map_err(invalid("custom_fields")))
        .transpose()?
        .unwrap_or_default();
    let tags = body
        .tags
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, t)| Tag::parse(t).map_err(|e| ApiError::invalid_field(&format!("tags[{i}]"), e)))
        .collect::<Result<Vec<_>, _>>()?;
    let workflow_id = body
        .workflow_id
        .map(|w| w.parse::<WorkflowId>().map_err(invalid("workflow_id")))
        .transpose()?;
    Ok(NewLead {
        first_name: optional_text(body.first_name),
        last_name: optional_text(body.last_name),
        phone,
        email,
        custom_fields,
        source: body
            .source
            .map(Into::into)
            .unwrap_or(domain::values::LeadSource::Api),
        tags,
        workflow_id,
    })
}

fn lead_update(
    body: UpdateLeadRequest,
    country: &domain::values::CountryCode,
) -> Result<LeadUpdate, ApiError> {
    let phone = match body.phone {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(p) => Some(Some(
            PhoneNumber::parse(&p, *country).map_err(invalid("phone"))?,
        )),
    };
    let email = match body.email {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(e) => Some(Some(EmailAddress::parse(&e).map_err(invalid("email"))?)),
    };
    let workflow = match body.workflow_id {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(w) => Some(Some(
            w.parse::<WorkflowId>().map_err(invalid("workflow_id"))?,
        )),
    };
    Ok(LeadUpdate {
        details: LeadDetailsPatch {
            first_name: body.first_name.map(|n| n.trim().to_string()),
            last_name: body.last_name.map(|n| n.trim().to_string()),
            phone,
            email,
            custom_fields: body
                .custom_fields
                .map(|c| CustomFields::parse(c).map_err(invalid("custom_fields")))
                .transpose()?,
        },
        workflow,
    })
}
