//! One refusal type for messaging use cases: they command leads and conversations together, and
//! the API maps each refusal to its status in one place.

use domain::conversation::ConversationError;
use domain::LeadError;
use thiserror::Error;

use crate::appointments::AppointmentRefusal;

/// Why a messaging use case was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessagingError {
    /// The Lead aggregate refused.
    #[error(transparent)]
    Lead(#[from] LeadError),
    /// The Conversation aggregate refused.
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    /// The lead opted out: nothing may be sent.
    #[error("the lead has opted out; no message may be sent")]
    OptedOut,
    /// The lead has no phone number to message.
    #[error("the lead has no phone number")]
    NoPhone,
    /// The lead is archived.
    #[error("the lead is archived")]
    Archived,
    /// The lead has no (usable) workflow for this action.
    #[error("{0}")]
    NoWorkflow(String),
    /// The lead's outreach is already queued or sent.
    #[error("the lead's outreach is already queued or sent")]
    AlreadyContacted,
    /// Booking in the conversation was refused (the time went meanwhile, …).
    #[error(transparent)]
    Appointment(#[from] AppointmentRefusal),
}
