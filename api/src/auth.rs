//! Who is calling: `Authorization: Bearer <token>` is either the platform admin token from
//! configuration or a tenant's API key (looked up by its SHA-256). Tenant scoping starts here:
//! every tenant route takes the tenant from the key, never from the request.

use domain::values::TenantId;
use poem::Request;
use poem_openapi::auth::Bearer;
use poem_openapi::SecurityScheme;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The platform administrator.
    Admin,
    /// A tenant's API key.
    Tenant {
        /// The tenant.
        tenant_id: TenantId,
        /// The key used.
        key_id: uuid::Uuid,
    },
}

impl Caller {
    /// The caller's tenant; the admin has none (403 on tenant routes).
    pub fn tenant(&self) -> Result<TenantId, ApiError> {
        match self {
            Self::Tenant { tenant_id, .. } => Ok(*tenant_id),
            Self::Admin => Err(ApiError::forbidden(
                "this route acts for a tenant: use one of the tenant's API keys",
            )),
        }
    }

    /// Whether the caller may manage tenant `id` (the admin, or that tenant's own key). Another
    /// tenant's id is answered as not found.
    pub fn may_manage(&self, id: TenantId) -> Result<(), ApiError> {
        match self {
            Self::Admin => Ok(()),
            Self::Tenant { tenant_id, .. } if *tenant_id == id => Ok(()),
            Self::Tenant { .. } => Err(ApiError::not_found("tenant")),
        }
    }

    /// Only the admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self {
            Self::Admin => Ok(()),
            Self::Tenant { .. } => Err(ApiError::forbidden("only the platform admin may do this")),
        }
    }
}

/// Bearer authentication: a tenant API key or the platform admin token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "authenticate")]
pub struct BearerAuth(pub Caller);

async fn authenticate(req: &Request, bearer: Bearer) -> poem::Result<Caller> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| poem::Error::from(ApiError::internal(&anyhow::anyhow!("state missing"))))?;
    resolve(state, &bearer.token)
        .await
        .map_err(poem::Error::from)
}

/// Resolves a presented token to a caller.
pub async fn resolve(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    if let Some(admin) = &state.settings.admin_token {
        if constant_time_eq(admin, token) {
            return Ok(Caller::Admin);
        }
    }
    match state.tenants.authenticate(token).await? {
        Some(owner) => Ok(Caller::Tenant {
            tenant_id: owner.tenant_id,
            key_id: owner.key_id,
        }),
        None => Err(ApiError::unauthorized(
            "the bearer token is not a valid API key",
        )),
    }
}

/// Compares digests so the time taken says nothing about how much of the token matched.
fn constant_time_eq(expected: &str, presented: &str) -> bool {
    let a = Sha256::digest(expected.as_bytes());
    let b = Sha256::digest(presented.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}
