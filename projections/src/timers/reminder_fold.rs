//! How appointment events change what the timers projection knows, and when an appointment's
//! reminders are planned again: after each of its own events, after each event of its lead (an
//! opt-out, an archive, a lost phone stop its reminders; a resubscription brings them back), and
//! after each event of its workflow (the channel). Like the leads' timers, a reminder that
//! changes takes the event's position as its revision; one that stays keeps its own.

use chrono::{DateTime, Utc};
use domain::AppointmentEvent;
use uuid::Uuid;

use super::fold::Working;
use super::reminder::{reminders_due, AppointmentState, Reminder};

/// A reminder as stored, with the position of the event that last changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReminder {
    /// The plan.
    pub reminder: Reminder,
    /// The event position that last changed it.
    pub revision: i64,
}

impl Working {
    /// Applies one event of appointment `id` at `position`, `at` its time.
    pub(super) fn apply_appointment(
        &mut self,
        tenant_id: Uuid,
        id: Uuid,
        position: i64,
        at: DateTime<Utc>,
        event: AppointmentEvent,
    ) {
        match event {
            AppointmentEvent::AppointmentBooked {
                lead_id,
                workflow_id,
                start,
                reminder_offsets_minutes,
                ..
            } => {
                let lead_id = lead_id.as_uuid();
                let ids = self.appointments_of.entry(lead_id).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                }
                self.appointments.insert(
                    id,
                    Some(AppointmentState {
                        tenant_id,
                        lead_id,
                        workflow_id: workflow_id.as_uuid(),
                        start,
                        offsets: reminder_offsets_minutes,
                        since: at,
                        handled_below: None,
                    }),
                );
            }
            AppointmentEvent::AppointmentRescheduled { start, .. } => {
                let Some(appointment) = self.confirmed(id) else {
                    return;
                };
                appointment.start = start;
                appointment.since = at;
                appointment.handled_below = None;
            }
            AppointmentEvent::AppointmentReminderSent { offset_minutes, .. }
            | AppointmentEvent::AppointmentReminderSkipped { offset_minutes, .. } => {
                let Some(appointment) = self.confirmed(id) else {
                    return;
                };
                appointment.handled(offset_minutes);
            }
            AppointmentEvent::AppointmentCancelled { .. }
            | AppointmentEvent::AppointmentCompleted { .. }
            | AppointmentEvent::AppointmentNoShow { .. } => {
                if self.confirmed(id).is_none() {
                    return;
                }
                self.appointments.insert(id, None);
            }
            AppointmentEvent::AppointmentNotesEdited { .. }
            | AppointmentEvent::AppointmentExternalEventRecorded { .. }
            | AppointmentEvent::AppointmentCalendarSynced { .. }
            | AppointmentEvent::AppointmentCalendarSyncFailed { .. } => return,
        }
        self.changed_appointments.insert(id);
        self.replan_reminders(id, position);
    }

    /// Plans the reminders of the lead's confirmed appointments again.
    pub(super) fn replan_reminders_of(&mut self, lead_id: Uuid, position: i64) {
        let ids = self
            .appointments_of
            .get(&lead_id)
            .cloned()
            .unwrap_or_default();
        for id in ids {
            self.replan_reminders(id, position);
        }
    }

    /// Plans the reminders of the workflow's confirmed appointments again.
    pub(super) fn replan_reminders_in(&mut self, workflow_id: Uuid, position: i64) {
        let ids: Vec<Uuid> = self
            .appointments
            .iter()
            .filter(|(_, state)| {
                state
                    .as_ref()
                    .is_some_and(|state| state.workflow_id == workflow_id)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.replan_reminders(id, position);
        }
    }

    /// The appointment's state while it is confirmed.
    fn confirmed(&mut self, id: Uuid) -> Option<&mut AppointmentState> {
        self.appointments.get_mut(&id).and_then(Option::as_mut)
    }

    /// Plans the appointment's reminders again; one that changes takes `position` as its
    /// revision.
    fn replan_reminders(&mut self, id: Uuid, position: i64) {
        let planned = match self.appointments.get(&id) {
            Some(Some(appointment)) => reminders_due(
                appointment,
                self.leads.get(&appointment.lead_id),
                self.workflows.get(&appointment.workflow_id),
            ),
            _ => Vec::new(),
        };
        let current = self
            .reminders
            .get(&id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if current
            .iter()
            .map(|stored| &stored.reminder)
            .eq(planned.iter())
        {
            return;
        }
        let next = planned
            .into_iter()
            .map(|reminder| {
                let revision = current
                    .iter()
                    .find(|stored| stored.reminder == reminder)
                    .map_or(position, |stored| stored.revision);
                StoredReminder { reminder, revision }
            })
            .collect();
        self.reminders.insert(id, next);
        self.changed_reminders.insert(id);
    }
}
