//! Lead bodies: what a client sends to capture or change a lead, and what it reads back.

use chrono::{DateTime, Utc};
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Enum, Object};
use projections::contacts::fold::ContactRow;
use projections::contacts::query::{Sort, SortKey};
use serde::Deserialize;

use crate::dto::scheduled::NextActionDto;
use projections::timers::query::Scheduled;
use projections::timers::TimerKind;

/// A lead's lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename = "LeadStatus", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum LeadStatusDto {
    /// Captured, not contacted yet.
    Pending,
    /// First message sent.
    Contacted,
    /// The lead replied; the conversation is going.
    InConversation,
    /// Meets the workflow's qualification criteria.
    Qualified,
    /// Has an appointment.
    Booked,
    /// Asked not to be messaged; nothing is sent to them.
    OptedOut,
    /// Did not answer the follow-ups.
    Unresponsive,
    /// A human took over the conversation.
    HandedOff,
}

impl From<LeadStatusDto> for domain::LeadStatus {
    fn from(status: LeadStatusDto) -> Self {
        use domain::LeadStatus as S;
        match status {
            LeadStatusDto::Pending => S::Pending,
            LeadStatusDto::Contacted => S::Contacted,
            LeadStatusDto::InConversation => S::InConversation,
            LeadStatusDto::Qualified => S::Qualified,
            LeadStatusDto::Booked => S::Booked,
            LeadStatusDto::OptedOut => S::OptedOut,
            LeadStatusDto::Unresponsive => S::Unresponsive,
            LeadStatusDto::HandedOff => S::HandedOff,
        }
    }
}

/// Where a lead came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename = "LeadSource", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum LeadSourceDto {
    /// Messaged the business on WhatsApp first.
    WaDirect,
    /// A Facebook/Instagram lead ad form.
    FacebookLeadAd,
    /// Referred by someone.
    Referral,
    /// A form on the business's website.
    Website,
    /// A CSV import.
    CsvImport,
    /// Created through this API.
    Api,
    /// Texted the business's number first.
    Inbound,
}

impl From<LeadSourceDto> for domain::values::LeadSource {
    fn from(source: LeadSourceDto) -> Self {
        use domain::values::LeadSource as S;
        match source {
            LeadSourceDto::WaDirect => S::WaDirect,
            LeadSourceDto::FacebookLeadAd => S::FacebookLeadAd,
            LeadSourceDto::Referral => S::Referral,
            LeadSourceDto::Website => S::Website,
            LeadSourceDto::CsvImport => S::CsvImport,
            LeadSourceDto::Api => S::Api,
            LeadSourceDto::Inbound => S::Inbound,
        }
    }
}

/// A lead to capture. A phone or an email is required; a phone already known in the tenant
/// merges into its lead (the new source is added) instead of creating another.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct CaptureLeadRequest {
    /// Given name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Mobile number, international (`+44 7700 900123`) or national in the tenant's default
    /// country (`07700 900123`); stored in E.164.
    #[serde(default)]
    pub phone: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Business-specific fields: a flat JSON object (at most 100 keys, 16 KiB).
    #[serde(default)]
    pub custom_fields: Option<serde_json::Value>,
    /// Where the lead came from (default `api`).
    #[serde(default)]
    pub source: Option<LeadSourceDto>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// The workflow that will engage the lead.
    #[serde(default)]
    pub workflow_id: Option<String>,
}

/// A change of a lead's details. Absent fields stay as they are; `null` clears `phone`,
/// `email` or `workflow_id`.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct UpdateLeadRequest {
    /// Given name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// New phone, or `null` to remove it.
    #[serde(default)]
    pub phone: MaybeUndefined<String>,
    /// New email, or `null` to remove it.
    #[serde(default)]
    pub email: MaybeUndefined<String>,
    /// Replacement custom fields (the whole object).
    #[serde(default)]
    pub custom_fields: Option<serde_json::Value>,
    /// Move the lead to this workflow, or `null` to take it out of any.
    #[serde(default)]
    pub workflow_id: MaybeUndefined<String>,
}

/// An operator's manual status change.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct SetStatusRequest {
    /// The new status (not `opted_out`: use the opt-out operation).
    pub status: LeadStatusDto,
    /// Why; kept in the lead's history.
    pub reason: String,
}

/// A tag to add.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct AddTagRequest {
    /// The tag (trimmed, lower-cased, at most 50 characters).
    pub tag: String,
}

/// Opting a lead out.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct OptOutRequest {
    /// Why (default: "opted out by an operator").
    #[serde(default)]
    pub reason: Option<String>,
}

/// What capturing a lead did.
#[derive(Debug, Clone, Object)]
pub struct CaptureResult {
    /// The lead (new, or the existing one with that phone).
    pub id: String,
    /// The lead's version after the capture.
    pub version: i64,
    /// Global position of the last event written (`null` if nothing changed).
    pub position: Option<i64>,
    /// True when the phone was already known and the capture merged into that lead.
    pub merged: bool,
}

/// A lead, as the contacts read model shows it.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Lead")]
pub struct LeadDto {
    /// Id.
    pub id: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// E.164 phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Lifecycle status.
    pub status: String,
    /// Workflow engaging the lead.
    pub workflow_id: Option<String>,
    /// The first source.
    pub source: String,
    /// Sources of later captures of the same phone.
    pub additional_sources: Vec<String>,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// Custom fields.
    pub custom_fields: serde_json::Value,
    /// Captured.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Last thing that happened with the lead.
    pub last_activity_at: DateTime<Utc>,
    /// Last message in either direction.
    pub last_message_at: Option<DateTime<Utc>>,
    /// Last message sent to the lead (accepted by the provider).
    pub last_contacted_at: Option<DateTime<Utc>>,
    /// Last message from the lead.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// Follow-ups sent so far.
    pub follow_ups_sent: i32,
    /// What the product will do next on its own for this lead (outreach, a follow-up, marking it
    /// unresponsive) and when; absent when nothing is planned (it replied, opted out, its workflow
    /// is paused, a message is on its way…). See `GET /api/v1/scheduled`.
    pub next_action: Option<NextActionDto>,
    /// When the next follow-up is due, if one is planned.
    pub next_follow_up_at: Option<DateTime<Utc>>,
    /// Archived leads are hidden from lists unless asked for.
    pub archived: bool,
}

impl LeadDto {
    /// Fills `next_action` and `next_follow_up_at` from the lead's timer.
    pub fn plan(&mut self, timer: Option<&Scheduled>) {
        self.next_action = timer.map(NextActionDto::from);
        self.next_follow_up_at = timer
            .filter(|timer| timer.kind == TimerKind::FollowUp.as_str())
            .map(|timer| timer.due_at);
    }
}

impl From<ContactRow> for LeadDto {
    fn from(row: ContactRow) -> Self {
        Self {
            id: row.lead_id.to_string(),
            first_name: row.first_name,
            last_name: row.last_name,
            phone: row.phone,
            email: row.email,
            status: row.status,
            workflow_id: row.workflow_id.map(|w| w.to_string()),
            source: row.source,
            additional_sources: row.additional_sources,
            tags: row.tags,
            custom_fields: row.custom_fields,
            created_at: row.created_at,
            updated_at: row.updated_at,
            last_activity_at: row.last_activity_at,
            last_message_at: row.last_message_at,
            last_contacted_at: row.last_contacted_at,
            last_inbound_at: row.last_inbound_at,
            follow_ups_sent: row.follow_ups_sent,
            next_action: None,
            next_follow_up_at: None,
            archived: row.archived,
        }
    }
}

/// One event of a lead's history.
#[derive(Debug, Clone, Object)]
pub struct HistoryEntry {
    /// The lead's version after this event.
    pub sequence: i64,
    /// What happened (`LeadCaptured`, `LeadStatusOverridden`, …).
    pub event_type: String,
    /// The event's schema version.
    pub event_version: String,
    /// The event's data.
    pub data: serde_json::Value,
    /// Who caused it (`api_key:<id>`, `admin`, `system:<name>`).
    pub actor: String,
    /// The request that caused it.
    pub request_id: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Its global position.
    pub position: i64,
}

/// What a lead list is ordered by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
#[oai(rename = "LeadSort", rename_all = "snake_case")]
pub enum SortDto {
    /// Capture time.
    #[default]
    Created,
    /// The last thing that happened with the lead.
    LastActivity,
    /// First and last name, case-insensitive.
    Name,
    /// Status name, then capture time.
    Status,
}

/// A direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "SortOrder", rename_all = "snake_case")]
pub enum OrderDto {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// The order asked for; without a direction, newest or latest first for times, A to Z for names
/// and statuses.
pub fn sort_of(key: SortDto, order: Option<OrderDto>) -> Sort {
    let key = match key {
        SortDto::Created => SortKey::Created,
        SortDto::LastActivity => SortKey::LastActivity,
        SortDto::Name => SortKey::Name,
        SortDto::Status => SortKey::Status,
    };
    let descending = match order {
        Some(order) => order == OrderDto::Desc,
        None => matches!(key, SortKey::Created | SortKey::LastActivity),
    };
    Sort { key, descending }
}

/// A page of leads.
#[derive(Debug, Clone, Object)]
pub struct LeadPage {
    /// The leads of this page, in the requested order.
    pub items: Vec<LeadDto>,
    /// How many leads match the filters in all.
    pub total: i64,
    /// This page's number, when paging by number.
    pub page: Option<u32>,
    /// The page size.
    pub page_size: u32,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}
