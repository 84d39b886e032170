//! What an operator does to a lead's conversation over HTTP: send a message, send the workflow's
//! outreach, hand the conversation to a human and give it back to the AI, retry a failed
//! message. Each is one messaging use case (`infrastructure::messaging::outbound`) in the
//! caller's tenant; messages are queued here and sent by the outbox workers, so sends answer
//! 202 with the queued message's id.

use domain::conversation::ConversationId;
use domain::values::{LeadId, MessageId, TenantId};
use infrastructure::messaging::outbound::{self, Queued};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use crate::auth::BearerAuth;
use crate::body::JsonBody;
use crate::dto::conversation::MessageStatusDto;
use crate::dto::message::{
    HandOffRequest, LeadConversationResult, QueuedMessageDto, SendMessageRequest,
};
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::routes::ApiTags;
use crate::state::AppState;

/// The operator messaging API.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessagesApi;

/// A message was queued.
#[derive(Debug, ApiResponse)]
pub enum QueuedResponse {
    /// Queued: the outbox sends it shortly; follow it in the lead's conversation.
    #[oai(status = 202)]
    Accepted(Json<QueuedMessageDto>),
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Conversations")]
impl MessagesApi {
    /// Send a message to a lead
    ///
    /// Queues free text (`body`) or an approved template (`template`) on `channel` (default:
    /// the lead's workflow channel, else SMS). Refused with 409 `opted_out`, `archived`,
    /// `no_phone`, or `whatsapp_window_closed` (free text on WhatsApp more than 24 hours after
    /// the lead's last message: send a template).
    #[oai(
        path = "/leads/:id/messages",
        method = "post",
        operation_id = "send_lead_message"
    )]
    async fn send(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The lead's id.
        id: Path<String>,
        body: JsonBody<SendMessageRequest>,
    ) -> Result<QueuedResponse, ApiError> {
        let tenant = auth.0.tenant()?;
        let lead = lead_id(&id.0)?;
        let content = body.0.content()?;
        let ctx = state.context(&auth.0, tenant, &request_id);
        let queued = outbound::send_manual(
            &state.messaging,
            &ctx,
            lead,
            body.0.channel.map(Into::into),
            content,
        )
        .await
        .map_err(|error| ApiError::from_command(error, "lead"))?;
        Ok(accepted(lead, queued))
    }

    /// Send the workflow's outreach
    ///
    /// Queues the initial message of the lead's workflow, merge fields filled, on the
    /// workflow's channel; once sent, a `pending` lead is `contacted`. Outreach also goes out on
    /// its own when a pending lead is in an active workflow (see `list_scheduled`): use this to
    /// send it again after it failed. 409 `no_workflow` when the lead has no workflow or it is
    /// not active, `already_contacted` when its outreach is already queued or sent.
    #[oai(
        path = "/leads/:id/outreach",
        method = "post",
        operation_id = "send_lead_outreach"
    )]
    async fn outreach(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The lead's id.
        id: Path<String>,
    ) -> Result<QueuedResponse, ApiError> {
        let tenant_id = auth.0.tenant()?;
        let lead = lead_id(&id.0)?;
        let tenant = state
            .tenants
            .get(tenant_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the key's tenant no longer exists"))?;
        let ctx = state.context(&auth.0, tenant_id, &request_id);
        let queued = outbound::send_outreach(&state.messaging, &ctx, lead, &tenant.brand_name)
            .await
            .map_err(|error| ApiError::from_command(error, "lead"))?;
        Ok(accepted(lead, queued))
    }

    /// Hand a lead's conversation to a human
    ///
    /// The AI stays silent on every channel of the lead until resumed; the lead becomes
    /// `handed_off`. Send `{}` for the default reason (`operator`).
    #[oai(
        path = "/leads/:id/handoff",
        method = "post",
        operation_id = "hand_off_lead"
    )]
    async fn hand_off(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The lead's id.
        id: Path<String>,
        body: JsonBody<HandOffRequest>,
    ) -> Result<Json<LeadConversationResult>, ApiError> {
        let tenant = auth.0.tenant()?;
        let lead = lead_id(&id.0)?;
        let reason = body.0.reason()?;
        let ctx = state.context(&auth.0, tenant, &request_id);
        let position = outbound::hand_off(&state.messaging, &ctx, lead, &reason)
            .await
            .map_err(|error| ApiError::from_command(error, "lead"))?;
        Ok(changed(lead, position))
    }

    /// Give a lead's conversation back to the AI
    ///
    /// The AI answers the lead's next message again; a `handed_off` lead is back
    /// `in_conversation`.
    #[oai(
        path = "/leads/:id/resume-ai",
        method = "post",
        operation_id = "resume_lead_ai"
    )]
    async fn resume_ai(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The lead's id.
        id: Path<String>,
    ) -> Result<Json<LeadConversationResult>, ApiError> {
        let tenant = auth.0.tenant()?;
        let lead = lead_id(&id.0)?;
        let ctx = state.context(&auth.0, tenant, &request_id);
        let position = outbound::resume_ai(&state.messaging, &ctx, lead)
            .await
            .map_err(|error| ApiError::from_command(error, "lead"))?;
        Ok(changed(lead, position))
    }

    /// Send a failed message again
    ///
    /// Queues a `failed` message once more (its attempts start again). 409 `not_retryable`
    /// when the message is not failed; 404 for a message the tenant does not have (the
    /// message's conversation is looked up in the conversations read model).
    #[oai(
        path = "/messages/:id/retry",
        method = "post",
        operation_id = "retry_message"
    )]
    async fn retry(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// The message's id.
        id: Path<String>,
    ) -> Result<QueuedResponse, ApiError> {
        let tenant = auth.0.tenant()?;
        let message: MessageId = id.0.parse().map_err(|_| ApiError::not_found("message"))?;
        let conversation = conversation_of(&state, tenant, message)
            .await?
            .ok_or_else(|| ApiError::not_found("message"))?;
        let ctx = state.context(&auth.0, tenant, &request_id);
        let position = outbound::retry(&state.messaging, &ctx, conversation, message)
            .await
            .map_err(|error| ApiError::from_command(error, "message"))?;
        Ok(accepted(
            conversation.lead_id(),
            Queued {
                message_id: message,
                channel: conversation.channel(),
                position,
            },
        ))
    }
}

/// The conversation holding the tenant's outbound message `message`, from the read model.
async fn conversation_of(
    state: &AppState,
    tenant: TenantId,
    message: MessageId,
) -> Result<Option<ConversationId>, ApiError> {
    let row: Option<(uuid::Uuid, String)> = sqlx::query_as(&format!(
        "SELECT lead_id, channel FROM {}.messages \
         WHERE tenant_id = $1 AND message_id = $2 AND direction = 'outbound'",
        projections::conversations::live()
    ))
    .bind(tenant.as_uuid())
    .bind(message.as_uuid())
    .fetch_optional(&state.pool)
    .await
    .map_err(anyhow::Error::from)?;
    let Some((lead, channel)) = row else {
        return Ok(None);
    };
    let channel = channel.parse().map_err(|error| {
        anyhow::anyhow!("Unknown channel {channel:?} in the conversations model: {error}")
    })?;
    Ok(Some(ConversationId::new(LeadId::from_uuid(lead), channel)))
}

fn accepted(lead: LeadId, queued: Queued) -> QueuedResponse {
    QueuedResponse::Accepted(Json(QueuedMessageDto {
        message_id: queued.message_id.to_string(),
        lead_id: lead.to_string(),
        channel: queued.channel.into(),
        status: MessageStatusDto::Queued,
        position: queued.position,
    }))
}

fn changed(lead: LeadId, position: Option<i64>) -> Json<LeadConversationResult> {
    Json(LeadConversationResult {
        lead_id: lead.to_string(),
        position,
    })
}

/// An id in a path: one that does not parse names no lead, so it is a 404 like any other.
fn lead_id(raw: &str) -> Result<LeadId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("lead"))
}
