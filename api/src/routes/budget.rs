//! A tenant's AI budget over HTTP: where this month (or another) stands against the monthly
//! budget, and the alert thresholds reached (`CostThresholdReached`, recorded once per threshold
//! and month by `infrastructure::messaging::budget`), read from the `budgets` projection. The
//! budget itself is tenant configuration (`ai_budget` on the tenant).

use domain::budget::UtcMonth;
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;
use projections::budgets::query::{month_spend, thresholds};

use crate::auth::BearerAuth;
use crate::dto::budget::{BudgetStatusDto, ThresholdListDto, ThresholdReachedDto};
use crate::error::ApiError;
use crate::routes::ApiTags;
use crate::state::AppState;

/// The AI budget API.
#[derive(Debug, Clone, Copy, Default)]
pub struct BudgetApi;

/// Thresholds listed when `limit` is not given.
const DEFAULT_LIMIT: i64 = 100;
/// Most thresholds listed at once.
const MAX_LIMIT: i64 = 1000;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Analytics")]
impl BudgetApi {
    /// AI budget status
    ///
    /// The tenant's AI spend in `month` (a UTC calendar month, `YYYY-MM`; the current one when
    /// absent) against its monthly budget (`ai_budget` on the tenant, `null` when none): calls,
    /// exact spend, the share of the limit used, whether the AI is stopped now (`hard_stop` and
    /// the limit reached: replies are handed to a person and follow-ups are written by the rules
    /// engine until the limit is raised or the month ends), and the thresholds reached in the
    /// month. 422 naming `month` for a bad value. Pass a command's `position` as `min_position`
    /// to see its effect.
    #[oai(
        path = "/analytics/budget",
        method = "get",
        operation_id = "ai_budget_status"
    )]
    async fn status(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The month (`YYYY-MM`, UTC); the current month when absent.
        month: Query<Option<String>>,
        /// Wait (briefly) until the read model has applied the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<BudgetStatusDto>, ApiError> {
        let tenant_id = auth.0.tenant()?;
        let now = UtcMonth::of(state.clock.now());
        let month = parse_month(month.0.as_deref())?.unwrap_or(now);
        let schema = projections::budgets::live();
        state
            .wait_for_position(&schema, tenant_id, min_position.0)
            .await?;
        let tenant = state
            .tenants
            .get(tenant_id)
            .await?
            .ok_or_else(|| ApiError::not_found("tenant"))?;
        let id = tenant_id.as_uuid();
        let spend = month_spend(&state.pool, &schema, id, month.first_day()).await?;
        let reached =
            thresholds(&state.pool, &schema, id, Some(month.first_day()), MAX_LIMIT).await?;
        Ok(Json(BudgetStatusDto::new(
            month,
            tenant.ai_budget.as_ref(),
            spend,
            reached,
            month == now,
        )))
    }

    /// AI budget thresholds reached
    ///
    /// The alert thresholds the tenant's AI spend reached, newest first: each threshold of each
    /// month once (`CostThresholdReached`), with the limit and spend then, and whether the
    /// tenant's `webhook_url` was told (one POST, event `ai_budget.threshold_reached`, header
    /// `x-bookerbot-delivery` stable per threshold and month). `month` (`YYYY-MM`) keeps one
    /// month; `limit` 1–1000 (default 100). 422 naming the field for a bad value.
    #[oai(
        path = "/analytics/budget/thresholds",
        method = "get",
        operation_id = "ai_budget_thresholds"
    )]
    async fn thresholds(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Only this month (`YYYY-MM`, UTC).
        month: Query<Option<String>>,
        /// How many (1–1000, default 100).
        limit: Query<Option<i64>>,
        /// Wait (briefly) until the read model has applied the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<ThresholdListDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let month = parse_month(month.0.as_deref())?;
        let limit = limit.0.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid_field(
                "limit",
                "must be between 1 and 1000",
            ));
        }
        let schema = projections::budgets::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        let items = thresholds(
            &state.pool,
            &schema,
            tenant.as_uuid(),
            month.map(UtcMonth::first_day),
            limit,
        )
        .await?;
        Ok(Json(ThresholdListDto {
            items: items.into_iter().map(ThresholdReachedDto::from).collect(),
        }))
    }
}

/// `month` parsed, if given.
fn parse_month(raw: Option<&str>) -> Result<Option<UtcMonth>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => UtcMonth::parse(raw)
            .map(Some)
            .map_err(|_| ApiError::invalid_field("month", "must be a month as YYYY-MM")),
    }
}
