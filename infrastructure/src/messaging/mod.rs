//! Conversations in motion: the use cases that receive a lead's message, queue ours, send them
//! through the outbox, let the AI answer, and stop everything when a lead says STOP.
//!
//! # Layout
//! - [`error`]: [`MessagingError`], one refusal type for use cases that command several aggregates.
//! - [`inbound`]: a lead's message arrives (webhook or sandbox): record it once, handle keywords,
//!   move the lead into conversation.
//! - [`suppression`]: opt-out, re-subscription, and the lock that orders them against sends.
//! - [`outbound`]: operator messages, outreach, handoff and resume, retry of a failed message.
//! - [`task_queue`]: claiming due tasks of the tasks projection under leases, across instances.
//! - [`models`]: which conversation model answers a tenant's leads.
//! - [`notifications`]: telling the tenant's admin contact about a handoff.
//! - [`outbox`]: one queued message to its provider, suppression checked again at the last moment.
//! - [`rate_limit`]: the per-tenant, per-channel send rate shared by every instance (GCRA).
//! - [`orchestrator`]: one pending inbound message to the conversation model and back.
//! - [`booking`]: offering free times in the conversation and booking the one the lead picks.
//! - [`timers`]: a lead's due outreach, follow-up or unresponsive check, checked again and run.
//! - [`reminders`]: an appointment's due reminder, checked again, sent or passed over.
//! - [`ai_follow_up`]: a follow-up the conversation model writes.
//! - [`budget`]: AI budget alerts (once per threshold and month), their notices, the hard stop.
//! - [`workers`]: the loop that claims tasks and timers and runs them.
//! - [`status_callbacks`]: providers' delivery reports onto their messages.

pub mod ai_follow_up;
pub mod booking;
pub mod budget;
pub mod bulk_outreach;
pub mod error;
pub mod inbound;
pub mod models;
pub mod notifications;
pub mod orchestrator;
pub mod outbound;
pub mod outbox;
pub mod rate_limit;
pub mod reminders;
pub mod status_callbacks;
pub mod suppression;
pub mod task_queue;
pub mod timers;
pub mod workers;

use std::sync::Arc;
use std::time::Duration;

use application::{Actor, Clock, CommandContext};
use domain::values::TenantId;

use crate::calendars::CalendarResolver;
use crate::channels::ChannelRouter;
use crate::executor::CommandExecutor;
use crate::tenants::TenantStore;

pub use error::MessagingError;

/// The channel the tasks projection notifies when work is added (see `projections::tasks`).
pub const NOTIFY_CHANNEL: &str = "bookerbot_tasks";
pub use models::ModelRouter;

/// What the messaging use cases and workers need.
#[derive(Debug, Clone)]
pub struct Messaging {
    /// Runs commands.
    pub executor: CommandExecutor,
    /// Tenants (brand, channel accounts, AI settings).
    pub tenants: TenantStore,
    /// Picks the provider for a tenant and channel.
    pub channels: ChannelRouter,
    /// Picks the conversation model for a tenant.
    pub models: ModelRouter,
    /// Each tenant's external calendar (Google), if it connected one.
    pub calendars: CalendarResolver,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Limits and timings.
    pub settings: MessagingSettings,
}

/// Limits and timings of messaging.
#[derive(Debug, Clone)]
pub struct MessagingSettings {
    /// The public base URL providers call (for Twilio's `StatusCallback`), if known.
    pub public_url: Option<String>,
    /// Send attempts before a message is failed for good.
    pub max_send_attempts: u32,
    /// Model attempts before the conversation is handed off.
    pub max_model_attempts: u32,
    /// How long a model may take.
    pub model_timeout: Duration,
    /// How long a worker holds a claimed task before another may take it.
    pub lease: Duration,
    /// Tasks claimed at once by one worker.
    pub batch_size: i64,
    /// Tasks one worker runs at the same time. A send holds two pooled connections (its lock
    /// and the one it records with), so keep this well under the pool size.
    pub concurrency: usize,
    /// The tasks table (`projections::tasks::live_table()`).
    pub tasks_table: String,
    /// The timers table (`projections::timers::live_table()`).
    pub timers_table: String,
    /// The calendar-sync table (`projections::calendar_sync::live_table()`).
    pub calendar_table: String,
    /// The budgets read model's schema (`projections::budgets::live()`).
    pub budgets_schema: String,
    /// Sends per second per tenant and channel, across instances (0: no limit).
    pub send_rate_per_second: u32,
    /// How late a timer may run before it is re-planned instead of sent.
    pub overdue_grace: chrono::Duration,
    /// Over how long re-planned overdue timers are spread.
    pub overdue_spread: chrono::Duration,
}

impl MessagingSettings {
    /// Defaults for everything but the tables workers claim from and the budgets read model.
    #[must_use]
    pub fn new(
        tasks_table: String,
        timers_table: String,
        calendar_table: String,
        budgets_schema: String,
    ) -> Self {
        Self {
            public_url: None,
            max_send_attempts: 5,
            max_model_attempts: 3,
            model_timeout: Duration::from_secs(20),
            lease: Duration::from_secs(120),
            batch_size: 16,
            concurrency: 8,
            tasks_table,
            timers_table,
            calendar_table,
            budgets_schema,
            send_rate_per_second: 10,
            overdue_grace: chrono::Duration::hours(1),
            overdue_spread: chrono::Duration::minutes(15),
        }
    }
}

impl Messaging {
    /// The context of a command the system issues for `tenant` (`who` names the worker).
    #[must_use]
    pub fn system_ctx(&self, tenant: TenantId, who: &'static str) -> CommandContext {
        CommandContext {
            tenant_id: tenant,
            actor: Actor::System(who),
            request_id: format!("{who}-{}", uuid::Uuid::now_v7()),
            issued_at: self.clock.now(),
        }
    }
}

/// A growing pause before the next attempt: 2, 4, 8 … seconds, at most ten minutes.
#[must_use]
pub fn retry_backoff(attempt: u32) -> chrono::Duration {
    let seconds = 2i64.saturating_pow(attempt.clamp(1, 10)).min(600);
    chrono::Duration::seconds(seconds)
}
