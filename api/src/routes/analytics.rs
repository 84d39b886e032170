//! Analytics over HTTP: the tenant's all-time overview (from the all-time tables of the `funnel`
//! and `costs` projections and the head of the `activity` feed, a few rows per workflow), its AI
//! spend per day, workflow or model, read from the `costs` projection, and its lead funnel, read
//! from the `funnel` projection (a few rows per day however many leads the tenant has). Days are
//! UTC days.

use chrono::{Duration, NaiveDate};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;
use projections::activity::query::{list, ActivityFilter};
use projections::costs::messages::in_range;
use projections::costs::query::{self, GroupBy};
use projections::funnel::query::{funnel, Granularity};
use projections::funnel::totals::{totals, workflow_names};
use uuid::Uuid;

use crate::auth::BearerAuth;
use crate::dto::analytics::overview::{AnalyticsOverviewDto, OverviewParts};
use crate::dto::analytics::{parse_day, CostReportDto, FunnelReportDto};
use crate::error::ApiError;
use crate::routes::ApiTags;
use crate::state::AppState;

/// The analytics API.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnalyticsApi;

/// Days counted when `from` is not given: the 30 days up to `to`.
const DEFAULT_DAYS: i64 = 30;

/// Activity items the overview shows.
const RECENT_ACTIVITY: u32 = 10;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Analytics")]
impl AnalyticsApi {
    /// Analytics overview
    ///
    /// The tenant's all-time figures. `overview.total_contacts` is a **current status** figure:
    /// the leads there are now, whatever their status (archived ones included). `contacted`,
    /// `qualified`, `booked` and `opted_out` are **ever reached**: leads that reached the stage
    /// at least once (reaching in conversation, qualified or booked also counts as contacted),
    /// whatever their status now. `rates` are computed from the ever-reached counts exactly as
    /// the funnel's (response = replied / contacted, qualification = qualified / (contacted −
    /// opted_out), booking = booked / qualified, opt-out = opted_out / contacted, show =
    /// completed / (completed + no_show); four decimals, `null` for a zero denominator).
    /// `ai_usage`: all AI calls, tokens (input + output), exact cost and distinct conversations.
    /// `messaging`: per channel, messages received and sent and the prices providers reported
    /// (as in the cost report's `messages`). `by_workflow`: the same per workflow
    /// (the nil uuid: leads in none), where `total_contacts` counts the leads in it now and the
    /// ever-reached counts and AI usage are attributed to the workflow the lead was in at the
    /// time. `recent_activity`: the latest 10 items of the activity feed. Reads a few rows per
    /// workflow, whatever the number of leads. Pass a command's `position` as `min_position` to
    /// see its effect.
    #[oai(
        path = "/analytics",
        method = "get",
        operation_id = "analytics_overview"
    )]
    async fn overview(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Wait (briefly) until the read models have applied the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<AnalyticsOverviewDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let schemas = [
            projections::funnel::live(),
            projections::costs::live(),
            projections::activity::live(),
            projections::workflows::live(),
        ];
        for schema in &schemas {
            state
                .wait_for_position(schema, tenant, min_position.0)
                .await?;
        }
        let [funnel_schema, costs_schema, activity_schema, workflows_schema] = &schemas;
        let id = tenant.as_uuid();
        let funnel = totals(&state.pool, funnel_schema, id).await?;
        let costs = projections::costs::totals::totals(&state.pool, costs_schema, id).await?;
        let workflows: Vec<Uuid> = funnel
            .keys()
            .chain(costs.by_workflow.keys())
            .copied()
            .filter(|workflow| !workflow.is_nil())
            .collect();
        let names = workflow_names(&state.pool, workflows_schema, id, &workflows).await?;
        let activity = list(
            &state.pool,
            activity_schema,
            id,
            &ActivityFilter::default(),
            RECENT_ACTIVITY,
            None,
        )
        .await?;
        Ok(Json(
            OverviewParts {
                funnel,
                costs,
                names,
                activity: activity.items,
            }
            .into(),
        ))
    }

    /// AI costs
    ///
    /// The tenant's AI calls, tokens and cost (exact micro-USD, and as a decimal string) from
    /// `from` to `to`, both UTC days included, one row per `group_by` key (`day`, `workflow`,
    /// `model`), with the total. `from`/`to` take `YYYY-MM-DD` or an RFC 3339 time (its UTC
    /// day); `to` defaults to today, `from` to 29 days before `to`. Averages divide input plus
    /// output tokens by the distinct conversations that spent. 422 naming the field for a bad
    /// value or `from` after `to`. `messages`: per channel, the messages received and sent in
    /// the range, and the outbound messages providers priced (on the UTC day of the report):
    /// how many, how many billable, and the amounts per currency (exact micro-units and a
    /// decimal string). Pass a command's `position` as `min_position` to see its effect.
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
        let (from, to) = range(&state, from.0.as_deref(), to.0.as_deref())?;
        let schema = projections::costs::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        let report = query::costs(&state.pool, &schema, tenant.as_uuid(), from, to, group).await?;
        let messages = in_range(&state.pool, &schema, tenant.as_uuid(), from, to).await?;
        Ok(Json(CostReportDto::new(name, from, to, report, messages)))
    }

    /// Lead funnel
    ///
    /// The tenant's funnel from `from` to `to` (UTC days, both included), for one `workflow_id`
    /// (the nil uuid: leads in no workflow) or all: per `granularity` bucket (`day`, `week` —
    /// ISO weeks from Monday — or `month`), how many leads first reached each stage on those
    /// days (`replied`: in conversation, qualified or booked; reaching any of those also counts
    /// as `contacted`) and how many appointments were marked completed or no-show; the total;
    /// the rates over the total (response = replied / contacted, qualification = qualified /
    /// (contacted − opted_out), booking = booked / qualified, opt-out = opted_out / contacted,
    /// show = completed / (completed + no_show); four decimals, `null` for a zero denominator);
    /// and the leads per status now. `from`/`to` as for costs. 422 naming the field for a bad
    /// value. Pass a command's `position` as `min_position` to see its effect.
    #[oai(
        path = "/analytics/funnel",
        method = "get",
        operation_id = "analytics_funnel"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn funnel(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Only this workflow's leads (the nil uuid: leads in none); all when absent.
        workflow_id: Query<Option<String>>,
        /// The first day counted.
        from: Query<Option<String>>,
        /// The last day counted.
        to: Query<Option<String>>,
        /// `day` (default), `week` or `month`.
        granularity: Query<Option<String>>,
        /// Wait (briefly) until the read model has applied the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<FunnelReportDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let workflow = match workflow_id.0.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(
                Uuid::parse_str(raw)
                    .map_err(|_| ApiError::invalid_field("workflow_id", "must be a uuid"))?,
            ),
        };
        let (buckets, name) = match granularity.0.as_deref().map(str::trim) {
            None | Some("day") => (Granularity::Day, "day"),
            Some("week") => (Granularity::Week, "week"),
            Some("month") => (Granularity::Month, "month"),
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "granularity",
                    "must be day, week or month",
                ))
            }
        };
        let (from, to) = range(&state, from.0.as_deref(), to.0.as_deref())?;
        let schema = projections::funnel::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        let report = funnel(
            &state.pool,
            &schema,
            tenant.as_uuid(),
            workflow,
            from,
            to,
            buckets,
        )
        .await?;
        Ok(Json(FunnelReportDto::new(name, from, to, workflow, report)))
    }
}

/// The days from `from` to `to`: `to` defaults to today, `from` to 29 days before `to`; 422
/// naming the field for a bad value or `from` after `to`.
fn range(
    state: &AppState,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let to = match to {
        Some(raw) => parse_day("to", raw)?,
        None => state.clock.now().date_naive(),
    };
    let from = match from {
        Some(raw) => parse_day("from", raw)?,
        None => to - Duration::days(DEFAULT_DAYS - 1),
    };
    if from > to {
        return Err(ApiError::invalid_field("from", "must not be after to"));
    }
    Ok((from, to))
}
