//! The Workflow aggregate: how a tenant engages its leads (channel, messages, follow-ups,
//! qualification, booking hours) and whether it is running.
//!
//! Lifecycle: `draft` → (`Activate`) → `active` ⇄ (`Pause` / `Resume`) `paused`; `Archive` from
//! any of those → `archived`, which is final. The definition may be edited in any state but
//! `archived`; every edit is checked as a whole (see [`WorkflowDefinition::check`]), with its
//! reminders put longest first.

mod booking;
mod channel;
mod commands;
mod definition;
mod errors;
mod events;
mod follow_up;
mod patch;
mod question;
mod status;
#[cfg(test)]
mod tests;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

pub use channel::Channel;
pub use commands::WorkflowCommand;
pub use definition::WorkflowDefinition;
pub use errors::WorkflowError;
pub use events::WorkflowEvent;
pub use follow_up::{FollowUpMessage, FollowUpStep};
pub use patch::WorkflowPatch;
pub use question::QualificationQuestion;
pub use status::WorkflowStatus;

/// The state of a workflow, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    /// The current definition; `None` until created.
    definition: Option<WorkflowDefinition>,
    /// Lifecycle status.
    status: WorkflowStatus,
}

impl Workflow {
    /// Whether the workflow exists.
    #[must_use]
    pub const fn is_created(&self) -> bool {
        self.definition.is_some()
    }

    /// The current definition, once created.
    #[must_use]
    pub const fn definition(&self) -> Option<&WorkflowDefinition> {
        self.definition.as_ref()
    }

    /// Lifecycle status.
    #[must_use]
    pub const fn status(&self) -> WorkflowStatus {
        self.status
    }

    /// Whether leads are being engaged.
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.status == WorkflowStatus::Active
    }

    /// The events `command` produces from the current state.
    fn decide(&self, command: WorkflowCommand) -> Result<Vec<WorkflowEvent>, WorkflowError> {
        use WorkflowStatus::{Active, Archived, Draft, Paused};
        let Some(current) = &self.definition else {
            return match command {
                WorkflowCommand::CreateWorkflow { definition } => {
                    let definition = definition.with_sorted_reminders();
                    definition.check()?;
                    Ok(vec![WorkflowEvent::WorkflowCreated { definition }])
                }
                _ => Err(WorkflowError::NotCreated),
            };
        };
        let from = self.status;
        let refuse = |to| Err(WorkflowError::InvalidTransition { from, to });
        match command {
            WorkflowCommand::CreateWorkflow { .. } => Err(WorkflowError::AlreadyCreated),
            _ if from == Archived => Err(WorkflowError::Archived),
            WorkflowCommand::UpdateWorkflow { patch } => {
                let definition = patch.apply_to(current).with_sorted_reminders();
                definition.check()?;
                Ok(if definition == *current {
                    vec![]
                } else {
                    vec![WorkflowEvent::WorkflowUpdated { definition }]
                })
            }
            WorkflowCommand::Activate if from == Draft => {
                Ok(vec![WorkflowEvent::WorkflowActivated])
            }
            WorkflowCommand::Activate => refuse(Active),
            WorkflowCommand::Pause if from == Active => Ok(vec![WorkflowEvent::WorkflowPaused]),
            WorkflowCommand::Pause => refuse(Paused),
            WorkflowCommand::Resume if from == Paused => Ok(vec![WorkflowEvent::WorkflowResumed]),
            WorkflowCommand::Resume => refuse(Active),
            WorkflowCommand::Archive => Ok(vec![WorkflowEvent::WorkflowArchived]),
        }
    }
}

impl Aggregate for Workflow {
    const TYPE: &'static str = "workflow";
    type Command = WorkflowCommand;
    type Event = WorkflowEvent;
    type Error = WorkflowError;
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
            WorkflowEvent::WorkflowCreated { definition } => {
                self.definition = Some(definition);
                self.status = WorkflowStatus::Draft;
            }
            WorkflowEvent::WorkflowUpdated { definition } => self.definition = Some(definition),
            WorkflowEvent::WorkflowActivated | WorkflowEvent::WorkflowResumed => {
                self.status = WorkflowStatus::Active;
            }
            WorkflowEvent::WorkflowPaused => self.status = WorkflowStatus::Paused,
            WorkflowEvent::WorkflowArchived => self.status = WorkflowStatus::Archived,
        }
    }
}
