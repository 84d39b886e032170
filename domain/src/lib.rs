//! BookerBot's domain: the aggregates that decide what happens to leads and workflows, the
//! events they record, and the value objects their inputs are parsed into. Pure logic with no
//! I/O, so every rule can be tested without a database, a clock or a network.
//!
//! # Layout
//!
//! - [`values`]: value objects (identifiers, phone, email, business and quiet hours, custom
//!   fields, tags, message templates, bounded workflow settings) and [`values::ValueError`].
//! - [`lead`]: the Lead aggregate: capture, details, tags, workflow assignment and the status
//!   lifecycle (see [`lead::LeadStatus`] for the transition table).
//! - [`workflow`]: the Workflow aggregate: a definition of how leads are engaged, and its
//!   draft → active ⇄ paused → archived lifecycle.
//! - [`budget`]: a tenant's monthly AI budget and the BudgetMonth aggregate, which records each
//!   alert threshold reached once per month.
//!
//! Each aggregate folder holds `mod.rs` (state and `apply`), `commands.rs`, `events.rs`,
//! `errors.rs` and `tests.rs` (given/when/then, split into `tests/` by theme), plus one file
//! per supporting type (`status.rs`, `definition.rs`, …). The lead's decisions live in
//! `lead/handle.rs`; the workflow's are short enough to stay in its `mod.rs`.
//!
//! # Example
//!
//! Edges parse raw input into values; the aggregate decides which events follow.
//!
//! ```
//! use cqrs_es::test::TestFramework;
//! use domain::values::{CountryCode, CustomFields, LeadSource, PhoneNumber};
//! use domain::{Lead, LeadCommand, LeadError, NewLead};
//!
//! let phone = PhoneNumber::parse("07400 123456", CountryCode::default())?;
//! assert_eq!(phone.as_str(), "+447400123456");
//!
//! let new_lead = NewLead {
//!     first_name: "Ada".into(),
//!     last_name: String::new(),
//!     phone: None,
//!     email: None,
//!     custom_fields: CustomFields::default(),
//!     source: LeadSource::Website,
//!     tags: vec![],
//!     workflow_id: None,
//! };
//! TestFramework::<Lead>::with(())
//!     .given_no_previous_events()
//!     .when(LeadCommand::CaptureLead(new_lead))
//!     .then_expect_error(LeadError::NoContact);
//! # Ok::<(), domain::values::ValueError>(())
//! ```

pub mod appointment;
pub mod budget;
pub mod conversation;
mod double_option;
pub mod lead;
pub mod values;
pub mod workflow;

pub use appointment::{
    Appointment, AppointmentCommand, AppointmentError, AppointmentEvent, AppointmentStatus,
    CalendarRef,
};
pub use budget::{BudgetCommand, BudgetError, BudgetEvent, BudgetMonth, UtcMonth};
pub use lead::{
    DeferralReason, EngagementStep, Lead, LeadCommand, LeadDetailsPatch, LeadError, LeadEvent,
    LeadStatus, NewLead,
};
pub use workflow::{
    Channel, FollowUpMessage, FollowUpStep, QualificationQuestion, Workflow, WorkflowCommand,
    WorkflowDefinition, WorkflowError, WorkflowEvent, WorkflowPatch, WorkflowStatus,
};
