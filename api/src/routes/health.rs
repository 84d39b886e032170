//! Liveness, readiness and metrics, for orchestrators and Prometheus. No authentication.

use poem::web::Data;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::routes::ApiTags;
use crate::state::AppState;

/// The health API.
#[derive(Debug, Clone, Copy)]
pub struct HealthApi;

/// Readiness details.
#[derive(Debug, Clone, Object)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: String,
    /// The database answered.
    pub database: bool,
    /// Every migration of this build has been applied.
    pub migrations: bool,
}

/// Ready or not.
#[derive(Debug, ApiResponse)]
pub enum ReadinessResponse {
    /// Ready to serve.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// Not ready (database unreachable or migrations pending).
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness
    ///
    /// The process is up and serving HTTP.
    #[oai(path = "/health/live", method = "get", operation_id = "health_live")]
    async fn live(&self) -> PlainText<&'static str> {
        PlainText("ok")
    }

    /// Readiness
    ///
    /// The database is reachable and migrated.
    #[oai(path = "/health/ready", method = "get", operation_id = "health_ready")]
    async fn ready(&self, state: Data<&AppState>) -> ReadinessResponse {
        let migrations = infrastructure::db::migrations_applied(&state.pool).await;
        let (database, migrations) = match migrations {
            Ok(applied) => (true, applied),
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "readiness check failed");
                (
                    sqlx::query("SELECT 1").execute(&state.pool).await.is_ok(),
                    false,
                )
            }
        };
        let ready = database && migrations;
        let body = Json(Readiness {
            status: if ready { "ready" } else { "not_ready" }.to_string(),
            database,
            migrations,
        });
        if ready {
            ReadinessResponse::Ready(body)
        } else {
            ReadinessResponse::NotReady(body)
        }
    }

    /// Metrics
    ///
    /// Prometheus text format: request counts and latencies, projection positions and lag.
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self, state: Data<&AppState>) -> PlainText<String> {
        PlainText(crate::metrics::render(&state.pool).await)
    }
}
