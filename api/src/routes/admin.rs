//! `/api/v1/admin`: operations for the platform admin — where each projection stands.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use crate::auth::BearerAuth;
use crate::error::ApiError;
use crate::routes::ApiTags;
use crate::state::AppState;

/// The admin API.
#[derive(Debug, Clone, Copy)]
pub struct AdminApi;

/// A projection target's position and lag.
#[derive(Debug, Clone, Object)]
#[oai(rename = "ProjectionStatus")]
pub struct ProjectionStatusDto {
    /// The schema it writes (and the checkpoint's key).
    pub target: String,
    /// The projection.
    pub projection: String,
    /// Global position of the last event applied.
    pub position: i64,
    /// Events applied since the target was created.
    pub events_applied: i64,
    /// Committed events not yet applied.
    pub lag_events: i64,
    /// Age in seconds of the oldest event not yet applied (0 when caught up).
    pub lag_seconds: f64,
    /// When the checkpoint last moved.
    pub updated_at: DateTime<Utc>,
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminApi {
    /// Projection status
    ///
    /// Each projection's position in the event feed and how far behind it is.
    #[oai(
        path = "/projections",
        method = "get",
        operation_id = "list_projections"
    )]
    async fn projections(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
    ) -> Result<Json<Vec<ProjectionStatusDto>>, ApiError> {
        auth.0.require_admin()?;
        let statuses = projections::status::all(&state.pool).await?;
        Ok(Json(
            statuses
                .into_iter()
                .map(|s| ProjectionStatusDto {
                    target: s.target,
                    projection: s.projection,
                    position: s.position.global_position,
                    events_applied: s.events_applied,
                    lag_events: s.lag_events,
                    lag_seconds: s.lag_seconds,
                    updated_at: s.updated_at,
                })
                .collect(),
        ))
    }
}
