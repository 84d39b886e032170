//! What can be asked of a lead, in the imperative. Inputs are already parsed value objects: the
//! edges (API, CSV import) parse, the aggregate decides.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::values::{CustomFields, EmailAddress, LeadSource, PhoneNumber, Tag, WorkflowId};

use super::{DeferralReason, EngagementStep, LeadStatus};

/// A command for the Lead aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum LeadCommand {
    /// Create the lead. Refused if it already exists.
    CaptureLead(NewLead),
    /// A known lead (same phone) was captured again: remember the source.
    AddSource {
        /// The source of the new capture.
        source: LeadSource,
    },
    /// Change contact details; `None` leaves a field as it is.
    UpdateDetails(LeadDetailsPatch),
    /// Put the lead into a workflow or take it out (`None`).
    AssignWorkflow {
        /// The workflow, if any.
        workflow_id: Option<WorkflowId>,
    },
    /// Add a tag (no event if already present).
    AddTag {
        /// The tag.
        tag: Tag,
    },
    /// Remove a tag (no event if absent).
    RemoveTag {
        /// The tag.
        tag: Tag,
    },
    /// Move along the lifecycle as engagement progresses; only allowed transitions.
    AdvanceStatus {
        /// Target status.
        to: LeadStatus,
    },
    /// An operator sets the status by hand, with a reason.
    OverrideStatus {
        /// Target status (not `opted_out`: use `OptOut`).
        to: LeadStatus,
        /// Why.
        reason: String,
    },
    /// Stop all messaging to this lead.
    OptOut {
        /// Why.
        reason: String,
    },
    /// Messages may resume after an opt-out (the lead texted START); no event unless opted out.
    Resubscribe,
    /// Remember answers to qualification questions (only changed answers are recorded).
    RecordAnswers {
        /// Answers by question key.
        answers: BTreeMap<String, String>,
    },
    /// The provider says the phone cannot receive messages; no more sends until it changes.
    MarkUnreachable {
        /// The provider's reason.
        reason: String,
    },
    /// A due engagement step (outreach, a follow-up, the unresponsive check) waits until `until`
    /// (no event if that step already waits until then).
    DeferEngagement {
        /// The step.
        step: EngagementStep,
        /// When it is due now.
        until: DateTime<Utc>,
        /// Why.
        reason: DeferralReason,
    },
    /// A due engagement step cannot be sent (the message would be refused, or the recipient's
    /// window never opens): the plan moves past it (no event if that step was skipped already).
    SkipEngagement {
        /// The step.
        step: EngagementStep,
        /// Why, e.g. `whatsapp_window_closed`.
        reason: String,
    },
    /// Put the lead away: hidden from lists by default and never engaged (no event if archived).
    Archive,
    /// Bring an archived lead back (no event if not archived).
    Restore,
}

/// The fields of a lead at capture.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLead {
    /// Given name, possibly empty.
    pub first_name: String,
    /// Family name, possibly empty.
    pub last_name: String,
    /// E.164 phone.
    pub phone: Option<PhoneNumber>,
    /// Email.
    pub email: Option<EmailAddress>,
    /// Custom fields.
    pub custom_fields: CustomFields,
    /// First source.
    pub source: LeadSource,
    /// Initial tags.
    pub tags: Vec<Tag>,
    /// Workflow to engage the lead.
    pub workflow_id: Option<WorkflowId>,
}

/// A partial update of a lead's details. `None` leaves a field unchanged; for `phone` and
/// `email`, `Some(None)` clears the value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeadDetailsPatch {
    /// New given name.
    pub first_name: Option<String>,
    /// New family name.
    pub last_name: Option<String>,
    /// New phone, or clear.
    pub phone: Option<Option<PhoneNumber>>,
    /// New email, or clear.
    pub email: Option<Option<EmailAddress>>,
    /// Replacement custom fields (whole object).
    pub custom_fields: Option<CustomFields>,
}
