//! `/api/v1/sandbox`: the lead's side of a conversation, for tenants with no provider account
//! (their messages go to the sandbox channel). A client plays the lead — texting in, STOP and
//! START included — and reads what the sandbox "sent" to the lead's phone, so the whole product
//! runs end to end without Twilio or WhatsApp. Once a tenant configures a provider, its leads
//! are real people: the sandbox refuses to speak for them (409 `sandbox_disabled`).

use chrono::{DateTime, Utc};
use domain::conversation::MessageContent;
use domain::values::{LeadId, TenantId};
use domain::{Channel, Lead, Workflow};
use infrastructure::event_store::{self, StoreError};
use infrastructure::messaging::inbound;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;
use serde_json::json;

use crate::auth::BearerAuth;
use crate::body::JsonBody;
use crate::dto::message::{
    SandboxInboundRequest, SandboxInboundResult, SandboxMessageDto, SandboxMessageList,
};
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::routes::ApiTags;
use crate::state::AppState;

/// Messages per answer unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 100;
/// The most messages one answer holds.
const MAX_LIMIT: u32 = 500;

/// The sandbox API.
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxApi;

#[OpenApi(prefix_path = "/api/v1/sandbox", tag = "ApiTags::Sandbox")]
impl SandboxApi {
    /// A lead texts in (sandbox)
    ///
    /// Records a message from the lead exactly as a provider's webhook would: once per
    /// `message_id`, keywords acting at once (STOP opts the lead out and cancels what is
    /// queued for them, START re-subscribes, HELP is answered), any other message moving the
    /// lead into conversation and — when its workflow is active and no human has the
    /// conversation — answered by the AI shortly. 409 `sandbox_disabled` once the tenant has a
    /// provider account.
    #[oai(
        path = "/leads/:id/inbound",
        method = "post",
        operation_id = "sandbox_inbound_message"
    )]
    async fn inbound(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The lead's id.
        id: Path<String>,
        body: JsonBody<SandboxInboundRequest>,
    ) -> Result<Json<SandboxInboundResult>, ApiError> {
        let tenant_id = auth.0.tenant()?;
        let lead: LeadId = id.0.parse().map_err(|_| ApiError::not_found("lead"))?;
        let text = body.0.text()?;
        let provider_message_id = body.0.provider_message_id()?;
        let tenant = state
            .tenants
            .get(tenant_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the key's tenant no longer exists"))?;
        if tenant.channels.twilio.is_some() || tenant.channels.whatsapp_cloud.is_some() {
            return Err(ApiError::conflict(
                "sandbox_disabled",
                "the tenant sends through a provider: its leads write through the provider, not the sandbox",
                json!({}),
            ));
        }
        let channel = match body.0.channel {
            Some(channel) => channel.into(),
            None => lead_channel(&state, tenant_id, lead).await?,
        };
        let ctx = state.context(&auth.0, tenant_id, &request_id);
        let outcome = inbound::receive_from_lead(
            &state.messaging,
            &ctx,
            lead,
            channel,
            &provider_message_id,
            text,
        )
        .await
        .map_err(|error| ApiError::from_command(error, "lead"))?;
        Ok(Json(SandboxInboundResult {
            lead_id: outcome.lead_id.to_string(),
            message_id: outcome.message_id.map(|id| id.to_string()),
            keyword: outcome.keyword.map(Into::into),
            position: outcome.position,
        }))
    }

    /// What the sandbox sent
    ///
    /// The tenant's messages the sandbox channel "sent" (what the leads' phones show), oldest
    /// first: the newest `limit`. With `lead_id`, only those sent to that lead's current phone
    /// number.
    #[oai(
        path = "/messages",
        method = "get",
        operation_id = "list_sandbox_messages"
    )]
    async fn messages(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Only messages to this lead's phone number.
        lead_id: Query<Option<String>>,
        /// Messages to answer with, 1 to 500 (default 100): the newest ones.
        limit: Query<Option<u32>>,
    ) -> Result<Json<SandboxMessageList>, ApiError> {
        let tenant = auth.0.tenant()?;
        let limit = limit.0.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid_field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let phone = match lead_id.0 {
            None => None,
            Some(raw) => {
                let lead: LeadId = raw
                    .parse()
                    .map_err(|_| ApiError::invalid_field("lead_id", "is not a lead id"))?;
                match load_lead(&state, tenant, lead).await?.phone() {
                    Some(phone) => Some(phone.as_str().to_owned()),
                    None => {
                        return Ok(Json(SandboxMessageList {
                            messages: Vec::new(),
                        }))
                    }
                }
            }
        };
        let mut rows: Vec<SentRow> = sqlx::query_as(
            "SELECT message_id, channel, to_phone, content, sent_at FROM sandbox_messages \
             WHERE tenant_id = $1 AND ($2::text IS NULL OR to_phone = $2) \
             ORDER BY sent_at DESC, message_id DESC LIMIT $3",
        )
        .bind(tenant.as_uuid())
        .bind(phone)
        .bind(i64::from(limit))
        .fetch_all(&state.pool)
        .await
        .map_err(anyhow::Error::from)?;
        rows.reverse();
        let messages = rows
            .into_iter()
            .map(sent_message)
            .collect::<anyhow::Result<_>>()?;
        Ok(Json(SandboxMessageList { messages }))
    }
}

/// A row of `sandbox_messages`.
type SentRow = (uuid::Uuid, String, String, serde_json::Value, DateTime<Utc>);

fn sent_message(row: SentRow) -> anyhow::Result<SandboxMessageDto> {
    let (message_id, channel, to, content, sent_at) = row;
    let channel: Channel = channel
        .parse()
        .map_err(|error| anyhow::anyhow!("Unknown sandbox channel {channel:?}: {error}"))?;
    let content: MessageContent = serde_json::from_value(content)
        .map_err(|error| anyhow::anyhow!("Unreadable sandbox message {message_id}: {error}"))?;
    Ok(SandboxMessageDto {
        message_id: message_id.to_string(),
        channel: channel.into(),
        to,
        body: content.preview(),
        sent_at,
    })
}

/// The channel a lead writes on when the client does not say: its workflow's, else SMS.
async fn lead_channel(
    state: &AppState,
    tenant: TenantId,
    lead: LeadId,
) -> Result<Channel, ApiError> {
    let Some(workflow) = load_lead(state, tenant, lead).await?.workflow_id() else {
        return Ok(Channel::Sms);
    };
    let mut conn = state.pool.acquire().await.map_err(anyhow::Error::from)?;
    let workflow =
        event_store::load::<Workflow>(&mut conn, tenant.as_uuid(), &workflow.to_string())
            .await
            .map_err(store_error)?
            .aggregate;
    Ok(workflow
        .definition()
        .map_or(Channel::Sms, |definition| definition.channel))
}

/// The tenant's lead, from the event store (which never lags); 404 when it has none.
async fn load_lead(state: &AppState, tenant: TenantId, lead: LeadId) -> Result<Lead, ApiError> {
    let mut conn = state.pool.acquire().await.map_err(anyhow::Error::from)?;
    let loaded = event_store::load::<Lead>(&mut conn, tenant.as_uuid(), &lead.to_string())
        .await
        .map_err(store_error)?
        .aggregate;
    if loaded.is_captured() {
        Ok(loaded)
    } else {
        Err(ApiError::not_found("lead"))
    }
}

fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::OtherTenant => ApiError::not_found("lead"),
        StoreError::Conflict => ApiError::internal(&anyhow::anyhow!("a conflict while reading")),
        StoreError::Database(error) => ApiError::internal(&error),
    }
}
