//! Appointments as use cases: booking without double booking, cancelling, and the free slots of
//! a workflow. The Appointment aggregate guards one appointment's own rules; what needs more
//! than one aggregate or every appointment of a calendar lives here.
//!
//! # No double booking
//! Every live appointment holds its time in `appointment_reservations` (one row per appointment,
//! `[start, end)` in its tenant, whichever calendar holds it), written in the same transaction
//! as its `AppointmentBooked` event. An exclusion constraint (`migrations/0011_…`) refuses a
//! second overlapping row: of concurrent bookings of one slot, on any number of instances, the
//! first to insert wins and the others wait for its commit; their insert, a
//! speculative one (`ON CONFLICT DO NOTHING`, which cannot deadlock the way two plain inserts of
//! overlapping rows can), then writes no row, which becomes [`AppointmentRefusal::Taken`]. A
//! refusal rolls the whole unit back: no reservation, no appointment event, no lead change.
//!
//! # What booking and cancelling do to the lead
//! - Booking moves the lead to `booked`: `AdvanceStatus` when the lifecycle allows it (from
//!   `qualified`), otherwise `OverrideStatus` with the reason `appointment booked` (an operator
//!   may book a lead at any stage: `pending`, `contacted`, `in_conversation`, `unresponsive`,
//!   `handed_off`). A lead that is already `booked` (a second appointment) is left as it is.
//!   Opted-out and archived leads cannot be booked.
//! - Cancelling releases the slot; the lead goes back to `qualified` when it is `booked` and
//!   holds no other appointment that has not ended yet. Any other status is left alone.
//!
//! # Choices
//! - The workflow must exist for the tenant and not be archived; `draft`, `active` and `paused`
//!   workflows can be booked through (a paused workflow stops automatic messages, not an
//!   operator's booking). The lead need not be in that workflow.
//! - Appointments are in the tenant's calendar — its Google calendar when it connected one
//!   (Google's busy times count as busy too), else the
//!   built-in calendar — shown in the tenant's time zone, and last the workflow's
//!   `appointment_duration_minutes`. The Google event itself is written after the booking
//!   commits, by the calendar-sync worker ([`calendar_sync`]).
//! - Booking checks that the start is not in the past (the aggregate's rule) and that the slot
//!   is free; it does not force the start onto the availability grid or into business hours, so
//!   an operator can book an exceptional time. Availability offers only slots inside business
//!   hours, at least the workflow's `booking_notice_minutes` ahead, kept its
//!   `appointment_buffer_minutes` clear of every busy time.

mod availability;
mod book;
pub mod calendar_sync;
mod settings;

use domain::{AppointmentError, LeadError};
use thiserror::Error;

pub use availability::{alternatives, availability, Availability, MAX_RANGE_DAYS};
pub(crate) use book::book_in;
pub use book::{
    book, cancel, reschedule, update, AppointmentChanges, BookRequest, Booked, Cancelled, Changed,
    Outcome, BOOKED_REASON,
};

/// How many alternative slots a refused booking offers.
pub const ALTERNATIVES: usize = 3;

/// Why an appointment use case was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AppointmentRefusal {
    /// The Appointment aggregate refused.
    #[error(transparent)]
    Appointment(#[from] AppointmentError),
    /// The Lead aggregate refused the status change.
    #[error(transparent)]
    Lead(#[from] LeadError),
    /// No such lead for this tenant.
    #[error("lead not found")]
    UnknownLead,
    /// No such workflow for this tenant.
    #[error("workflow not found")]
    UnknownWorkflow,
    /// No such appointment for this tenant.
    #[error("appointment not found")]
    UnknownAppointment,
    /// The lead opted out: it cannot be booked.
    #[error("the lead has opted out; it cannot be booked")]
    OptedOut,
    /// The lead is archived: restore it first.
    #[error("the lead is archived; restore it before booking")]
    Archived,
    /// The workflow is archived.
    #[error("the workflow is archived")]
    WorkflowArchived,
    /// Another live appointment of the calendar overlaps the requested time.
    #[error("the slot is taken: another appointment overlaps it")]
    Taken,
    /// The tenant's external calendar cannot say whether the time is free (unknown is not free).
    #[error("the calendar cannot say whether the time is free: {reason}")]
    CalendarUnavailable {
        /// Why (the provider's error, or its per-calendar error).
        reason: String,
    },
    /// The availability range is inverted or empty.
    #[error("from must be before to")]
    EmptyRange,
    /// The availability range is longer than allowed.
    #[error("the range may span at most {max_days} days")]
    RangeTooLong {
        /// The longest range, in days.
        max_days: i64,
    },
}
