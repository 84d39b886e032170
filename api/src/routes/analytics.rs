//! Analytics over HTTP: the tenant's AI spend per day, workflow or model, read from the `costs`
//! projection (a few rows per day however many leads the tenant has). Days are UTC days.

use chrono::Duration;
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;
use projections::costs::query::{self, GroupBy};

use crate::auth::BearerAuth;
use crate::dto::analytics::{parse_day, CostReportDto};
use crate::error::ApiError;
use crate::routes::ApiTags;
use crate::state::AppState;

/// The analytics API.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnalyticsApi;

/// Days counted when `from` is not given: the 30 days up to `to`.
const DEFAULT_DAYS: i64 = 30;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Analytics")]
impl AnalyticsApi {
    /// AI costs
    ///
    /// The tenant's AI calls, tokens and cost (exact micro-USD, and as a decimal string) from
    /// `from` to `to`, both UTC days included, one row per `group_by` key (`day`, `workflow`,
    /// `model`), with the total. `from`/`to` take `YYYY-MM-DD` or an RFC 3339 time (its UTC
    /// day); `to` defaults to today, `from` to 29 days before `to`. Averages divide input plus
    /// output tokens by the distinct conversations that spent. 422 naming the field for a bad
    /// value or `from` after `to`. Pass a command's `position` as `min_position` to see its
    /// effect.
    #[oai(
        path = "/analytics/costs",
        method = "get",
        operation_id = "analytics_costs"
    )]
    async fn costs(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// `day` (default), `workflow` or `model`.
        group_by: Query<Option<String>>,
        /// The first day counted.
        from: Query<Option<String>>,
        /// The last day counted.
        to: Query<Option<String>>,
        /// Wait (briefly) until the read model has applied the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<CostReportDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let (group, name) = match group_by.0.as_deref().map(str::trim) {
            None | Some("day") => (GroupBy::Day, "day"),
            Some("workflow") => (GroupBy::Workflow, "workflow"),
            Some("model") => (GroupBy::Model, "model"),
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "group_by",
                    "must be day, workflow or model",
                ))
            }
        };
        let to = match to.0.as_deref() {
            Some(raw) => parse_day("to", raw)?,
            None => state.clock.now().date_naive(),
        };
        let from = match from.0.as_deref() {
            Some(raw) => parse_day("from", raw)?,
            None => to - Duration::days(DEFAULT_DAYS - 1),
        };
        if from > to {
            return Err(ApiError::invalid_field("from", "must not be after to"));
        }
        let schema = projections::costs::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        let report = query::costs(&state.pool, &schema, tenant.as_uuid(), from, to, group).await?;
        Ok(Json(CostReportDto::new(name, from, to, report)))
    }
}
