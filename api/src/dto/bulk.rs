//! Bulk action bodies: what to do (`action`, tagged by `type`) to which leads (`target`:
//! explicit ids, or the list's filter).

use poem::{Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{MaybeUndefined, Type};
use poem_openapi::{Object, Union};
use serde::Deserialize;

use crate::body::{parse_within, JsonBody};
use crate::dto::lead_filter::LeadFilter;
use crate::error::ApiError;

/// Largest bulk request body: room for 10,000 ids (about 390 KB) and a filter.
pub const MAX_BULK_BODY: usize = 1024 * 1024;

/// A bulk request body: JSON read like [`JsonBody`] (refusals name the field), with room for
/// a long list of ids.
#[derive(Debug, Clone)]
pub struct BulkBody(pub BulkRequest);

impl Payload for BulkBody {
    const CONTENT_TYPE: &'static str = <JsonBody<BulkRequest> as Payload>::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        <JsonBody<BulkRequest> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        BulkRequest::schema_ref()
    }

    fn register(registry: &mut Registry) {
        BulkRequest::register(registry);
    }
}

poem_openapi::impl_apirequest_for_payload!(BulkBody,);

impl ParsePayload for BulkBody {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = body
            .take()?
            .into_bytes_limit(MAX_BULK_BODY + 1)
            .await
            .map_err(|error| match error {
                poem::error::ReadBodyError::PayloadTooLarge => {
                    poem::Error::from(ApiError::payload_too_large(MAX_BULK_BODY))
                }
                other => poem::Error::from(other),
            })?;
        parse_within(&bytes, MAX_BULK_BODY)
            .map(BulkBody)
            .map_err(poem::Error::from)
    }
}

/// A bulk action on leads, run as a job.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// What to do to each lead.
    pub action: BulkActionBody,
    /// Which leads.
    pub target: BulkTargetBody,
}

/// What to do to each lead, chosen by `type`.
#[derive(Debug, Clone, Union, Deserialize)]
#[oai(discriminator_name = "type", one_of)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BulkActionBody {
    /// Set the status by hand (an operator's override), with a reason.
    #[oai(mapping = "set_status")]
    SetStatus(SetStatusAction),
    /// Put the leads into a workflow, or take them out of any.
    #[oai(mapping = "assign_workflow")]
    AssignWorkflow(AssignWorkflowAction),
    /// Tag the leads.
    #[oai(mapping = "add_tag")]
    AddTag(AddTagAction),
    /// Untag the leads.
    #[oai(mapping = "remove_tag")]
    RemoveTag(RemoveTagAction),
    /// Opt the leads out.
    #[oai(mapping = "opt_out")]
    OptOut(OptOutAction),
    /// Archive the leads.
    #[oai(mapping = "archive")]
    Archive(ArchiveAction),
    /// Queue each lead's workflow outreach, once per lead.
    #[oai(mapping = "outreach")]
    Outreach(OutreachAction),
}

/// `set_status`.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct SetStatusAction {
    /// The new status: `pending`, `contacted`, `in_conversation`, `qualified`, `booked`,
    /// `unresponsive` or `handed_off` (`opted_out` has its own action).
    pub status: String,
    /// Why; kept in each lead's history.
    pub reason: String,
}

/// `assign_workflow`.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct AssignWorkflowAction {
    /// The workflow (the tenant's, not archived), or `null` to take the leads out of any.
    #[serde(default)]
    pub workflow_id: MaybeUndefined<String>,
}

/// `add_tag`.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct AddTagAction {
    /// The tag (trimmed, lower-cased, at most 50 characters, no commas).
    pub tag: String,
}

/// `remove_tag`.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct RemoveTagAction {
    /// The tag.
    pub tag: String,
}

/// `opt_out`.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct OptOutAction {
    /// Why (default: "opted out by an operator").
    #[serde(default)]
    pub reason: Option<String>,
}

/// `archive`: no parameters.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct ArchiveAction {}

/// `outreach`: no parameters. Queues the initial message of each lead's workflow (merge fields
/// filled, on the workflow's channel), as `POST /api/v1/leads/{id}/outreach` does. A lead
/// without a workflow or whose workflow is not active (`no_workflow`), opted out (`opted_out`),
/// archived (`archived`) or without a phone (`no_phone`) is a failure; a lead that already has an
/// outreach message queued or sent is skipped.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct OutreachAction {}

/// Which leads: exactly one of `ids` and `filter`.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct BulkTargetBody {
    /// These leads (1 to 10,000 ids; repeats count once).
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    /// The leads the list would show with this filter, evaluated when the job starts.
    #[serde(default)]
    pub filter: Option<LeadFilter>,
}
