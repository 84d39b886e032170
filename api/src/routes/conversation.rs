//! `GET /api/v1/leads/{id}/conversation`: a lead's threads and messages as an operator reads
//! them, from the conversations read model (pass a command's position as `min_position` to read
//! your writes). Whether the lead exists is asked of the event store, so a lead captured a
//! moment ago answers with empty threads rather than 404; another tenant's lead is a 404.

use domain::values::{LeadId, TenantId};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;
use projections::conversations::query::{self, Window};

use crate::auth::BearerAuth;
use crate::dto::conversation::ConversationDto;
use crate::dto::workflow::Channel;
use crate::error::ApiError;
use crate::routes::ApiTags;
use crate::state::AppState;

/// Messages per answer unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 100;
/// The most messages one answer holds.
const MAX_LIMIT: u32 = 500;

/// The conversation API.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConversationApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Leads")]
impl ConversationApi {
    /// A lead's conversation
    ///
    /// The lead's threads (one per channel: handed off or not, when the lead last wrote, until
    /// when WhatsApp accepts free text) and its messages either way, oldest first, each with its
    /// delivery status and times; on the lead's messages, the AI's answer (intent, answers
    /// found, tokens, exact cost) and its failed attempts. The newest `limit` messages come
    /// first; pass `next_before` back as `before` for the ones before them. A lead with no
    /// conversation answers empty lists; an unknown lead (or another tenant's) is a 404.
    #[oai(
        path = "/leads/:id/conversation",
        method = "get",
        operation_id = "get_lead_conversation"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn conversation(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The lead's id.
        id: Path<String>,
        /// Only this channel's thread and messages.
        channel: Query<Option<Channel>>,
        /// Messages to answer with, 1 to 500 (default 100): the newest of those that match.
        limit: Query<Option<u32>>,
        /// Only messages before this one (a message id, e.g. a previous answer's `next_before`).
        before: Query<Option<String>>,
        /// Wait until the read model includes the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<ConversationDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let lead: LeadId = id.0.parse().map_err(|_| ApiError::not_found("lead"))?;
        let limit = limit.0.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid_field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let schema = projections::conversations::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        if !lead_exists(&state, tenant, lead).await? {
            return Err(ApiError::not_found("lead"));
        }
        let before = match before.0 {
            None => None,
            Some(raw) => {
                let unknown = || ApiError::invalid_field("before", "is not a message of this lead");
                let message: uuid::Uuid = raw.trim().parse().map_err(|_| unknown())?;
                let found = query::position(
                    &state.pool,
                    &schema,
                    tenant.as_uuid(),
                    lead.as_uuid(),
                    message,
                )
                .await?;
                Some(found.ok_or_else(unknown)?)
            }
        };
        let window = Window {
            channel: channel
                .0
                .map(|c| domain::Channel::from(c).as_str().to_string()),
            before,
            limit,
        };
        let view = query::conversation(
            &state.pool,
            &schema,
            tenant.as_uuid(),
            lead.as_uuid(),
            &window,
        )
        .await?;
        Ok(Json(ConversationDto::from_view(lead.to_string(), view)?))
    }
}

/// Whether the tenant has lead `lead` (asked of the event store, which never lags).
async fn lead_exists(state: &AppState, tenant: TenantId, lead: LeadId) -> Result<bool, ApiError> {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM events \
         WHERE aggregate_type = 'lead' AND aggregate_id = $1 AND tenant_id = $2)",
    )
    .bind(lead.to_string())
    .bind(tenant.as_uuid())
    .fetch_one(&state.pool)
    .await
    .map_err(anyhow::Error::from)?;
    Ok(exists)
}
