//! The read side: a runner that follows the global event feed and the read models it keeps.
//!
//! Read models never hang off the command path. Each projection is a catch-up subscriber of the
//! feed: it applies a *batch* of events and moves its checkpoint in one transaction, so its effect
//! is exactly-once however the process dies, and it can always be rebuilt from position zero.
//!
//! # Layout
//! - [`projection`]: the [`Projection`] trait and [`Target`] (a projection and the schema it writes).
//! - [`rebuild`]: rebuilding a projection into fresh tables, then switching atomically.
//! - [`runner`]: catch-up batches, checkpoints, LISTEN/NOTIFY wake-up, one active runner per target.
//! - [`status`]: position and lag of each target; waiting for a position (read your writes).
//! - [`contacts`]: a row per lead, with the list query.
//! - [`workflows`]: a row per workflow with lead counts per status.
//! - [`conversations`]: every message of a lead's threads, with delivery and AI turns.
//! - [`tasks`]: due work (outbox sends, AI replies) for the workers to claim.
//! - [`timers`]: each engaged lead's next step (outreach, follow-up, unresponsive) and when.
//! - [`appointments`]: a row per appointment, for lists and calendar views.
//! - [`calendar_sync`]: appointments whose external calendar (Google) is behind, for the workers.
//! - [`activity`]: the tenant's meaningful events, newest first, each with a short summary.
//! - [`costs`]: AI calls, tokens and exact cost per tenant, day, workflow and model; messages per day.
//! - [`funnel`]: leads reaching each stage per tenant, workflow and day; leads per status now.
//! - [`budgets`]: AI spend per tenant and UTC month, and the budget alert thresholds reached.

pub mod activity;
pub mod appointments;
pub mod budgets;
pub mod calendar_sync;
pub mod contacts;
pub mod conversations;
pub mod costs;
pub mod funnel;
pub mod projection;
pub mod rebuild;
pub mod runner;
pub mod status;
pub mod tasks;
pub mod timers;
pub mod workflows;

pub use projection::{Projection, Target};

use std::sync::Arc;

/// Every projection this build maintains, at their live versions.
pub fn all() -> Vec<Target> {
    vec![
        Target::live(Arc::new(contacts::ContactsProjection)),
        Target::live(Arc::new(workflows::WorkflowsProjection)),
        Target::live(Arc::new(conversations::ConversationsProjection)),
        Target::live(Arc::new(tasks::TasksProjection)),
        Target::live(Arc::new(timers::TimersProjection)),
        Target::live(Arc::new(appointments::AppointmentsProjection)),
        Target::live(Arc::new(calendar_sync::CalendarSyncProjection)),
        Target::live(Arc::new(costs::CostsProjection)),
        Target::live(Arc::new(funnel::FunnelProjection)),
        Target::live(Arc::new(activity::ActivityProjection)),
        Target::live(Arc::new(budgets::BudgetsProjection)),
    ]
}
