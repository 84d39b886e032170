//! Why the Workflow aggregate refused a command: lifecycle rules and the definition's
//! cross-field rules. No technical errors: the aggregate does no I/O.

use thiserror::Error;

use super::WorkflowStatus;

/// A command the Workflow aggregate refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WorkflowError {
    /// The workflow was never created.
    #[error("the workflow has not been created")]
    NotCreated,
    /// `CreateWorkflow` on a workflow that exists.
    #[error("the workflow has already been created")]
    AlreadyCreated,
    /// An archived workflow can no longer change.
    #[error("the workflow is archived and can no longer change")]
    Archived,
    /// The lifecycle does not allow this move (e.g. pausing a draft, resuming an active one).
    #[error("a workflow that is {from} cannot be made {to} by this command")]
    InvalidTransition {
        /// Current status.
        from: WorkflowStatus,
        /// The status the command would reach.
        to: WorkflowStatus,
    },
    /// A text field of the definition is longer than allowed.
    #[error("{field} must be at most {max} characters")]
    FieldTooLong {
        /// The definition field.
        field: &'static str,
        /// The maximum number of characters.
        max: usize,
    },
    /// A required text field of the definition is blank.
    #[error("{field} must not be empty")]
    FieldEmpty {
        /// The definition field.
        field: &'static str,
    },
    /// More follow-up templates than follow-ups.
    #[error("follow_up_templates has {count} templates but follow_up_count is {max}")]
    TooManyFollowUpTemplates {
        /// Templates given.
        count: usize,
        /// The follow-up count.
        max: usize,
    },
    /// More follow-up steps than allowed.
    #[error("follow_up_steps has {count} steps; at most {max} are allowed")]
    TooManyFollowUpSteps {
        /// Steps given.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// Both a follow-up sequence and follow-up templates: the sequence carries its own texts.
    #[error(
        "follow_up_steps cannot be set together with follow_up_templates; put each template in its step"
    )]
    FollowUpStepsWithTemplates,
    /// More qualification questions than allowed.
    #[error("qualification_questions has {count} questions; at most {max} are allowed")]
    TooManyQuestions {
        /// Questions given.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// Two qualification questions share a key.
    #[error("qualification_questions uses the key '{0}' more than once")]
    DuplicateQuestionKey(String),
    /// More reminders than allowed.
    #[error("reminder_offsets_minutes has {count} reminders; at most {max} are allowed")]
    TooManyReminders {
        /// Reminders given.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// A reminder too close to the start or too far before it.
    #[error("reminder_offsets_minutes: {offset} must be between {min} and {max} minutes")]
    ReminderOffsetOutOfRange {
        /// The offset given, in minutes before the start.
        offset: u32,
        /// The shortest offset.
        min: u32,
        /// The longest offset.
        max: u32,
    },
    /// Two reminders at the same time.
    #[error("reminder_offsets_minutes lists {0} more than once")]
    DuplicateReminderOffset(u32),
    /// A booking setting in minutes above its maximum.
    #[error("{field} must be at most {max} minutes")]
    MinutesTooLarge {
        /// The definition field.
        field: &'static str,
        /// The maximum, in minutes.
        max: u32,
    },
}
