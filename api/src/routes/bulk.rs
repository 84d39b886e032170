//! `POST /api/v1/leads/bulk`: one action on many leads, run as a background job. Everything is
//! checked before the job is accepted (the action's values, the workflow, the ids or the
//! filter), so a job never fails on input the request could have been refused for.

use domain::values::{Tag, WorkflowId};
use domain::LeadStatus;
use infrastructure::bulk::{self, BulkAction, WorkflowRefusal};
use infrastructure::jobs::{self, NewJob, BULK_UPDATE};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use crate::auth::BearerAuth;
use crate::dto::bulk::{BulkActionBody, BulkBody, BulkTargetBody};
use crate::dto::job::JobDto;
use crate::error::ApiError;
use crate::job_runner::BulkTarget;
use crate::middleware::RequestId;
use crate::routes::ApiTags;
use crate::state::AppState;

/// Most leads a bulk request may name by id.
pub const MAX_IDS: usize = 10_000;

/// The bulk actions API.
#[derive(Debug, Clone, Copy)]
pub struct BulkApi;

/// A bulk action accepted as a job.
#[derive(Debug, ApiResponse)]
pub enum BulkAccepted {
    /// Accepted; follow the job at `Location`.
    #[oai(status = 202)]
    Accepted(Json<JobDto>, #[oai(header = "Location")] String),
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Leads")]
impl BulkApi {
    /// Act on many leads
    ///
    /// Applies one action (`set_status`, `assign_workflow`, `add_tag`, `remove_tag`, `opt_out`,
    /// `archive`, `outreach`) to the leads named by `target.ids` (at most 10,000) or selected by
    /// `target.filter` (the list's filters, evaluated against the contacts model when the job
    /// starts). Answers 202 with the job; follow it with `get_job`. A lead the action cannot
    /// apply to (an opted-out lead given a status, an id that names no lead) is listed among the
    /// job's failures and the others proceed; a lead already so is counted as skipped.
    ///
    /// `outreach` queues each lead's workflow outreach (the initial message, merge fields filled,
    /// on the workflow's channel), as `send_lead_outreach` does for one lead; the outbox sends
    /// it inside the lead's sending window. Failures carry that endpoint's codes: `no_workflow`
    /// (no workflow, or one that is not active), `opted_out`, `archived`, `no_phone`,
    /// `not_found`. A lead that already has an outreach message queued or sent (on any channel)
    /// is skipped, so sending the same bulk outreach twice contacts nobody twice; a failed or
    /// cancelled outreach does not count.
    #[oai(
        path = "/leads/bulk",
        method = "post",
        operation_id = "bulk_update_leads"
    )]
    async fn bulk(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// Wait until the contacts model includes the event at this position before accepting
        /// (so a filter sees your own writes).
        min_position: Query<Option<i64>>,
        body: BulkBody,
    ) -> Result<BulkAccepted, ApiError> {
        let tenant = auth.0.tenant()?;
        let action = parse_action(body.0.action)?;
        let target = parse_target(body.0.target, &state)?;
        if let BulkAction::AssignWorkflow {
            workflow_id: Some(workflow),
        } = &action
        {
            let mut conn = state.pool.acquire().await.map_err(anyhow::Error::from)?;
            bulk::usable_workflow(&mut conn, tenant.as_uuid(), *workflow)
                .await
                .map_err(anyhow::Error::from)?
                .map_err(|refusal: WorkflowRefusal| {
                    ApiError::invalid_field("action.workflow_id", refusal)
                })?;
        }
        state
            .wait_for_position(&projections::contacts::live(), tenant, min_position.0)
            .await?;
        let ctx = state.context(&auth.0, tenant, &request_id);
        let job = jobs::create(
            &state.pool,
            &NewJob {
                id: Uuid::now_v7(),
                tenant_id: tenant.as_uuid(),
                kind: BULK_UPDATE,
                action: serde_json::to_value(&action).map_err(anyhow::Error::from)?,
                target: target.to_value(),
                actor: ctx.actor.to_string(),
                request_id: ctx.request_id,
                created_at: ctx.issued_at,
            },
        )
        .await?;
        let location = format!("/api/v1/jobs/{}", job.id);
        Ok(BulkAccepted::Accepted(
            Json(JobDto::new(job, Vec::new())),
            location,
        ))
    }
}

/// The action in domain values, naming the field that was wrong.
fn parse_action(body: BulkActionBody) -> Result<BulkAction, ApiError> {
    let tag =
        |raw: &str| Tag::parse(raw).map_err(|error| ApiError::invalid_field("action.tag", error));
    Ok(match body {
        BulkActionBody::SetStatus(set) => {
            let status = set
                .status
                .trim()
                .parse::<LeadStatus>()
                .map_err(|error| ApiError::invalid_field("action.status", error))?;
            if status == LeadStatus::OptedOut {
                return Err(ApiError::invalid_field(
                    "action.status",
                    "use the opt_out action to opt leads out",
                ));
            }
            BulkAction::SetStatus {
                status,
                reason: reason("action.reason", Some(set.reason))?,
            }
        }
        BulkActionBody::AssignWorkflow(assign) => BulkAction::AssignWorkflow {
            workflow_id: match assign.workflow_id {
                MaybeUndefined::Undefined => {
                    return Err(ApiError::invalid_field(
                        "action.workflow_id",
                        "required: a workflow id, or null to take the leads out of any",
                    ))
                }
                MaybeUndefined::Null => None,
                MaybeUndefined::Value(id) => Some(
                    id.parse::<WorkflowId>()
                        .map_err(|error| ApiError::invalid_field("action.workflow_id", error))?,
                ),
            },
        },
        BulkActionBody::AddTag(add) => BulkAction::AddTag {
            tag: tag(&add.tag)?,
        },
        BulkActionBody::RemoveTag(remove) => BulkAction::RemoveTag {
            tag: tag(&remove.tag)?,
        },
        BulkActionBody::OptOut(opt_out) => BulkAction::OptOut {
            reason: reason(
                "action.reason",
                Some(
                    opt_out
                        .reason
                        .unwrap_or_else(|| "opted out by an operator".to_string()),
                ),
            )?,
        },
        BulkActionBody::Archive(_) => BulkAction::Archive,
        BulkActionBody::Outreach(_) => BulkAction::Outreach,
    })
}

/// Longest reason a lead accepts, in characters (the aggregate's rule, checked up front).
const MAX_REASON_LEN: usize = 1000;

fn reason(field: &str, raw: Option<String>) -> Result<String, ApiError> {
    let reason = raw.unwrap_or_default().trim().to_string();
    if reason.is_empty() {
        return Err(ApiError::invalid_field(field, "a reason is required"));
    }
    if reason.chars().count() > MAX_REASON_LEN {
        return Err(ApiError::invalid_field(
            field,
            format!("must be at most {MAX_REASON_LEN} characters"),
        ));
    }
    Ok(reason)
}

/// The target, checked: exactly one of `ids` (1 to [`MAX_IDS`], valid, repeats dropped) and a
/// valid `filter`.
fn parse_target(body: BulkTargetBody, state: &AppState) -> Result<BulkTarget, ApiError> {
    match (body.ids, body.filter) {
        (Some(ids), None) => {
            if ids.is_empty() {
                return Err(ApiError::invalid_field(
                    "target.ids",
                    "name at least one lead",
                ));
            }
            if ids.len() > MAX_IDS {
                return Err(ApiError::invalid_field(
                    "target.ids",
                    format!("at most {MAX_IDS} ids; select larger sets with a filter"),
                ));
            }
            let mut seen = std::collections::HashSet::with_capacity(ids.len());
            let mut unique = Vec::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                let id = Uuid::parse_str(id.trim()).map_err(|_| {
                    ApiError::invalid_field(&format!("target.ids[{i}]"), "not a lead id")
                })?;
                if seen.insert(id) {
                    unique.push(id);
                }
            }
            Ok(BulkTarget::Ids(unique))
        }
        (None, Some(filter)) => {
            filter
                .to_contact_filter(state.clock.now())
                .map_err(|error| within("target.filter", error))?;
            Ok(BulkTarget::Filter(Box::new(filter)))
        }
        _ => Err(ApiError::invalid_field(
            "target",
            "give exactly one of `ids` and `filter`",
        )),
    }
}

/// A 422 about a field of a nested object, renamed to its path from the body's root.
fn within(prefix: &str, error: ApiError) -> ApiError {
    match error {
        ApiError::Unprocessable(body) => {
            let detail = &body.0.error;
            let field = detail.details["field"].as_str().unwrap_or_default();
            let reason = detail.details["reason"]
                .as_str()
                .map_or_else(|| detail.message.clone(), str::to_string);
            ApiError::invalid_field(&format!("{prefix}.{field}"), reason)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::field_of;
    use serde_json::json;

    fn action(value: serde_json::Value) -> Result<BulkAction, ApiError> {
        parse_action(serde_json::from_value(value).unwrap())
    }

    #[test]
    fn each_action_type_parses_into_its_domain_action() {
        assert_eq!(
            action(json!({"type": "set_status", "status": "booked", "reason": " called "}))
                .unwrap(),
            BulkAction::SetStatus {
                status: LeadStatus::Booked,
                reason: "called".into()
            }
        );
        assert_eq!(
            action(json!({"type": "assign_workflow", "workflow_id": null})).unwrap(),
            BulkAction::AssignWorkflow { workflow_id: None }
        );
        assert_eq!(
            action(json!({"type": "add_tag", "tag": "VIP"})).unwrap(),
            BulkAction::AddTag {
                tag: Tag::parse("vip").unwrap()
            }
        );
        assert_eq!(
            action(json!({"type": "opt_out"})).unwrap(),
            BulkAction::OptOut {
                reason: "opted out by an operator".into()
            }
        );
        assert_eq!(
            action(json!({"type": "archive"})).unwrap(),
            BulkAction::Archive
        );
        assert_eq!(
            action(json!({"type": "outreach"})).unwrap(),
            BulkAction::Outreach
        );
    }

    #[test]
    fn a_bad_value_names_its_field_under_action() {
        let bad = |value| field_of(action(value).unwrap_err());
        assert_eq!(
            bad(json!({"type": "set_status", "status": "lost", "reason": "r"})),
            "action.status"
        );
        assert_eq!(
            bad(json!({"type": "set_status", "status": "opted_out", "reason": "r"})),
            "action.status"
        );
        assert_eq!(
            bad(json!({"type": "set_status", "status": "booked", "reason": "  "})),
            "action.reason"
        );
        assert_eq!(
            bad(json!({"type": "assign_workflow"})),
            "action.workflow_id"
        );
        assert_eq!(
            bad(json!({"type": "assign_workflow", "workflow_id": "nope"})),
            "action.workflow_id"
        );
        assert_eq!(
            bad(json!({"type": "remove_tag", "tag": "a,b"})),
            "action.tag"
        );
    }

    #[test]
    fn a_nested_refusal_is_renamed_to_its_path() {
        let error = within(
            "target.filter",
            ApiError::invalid_field("status", "unknown"),
        );
        assert_eq!(field_of(error), "target.filter.status");
    }
}
