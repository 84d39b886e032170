//! The Lead aggregate: one person a tenant wants to reach. It guards the rules that must hold
//! whatever the channel or provider: a lead always has a way to be contacted, its status only
//! moves along the lifecycle (see [`LeadStatus`]), and an opt-out is final.
//!
//! Deciding lives in `handle.rs`; this file holds the state and how events change it.

mod commands;
mod engagement;
mod errors;
mod events;
mod handle;
mod status;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::values::{CustomFields, EmailAddress, LeadSource, PhoneNumber, Tag, WorkflowId};

pub use commands::{LeadCommand, LeadDetailsPatch, NewLead};
pub use engagement::{steps_taken, DeferralReason, EngagementStep};
pub use errors::LeadError;
pub use events::LeadEvent;
pub use status::LeadStatus;

/// The state of a lead, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    /// Whether `LeadCaptured` happened; every other field is meaningless before.
    captured: bool,
    /// Given name, possibly empty.
    first_name: String,
    /// Family name, possibly empty.
    last_name: String,
    /// E.164 phone.
    phone: Option<PhoneNumber>,
    /// Email.
    email: Option<EmailAddress>,
    /// Business-specific fields.
    custom_fields: CustomFields,
    /// First source; `None` only before capture.
    source: Option<LeadSource>,
    /// Later sources, without duplicates and never equal to `source`.
    additional_sources: Vec<LeadSource>,
    /// Tags, ordered.
    tags: BTreeSet<Tag>,
    /// The workflow engaging the lead.
    workflow_id: Option<WorkflowId>,
    /// Lifecycle status.
    status: LeadStatus,
    /// Put away by an operator: hidden from lists by default, never engaged.
    archived: bool,
    /// The status before the last opt-out (where a re-subscription returns to).
    #[serde(default)]
    status_before_opt_out: LeadStatus,
    /// Qualification answers learnt so far, by question key.
    #[serde(default)]
    answers: BTreeMap<String, String>,
    /// The provider said the phone cannot receive messages (cleared by a phone change).
    #[serde(default)]
    unreachable: bool,
    /// The engagement step that waits, and until when (the latest deferral).
    #[serde(default)]
    engagement_deferral: Option<(EngagementStep, chrono::DateTime<chrono::Utc>)>,
    /// Engagement steps that could not be sent and were passed over.
    #[serde(default)]
    skipped_engagement_steps: BTreeSet<EngagementStep>,
}

impl Lead {
    /// Whether the lead exists (was captured).
    #[must_use]
    pub const fn is_captured(&self) -> bool {
        self.captured
    }

    /// Given name, possibly empty.
    #[must_use]
    pub fn first_name(&self) -> &str {
        &self.first_name
    }

    /// Family name, possibly empty.
    #[must_use]
    pub fn last_name(&self) -> &str {
        &self.last_name
    }

    /// Phone number, if known.
    #[must_use]
    pub const fn phone(&self) -> Option<&PhoneNumber> {
        self.phone.as_ref()
    }

    /// Email address, if known.
    #[must_use]
    pub const fn email(&self) -> Option<&EmailAddress> {
        self.email.as_ref()
    }

    /// Business-specific fields.
    #[must_use]
    pub const fn custom_fields(&self) -> &CustomFields {
        &self.custom_fields
    }

    /// Where the lead first came from (`None` before capture).
    #[must_use]
    pub const fn source(&self) -> Option<LeadSource> {
        self.source
    }

    /// Sources of later captures of the same lead, in order of arrival.
    #[must_use]
    pub fn additional_sources(&self) -> &[LeadSource] {
        &self.additional_sources
    }

    /// Tags, in order.
    #[must_use]
    pub const fn tags(&self) -> &BTreeSet<Tag> {
        &self.tags
    }

    /// The workflow engaging the lead, if any.
    #[must_use]
    pub const fn workflow_id(&self) -> Option<WorkflowId> {
        self.workflow_id
    }

    /// Lifecycle status.
    #[must_use]
    pub const fn status(&self) -> LeadStatus {
        self.status
    }

    /// Whether the lead was archived.
    #[must_use]
    pub const fn is_archived(&self) -> bool {
        self.archived
    }

    /// Qualification answers learnt so far, by question key.
    #[must_use]
    pub const fn answers(&self) -> &BTreeMap<String, String> {
        &self.answers
    }

    /// Whether the provider reported the phone cannot receive messages.
    #[must_use]
    pub const fn is_unreachable(&self) -> bool {
        self.unreachable
    }

    /// Engagement steps that could not be sent and were passed over.
    #[must_use]
    pub const fn skipped_engagement_steps(&self) -> &BTreeSet<EngagementStep> {
        &self.skipped_engagement_steps
    }

    /// Whether the lead must never be messaged.
    #[must_use]
    pub fn is_opted_out(&self) -> bool {
        self.status == LeadStatus::OptedOut
    }
}

impl Aggregate for Lead {
    const TYPE: &'static str = "lead";
    type Command = LeadCommand;
    type Event = LeadEvent;
    type Error = LeadError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _service: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            LeadEvent::LeadCaptured {
                first_name,
                last_name,
                phone,
                email,
                custom_fields,
                source,
                tags,
                workflow_id,
            } => {
                *self = Self {
                    captured: true,
                    first_name,
                    last_name,
                    phone,
                    email,
                    custom_fields,
                    source: Some(source),
                    additional_sources: Vec::new(),
                    tags: tags.into_iter().collect(),
                    workflow_id,
                    status: LeadStatus::Pending,
                    archived: false,
                    status_before_opt_out: LeadStatus::Pending,
                    answers: BTreeMap::new(),
                    unreachable: false,
                    engagement_deferral: None,
                    skipped_engagement_steps: BTreeSet::new(),
                };
            }
            LeadEvent::LeadSourceAdded { source } => {
                if self.source != Some(source) && !self.additional_sources.contains(&source) {
                    self.additional_sources.push(source);
                }
            }
            LeadEvent::LeadDetailsUpdated {
                first_name,
                last_name,
                phone,
                email,
                custom_fields,
            } => {
                if let Some(first_name) = first_name {
                    self.first_name = first_name;
                }
                if let Some(last_name) = last_name {
                    self.last_name = last_name;
                }
                if let Some(phone) = phone {
                    self.phone = phone;
                    self.unreachable = false;
                }
                if let Some(email) = email {
                    self.email = email;
                }
                if let Some(custom_fields) = custom_fields {
                    self.custom_fields = custom_fields;
                }
            }
            LeadEvent::LeadWorkflowAssigned { workflow_id } => self.workflow_id = workflow_id,
            LeadEvent::LeadTagged { tag } => {
                self.tags.insert(tag);
            }
            LeadEvent::LeadUntagged { tag } => {
                self.tags.remove(&tag);
            }
            LeadEvent::LeadStatusChanged { to, .. }
            | LeadEvent::LeadStatusOverridden { to, .. } => {
                self.status = to;
            }
            LeadEvent::LeadOptedOut { from, .. } => {
                self.status_before_opt_out = from;
                self.status = LeadStatus::OptedOut;
            }
            LeadEvent::LeadResubscribed { to } => self.status = to,
            LeadEvent::LeadAnswersRecorded { answers } => self.answers.extend(answers),
            LeadEvent::LeadMarkedUnreachable { .. } => self.unreachable = true,
            LeadEvent::LeadEngagementDeferred { step, until, .. } => {
                self.engagement_deferral = Some((step, until));
            }
            LeadEvent::LeadEngagementSkipped { step, .. } => {
                self.skipped_engagement_steps.insert(step);
            }
            LeadEvent::LeadArchived => self.archived = true,
            LeadEvent::LeadRestored => self.archived = false,
        }
    }
}
