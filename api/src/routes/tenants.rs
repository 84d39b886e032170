//! `/api/v1/tenants`: the platform admin creates and lists tenants; the admin or a tenant's own
//! key reads and changes that tenant and manages its API keys. Tenants are plain configuration
//! (see `infrastructure::tenants`), so these routes call the tenant store directly.
//!
//! Another tenant's id, an unknown id and an id that does not parse are the same 404, so a key
//! learns nothing about tenants other than its own.

use domain::values::TenantId;
use infrastructure::tenants::TenantChangeError;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;

use crate::auth::{BearerAuth, Caller};
use crate::body::JsonBody;
use crate::dto::tenant::{
    ApiKeyCreatedDto, ApiKeyDto, CreateApiKeyRequest, CreateTenantRequest, NewTenant,
    TenantCreatedDto, TenantDto, UpdateTenantRequest,
};
use crate::error::ApiError;
use crate::responses::{paging, Created, NoContent, Page};
use crate::routes::ApiTags;
use crate::state::AppState;

/// The resource name used in errors.
const RESOURCE: &str = "tenant";

/// The tenants resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct TenantsApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Tenants")]
impl TenantsApi {
    /// Create a tenant
    ///
    /// Platform admin only. Creates a client business with defaults for what the body leaves
    /// out (time zone `Europe/London`, country `GB`, Monday to Friday 09:00–17:00, sending
    /// between 08:00 and 21:00, no provider accounts, no model, no AI budget) and issues its
    /// first API key.
    /// The key's secret (`api_key`) is shown in this answer only. Provider accounts given here
    /// must be complete; their secrets are stored encrypted and never shown (422 on the secret's
    /// field when the server has no `BOOKERBOT_SECRETS_KEY`).
    #[oai(path = "/tenants", method = "post", operation_id = "create_tenant")]
    async fn create_tenant(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        body: JsonBody<CreateTenantRequest>,
    ) -> Result<Created<TenantCreatedDto>, ApiError> {
        auth.0.require_admin()?;
        let new = NewTenant::try_from(body.0)?;
        let (tenant, key) = state
            .tenants
            .create(new.name, new.settings, state.clock.now())
            .await
            .map_err(refused)?;
        Ok(Created::Created(Json(TenantCreatedDto::new(&tenant, key))))
    }

    /// List tenants
    ///
    /// Platform admin only. Every tenant, oldest first.
    #[oai(path = "/tenants", method = "get", operation_id = "list_tenants")]
    async fn list_tenants(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Page number, from 1 (default 1).
        page: Query<Option<u32>>,
        /// Items per page, 1 to 500 (default 50).
        page_size: Query<Option<u32>>,
    ) -> Result<Json<Page<TenantDto>>, ApiError> {
        auth.0.require_admin()?;
        let (page, page_size) = paging(page.0, page_size.0)?;
        let tenants = state.tenants.list().await?;
        Ok(Json(page_of(
            tenants.iter().map(TenantDto::from),
            page,
            page_size,
        )))
    }

    /// Get a tenant
    ///
    /// The platform admin, or the tenant's own key.
    #[oai(path = "/tenants/:id", method = "get", operation_id = "get_tenant")]
    async fn get_tenant(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The tenant's id.
        id: Path<String>,
    ) -> Result<Json<TenantDto>, ApiError> {
        let id = visible_id(&auth.0, &id.0)?;
        let tenant = state
            .tenants
            .get(id)
            .await?
            .ok_or_else(|| ApiError::not_found(RESOURCE))?;
        Ok(Json(TenantDto::from(&tenant)))
    }

    /// Update a tenant
    ///
    /// The platform admin, or the tenant's own key. Changes only the fields given;
    /// `business_hours` replaces the whole week (days left out are closed).
    ///
    /// Provider accounts (`channels.twilio`, `channels.whatsapp_cloud`), `ai` and the calendar
    /// connection (`calendar.google`) merge setting by setting: settings left out keep their
    /// value, and `null` removes the provider, the model or the connection. A provider set up
    /// for the first time needs all its required settings (Twilio: `account_sid`, `auth_token`
    /// and `from_number` or `whatsapp_from`; WhatsApp Cloud: all four; Google Calendar:
    /// `client_id`, `client_secret` and `refresh_token`). Any change to `calendar.google`
    /// clears a `disconnected` status.
    ///
    /// `ai_budget` is replaced whole, and `null` removes it. Its `monthly_limit` is a decimal
    /// string of US dollars (at most 6 decimals, read exactly) that the AI may spend per UTC
    /// calendar month; `thresholds` (default `[50, 80, 100]`) are the percentages of it at
    /// which the tenant is alerted; with `hard_stop` (default `false`), once the month's AI
    /// spend reaches the limit the AI stops answering and conversations are handed off to a
    /// person until the limit is raised or the month ends.
    ///
    /// Secrets (`auth_token`, `access_token`, `app_secret`, `verify_token`, `api_key`,
    /// `client_secret`, `refresh_token`) are write-only: stored encrypted, answered only as
    /// `*_set` flags. A refused value answers 422 naming its path (e.g.
    /// `channels.twilio.account_sid`, `ai_budget.monthly_limit`) and changes nothing; a secret
    /// sent to a server without `BOOKERBOT_SECRETS_KEY` is refused the same way.
    #[oai(
        path = "/tenants/:id",
        method = "patch",
        operation_id = "update_tenant"
    )]
    async fn update_tenant(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The tenant's id.
        id: Path<String>,
        body: JsonBody<UpdateTenantRequest>,
    ) -> Result<Json<TenantDto>, ApiError> {
        let id = visible_id(&auth.0, &id.0)?;
        let current = state
            .tenants
            .get(id)
            .await?
            .ok_or_else(|| ApiError::not_found(RESOURCE))?;
        let patch = body.0.parse(current.default_country)?;
        let tenant = state
            .tenants
            .update(id, patch, state.clock.now())
            .await
            .map_err(refused)?
            .ok_or_else(|| ApiError::not_found(RESOURCE))?;
        Ok(Json(TenantDto::from(&tenant)))
    }

    /// Issue an API key
    ///
    /// The platform admin, or the tenant's own key. Send `{}` for a key labelled `default`.
    /// The secret (`api_key`) is shown in this answer only; only its hash is stored.
    #[oai(
        path = "/tenants/:id/api-keys",
        method = "post",
        operation_id = "create_api_key"
    )]
    async fn create_api_key(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The tenant's id.
        id: Path<String>,
        body: JsonBody<CreateApiKeyRequest>,
    ) -> Result<Created<ApiKeyCreatedDto>, ApiError> {
        let id = existing_id(&state, &auth.0, &id.0).await?;
        let label = body.0.label()?;
        let key = state
            .tenants
            .issue_key(id, &label, state.clock.now())
            .await?;
        Ok(Created::Created(Json(ApiKeyCreatedDto::from(key))))
    }

    /// List API keys
    ///
    /// The platform admin, or the tenant's own key. The tenant's keys, newest first, revoked
    /// ones included; secrets are never shown again.
    #[oai(
        path = "/tenants/:id/api-keys",
        method = "get",
        operation_id = "list_api_keys"
    )]
    async fn list_api_keys(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The tenant's id.
        id: Path<String>,
        /// Page number, from 1 (default 1).
        page: Query<Option<u32>>,
        /// Items per page, 1 to 500 (default 50).
        page_size: Query<Option<u32>>,
    ) -> Result<Json<Page<ApiKeyDto>>, ApiError> {
        let (page, page_size) = paging(page.0, page_size.0)?;
        let id = existing_id(&state, &auth.0, &id.0).await?;
        let keys = state.tenants.list_keys(id).await?;
        Ok(Json(page_of(
            keys.into_iter().map(ApiKeyDto::from),
            page,
            page_size,
        )))
    }

    /// Revoke an API key
    ///
    /// The platform admin, or the tenant's own key (a key may revoke itself). The key stops
    /// working at once on this instance and within seconds everywhere. Revoking a revoked key
    /// succeeds again; an unknown key answers 404.
    #[oai(
        path = "/tenants/:id/api-keys/:key_id",
        method = "delete",
        operation_id = "revoke_api_key"
    )]
    async fn revoke_api_key(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The tenant's id.
        id: Path<String>,
        /// The key's id.
        key_id: Path<String>,
    ) -> Result<NoContent, ApiError> {
        let id = visible_id(&auth.0, &id.0)?;
        let key =
            uuid::Uuid::parse_str(key_id.0.trim()).map_err(|_| ApiError::not_found("api_key"))?;
        if state.tenants.revoke_key(id, key, state.clock.now()).await? {
            Ok(NoContent::NoContent)
        } else {
            Err(ApiError::not_found("api_key"))
        }
    }
}

/// A refused creation or change: 422 on the setting at fault, 500 for a storage failure.
fn refused(error: TenantChangeError) -> ApiError {
    match error {
        TenantChangeError::Storage(cause) => ApiError::internal(&cause),
        TenantChangeError::NoSecretsKey { field } => ApiError::invalid_field(
            field,
            "cannot be stored: BOOKERBOT_SECRETS_KEY is not configured on this server",
        ),
        TenantChangeError::Required { field } | TenantChangeError::NoSender { field } => {
            ApiError::invalid_field(field, &error)
        }
    }
}

/// Parses a path id the caller may manage; anything else is a 404.
fn visible_id(caller: &Caller, raw: &str) -> Result<TenantId, ApiError> {
    let id: TenantId = raw.parse().map_err(|_| ApiError::not_found(RESOURCE))?;
    caller.may_manage(id)?;
    Ok(id)
}

/// Like [`visible_id`], and the tenant exists. A tenant's own key proves its tenant exists; only
/// the admin's ids are looked up.
async fn existing_id(state: &AppState, caller: &Caller, raw: &str) -> Result<TenantId, ApiError> {
    let id = visible_id(caller, raw)?;
    if *caller == Caller::Admin && state.tenants.get(id).await?.is_none() {
        return Err(ApiError::not_found(RESOURCE));
    }
    Ok(id)
}

/// Cuts one page out of a full, ordered list. Tenants and their keys are few (admin data), so
/// the store reads them whole.
fn page_of<T>(all: impl ExactSizeIterator<Item = T>, page: u32, page_size: u32) -> Page<T>
where
    T: poem_openapi::types::ToJSON + poem_openapi::types::ParseFromJSON + Send + Sync,
{
    let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
    let skip = usize::try_from(u64::from(page.saturating_sub(1)) * u64::from(page_size))
        .unwrap_or(usize::MAX);
    let take = usize::try_from(page_size).unwrap_or(usize::MAX);
    Page {
        items: all.skip(skip).take(take).collect(),
        total,
        page,
        page_size,
    }
}
