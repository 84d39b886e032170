//! `GET /api/v1/scheduled`: what the product will do on its own and when — each engaged lead's
//! next outreach, follow-up or unresponsive check and each confirmed appointment's next reminder
//! (the timers read model), and the messages waiting in the outbox (the tasks read model) —
//! filtered and paged by due time.

use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;
use projections::timers::query::{self, ScheduledCursor, ScheduledFilter};

use crate::auth::BearerAuth;
use crate::dto::lead_filter::instant;
use crate::dto::scheduled::{ScheduledItemDto, ScheduledKind, ScheduledPage};
use crate::error::ApiError;
use crate::routes::ApiTags;
use crate::state::AppState;

/// Items per page unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 100;
/// The most items one page holds.
const MAX_LIMIT: u32 = 500;

/// The scheduled-work API.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScheduledApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Conversations")]
impl ScheduledApi {
    /// What is scheduled
    ///
    /// Upcoming automatic work, soonest first: `outreach` (a pending lead's first message),
    /// `follow_up` (the next follow-up to a silent lead, `step` 1-based), `unresponsive` (when a
    /// lead whose last follow-up stays unanswered is marked so), `reminder` (the next reminder of
    /// a confirmed appointment, with its `appointment_id` and `offset_minutes` before the start)
    /// and `message` (a queued message in the outbox: about to go, waiting for the recipient's
    /// sending window, or backing off after a provider error). Times outside the sending
    /// window show the next opening once the item has come due. Filter by `lead_id`,
    /// `workflow_id`, `kind`, and `due_from` / `due_to` (RFC 3339 times or dates; `due_to`
    /// excluded). Pass `next_cursor` back as `cursor` for the next page.
    #[oai(path = "/scheduled", method = "get", operation_id = "list_scheduled")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Only this lead's items.
        lead_id: Query<Option<String>>,
        /// Only items of leads in this workflow.
        workflow_id: Query<Option<String>>,
        /// Only this kind.
        kind: Query<Option<ScheduledKind>>,
        /// Due at or after this time.
        due_from: Query<Option<String>>,
        /// Due before this time.
        due_to: Query<Option<String>>,
        /// Items per page, 1 to 500 (default 100).
        limit: Query<Option<u32>>,
        /// The previous page's `next_cursor`.
        cursor: Query<Option<String>>,
        /// Wait until the timers read model includes the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<ScheduledPage>, ApiError> {
        let tenant = auth.0.tenant()?;
        let limit = limit.0.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid_field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let filter = ScheduledFilter {
            lead_id: id("lead_id", lead_id.0.as_deref())?,
            workflow_id: id("workflow_id", workflow_id.0.as_deref())?,
            kind: kind.0.map(|kind| kind.as_str().to_owned()),
            due_from: instant("due_from", due_from.0.as_deref())?,
            due_to: instant("due_to", due_to.0.as_deref())?,
            after: match cursor.0.as_deref() {
                None => None,
                Some(token) => Some(ScheduledCursor::decode(token.trim()).ok_or_else(|| {
                    ApiError::invalid_field("cursor", "is not a cursor this list gave")
                })?),
            },
        };
        if let (Some(from), Some(to)) = (filter.due_from, filter.due_to) {
            if from > to {
                return Err(ApiError::invalid_field(
                    "due_from",
                    "must not be after due_to",
                ));
            }
        }
        let schema = projections::timers::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        let items = query::scheduled(
            &state.pool,
            &schema,
            &projections::tasks::live(),
            tenant.as_uuid(),
            &filter,
            limit,
        )
        .await?;
        let next_cursor = (items.len() == usize::try_from(limit).unwrap_or(usize::MAX))
            .then(|| items.last())
            .flatten()
            .map(|last| {
                ScheduledCursor {
                    due_at: last.due_at,
                    key: last.key.clone(),
                }
                .encode()
            });
        Ok(Json(ScheduledPage {
            items: items.into_iter().map(ScheduledItemDto::from).collect(),
            next_cursor,
        }))
    }
}

fn id(field: &str, raw: Option<&str>) -> Result<Option<uuid::Uuid>, ApiError> {
    raw.map(|raw| {
        raw.trim()
            .parse()
            .map_err(|_| ApiError::invalid_field(field, "must be a UUID"))
    })
    .transpose()
}
