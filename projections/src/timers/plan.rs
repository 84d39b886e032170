//! What a lead's next engagement step is, and when it is due: a pure function of what the timers
//! projection knows about the lead and its workflow. The dispatcher checks the same conditions
//! against the aggregates when the timer runs (`infrastructure::messaging::timers`).
//!
//! Steps count what was queued so far — the outreach once (however often an operator sent it
//! again), each follow-up once: step 0 is the outreach, step
//! `n` the n-th follow-up (due the step's delay after the previous message went out — or failed
//! for good), and one past the last follow-up the check that marks a still-silent lead
//! `unresponsive`. Nothing is planned for a lead that replied (its status moved on), opted out,
//! is archived, has no reachable phone, is handed to a human, or has a message of ours still in
//! the outbox; nor in a workflow that is not active. Nothing is due before the workflow was last
//! activated or resumed (so a resume re-plans), nor before a recorded deferral of the step.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use domain::lead::steps_taken;
use domain::LeadStatus;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What the projection keeps about a lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadState {
    /// The tenant.
    pub tenant_id: Uuid,
    /// The workflow engaging the lead.
    pub workflow_id: Option<Uuid>,
    /// Lifecycle status.
    pub status: LeadStatus,
    /// Archived leads are never engaged.
    pub archived: bool,
    /// Has a phone the provider has not refused.
    pub reachable: bool,
    /// The channels whose conversation a human has (none: the AI has them all).
    pub handed_off: Vec<String>,
    /// Since when the lead waits for its outreach (capture, assignment, restore, back to pending).
    pub eligible_since: DateTime<Utc>,
    /// Captured by a bulk import: its steps yield to those of leads captured one by one.
    pub bulk: bool,
    /// Outreach messages ever queued (an operator may send one again after a failure).
    pub outreach_messages: Vec<Uuid>,
    /// Follow-up messages ever queued.
    pub follow_up_messages: Vec<Uuid>,
    /// Steps that could not be sent and were passed over.
    pub skipped: Vec<u32>,
    /// Of those, the ones still in the outbox.
    pub in_flight: Vec<Uuid>,
    /// When the last of them went out (or failed for good).
    pub last_engaged_at: Option<DateTime<Utc>>,
    /// A deferred step and the time it waits for.
    pub deferred: Option<(u32, DateTime<Utc>)>,
}

impl LeadState {
    /// Steps taken: the outreach (however many times it was sent) and each follow-up, sent or
    /// passed over.
    #[must_use]
    pub fn steps_done(&self) -> u32 {
        steps_taken(
            !self.outreach_messages.is_empty(),
            self.follow_up_messages.len(),
            &self.skipped,
        )
    }

    /// Whether `message` is one of the lead's outreach or follow-up messages.
    #[must_use]
    pub fn is_engagement(&self, message: Uuid) -> bool {
        self.outreach_messages.contains(&message) || self.follow_up_messages.contains(&message)
    }
}

/// What the projection keeps about a workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowState {
    /// The tenant.
    pub tenant_id: Uuid,
    /// Leads are engaged only while active.
    pub active: bool,
    /// When it was last activated or resumed.
    pub active_since: Option<DateTime<Utc>>,
    /// Its channel's wire name (`sms`, `whatsapp`).
    pub channel: String,
    /// The wait before each follow-up, in seconds.
    pub follow_up_delays: Vec<i64>,
    /// The wait after the last message before a silent lead is unresponsive, in seconds.
    pub unresponsive_after: i64,
}

/// What a timer does when it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// Queue the workflow's first message.
    Outreach,
    /// Queue the next follow-up.
    FollowUp,
    /// Mark the silent lead unresponsive.
    Unresponsive,
}

impl TimerKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Outreach, Self::FollowUp, Self::Unresponsive];

    /// The wire name (the `kind` column).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Outreach => "outreach",
            Self::FollowUp => "follow_up",
            Self::Unresponsive => "unresponsive",
        }
    }

    /// The kind named `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// A lead's next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// What it does.
    pub kind: TimerKind,
    /// Which step (see the module docs).
    pub step: u32,
    /// When.
    pub due_at: DateTime<Utc>,
    /// The workflow.
    pub workflow_id: Uuid,
    /// The channel the message goes out on.
    pub channel: String,
    /// Claimed before every timer of a higher number that is due too: 0 for leads captured one
    /// by one (a web form, the API), 1 for a bulk import's, so a lead who just filled in a form
    /// is not queued behind an import of ten thousand.
    pub priority: i16,
}

/// The lead's next step, if it has one.
#[must_use]
pub fn next_step(lead: &LeadState, workflow: Option<&WorkflowState>) -> Option<Timer> {
    let workflow_id = lead.workflow_id?;
    let workflow = workflow.filter(|w| w.active)?;
    if lead.archived || !lead.reachable || !lead.handed_off.is_empty() || !lead.in_flight.is_empty()
    {
        return None;
    }
    let engaged = lead.steps_done();
    let (kind, natural) = match (lead.status, engaged) {
        (LeadStatus::Pending, 0) => (TimerKind::Outreach, lead.eligible_since),
        (LeadStatus::Pending | LeadStatus::Contacted, _) if engaged > 0 => {
            let last = lead.last_engaged_at?;
            let follow_ups_done = usize::try_from(engaged - 1).unwrap_or(usize::MAX);
            match workflow.follow_up_delays.get(follow_ups_done) {
                Some(&delay) => (TimerKind::FollowUp, last + Duration::seconds(delay)),
                None if lead.status == LeadStatus::Contacted => (
                    TimerKind::Unresponsive,
                    last + Duration::seconds(workflow.unresponsive_after),
                ),
                None => return None,
            }
        }
        _ => return None,
    };
    let mut due_at = natural.max(workflow.active_since.unwrap_or(natural));
    if let Some((step, until)) = lead.deferred {
        if step == engaged {
            due_at = due_at.max(until);
        }
    }
    Some(Timer {
        kind,
        step: engaged,
        // As stored (PostgreSQL keeps microseconds), so a plan compares equal to its row.
        due_at: due_at.trunc_subsecs(6),
        workflow_id,
        channel: workflow.channel.clone(),
        priority: i16::from(lead.bulk),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
    }

    fn workflow() -> WorkflowState {
        WorkflowState {
            tenant_id: Uuid::nil(),
            active: true,
            active_since: Some(at(1, 0)),
            channel: "sms".into(),
            follow_up_delays: vec![24 * 3600, 48 * 3600],
            unresponsive_after: 48 * 3600,
        }
    }

    fn pending() -> LeadState {
        LeadState {
            tenant_id: Uuid::nil(),
            workflow_id: Some(Uuid::nil()),
            status: LeadStatus::Pending,
            archived: false,
            reachable: true,
            handed_off: vec![],
            eligible_since: at(2, 10),
            bulk: false,
            outreach_messages: vec![],
            follow_up_messages: vec![],
            skipped: vec![],
            in_flight: vec![],
            last_engaged_at: None,
            deferred: None,
        }
    }

    fn contacted(messages: usize, last: DateTime<Utc>) -> LeadState {
        LeadState {
            status: LeadStatus::Contacted,
            outreach_messages: vec![Uuid::now_v7()],
            follow_up_messages: (1..messages).map(|_| Uuid::now_v7()).collect(),
            last_engaged_at: Some(last),
            ..pending()
        }
    }

    #[test]
    fn a_pending_lead_is_due_for_outreach_from_when_it_became_eligible() {
        let timer = next_step(&pending(), Some(&workflow())).unwrap();
        assert_eq!(
            (timer.kind, timer.step, timer.due_at),
            (TimerKind::Outreach, 0, at(2, 10))
        );
    }

    #[test]
    fn follow_ups_come_at_their_delays_then_the_unresponsive_check() {
        let wf = workflow();
        let first = next_step(&contacted(1, at(3, 9)), Some(&wf)).unwrap();
        assert_eq!(
            (first.kind, first.step, first.due_at),
            (TimerKind::FollowUp, 1, at(4, 9))
        );
        let second = next_step(&contacted(2, at(4, 9)), Some(&wf)).unwrap();
        assert_eq!(
            (second.kind, second.step, second.due_at),
            (TimerKind::FollowUp, 2, at(6, 9))
        );
        let last = next_step(&contacted(3, at(6, 9)), Some(&wf)).unwrap();
        assert_eq!(
            (last.kind, last.step, last.due_at),
            (TimerKind::Unresponsive, 3, at(8, 9))
        );
    }

    #[test]
    fn nothing_is_planned_for_leads_that_may_not_be_engaged() {
        let wf = workflow();
        let mut cases = vec![];
        for status in [
            LeadStatus::InConversation,
            LeadStatus::OptedOut,
            LeadStatus::Booked,
            LeadStatus::Unresponsive,
            LeadStatus::HandedOff,
        ] {
            cases.push(LeadState {
                status,
                ..contacted(1, at(3, 9))
            });
        }
        cases.push(LeadState {
            archived: true,
            ..pending()
        });
        cases.push(LeadState {
            reachable: false,
            ..pending()
        });
        cases.push(LeadState {
            handed_off: vec!["sms".into()],
            ..contacted(1, at(3, 9))
        });
        cases.push(LeadState {
            in_flight: vec![Uuid::nil()],
            ..pending()
        });
        cases.push(LeadState {
            workflow_id: None,
            ..pending()
        });
        for lead in &cases {
            assert_eq!(next_step(lead, Some(&wf)), None, "{lead:?}");
        }
        let paused = WorkflowState {
            active: false,
            ..workflow()
        };
        assert_eq!(next_step(&pending(), Some(&paused)), None);
        assert_eq!(next_step(&pending(), None), None);
    }

    #[test]
    fn a_resume_re_plans_what_fell_due_while_paused() {
        let resumed = WorkflowState {
            active_since: Some(at(10, 12)),
            ..workflow()
        };
        let timer = next_step(&contacted(1, at(3, 9)), Some(&resumed)).unwrap();
        assert_eq!(timer.due_at, at(10, 12));
    }

    #[test]
    fn a_deferral_of_the_current_step_moves_it_and_an_older_one_does_not() {
        let wf = workflow();
        let lead = LeadState {
            deferred: Some((1, at(5, 8))),
            ..contacted(1, at(3, 9))
        };
        assert_eq!(next_step(&lead, Some(&wf)).unwrap().due_at, at(5, 8));
        let stale = LeadState {
            deferred: Some((0, at(5, 8))),
            ..contacted(1, at(3, 9))
        };
        assert_eq!(next_step(&stale, Some(&wf)).unwrap().due_at, at(4, 9));
    }

    #[test]
    fn an_outreach_sent_again_is_still_one_step() {
        let lead = LeadState {
            outreach_messages: vec![Uuid::now_v7(), Uuid::now_v7()],
            ..contacted(1, at(3, 9))
        };
        let timer = next_step(&lead, Some(&workflow())).unwrap();
        assert_eq!((timer.kind, timer.step), (TimerKind::FollowUp, 1));
    }

    #[test]
    fn an_imported_leads_steps_yield_to_leads_captured_one_by_one() {
        let imported = LeadState {
            bulk: true,
            ..pending()
        };
        assert_eq!(next_step(&imported, Some(&workflow())).unwrap().priority, 1);
        assert_eq!(
            next_step(&pending(), Some(&workflow())).unwrap().priority,
            0
        );
    }

    #[test]
    fn a_skipped_step_counts_as_taken() {
        let skipped_outreach = LeadState {
            skipped: vec![0],
            last_engaged_at: Some(at(3, 9)),
            ..pending()
        };
        let timer = next_step(&skipped_outreach, Some(&workflow())).unwrap();
        assert_eq!(
            (timer.kind, timer.step, timer.due_at),
            (TimerKind::FollowUp, 1, at(4, 9))
        );
        let skipped_follow_up = LeadState {
            skipped: vec![1],
            ..contacted(1, at(4, 9))
        };
        let timer = next_step(&skipped_follow_up, Some(&workflow())).unwrap();
        assert_eq!((timer.kind, timer.step), (TimerKind::FollowUp, 2));
    }

    #[test]
    fn a_pending_lead_whose_messages_all_failed_is_never_marked_unresponsive() {
        let lead = LeadState {
            status: LeadStatus::Pending,
            ..contacted(3, at(6, 9))
        };
        assert_eq!(next_step(&lead, Some(&workflow())), None);
    }
}
