//! How appointment events change the calendar-sync tasks (see the module docs of [`super`]).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::AppointmentEvent;
use infrastructure::feed::RecordedEvent;
use uuid::Uuid;

/// The kind of a calendar-sync task (and its key's prefix).
pub const KIND: &str = "calendar";

/// One appointment whose external calendar is behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncTask {
    /// The appointment.
    pub appointment_id: Uuid,
    /// Its tenant.
    pub tenant_id: Uuid,
    /// Its lead.
    pub lead_id: Uuid,
    /// When to sync (the change's time, or the retry time).
    pub due_at: DateTime<Utc>,
    /// Failed attempts since the change.
    pub attempt: i32,
    /// Position of the event that last put the task (for leases).
    pub revision: i64,
    /// The appointment version the calendar should show.
    pub sequence: i64,
}

impl SyncTask {
    /// `calendar:<appointment>`.
    #[must_use]
    pub fn key(&self) -> String {
        format!("{KIND}:{}", self.appointment_id)
    }
}

/// What a batch reads and writes.
#[derive(Debug, Default)]
pub struct State {
    /// External appointments known: id → (tenant, lead).
    pub external: BTreeMap<Uuid, (Uuid, Uuid)>,
    /// Appointments first seen external in this batch, to record.
    pub new_external: Vec<(Uuid, Uuid, Uuid)>,
    /// Tasks by appointment; `None`: none (deleted).
    pub tasks: BTreeMap<Uuid, Option<SyncTask>>,
    /// Appointments whose task this batch changed.
    pub touched: BTreeSet<Uuid>,
}

impl State {
    /// Applies one appointment event.
    pub fn apply(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        let id = event.aggregate_uuid()?;
        let payload: AppointmentEvent = event
            .decode()
            .with_context(|| format!("appointment event at {}", event.position))?;
        let tenant = event.metadata.tenant_id;
        let changed_now = |lead_id| SyncTask {
            appointment_id: id,
            tenant_id: tenant,
            lead_id,
            due_at: event.metadata.occurred_at,
            attempt: 0,
            revision: event.position.global_position,
            sequence: event.sequence,
        };
        match payload {
            AppointmentEvent::AppointmentBooked {
                lead_id, calendar, ..
            } if !calendar.is_builtin() => {
                let lead = lead_id.as_uuid();
                if self.external.insert(id, (tenant, lead)).is_none() {
                    self.new_external.push((id, tenant, lead));
                }
                self.put(id, Some(changed_now(lead)));
            }
            AppointmentEvent::AppointmentRescheduled { .. }
            | AppointmentEvent::AppointmentCancelled { .. } => {
                if let Some(&(_, lead)) = self.external.get(&id) {
                    self.put(id, Some(changed_now(lead)));
                }
            }
            AppointmentEvent::AppointmentCalendarSynced {
                through_version, ..
            } => {
                let done = self
                    .task(id)
                    .is_some_and(|task| task.sequence <= through_version);
                if done {
                    self.put(id, None);
                }
            }
            AppointmentEvent::AppointmentCalendarSyncFailed {
                for_version,
                attempt,
                retry_at,
                ..
            } => {
                // A change made while the failed sync was in flight keeps its task as it is.
                let failed = self
                    .task(id)
                    .filter(|task| task.sequence <= for_version)
                    .cloned();
                if let Some(task) = failed {
                    self.put(
                        id,
                        retry_at.map(|due_at| SyncTask {
                            due_at,
                            attempt: i32::try_from(attempt).unwrap_or(i32::MAX),
                            revision: event.position.global_position,
                            ..task
                        }),
                    );
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn task(&self, id: Uuid) -> Option<&SyncTask> {
        self.tasks.get(&id).and_then(Option::as_ref)
    }

    fn put(&mut self, id: Uuid, task: Option<SyncTask>) {
        self.tasks.insert(id, task);
        self.touched.insert(id);
    }
}
