//! `/api/v1/leads`: capture, read, change and opt out leads. Commands go through the event
//! store; reads come from the contacts read model (pass `min_position` to read your writes);
//! history comes straight from the event store, since it is the audit trail.

use domain::values::{CustomFields, EmailAddress, LeadId, PhoneNumber, Tag, TenantId, WorkflowId};
use domain::{Lead, LeadCommand, LeadDetailsPatch, NewLead};
use infrastructure::executor::Existence;
use infrastructure::leads::{self, LeadUpdate};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, OpenApi};
use projections::contacts::query::{self, Cursor, PageRequest};

use crate::auth::{BearerAuth, Caller};
use crate::body::JsonBody;
use crate::dto::lead::{
    sort_of, AddTagRequest, CaptureLeadRequest, CaptureResult, HistoryEntry, LeadDto, LeadPage,
    OptOutRequest, OrderDto, SetStatusRequest, SortDto, UpdateLeadRequest,
};
use crate::dto::lead_filter::LeadFilter;
use crate::error::{invalid, ApiError};
use crate::middleware::RequestId;
use crate::responses::{paging, CommandResult};
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
    /// Filters combine with AND (see each parameter; `cf.<key>=value` filters on a custom field,
    /// e.g. `cf.plan=gold`). Sorted by `sort` and `order` with the lead id as tie-breaker, so
    /// the order is total and stable. Page by `page` (with `total`), or — for deep pages — pass
    /// the `next_cursor` of a page as `cursor` to get the next one at the same cost as the first.
    /// Archived leads are hidden unless `archived` says otherwise.
    #[oai(path = "/leads", method = "get", operation_id = "list_leads")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request: &poem::Request,
        /// Only leads in any of these statuses (`pending`, `contacted`, `in_conversation`,
        /// `qualified`, `booked`, `opted_out`, `unresponsive`, `handed_off`); repeat or
        /// comma-separate.
        #[oai(explode = true)]
        status: Query<Option<Vec<String>>>,
        /// Only leads in this workflow.
        workflow_id: Query<Option<String>>,
        /// Only leads with these tags (see `tag_match`); repeat or comma-separate.
        #[oai(explode = true)]
        tag: Query<Option<Vec<String>>>,
        /// `any` (default): leads with at least one of the tags; `all`: with every one.
        tag_match: Query<Option<String>>,
        /// Only leads from this source (first or additional).
        source: Query<Option<String>>,
        /// Substring of name, phone or email, case-insensitive; a phone typed nationally
        /// (`07700 900123`) matches too.
        q: Query<Option<String>>,
        /// Captured at or after (RFC 3339, or a date meaning its midnight UTC).
        created_from: Query<Option<String>>,
        /// Captured before.
        created_to: Query<Option<String>>,
        /// Last message (either direction) at or after.
        last_message_from: Query<Option<String>>,
        /// Last message before.
        last_message_to: Query<Option<String>>,
        /// Last contacted at least this many days ago (never-contacted leads do not match).
        days_since_contact_min: Query<Option<u32>>,
        /// Last contacted at most this many days ago.
        days_since_contact_max: Query<Option<u32>>,
        /// At least this many follow-ups sent.
        follow_ups_sent_min: Query<Option<u32>>,
        /// At most this many follow-ups sent.
        follow_ups_sent_max: Query<Option<u32>>,
        /// Only opted-out leads (`true`) or only the others (`false`).
        opted_out: Query<Option<bool>>,
        /// `false` (default): hide archived leads; `true`: only archived ones; `any`: both.
        archived: Query<Option<String>>,
        /// Order by `created` (default), `last_activity`, `name` or `status`.
        sort: Query<Option<SortDto>>,
        /// `asc` or `desc` (default: `desc`, except `asc` for `name` and `status`).
        order: Query<Option<OrderDto>>,
        /// Page number, from 1 (not with `cursor`).
        page: Query<Option<u32>>,
        /// Items per page (default 50, at most 500).
        page_size: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Wait until the read model includes the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<LeadPage>, ApiError> {
        let tenant = auth.0.tenant()?;
        let (number, page_size) = paging(page.0, page_size.0)?;
        let filter = LeadFilter {
            status: status.0,
            workflow_id: workflow_id.0,
            tag: tag.0,
            tag_match: tag_match.0,
            source: source.0,
            q: q.0,
            created_from: created_from.0,
            created_to: created_to.0,
            last_message_from: last_message_from.0,
            last_message_to: last_message_to.0,
            days_since_contact_min: days_since_contact_min.0,
            days_since_contact_max: days_since_contact_max.0,
            follow_ups_sent_min: follow_ups_sent_min.0,
            follow_ups_sent_max: follow_ups_sent_max.0,
            custom_fields: LeadFilter::from_query(request.uri().query())?.custom_fields,
            opted_out: opted_out.0,
            archived: archived.0,
        }
        .to_contact_filter(state.clock.now())?;
        let sort = sort_of(sort.0.unwrap_or_default(), order.0);
        let page_request = match cursor.0 {
            Some(_) if page.0.is_some() => {
                return Err(ApiError::invalid_field(
                    "cursor",
                    "give either page or cursor, not both",
                ));
            }
            Some(token) => {
                let cursor = Cursor::decode(&token).ok_or_else(|| {
                    ApiError::invalid_field("cursor", "is not a cursor of this list")
                })?;
                if cursor.sort != sort {
                    return Err(ApiError::invalid_field(
                        "cursor",
                        "was made for another sort or order",
                    ));
                }
                PageRequest::After(cursor)
            }
            None => PageRequest::Number(number),
        };
        let schema = projections::contacts::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        // `next_action` comes from the timers model.
        state
            .wait_for_position(&projections::timers::live(), tenant, min_position.0)
            .await?;
        let result = query::list(
            &state.pool,
            &schema,
            tenant.as_uuid(),
            &filter,
            sort,
            &page_request,
            page_size,
        )
        .await?;
        let mut items: Vec<LeadDto> = result.items.into_iter().map(LeadDto::from).collect();
        plan(&state, tenant, &mut items).await?;
        Ok(Json(LeadPage {
            items,
            total: result.total,
            page: match page_request {
                PageRequest::Number(number) => Some(number),
                PageRequest::After(_) => None,
            },
            page_size,
            next_cursor: result.next.map(|c| c.encode()),
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
        // `next_action` comes from the timers model.
        state
            .wait_for_position(&projections::timers::live(), tenant, min_position.0)
            .await?;
        let mut lead = query::get(&state.pool, &schema, tenant.as_uuid(), id.as_uuid())
            .await?
            .map(LeadDto::from)
            .ok_or_else(|| ApiError::not_found("lead"))?;
        plan(&state, tenant, std::slice::from_mut(&mut lead)).await?;
        Ok(Json(lead))
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
    /// The lead will never be messaged again (until they re-subscribe themselves by texting
    /// START). Waits for a message being handed to a provider at this moment, then cancels every
    /// queued message and expected AI reply of the lead: nothing reaches a provider for the lead
    /// after this answers.
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
        let tenant = auth.0.tenant()?;
        let lead = lead_id(&id.0)?;
        let ctx = state.context(&auth.0, tenant, &request_id);
        let (version, position) = infrastructure::messaging::suppression::operator_opt_out(
            &state.executor,
            &ctx,
            lead,
            &reason,
        )
        .await
        .map_err(|error| ApiError::from_command(error, "lead"))?;
        Ok(Json(CommandResult {
            id: lead.to_string(),
            version,
            position,
        }))
    }

    /// Archive a lead
    ///
    /// Hides the lead from lists (unless `archived` asks for it) and from tag counts; its
    /// history is kept. Archiving an archived lead changes nothing.
    #[oai(
        path = "/leads/:id/archive",
        method = "post",
        operation_id = "archive_lead"
    )]
    async fn archive(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The lead's id.
        id: Path<String>,
    ) -> Result<Json<CommandResult>, ApiError> {
        execute(&auth.0, &state, &request_id, &id.0, LeadCommand::Archive).await
    }

    /// Restore an archived lead
    #[oai(
        path = "/leads/:id/restore",
        method = "post",
        operation_id = "restore_lead"
    )]
    async fn restore(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The lead's id.
        id: Path<String>,
    ) -> Result<Json<CommandResult>, ApiError> {
        execute(&auth.0, &state, &request_id, &id.0, LeadCommand::Restore).await
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

/// Fills each lead's next automatic step from the timers read model (one indexed read).
async fn plan(state: &AppState, tenant: TenantId, leads: &mut [LeadDto]) -> Result<(), ApiError> {
    let ids: Vec<uuid::Uuid> = leads
        .iter()
        .filter_map(|lead| lead.id.parse().ok())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let timers = projections::timers::query::timers_of(
        &state.pool,
        &projections::timers::live(),
        tenant.as_uuid(),
        &ids,
    )
    .await?;
    let by_lead: std::collections::HashMap<String, &projections::timers::query::Scheduled> =
        timers.iter().map(|t| (t.lead_id.to_string(), t)).collect();
    for lead in leads {
        lead.plan(by_lead.get(&lead.id).copied());
    }
    Ok(())
}
