//! The activity feed over HTTP: the tenant's latest meaningful events (leads captured, messages
//! in and out, qualifications, bookings, opt-outs, handoffs, appointment outcomes), newest first,
//! paged by an opaque keyset cursor. Reads the `activity` projection.

use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;
use projections::activity::fold::kind;
use projections::activity::query::{self, ActivityFilter};
use uuid::Uuid;

use crate::auth::BearerAuth;
use crate::dto::activity::{decode_cursor, encode_cursor, ActivityListDto};
use crate::dto::appointment::parse_id;
use crate::error::ApiError;
use crate::routes::ApiTags;
use crate::state::AppState;

/// Items per page when `limit` is absent.
const DEFAULT_LIMIT: u32 = 50;
/// The largest `limit`.
const MAX_LIMIT: u32 = 200;

/// The activity feed API.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActivityApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Analytics")]
impl ActivityApi {
    /// Activity feed
    ///
    /// The tenant's meaningful events, newest first, each with a `kind` and a short `summary`.
    /// Filters: `kind` (one of the kinds listed on the item) and `lead_id`. `limit` 1 to 200
    /// (default 50); pass `next_cursor` as `cursor` for the next, older page. 422 naming the
    /// field for a bad value. Pass a command's `position` as `min_position` to see its effect.
    #[oai(path = "/activity", method = "get", operation_id = "list_activity")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Only this kind of activity.
        kind: Query<Option<String>>,
        /// Only this lead's activity.
        lead_id: Query<Option<String>>,
        /// Wait (briefly) until the read model has applied the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<ActivityListDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let limit = limit.0.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid_field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let filter = ActivityFilter {
            kind: parse_kind(kind.0.as_deref())?,
            lead_id: lead_id
                .0
                .as_deref()
                .map(|raw| parse_id::<Uuid>("lead_id", raw))
                .transpose()?,
        };
        let before = cursor.0.as_deref().map(decode_cursor).transpose()?;
        let schema = projections::activity::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        let page = query::list(
            &state.pool,
            &schema,
            tenant.as_uuid(),
            &filter,
            limit,
            before,
        )
        .await?;
        Ok(Json(ActivityListDto {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next.map(encode_cursor),
        }))
    }
}

/// A known activity kind; 422 naming `kind` otherwise.
fn parse_kind(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    raw.map(|text| {
        let text = text.trim();
        kind::ALL
            .iter()
            .find(|known| **known == text)
            .map(|known| (*known).to_owned())
            .ok_or_else(|| {
                ApiError::invalid_field("kind", format!("must be one of {}", kind::ALL.join(", ")))
            })
    })
    .transpose()
}
