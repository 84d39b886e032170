//! How the Lead aggregate decides: a pure function from state and command to the events to
//! record, or the rule that refuses it. Commands that would change nothing yield no event, so
//! retried or duplicated commands (webhooks, timers, imports) are harmless.

use std::collections::BTreeMap;

use crate::values::{LeadSource, Tag};

use super::{Lead, LeadCommand, LeadDetailsPatch, LeadError, LeadEvent, LeadStatus, NewLead};

/// Longest first or last name, in characters.
const MAX_NAME_LEN: usize = 100;
/// Longest recorded qualification answer, in characters (longer ones are not recorded).
const MAX_ANSWER_LEN: usize = 1000;
/// Longest override or opt-out reason, in characters.
const MAX_REASON_LEN: usize = 1000;

impl Lead {
    /// The events `command` produces from the current state.
    pub(super) fn decide(&self, command: LeadCommand) -> Result<Vec<LeadEvent>, LeadError> {
        match command {
            LeadCommand::CaptureLead(new) if !self.captured => capture(new),
            LeadCommand::CaptureLead(_) => Err(LeadError::AlreadyCaptured),
            _ if !self.captured => Err(LeadError::NotCaptured),
            LeadCommand::AddSource { source } => Ok(self.add_source(source)),
            LeadCommand::UpdateDetails(patch) => self.update_details(patch),
            LeadCommand::AssignWorkflow { workflow_id } => Ok(if workflow_id == self.workflow_id {
                vec![]
            } else {
                vec![LeadEvent::LeadWorkflowAssigned { workflow_id }]
            }),
            LeadCommand::AddTag { tag } => Ok(if self.tags.contains(&tag) {
                vec![]
            } else {
                vec![LeadEvent::LeadTagged { tag }]
            }),
            LeadCommand::RemoveTag { tag } => Ok(if self.tags.contains(&tag) {
                vec![LeadEvent::LeadUntagged { tag }]
            } else {
                vec![]
            }),
            LeadCommand::AdvanceStatus { to } => self.advance(to),
            LeadCommand::OverrideStatus { to, reason } => self.override_status(to, &reason),
            LeadCommand::OptOut { reason } => {
                let reason = check_reason(&reason)?;
                if self.is_opted_out() {
                    return Err(LeadError::AlreadyOptedOut);
                }
                Ok(vec![LeadEvent::LeadOptedOut {
                    from: self.status,
                    reason,
                }])
            }
            LeadCommand::Resubscribe => Ok(if self.is_opted_out() {
                vec![LeadEvent::LeadResubscribed {
                    to: self.status_before_opt_out,
                }]
            } else {
                vec![]
            }),
            LeadCommand::RecordAnswers { answers } => {
                let changed: BTreeMap<String, String> = answers
                    .into_iter()
                    .map(|(key, answer)| (key, answer.trim().to_owned()))
                    .filter(|(key, answer)| {
                        !answer.is_empty()
                            && answer.chars().count() <= MAX_ANSWER_LEN
                            && self.answers.get(key) != Some(answer)
                    })
                    .collect();
                Ok(if changed.is_empty() {
                    vec![]
                } else {
                    vec![LeadEvent::LeadAnswersRecorded { answers: changed }]
                })
            }
            LeadCommand::MarkUnreachable { reason } => {
                let reason = check_reason(&reason)?;
                Ok(if self.unreachable {
                    vec![]
                } else {
                    vec![LeadEvent::LeadMarkedUnreachable { reason }]
                })
            }
            LeadCommand::DeferEngagement {
                step,
                until,
                reason,
            } => Ok(if self.engagement_deferral == Some((step, until)) {
                vec![]
            } else {
                vec![LeadEvent::LeadEngagementDeferred {
                    step,
                    until,
                    reason,
                }]
            }),
            LeadCommand::SkipEngagement { step, reason } => {
                Ok(if self.skipped_engagement_steps.contains(&step) {
                    vec![]
                } else {
                    vec![LeadEvent::LeadEngagementSkipped { step, reason }]
                })
            }
            LeadCommand::Archive => Ok(if self.archived {
                vec![]
            } else {
                vec![LeadEvent::LeadArchived]
            }),
            LeadCommand::Restore => Ok(if self.archived {
                vec![LeadEvent::LeadRestored]
            } else {
                vec![]
            }),
        }
    }

    /// Remembers a new source unless it is already known.
    fn add_source(&self, source: LeadSource) -> Vec<LeadEvent> {
        if self.source == Some(source) || self.additional_sources.contains(&source) {
            vec![]
        } else {
            vec![LeadEvent::LeadSourceAdded { source }]
        }
    }

    /// Keeps only the fields that change; refuses to leave the lead without contact.
    fn update_details(&self, patch: LeadDetailsPatch) -> Result<Vec<LeadEvent>, LeadError> {
        let first_name = patch
            .first_name
            .as_deref()
            .map(|n| clean_name("first_name", n))
            .transpose()?;
        let last_name = patch
            .last_name
            .as_deref()
            .map(|n| clean_name("last_name", n))
            .transpose()?;
        let first_name = first_name.filter(|name| *name != self.first_name);
        let last_name = last_name.filter(|name| *name != self.last_name);
        let phone = patch.phone.filter(|phone| *phone != self.phone);
        let email = patch.email.filter(|email| *email != self.email);
        let custom_fields = patch
            .custom_fields
            .filter(|fields| *fields != self.custom_fields);
        let phone_after = phone.as_ref().unwrap_or(&self.phone);
        let email_after = email.as_ref().unwrap_or(&self.email);
        if phone_after.is_none() && email_after.is_none() {
            return Err(LeadError::NoContact);
        }
        let nothing_changes = first_name.is_none()
            && last_name.is_none()
            && phone.is_none()
            && email.is_none()
            && custom_fields.is_none();
        Ok(if nothing_changes {
            vec![]
        } else {
            vec![LeadEvent::LeadDetailsUpdated {
                first_name,
                last_name,
                phone,
                email,
                custom_fields,
            }]
        })
    }

    /// A move along the normal lifecycle.
    fn advance(&self, to: LeadStatus) -> Result<Vec<LeadEvent>, LeadError> {
        let from = self.status;
        if from == LeadStatus::OptedOut {
            return Err(LeadError::OptedOutIsFinal);
        }
        if to == LeadStatus::OptedOut {
            return Err(LeadError::UseOptOutCommand);
        }
        if to == from {
            return Err(LeadError::AlreadyInStatus(to));
        }
        if !from.can_advance_to(to) {
            return Err(LeadError::InvalidTransition { from, to });
        }
        Ok(vec![LeadEvent::LeadStatusChanged { from, to }])
    }

    /// An operator's move to any status but `opted_out`, with a reason.
    fn override_status(&self, to: LeadStatus, reason: &str) -> Result<Vec<LeadEvent>, LeadError> {
        if to == LeadStatus::OptedOut {
            return Err(LeadError::UseOptOutCommand);
        }
        let reason = check_reason(reason)?;
        let from = self.status;
        if from == LeadStatus::OptedOut {
            return Err(LeadError::OptedOutIsFinal);
        }
        if to == from {
            return Err(LeadError::AlreadyInStatus(to));
        }
        Ok(vec![LeadEvent::LeadStatusOverridden { from, to, reason }])
    }
}

/// A new lead: needs contact, names within bounds, tags without repeats (first kept).
fn capture(new: NewLead) -> Result<Vec<LeadEvent>, LeadError> {
    if new.phone.is_none() && new.email.is_none() {
        return Err(LeadError::NoContact);
    }
    let mut tags: Vec<Tag> = Vec::with_capacity(new.tags.len());
    for tag in new.tags {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(vec![LeadEvent::LeadCaptured {
        first_name: clean_name("first_name", &new.first_name)?,
        last_name: clean_name("last_name", &new.last_name)?,
        phone: new.phone,
        email: new.email,
        custom_fields: new.custom_fields,
        source: new.source,
        tags,
        workflow_id: new.workflow_id,
    }])
}

/// Trims a name and checks its length.
fn clean_name(field: &'static str, name: &str) -> Result<String, LeadError> {
    let name = name.trim();
    if name.chars().count() > MAX_NAME_LEN {
        return Err(LeadError::NameTooLong {
            field,
            max: MAX_NAME_LEN,
        });
    }
    Ok(name.to_owned())
}

/// Trims a reason; it must be present and bounded.
fn check_reason(reason: &str) -> Result<String, LeadError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(LeadError::ReasonRequired);
    }
    if reason.chars().count() > MAX_REASON_LEN {
        return Err(LeadError::ReasonTooLong {
            max: MAX_REASON_LEN,
        });
    }
    Ok(reason.to_owned())
}
