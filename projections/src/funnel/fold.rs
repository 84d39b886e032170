//! How lead and appointment events move the funnel counts (see the module docs of [`super`]): a
//! pure fold over a batch into per-key deltas and changed per-lead state, written by the caller
//! in a few statements.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::NaiveDate;
use domain::{AppointmentEvent, LeadEvent, LeadStatus};
use infrastructure::feed::RecordedEvent;
use uuid::Uuid;

/// The stages counted once per lead, on the UTC day it first reached them, with their bit in
/// [`LeadState::reached`].
pub const STAGES: [(&str, i32); 8] = [
    ("captured", 1),
    ("contacted", 1 << 1),
    ("replied", 1 << 2),
    ("qualified", 1 << 3),
    ("booked", 1 << 4),
    ("opted_out", 1 << 5),
    ("unresponsive", 1 << 6),
    ("handed_off", 1 << 7),
];

/// The appointment outcome counted when an appointment is marked completed.
pub const COMPLETED: &str = "completed";
/// The appointment outcome counted when an appointment is marked a no-show.
pub const NO_SHOW: &str = "no_show";

/// A row key of `funnel_daily`: tenant, workflow (nil when none), UTC day, stage or outcome.
pub type DailyKey = (Uuid, Uuid, NaiveDate, &'static str);

/// A row key of `funnel_current`: tenant, workflow (nil when none), status.
pub type CurrentKey = (Uuid, Uuid, &'static str);

/// A row key of `funnel_totals`: tenant, workflow (nil when none), stage or outcome.
pub type TotalKey = (Uuid, Uuid, &'static str);

/// What the projection keeps of a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeadState {
    /// Its workflow now (nil when none).
    pub workflow: Uuid,
    /// Its status now.
    pub status: LeadStatus,
    /// The stages it has reached, as bits of [`STAGES`].
    pub reached: i32,
}

/// What a batch reads and writes.
#[derive(Debug, Default)]
pub struct State {
    /// The known leads the batch concerns, by (tenant, lead).
    pub leads: BTreeMap<(Uuid, Uuid), LeadState>,
    /// The workflow of each known appointment the batch concerns, by (tenant, appointment).
    pub appointments: BTreeMap<(Uuid, Uuid), Uuid>,
    /// Leads this batch changed, to write back.
    pub changed_leads: BTreeMap<(Uuid, Uuid), LeadState>,
    /// Appointments this batch booked, to write back.
    pub changed_appointments: BTreeMap<(Uuid, Uuid), Uuid>,
    /// Counts to add to `funnel_daily`.
    pub daily: BTreeMap<DailyKey, i64>,
    /// Deltas to add to `funnel_current`.
    pub current: BTreeMap<CurrentKey, i64>,
}

/// The stage bits reaching `status` sets: contacted for every status past it on the main path,
/// replied for `in_conversation`, `qualified` and `booked`, and each other stage for itself.
#[must_use]
pub const fn stage_bits(status: LeadStatus) -> i32 {
    match status {
        LeadStatus::Pending => 0,
        LeadStatus::Contacted => 1 << 1,
        LeadStatus::InConversation => (1 << 1) | (1 << 2),
        LeadStatus::Qualified => (1 << 1) | (1 << 2) | (1 << 3),
        LeadStatus::Booked => (1 << 1) | (1 << 2) | (1 << 4),
        LeadStatus::OptedOut => 1 << 5,
        LeadStatus::Unresponsive => 1 << 6,
        LeadStatus::HandedOff => 1 << 7,
    }
}

impl State {
    /// Applies a lead event: capture, workflow and status changes.
    pub fn apply_lead(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        let payload: LeadEvent = event
            .decode()
            .with_context(|| format!("lead event at {}", event.position))?;
        let key = (event.metadata.tenant_id, event.aggregate_uuid()?);
        let day = event.metadata.occurred_at.date_naive();
        let to = match payload {
            LeadEvent::LeadCaptured { workflow_id, .. } => {
                let lead = LeadState {
                    workflow: workflow_id.map_or(Uuid::nil(), |id| id.as_uuid()),
                    status: LeadStatus::Pending,
                    reached: 0,
                };
                self.count_current(key.0, lead.workflow, lead.status, 1);
                self.store(key, lead);
                self.reach(key, day, 1);
                return Ok(());
            }
            LeadEvent::LeadWorkflowAssigned { workflow_id } => {
                let Some(mut lead) = self.leads.get(&key).copied() else {
                    return Ok(());
                };
                self.count_current(key.0, lead.workflow, lead.status, -1);
                lead.workflow = workflow_id.map_or(Uuid::nil(), |id| id.as_uuid());
                self.count_current(key.0, lead.workflow, lead.status, 1);
                self.store(key, lead);
                return Ok(());
            }
            LeadEvent::LeadStatusChanged { to, .. }
            | LeadEvent::LeadStatusOverridden { to, .. }
            | LeadEvent::LeadResubscribed { to } => to,
            LeadEvent::LeadOptedOut { .. } => LeadStatus::OptedOut,
            _ => return Ok(()),
        };
        let Some(mut lead) = self.leads.get(&key).copied() else {
            return Ok(());
        };
        self.count_current(key.0, lead.workflow, lead.status, -1);
        lead.status = to;
        self.count_current(key.0, lead.workflow, lead.status, 1);
        self.store(key, lead);
        self.reach(key, day, stage_bits(to));
        Ok(())
    }

    /// Applies an appointment event: its workflow when booked, outcomes when marked.
    pub fn apply_appointment(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        let payload: AppointmentEvent = event
            .decode()
            .with_context(|| format!("appointment event at {}", event.position))?;
        let key = (event.metadata.tenant_id, event.aggregate_uuid()?);
        let (outcome, at) = match payload {
            AppointmentEvent::AppointmentBooked { workflow_id, .. } => {
                self.appointments.insert(key, workflow_id.as_uuid());
                self.changed_appointments.insert(key, workflow_id.as_uuid());
                return Ok(());
            }
            AppointmentEvent::AppointmentCompleted { at } => (COMPLETED, at),
            AppointmentEvent::AppointmentNoShow { at } => (NO_SHOW, at),
            _ => return Ok(()),
        };
        let workflow = self
            .appointments
            .get(&key)
            .copied()
            .unwrap_or_else(Uuid::nil);
        *self
            .daily
            .entry((key.0, workflow, at.date_naive(), outcome))
            .or_default() += 1;
        Ok(())
    }

    /// The batch's `funnel_daily` counts summed over the days: what to add to `funnel_totals`.
    #[must_use]
    pub fn totals(&self) -> BTreeMap<TotalKey, i64> {
        let mut totals = BTreeMap::new();
        for ((tenant, workflow, _, stage), count) in &self.daily {
            *totals.entry((*tenant, *workflow, *stage)).or_default() += count;
        }
        totals
    }

    fn store(&mut self, key: (Uuid, Uuid), lead: LeadState) {
        self.leads.insert(key, lead);
        self.changed_leads.insert(key, lead);
    }

    fn count_current(&mut self, tenant: Uuid, workflow: Uuid, status: LeadStatus, delta: i64) {
        *self
            .current
            .entry((tenant, workflow, status.as_str()))
            .or_default() += delta;
    }

    /// Counts the stages of `bits` the lead had not reached yet, under its workflow now.
    fn reach(&mut self, key: (Uuid, Uuid), day: NaiveDate, bits: i32) {
        let Some(lead) = self.leads.get_mut(&key) else {
            return;
        };
        let fresh = bits & !lead.reached;
        if fresh == 0 {
            return;
        }
        lead.reached |= fresh;
        let (workflow, lead) = (lead.workflow, *lead);
        self.changed_leads.insert(key, lead);
        for (stage, bit) in STAGES {
            if fresh & bit != 0 {
                *self.daily.entry((key.0, workflow, day, stage)).or_default() += 1;
            }
        }
    }
}
