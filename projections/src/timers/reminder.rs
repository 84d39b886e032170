//! When an appointment's reminders are due: a pure function of what the timers projection knows
//! about the appointment, its lead and its workflow. The dispatcher checks the same against the
//! aggregates when a reminder runs (`infrastructure::messaging::reminders`).
//!
//! The offsets are fixed at booking. Every reminder still to go is planned, one row each:
//! shorter than every reminder sent or passed over since the last (re)schedule, and not already
//! past when the appointment was booked or moved (booked three hours ahead, only the hour's
//! reminder is planned). Nothing is planned for a lead that opted out, is archived or has no
//! reachable phone; a resubscribed or restored lead gets its remaining reminders back. Reminders
//! go out whatever the workflow's status: a paused campaign does not cancel the meetings it
//! booked.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use domain::LeadStatus;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::plan::{LeadState, WorkflowState};

/// What the projection keeps about a confirmed appointment (a cancelled, completed or no-show
/// one is forgotten: it has no reminders left).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentState {
    /// The tenant.
    pub tenant_id: Uuid,
    /// The lead who is meeting.
    pub lead_id: Uuid,
    /// The workflow it was booked through (its channel carries the reminders).
    pub workflow_id: Uuid,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// The reminders, in minutes before the start, longest first.
    pub offsets: Vec<u32>,
    /// When it was booked or last moved: reminders due before then are not sent.
    pub since: DateTime<Utc>,
    /// The shortest reminder sent or passed over since then.
    pub handled_below: Option<u32>,
}

impl AppointmentState {
    /// Remembers that the reminder `offset` minutes before the start went out or was passed
    /// over: it and every earlier one are done.
    pub fn handled(&mut self, offset: u32) {
        self.handled_below = Some(self.handled_below.map_or(offset, |done| done.min(offset)));
    }
}

/// One reminder of an appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    /// Minutes before the start.
    pub offset: u32,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// The channel it goes out on (the workflow's).
    pub channel: String,
}

/// The appointment's reminders still to go, soonest first.
#[must_use]
pub fn reminders_due(
    appointment: &AppointmentState,
    lead: Option<&LeadState>,
    workflow: Option<&WorkflowState>,
) -> Vec<Reminder> {
    let (Some(lead), Some(workflow)) = (lead, workflow) else {
        return Vec::new();
    };
    if lead.archived || !lead.reachable || lead.status == LeadStatus::OptedOut {
        return Vec::new();
    }
    let mut offsets = appointment.offsets.clone();
    offsets.sort_unstable_by(|a, b| b.cmp(a));
    offsets.dedup();
    offsets
        .into_iter()
        .filter(|offset| appointment.handled_below.is_none_or(|done| *offset < done))
        .map(|offset| {
            let due_at = appointment.start - Duration::minutes(i64::from(offset));
            (offset, due_at)
        })
        .filter(|(_, due_at)| *due_at >= appointment.since)
        .map(|(offset, due_at)| Reminder {
            offset,
            // As stored (PostgreSQL keeps microseconds), so a plan compares equal to its row.
            due_at: due_at.trunc_subsecs(6),
            channel: workflow.channel.clone(),
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
    }

    /// Booked on the 1st at 09:00 for the 5th at 15:00, a day and an hour ahead.
    fn appointment() -> AppointmentState {
        AppointmentState {
            tenant_id: Uuid::nil(),
            lead_id: Uuid::nil(),
            workflow_id: Uuid::nil(),
            start: at(5, 15),
            offsets: vec![1440, 60],
            since: at(1, 9),
            handled_below: None,
        }
    }

    fn lead() -> LeadState {
        LeadState {
            tenant_id: Uuid::nil(),
            workflow_id: None,
            status: LeadStatus::Booked,
            archived: false,
            reachable: true,
            handed_off: Vec::new(),
            eligible_since: at(1, 0),
            bulk: false,
            outreach_messages: Vec::new(),
            follow_up_messages: Vec::new(),
            skipped: Vec::new(),
            in_flight: Vec::new(),
            last_engaged_at: None,
            deferred: None,
        }
    }

    fn workflow(channel: &str) -> WorkflowState {
        WorkflowState {
            tenant_id: Uuid::nil(),
            active: false,
            active_since: None,
            channel: channel.into(),
            follow_up_delays: Vec::new(),
            unresponsive_after: 0,
        }
    }

    fn plan(appointment: &AppointmentState, lead: &LeadState) -> Vec<(u32, DateTime<Utc>)> {
        reminders_due(appointment, Some(lead), Some(&workflow("sms")))
            .into_iter()
            .map(|reminder| (reminder.offset, reminder.due_at))
            .collect()
    }

    #[test]
    fn every_reminder_is_planned_and_each_goes_once_handled() {
        let mut booked = appointment();
        assert_eq!(plan(&booked, &lead()), [(1440, at(4, 15)), (60, at(5, 14))]);
        booked.handled(1440);
        assert_eq!(plan(&booked, &lead()), [(60, at(5, 14))]);
        booked.handled(60);
        assert_eq!(plan(&booked, &lead()), []);
    }

    #[test]
    fn once_a_shorter_reminder_went_the_longer_ones_are_moot() {
        let mut booked = appointment();
        booked.handled(60);
        assert_eq!(plan(&booked, &lead()), []);
        booked.handled(1440);
        assert_eq!(booked.handled_below, Some(60));
    }

    #[test]
    fn a_reminder_already_past_when_booked_is_not_planned() {
        let late = AppointmentState {
            since: at(5, 12),
            ..appointment()
        };
        assert_eq!(plan(&late, &lead()), [(60, at(5, 14))]);
        let just_in_time = AppointmentState {
            since: at(4, 15),
            ..appointment()
        };
        assert_eq!(plan(&just_in_time, &lead()).len(), 2);
        let too_late = AppointmentState {
            since: at(5, 14) + Duration::seconds(1),
            ..appointment()
        };
        assert_eq!(plan(&too_late, &lead()), []);
    }

    #[test]
    fn the_offsets_are_read_soonest_first_and_once_whatever_their_order() {
        let unordered = AppointmentState {
            offsets: vec![60, 30, 1440, 60],
            ..appointment()
        };
        let offsets: Vec<u32> = plan(&unordered, &lead()).iter().map(|r| r.0).collect();
        assert_eq!(offsets, [1440, 60, 30]);
    }

    #[test]
    fn a_lead_that_may_not_be_messaged_gets_no_reminder() {
        let opted_out = LeadState {
            status: LeadStatus::OptedOut,
            ..lead()
        };
        let archived = LeadState {
            archived: true,
            ..lead()
        };
        let unreachable = LeadState {
            reachable: false,
            ..lead()
        };
        for lead in [opted_out, archived, unreachable] {
            assert_eq!(plan(&appointment(), &lead), [], "{lead:?}");
        }
        let no_lead = reminders_due(&appointment(), None, Some(&workflow("sms")));
        assert_eq!(no_lead, []);
    }

    #[test]
    fn the_reminders_go_on_the_workflows_channel() {
        let reminders = reminders_due(&appointment(), Some(&lead()), Some(&workflow("whatsapp")));
        assert_eq!(reminders.len(), 2);
        assert!(reminders.iter().all(|r| r.channel == "whatsapp"));
        assert_eq!(reminders_due(&appointment(), Some(&lead()), None), []);
    }
}
