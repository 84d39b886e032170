//! What `GET /api/v1/scheduled` answers: upcoming outreach, follow-ups, unresponsive checks,
//! appointment reminders and outbox messages, soonest first.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use projections::timers::query::Scheduled;

/// What a scheduled item does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ScheduledKind {
    /// The workflow's first message to a pending lead.
    Outreach,
    /// The next follow-up to a silent lead.
    FollowUp,
    /// The check that marks a lead unresponsive when the last follow-up stays unanswered.
    Unresponsive,
    /// The next reminder of a confirmed appointment.
    Reminder,
    /// A queued message waiting in the outbox (for its sending window, a retry, or its turn).
    Message,
}

impl ScheduledKind {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Outreach => "outreach",
            Self::FollowUp => "follow_up",
            Self::Unresponsive => "unresponsive",
            Self::Reminder => "reminder",
            Self::Message => "message",
        }
    }

    fn from_name(name: &str) -> Self {
        [
            Self::Outreach,
            Self::FollowUp,
            Self::Unresponsive,
            Self::Reminder,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
        .unwrap_or(Self::Message)
    }
}

/// One upcoming item.
#[derive(Debug, Clone, Object)]
pub struct ScheduledItemDto {
    /// Stable id of the item (`timer:<lead id>`, `reminder:<appointment id>` or
    /// `send:<message id>`).
    pub id: String,
    /// What it does.
    pub kind: ScheduledKind,
    /// The lead.
    pub lead_id: String,
    /// The lead's workflow (for a reminder, the workflow the appointment was booked through).
    pub workflow_id: Option<String>,
    /// The channel (`sms`, `whatsapp`).
    pub channel: String,
    /// When it is due (already moved to the recipient's next sending window when it had to wait).
    pub due_at: DateTime<Utc>,
    /// For a follow-up, which one (1-based); for outreach 0; for the unresponsive check, one past
    /// the last follow-up. Absent for reminders and messages.
    pub step: Option<i32>,
    /// For a reminder, its appointment.
    pub appointment_id: Option<String>,
    /// For a reminder, how long before the appointment's start it is due, in minutes.
    pub offset_minutes: Option<i32>,
    /// For a message, its id.
    pub message_id: Option<String>,
    /// For a message, its failed send attempts so far.
    pub failed_attempts: Option<i32>,
}

impl From<Scheduled> for ScheduledItemDto {
    fn from(item: Scheduled) -> Self {
        let kind = ScheduledKind::from_name(&item.kind);
        let is_message = kind == ScheduledKind::Message;
        let is_reminder = kind == ScheduledKind::Reminder;
        Self {
            id: item.key,
            kind,
            lead_id: item.lead_id.to_string(),
            workflow_id: item.workflow_id.map(|id| id.to_string()),
            channel: item.channel,
            due_at: item.due_at,
            step: (!is_message && !is_reminder).then_some(item.number),
            appointment_id: item.appointment_id.map(|id| id.to_string()),
            offset_minutes: is_reminder.then_some(item.number),
            message_id: item.message_id.map(|id| id.to_string()),
            failed_attempts: is_message.then_some(item.number),
        }
    }
}

/// A page of upcoming items.
#[derive(Debug, Clone, Object)]
pub struct ScheduledPage {
    /// The items, soonest first.
    pub items: Vec<ScheduledItemDto>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// A lead's next automatic step, on the lead.
#[derive(Debug, Clone, Object)]
pub struct NextActionDto {
    /// `outreach`, `follow_up` or `unresponsive`.
    pub kind: ScheduledKind,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// Which step (0 outreach, n follow-up n).
    pub step: i32,
}

impl From<&Scheduled> for NextActionDto {
    fn from(item: &Scheduled) -> Self {
        Self {
            kind: ScheduledKind::from_name(&item.kind),
            due_at: item.due_at,
            step: item.number,
        }
    }
}
