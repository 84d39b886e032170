//! How events change what the timers projection knows, one event at a time, in feed order. After
//! each event the next step of every lead it concerns is planned again, and the next reminder of
//! every appointment it concerns (see `reminder_fold.rs`); a timer that changed takes the event's
//! position as its revision. So the table is the same however the feed is batched — live, caught
//! up, or rebuilt.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::conversation::{Conversation, ConversationEvent, ConversationId, MessageOrigin};
use domain::values::LeadSource;
use domain::{
    Appointment, AppointmentEvent, Lead, LeadEvent, LeadStatus, Workflow, WorkflowDefinition,
    WorkflowEvent,
};
use infrastructure::feed::RecordedEvent;
use uuid::Uuid;

use super::plan::{next_step, LeadState, Timer, WorkflowState};
use super::reminder::AppointmentState;
use super::reminder_fold::StoredReminder;

/// An event the projection reads, decoded.
#[derive(Debug)]
pub enum Decoded {
    /// Of a lead.
    Lead(Uuid, LeadEvent),
    /// Of a workflow.
    Workflow(Uuid, Box<WorkflowEvent>),
    /// Of a conversation (by its lead), with the conversation's channel.
    Conversation(Uuid, String, ConversationEvent),
    /// Of an appointment.
    Appointment(Uuid, Box<AppointmentEvent>),
}

/// Decodes the events the projection reads; others give `None`.
pub fn decode(event: &RecordedEvent) -> anyhow::Result<Option<Decoded>> {
    Ok(match event.aggregate_type.as_str() {
        Lead::TYPE => Some(Decoded::Lead(event.aggregate_uuid()?, event.decode()?)),
        Workflow::TYPE => Some(Decoded::Workflow(
            event.aggregate_uuid()?,
            Box::new(event.decode()?),
        )),
        Conversation::TYPE => {
            let id: ConversationId = event.aggregate_id.parse().map_err(|error| {
                anyhow::anyhow!("conversation id {}: {error}", event.aggregate_id)
            })?;
            Some(Decoded::Conversation(
                id.lead_id().as_uuid(),
                id.channel().as_str().to_owned(),
                event.decode()?,
            ))
        }
        Appointment::TYPE => Some(Decoded::Appointment(
            event.aggregate_uuid()?,
            Box::new(event.decode()?),
        )),
        _ => None,
    })
}

/// A timer as stored, with the position of the event that last changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTimer {
    /// The plan.
    pub timer: Timer,
    /// The tenant.
    pub tenant_id: Uuid,
    /// The event position that last changed it.
    pub revision: i64,
}

/// The part of the model a batch works on, in memory.
#[derive(Debug, Default)]
pub struct Working {
    /// Leads by id (every lead the batch concerns, and every lead of a workflow it changes).
    pub leads: HashMap<Uuid, LeadState>,
    /// Workflows by id.
    pub workflows: HashMap<Uuid, WorkflowState>,
    /// Current timers by lead (`None`: no timer).
    pub timers: HashMap<Uuid, Option<StoredTimer>>,
    /// Leads whose state changed.
    pub changed_leads: HashSet<Uuid>,
    /// Workflows whose state changed.
    pub changed_workflows: HashSet<Uuid>,
    /// Leads whose timer changed.
    pub changed_timers: HashSet<Uuid>,
    /// Appointments by id: the state of a confirmed one, `None` once it no longer is (every
    /// appointment the batch concerns, and every one of a lead or workflow it changes).
    pub appointments: HashMap<Uuid, Option<AppointmentState>>,
    /// The ids of those appointments, by lead.
    pub appointments_of: HashMap<Uuid, Vec<Uuid>>,
    /// Current reminders by appointment, soonest first.
    pub reminders: HashMap<Uuid, Vec<StoredReminder>>,
    /// Appointments whose state changed.
    pub changed_appointments: HashSet<Uuid>,
    /// Appointments whose reminders changed.
    pub changed_reminders: HashSet<Uuid>,
}

impl Working {
    /// Applies one event at `position`, `at` its time.
    pub fn apply(&mut self, tenant_id: Uuid, position: i64, at: DateTime<Utc>, event: Decoded) {
        match event {
            Decoded::Lead(lead_id, event) => {
                self.apply_lead(tenant_id, lead_id, at, event);
                self.replan(lead_id, position);
                self.replan_reminders_of(lead_id, position);
            }
            Decoded::Conversation(lead_id, channel, event) => {
                if self.apply_conversation(lead_id, channel, event) {
                    self.replan(lead_id, position);
                }
            }
            Decoded::Workflow(workflow_id, event) => {
                self.apply_workflow(tenant_id, workflow_id, at, *event);
                let leads: Vec<Uuid> = self
                    .leads
                    .iter()
                    .filter(|(_, lead)| lead.workflow_id == Some(workflow_id))
                    .map(|(id, _)| *id)
                    .collect();
                for lead_id in leads {
                    self.replan(lead_id, position);
                }
                self.replan_reminders_in(workflow_id, position);
            }
            Decoded::Appointment(id, event) => {
                self.apply_appointment(tenant_id, id, position, at, *event);
            }
        }
    }

    fn apply_lead(&mut self, tenant_id: Uuid, lead_id: Uuid, at: DateTime<Utc>, event: LeadEvent) {
        if let LeadEvent::LeadCaptured {
            phone,
            workflow_id,
            source,
            ..
        } = &event
        {
            self.leads.insert(
                lead_id,
                LeadState {
                    tenant_id,
                    workflow_id: workflow_id.map(|w| w.as_uuid()),
                    status: LeadStatus::Pending,
                    archived: false,
                    reachable: phone.is_some(),
                    handed_off: Vec::new(),
                    eligible_since: at,
                    bulk: *source == LeadSource::CsvImport,
                    outreach_messages: Vec::new(),
                    follow_up_messages: Vec::new(),
                    skipped: Vec::new(),
                    in_flight: Vec::new(),
                    last_engaged_at: None,
                    deferred: None,
                },
            );
            self.changed_leads.insert(lead_id);
            return;
        }
        let Some(lead) = self.leads.get_mut(&lead_id) else {
            return;
        };
        let status = |lead: &mut LeadState, to: LeadStatus| {
            if to == LeadStatus::Pending && lead.status != LeadStatus::Pending {
                lead.eligible_since = at;
            }
            lead.status = to;
        };
        match event {
            LeadEvent::LeadDetailsUpdated {
                phone: Some(phone), ..
            } => lead.reachable = phone.is_some(),
            LeadEvent::LeadWorkflowAssigned { workflow_id } => {
                lead.workflow_id = workflow_id.map(|w| w.as_uuid());
                lead.eligible_since = at;
            }
            LeadEvent::LeadStatusChanged { to, .. }
            | LeadEvent::LeadStatusOverridden { to, .. } => {
                status(lead, to);
            }
            LeadEvent::LeadOptedOut { .. } => status(lead, LeadStatus::OptedOut),
            LeadEvent::LeadResubscribed { to } => status(lead, to),
            LeadEvent::LeadMarkedUnreachable { .. } => lead.reachable = false,
            LeadEvent::LeadEngagementDeferred { step, until, .. } => {
                lead.deferred = Some((step, until));
            }
            LeadEvent::LeadEngagementSkipped { step, .. } => {
                if !lead.skipped.contains(&step) {
                    lead.skipped.push(step);
                }
                lead.last_engaged_at = Some(at);
            }
            LeadEvent::LeadArchived => lead.archived = true,
            LeadEvent::LeadRestored => {
                lead.archived = false;
                lead.eligible_since = at;
            }
            LeadEvent::LeadCaptured { .. }
            | LeadEvent::LeadSourceAdded { .. }
            | LeadEvent::LeadDetailsUpdated { .. }
            | LeadEvent::LeadTagged { .. }
            | LeadEvent::LeadUntagged { .. }
            | LeadEvent::LeadAnswersRecorded { .. } => return,
        }
        self.changed_leads.insert(lead_id);
    }

    /// Whether the event changed the lead's state.
    fn apply_conversation(
        &mut self,
        lead_id: Uuid,
        channel: String,
        event: ConversationEvent,
    ) -> bool {
        let Some(lead) = self.leads.get_mut(&lead_id) else {
            return false;
        };
        let changed = match event {
            ConversationEvent::OutboundMessageQueued {
                message_id,
                origin: origin @ (MessageOrigin::Outreach | MessageOrigin::FollowUp),
                ..
            } => {
                if origin == MessageOrigin::Outreach {
                    lead.outreach_messages.push(message_id.as_uuid());
                } else {
                    lead.follow_up_messages.push(message_id.as_uuid());
                }
                lead.in_flight.push(message_id.as_uuid());
                true
            }
            ConversationEvent::OutboundMessageRequeued { message_id, .. }
                if lead.is_engagement(message_id.as_uuid())
                    && !lead.in_flight.contains(&message_id.as_uuid()) =>
            {
                lead.in_flight.push(message_id.as_uuid());
                true
            }
            ConversationEvent::OutboundMessageSent {
                message_id,
                sent_at: at,
                ..
            }
            | ConversationEvent::OutboundMessageFailed {
                message_id,
                failed_at: at,
                ..
            }
            | ConversationEvent::OutboundMessageCancelled { message_id, at, .. }
                if lead.in_flight.contains(&message_id.as_uuid()) =>
            {
                lead.in_flight.retain(|id| *id != message_id.as_uuid());
                lead.last_engaged_at = Some(at);
                true
            }
            ConversationEvent::ConversationHandedOff { .. }
                if !lead.handed_off.contains(&channel) =>
            {
                lead.handed_off.push(channel);
                true
            }
            ConversationEvent::AiResumed { .. } if lead.handed_off.contains(&channel) => {
                lead.handed_off.retain(|c| *c != channel);
                true
            }
            _ => false,
        };
        if changed {
            self.changed_leads.insert(lead_id);
        }
        changed
    }

    fn apply_workflow(
        &mut self,
        tenant_id: Uuid,
        workflow_id: Uuid,
        at: DateTime<Utc>,
        event: WorkflowEvent,
    ) {
        let state = self
            .workflows
            .entry(workflow_id)
            .or_insert_with(|| WorkflowState {
                tenant_id,
                active: false,
                active_since: None,
                channel: String::new(),
                follow_up_delays: Vec::new(),
                unresponsive_after: 0,
            });
        match event {
            WorkflowEvent::WorkflowCreated { definition }
            | WorkflowEvent::WorkflowUpdated { definition } => set_plan(state, &definition),
            WorkflowEvent::WorkflowActivated | WorkflowEvent::WorkflowResumed => {
                state.active = true;
                state.active_since = Some(at);
            }
            WorkflowEvent::WorkflowPaused | WorkflowEvent::WorkflowArchived => state.active = false,
        }
        self.changed_workflows.insert(workflow_id);
    }

    /// Plans the lead's next step again; a change takes `position` as its revision.
    fn replan(&mut self, lead_id: Uuid, position: i64) {
        let Some(lead) = self.leads.get(&lead_id) else {
            return;
        };
        let workflow = lead.workflow_id.and_then(|id| self.workflows.get(&id));
        let planned = next_step(lead, workflow);
        let current = self.timers.get(&lead_id).and_then(|t| t.as_ref());
        if current.map(|stored| &stored.timer) == planned.as_ref() {
            return;
        }
        let tenant_id = lead.tenant_id;
        self.timers.insert(
            lead_id,
            planned.map(|timer| StoredTimer {
                timer,
                tenant_id,
                revision: position,
            }),
        );
        self.changed_timers.insert(lead_id);
    }
}

fn set_plan(state: &mut WorkflowState, definition: &WorkflowDefinition) {
    state.channel = definition.channel.as_str().to_owned();
    state.follow_up_delays = definition
        .follow_up_plan()
        .iter()
        .map(|step| hours(step.delay_hours.get()))
        .collect();
    state.unresponsive_after = hours(definition.unresponsive_after().get());
}

fn hours(hours: impl Into<i64>) -> i64 {
    hours.into() * 3600
}
