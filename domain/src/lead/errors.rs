//! Why the Lead aggregate refused a command. One variant per business rule, no technical
//! errors: the aggregate does no I/O.

use thiserror::Error;

use super::LeadStatus;

/// A command the Lead aggregate refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LeadError {
    /// The lead was never captured, so there is nothing to act on.
    #[error("the lead has not been captured")]
    NotCaptured,
    /// `CaptureLead` on a lead that already exists.
    #[error("the lead has already been captured")]
    AlreadyCaptured,
    /// A lead must keep a phone number or an email address.
    #[error("a lead needs a phone number or an email address")]
    NoContact,
    /// The normal lifecycle does not allow this move.
    #[error("a lead cannot move from {from} to {to}")]
    InvalidTransition {
        /// Current status.
        from: LeadStatus,
        /// Requested status.
        to: LeadStatus,
    },
    /// The lead already has the requested status.
    #[error("the lead is already {0}")]
    AlreadyInStatus(LeadStatus),
    /// Opting out has its own command, so that suppression is always recorded as such.
    #[error("use the opt-out command to opt a lead out")]
    UseOptOutCommand,
    /// An override or opt-out needs a reason for the audit trail.
    #[error("a reason is required")]
    ReasonRequired,
    /// A reason longer than allowed.
    #[error("the reason must be at most {max} characters")]
    ReasonTooLong {
        /// The maximum number of characters.
        max: usize,
    },
    /// The lead has already opted out.
    #[error("the lead has already opted out")]
    AlreadyOptedOut,
    /// Nothing but a re-subscription (the lead texting START) moves a lead away from `opted_out`.
    #[error("the lead has opted out; only the lead re-subscribing (START) changes that")]
    OptedOutIsFinal,
    /// A first or last name longer than allowed.
    #[error("{field} must be at most {max} characters")]
    NameTooLong {
        /// `first_name` or `last_name`.
        field: &'static str,
        /// The maximum number of characters.
        max: usize,
    },
}
