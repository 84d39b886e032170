//! Everything that can happen to a lead, in the past tense. Persisted: never rename a variant or
//! its `event_type`; add a new version instead.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::values::{CustomFields, EmailAddress, LeadSource, PhoneNumber, Tag, WorkflowId};

use super::{DeferralReason, EngagementStep, LeadStatus};

/// An event of the Lead aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LeadEvent {
    /// A new lead entered the system.
    LeadCaptured {
        /// Given name, possibly empty.
        first_name: String,
        /// Family name, possibly empty.
        last_name: String,
        /// Mobile number in E.164; the dedupe key within a tenant.
        phone: Option<PhoneNumber>,
        /// Email address.
        email: Option<EmailAddress>,
        /// Business-specific fields.
        custom_fields: CustomFields,
        /// Where the lead first came from.
        source: LeadSource,
        /// Tags given at capture.
        tags: Vec<Tag>,
        /// The workflow that will engage the lead.
        workflow_id: Option<WorkflowId>,
    },
    /// A known lead was captured again from another source.
    LeadSourceAdded {
        /// The new source.
        source: LeadSource,
    },
    /// Contact details changed; only the fields that changed are present.
    LeadDetailsUpdated {
        /// New given name.
        first_name: Option<String>,
        /// New family name.
        last_name: Option<String>,
        /// New phone (`Some(None)` clears it).
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "crate::double_option"
        )]
        phone: Option<Option<PhoneNumber>>,
        /// New email (`Some(None)` clears it).
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "crate::double_option"
        )]
        email: Option<Option<EmailAddress>>,
        /// Custom fields after the change (the whole object).
        custom_fields: Option<CustomFields>,
    },
    /// The lead was put into a workflow, or taken out of one (`None`).
    LeadWorkflowAssigned {
        /// The workflow, if any.
        workflow_id: Option<WorkflowId>,
    },
    /// A tag was added.
    LeadTagged {
        /// The tag.
        tag: Tag,
    },
    /// A tag was removed.
    LeadUntagged {
        /// The tag.
        tag: Tag,
    },
    /// The lifecycle moved on through the normal course of engagement.
    LeadStatusChanged {
        /// Status before.
        from: LeadStatus,
        /// Status after.
        to: LeadStatus,
    },
    /// An operator set the status by hand.
    LeadStatusOverridden {
        /// Status before.
        from: LeadStatus,
        /// Status after.
        to: LeadStatus,
        /// Why the operator did it.
        reason: String,
    },
    /// The lead must never be messaged again (until they re-subscribe).
    LeadOptedOut {
        /// Status before.
        from: LeadStatus,
        /// Why: a keyword, an operator's reason, a provider's report.
        reason: String,
    },
    /// An opted-out lead asked for messages again (START/UNSTOP).
    LeadResubscribed {
        /// The status the lead returns to (the one it had before opting out).
        to: LeadStatus,
    },
    /// Answers to qualification questions were learnt in the conversation.
    LeadAnswersRecorded {
        /// The new or changed answers, by question key.
        answers: BTreeMap<String, String>,
    },
    /// The provider reported the phone cannot receive messages.
    LeadMarkedUnreachable {
        /// The provider's reason.
        reason: String,
    },
    /// A due step of the lead's engagement waits: it runs at `until`.
    LeadEngagementDeferred {
        /// The step (0 outreach, n follow-up n, one past the last: the unresponsive check).
        step: EngagementStep,
        /// When it is due now.
        until: DateTime<Utc>,
        /// Why.
        reason: DeferralReason,
    },
    /// A due step of the lead's engagement could not be sent; the plan moved past it.
    LeadEngagementSkipped {
        /// The step.
        step: EngagementStep,
        /// Why.
        reason: String,
    },
    /// The lead was put away: hidden from lists by default, never engaged.
    LeadArchived,
    /// An archived lead was brought back.
    LeadRestored,
}

impl DomainEvent for LeadEvent {
    fn event_type(&self) -> String {
        match self {
            Self::LeadCaptured { .. } => "LeadCaptured",
            Self::LeadSourceAdded { .. } => "LeadSourceAdded",
            Self::LeadDetailsUpdated { .. } => "LeadDetailsUpdated",
            Self::LeadWorkflowAssigned { .. } => "LeadWorkflowAssigned",
            Self::LeadTagged { .. } => "LeadTagged",
            Self::LeadUntagged { .. } => "LeadUntagged",
            Self::LeadStatusChanged { .. } => "LeadStatusChanged",
            Self::LeadStatusOverridden { .. } => "LeadStatusOverridden",
            Self::LeadOptedOut { .. } => "LeadOptedOut",
            Self::LeadResubscribed { .. } => "LeadResubscribed",
            Self::LeadAnswersRecorded { .. } => "LeadAnswersRecorded",
            Self::LeadMarkedUnreachable { .. } => "LeadMarkedUnreachable",
            Self::LeadEngagementDeferred { .. } => "LeadEngagementDeferred",
            Self::LeadEngagementSkipped { .. } => "LeadEngagementSkipped",
            Self::LeadArchived => "LeadArchived",
            Self::LeadRestored => "LeadRestored",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
