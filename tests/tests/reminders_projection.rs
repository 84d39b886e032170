//! Appointment reminders in the timers read model, fed with real Lead, Workflow and Appointment
//! commands through the command executor at pinned times (each command's `issued_at` is its
//! event's `occurred_at`): a `reminder:<appointment>:<offset>` row for each reminder a confirmed
//! appointment still has to send, due at the start minus the offset, moved by a reschedule, gone
//! once sent, on a cancel, and while the lead may not be messaged. Each scenario applies every event in a batch of its own,
//! checks the row after each command, and ends by rebuilding the model from position zero (in one
//! batch, and three events a batch), which must equal the live one row for row.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use application::{Actor, CommandContext};
use bookerbot_tests::{assert_same_schemas, new_lead, rebuild, wait_for_feed_to_settle, TestDb};
use chrono::{DateTime, Duration, Utc};
use domain::lead::{Lead, LeadCommand, NewLead};
use domain::values::{
    AppointmentId, LeadId, MessageTemplate, TenantId, Timezone, WorkflowId, WorkflowName,
};
use domain::{
    Appointment, AppointmentCommand, CalendarRef, Channel, Workflow, WorkflowCommand,
    WorkflowDefinition, WorkflowPatch,
};
use infrastructure::executor::{CommandExecutor, Existence};
use projections::runner::{catch_up, prepare};
use projections::timers::query::{scheduled, ScheduledFilter};
use projections::timers::{reminder_key, TimersProjection, REMINDER_KIND};
use projections::Target;
use sqlx::PgPool;
use uuid::Uuid;

const LIVE: &str = "live_reminders";
const REBUILT: &str = "rebuilt_reminders";
/// `scheduled` also lists the outbox; these tests never create its table, so they ask for
/// reminders only.
const NO_TASKS: &str = "no_tasks";

/// Where every story's clock starts: Monday 6 April 2026, 09:00 UTC.
fn base() -> DateTime<Utc> {
    "2026-04-06T09:00:00Z".parse().unwrap()
}

/// `n` hours after [`base`].
fn h(n: i64) -> DateTime<Utc> {
    base() + Duration::hours(n)
}

fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

fn ctx(tenant: TenantId, at: DateTime<Utc>) -> CommandContext {
    CommandContext {
        tenant_id: tenant,
        actor: Actor::System("tests"),
        request_id: format!("req-{}", Uuid::new_v4().simple()),
        issued_at: at,
    }
}

/// A reminder row as the checks see it: offset (`attempt`), due time, channel.
type Due = (i32, DateTime<Utc>, String);

/// Reminder rows on SMS: (offset, due time), soonest first.
fn due(rows: &[(i32, DateTime<Utc>)]) -> Vec<Due> {
    rows.iter()
        .map(|(offset, at)| (*offset, *at, "sms".to_owned()))
        .collect()
}

/// The rest of a reminder row: kind, tenant, lead, workflow, appointment, revision, priority.
type RowTuple = (String, Uuid, Uuid, Uuid, Option<Uuid>, i64, i16);

/// A live timers model and the commands that feed it.
struct World {
    pool: PgPool,
    executor: CommandExecutor,
    live: Target,
    tenant: TenantId,
}

impl World {
    async fn new(db: &TestDb) -> Self {
        let pool = db.pool().clone();
        let live = Target::in_schema(Arc::new(TimersProjection), LIVE);
        prepare(&pool, &live).await.unwrap();
        Self {
            executor: CommandExecutor::new(pool.clone(), 10),
            pool,
            live,
            tenant: TenantId::new(),
        }
    }

    /// Runs `command` on aggregate `id` at `at`; the position of its last event.
    async fn run<A>(&self, id: &str, at: DateTime<Utc>, command: A::Command) -> Option<i64>
    where
        A: cqrs_es::Aggregate<Services = ()> + 'static,
        A::Command: Clone + Send + std::fmt::Debug + 'static,
        A::Error: Send + std::fmt::Display,
    {
        let described = format!("{command:?}");
        self.executor
            .execute::<A>(&ctx(self.tenant, at), id, Existence::MayCreate, command)
            .await
            .map(|committed| committed.position)
            .unwrap_or_else(|error| panic!("{described} failed: {error}"))
    }

    /// An active SMS workflow created at `h(-48)` reminding at `offsets`.
    async fn workflow(&self, offsets: Vec<u32>) -> WorkflowId {
        let id = WorkflowId::new();
        let definition = WorkflowDefinition {
            reminder_offsets_minutes: offsets,
            ..WorkflowDefinition::new(
                WorkflowName::parse("Reminders").unwrap(),
                Channel::Sms,
                MessageTemplate::parse("Hi {first_name}!").unwrap(),
            )
        };
        let key = id.to_string();
        self.run::<Workflow>(&key, h(-48), WorkflowCommand::CreateWorkflow { definition })
            .await;
        self.run::<Workflow>(&key, h(-48), WorkflowCommand::Activate)
            .await;
        id
    }

    async fn lead(&self, n: u32, workflow: WorkflowId) -> LeadId {
        let id = LeadId::new();
        let new = NewLead {
            workflow_id: Some(workflow),
            ..new_lead(n)
        };
        self.lead_command(id, h(-47), LeadCommand::CaptureLead(new))
            .await;
        id
    }

    async fn lead_command(&self, lead: LeadId, at: DateTime<Utc>, command: LeadCommand) {
        self.run::<Lead>(&lead.to_string(), at, command).await;
    }

    async fn workflow_command(&self, id: WorkflowId, at: DateTime<Utc>, command: WorkflowCommand) {
        self.run::<Workflow>(&id.to_string(), at, command).await;
    }

    /// Books `lead` at `at` for `start`, reminding at `offsets`; the appointment and the
    /// booking's position.
    async fn book(
        &self,
        lead: LeadId,
        workflow: WorkflowId,
        at: DateTime<Utc>,
        start: DateTime<Utc>,
        offsets: Vec<u32>,
    ) -> (AppointmentId, i64) {
        let id = AppointmentId::new();
        let position = self
            .appointment(
                id,
                at,
                AppointmentCommand::Book {
                    lead_id: lead,
                    workflow_id: workflow,
                    start,
                    end: start + minutes(30),
                    timezone: Timezone::parse("Europe/London").unwrap(),
                    calendar: CalendarRef::builtin(),
                    location: None,
                    meeting_link: None,
                    notes: String::new(),
                    reminder_offsets_minutes: offsets,
                    now: at,
                },
            )
            .await
            .unwrap();
        (id, position)
    }

    async fn appointment(
        &self,
        id: AppointmentId,
        at: DateTime<Utc>,
        command: AppointmentCommand,
    ) -> Option<i64> {
        self.run::<Appointment>(&id.to_string(), at, command).await
    }

    async fn sent(&self, id: AppointmentId, offset: u32, at: DateTime<Utc>) {
        self.appointment(
            id,
            at,
            AppointmentCommand::RecordReminderSent {
                offset_minutes: offset,
                at,
            },
        )
        .await;
    }

    async fn reschedule(&self, id: AppointmentId, at: DateTime<Utc>, start: DateTime<Utc>) {
        self.appointment(
            id,
            at,
            AppointmentCommand::Reschedule {
                start,
                end: None,
                now: at,
            },
        )
        .await;
    }

    /// Applies what the feed holds, one event per batch.
    async fn sync(&self) {
        wait_for_feed_to_settle(&self.pool).await;
        catch_up(&self.pool, &self.live, 1).await.unwrap();
    }

    /// The appointment's reminder rows, soonest first, once the model has caught up; each
    /// row's key must name its appointment and offset.
    async fn reminders(&self, id: AppointmentId) -> Vec<Due> {
        self.sync().await;
        let rows: Vec<(String, i32, DateTime<Utc>, String)> = sqlx::query_as(&format!(
            "SELECT task_key, attempt, due_at, split_part(conversation_id, ':', 2) \
             FROM {LIVE}.timers WHERE appointment_id = $1 ORDER BY due_at"
        ))
        .bind(id.as_uuid())
        .fetch_all(&self.pool)
        .await
        .unwrap();
        rows.into_iter()
            .map(|(key, offset, at, channel)| {
                let offset_minutes = u32::try_from(offset).unwrap();
                assert_eq!(key, reminder_key(id.as_uuid(), offset_minutes));
                (offset, at, channel)
            })
            .collect()
    }

    /// Rebuilds the model from zero (in one batch, and again three events a batch): both must
    /// equal the live model.
    async fn assert_rebuild_equal(&self) {
        self.sync().await;
        rebuild(&self.pool, Arc::new(TimersProjection), REBUILT).await;
        assert_same_schemas(&self.pool, LIVE, REBUILT).await;
        let small = Target::in_schema(Arc::new(TimersProjection), "rebuilt_reminders_by_3");
        prepare(&self.pool, &small).await.unwrap();
        catch_up(&self.pool, &small, 3).await.unwrap();
        assert_same_schemas(&self.pool, LIVE, "rebuilt_reminders_by_3").await;
    }
}

#[tokio::test]
async fn a_booking_plans_each_reminder_and_the_list_shows_them() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let workflow = world.workflow(vec![1440, 60]).await;
    let lead = world.lead(1, workflow).await;
    let start = h(72);
    let (id, booked_at) = world
        .book(lead, workflow, h(0), start, vec![1440, 60])
        .await;
    let day_before = start - minutes(1440);
    let hour_before = start - minutes(60);
    assert_eq!(
        world.reminders(id).await,
        due(&[(1440, day_before), (60, hour_before)])
    );

    let rows: Vec<RowTuple> = sqlx::query_as(&format!(
        "SELECT kind, tenant_id, lead_id, workflow_id, appointment_id, revision, priority \
         FROM {LIVE}.timers WHERE appointment_id = $1"
    ))
    .bind(id.as_uuid())
    .fetch_all(&world.pool)
    .await
    .unwrap();
    let expected = (
        REMINDER_KIND.to_owned(),
        world.tenant.as_uuid(),
        lead.as_uuid(),
        workflow.as_uuid(),
        Some(id.as_uuid()),
        booked_at,
        0,
    );
    assert_eq!(rows, [expected.clone(), expected]);
    let listed = scheduled(
        &world.pool,
        LIVE,
        NO_TASKS,
        world.tenant.as_uuid(),
        &ScheduledFilter {
            kind: Some(REMINDER_KIND.into()),
            ..ScheduledFilter::default()
        },
        10,
    )
    .await
    .unwrap();
    let shown: Vec<_> = listed
        .iter()
        .map(|item| {
            (
                item.key.clone(),
                item.lead_id,
                item.workflow_id,
                item.appointment_id,
                item.channel.clone(),
                item.due_at,
                item.number,
            )
        })
        .collect();
    let item = |offset: u32, at: DateTime<Utc>| {
        (
            reminder_key(id.as_uuid(), offset),
            lead.as_uuid(),
            Some(workflow.as_uuid()),
            Some(id.as_uuid()),
            "sms".to_owned(),
            at,
            i32::try_from(offset).unwrap(),
        )
    };
    assert_eq!(shown, [item(1440, day_before), item(60, hour_before)]);

    world.sent(id, 1440, day_before).await;
    assert_eq!(world.reminders(id).await, due(&[(60, hour_before)]));
    let revision: i64 = sqlx::query_scalar(&format!(
        "SELECT revision FROM {LIVE}.timers WHERE appointment_id = $1"
    ))
    .bind(id.as_uuid())
    .fetch_one(&world.pool)
    .await
    .unwrap();
    assert_eq!(
        revision, booked_at,
        "a reminder that stays keeps its revision"
    );
    world.sent(id, 60, hour_before).await;
    assert_eq!(world.reminders(id).await, [], "every reminder went");
    world.assert_rebuild_equal().await;
}

#[tokio::test]
async fn a_reminder_already_past_at_booking_is_not_planned_and_custom_offsets_are_used() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let workflow = world.workflow(vec![1440, 60]).await;
    let lead = world.lead(1, workflow).await;
    let (soon, _) = world.book(lead, workflow, h(0), h(3), vec![1440, 60]).await;
    assert_eq!(world.reminders(soon).await, due(&[(60, h(2))]));

    let (custom, _) = world.book(lead, workflow, h(0), h(48), vec![30, 120]).await;
    assert_eq!(
        world.reminders(custom).await,
        due(&[(120, h(46)), (30, h(48) - minutes(30))])
    );
    let (none, _) = world.book(lead, workflow, h(0), h(50), vec![]).await;
    assert_eq!(world.reminders(none).await, [], "no reminders, no row");
    let (too_late, _) = world
        .book(lead, workflow, h(0), h(0) + minutes(59), vec![1440, 60])
        .await;
    assert_eq!(
        world.reminders(too_late).await,
        [],
        "even the hour's has passed"
    );
    world.assert_rebuild_equal().await;
}

#[tokio::test]
async fn a_reschedule_moves_the_reminders_and_a_sent_one_is_due_again() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let workflow = world.workflow(vec![1440, 60]).await;
    let lead = world.lead(1, workflow).await;
    let (id, _) = world
        .book(lead, workflow, h(0), h(72), vec![1440, 60])
        .await;
    world.sent(id, 1440, h(48)).await;
    assert_eq!(world.reminders(id).await, due(&[(60, h(71))]));

    world.reschedule(id, h(50), h(120)).await;
    assert_eq!(
        world.reminders(id).await,
        due(&[(1440, h(96)), (60, h(119))])
    );
    world.reschedule(id, h(51), h(55)).await;
    assert_eq!(
        world.reminders(id).await,
        due(&[(60, h(54))]),
        "moved to four hours ahead: the day's reminder has passed"
    );

    world
        .appointment(
            id,
            h(52),
            AppointmentCommand::RecordReminderSkipped {
                offset_minutes: 60,
                reason: "opted_out".into(),
                at: h(52),
            },
        )
        .await;
    assert_eq!(
        world.reminders(id).await,
        [],
        "passed over, nothing is left"
    );
    world.assert_rebuild_equal().await;
}

#[tokio::test]
async fn a_cancel_or_an_outcome_removes_the_reminders() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let workflow = world.workflow(vec![1440, 60]).await;
    let lead = world.lead(1, workflow).await;
    let (cancelled, _) = world
        .book(lead, workflow, h(0), h(72), vec![1440, 60])
        .await;
    let (missed, _) = world.book(lead, workflow, h(0), h(2), vec![60, 30]).await;
    assert_eq!(
        world.reminders(missed).await,
        due(&[(60, h(1)), (30, h(2) - minutes(30))])
    );
    world
        .appointment(
            cancelled,
            h(1),
            AppointmentCommand::Cancel {
                reason: "lead asked".into(),
                at: h(1),
            },
        )
        .await;
    assert_eq!(world.reminders(cancelled).await, []);
    world
        .appointment(missed, h(3), AppointmentCommand::MarkNoShow { at: h(3) })
        .await;
    assert_eq!(world.reminders(missed).await, []);
    let stored: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {LIVE}.appointments"))
        .fetch_one(&world.pool)
        .await
        .unwrap();
    assert_eq!(
        stored, 0,
        "appointments with no reminders left are forgotten"
    );
    // A fact recorded about a cancelled appointment changes nothing.
    world.sent(cancelled, 1440, h(4)).await;
    assert_eq!(world.reminders(cancelled).await, []);
    world.assert_rebuild_equal().await;
}

#[tokio::test]
async fn a_lead_that_may_not_be_messaged_has_no_reminder_until_it_may_again() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let workflow = world.workflow(vec![1440, 60]).await;
    let lead = world.lead(1, workflow).await;
    let (id, _) = world
        .book(lead, workflow, h(0), h(72), vec![1440, 60])
        .await;
    let planned = due(&[(1440, h(48)), (60, h(71))]);
    assert_eq!(world.reminders(id).await, planned);

    let stop = LeadCommand::OptOut {
        reason: "STOP".into(),
    };
    world.lead_command(lead, h(1), stop).await;
    assert_eq!(world.reminders(id).await, [], "opted out");
    world
        .lead_command(lead, h(2), LeadCommand::Resubscribe)
        .await;
    assert_eq!(world.reminders(id).await, planned, "resubscribed");
    world.lead_command(lead, h(3), LeadCommand::Archive).await;
    assert_eq!(world.reminders(id).await, [], "archived");
    world.lead_command(lead, h(4), LeadCommand::Restore).await;
    assert_eq!(world.reminders(id).await, planned, "restored");
    let unreachable = LeadCommand::MarkUnreachable {
        reason: "landline".into(),
    };
    world.lead_command(lead, h(5), unreachable).await;
    assert_eq!(world.reminders(id).await, [], "unreachable");
    world.assert_rebuild_equal().await;
}

#[tokio::test]
async fn the_reminders_follow_their_workflows_channel_whatever_its_status() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let workflow = world.workflow(vec![1440, 60]).await;
    let lead = world.lead(1, workflow).await;
    let (id, _) = world.book(lead, workflow, h(0), h(72), vec![1440]).await;
    world
        .workflow_command(workflow, h(1), WorkflowCommand::Pause)
        .await;
    assert_eq!(
        world.reminders(id).await,
        due(&[(1440, h(48))]),
        "a pause keeps them"
    );
    let to_whatsapp = WorkflowCommand::UpdateWorkflow {
        patch: WorkflowPatch {
            channel: Some(Channel::Whatsapp),
            ..WorkflowPatch::default()
        },
    };
    world.workflow_command(workflow, h(2), to_whatsapp).await;
    assert_eq!(
        world.reminders(id).await,
        [(1440, h(48), "whatsapp".to_owned())]
    );
    world.assert_rebuild_equal().await;
}

#[tokio::test]
async fn many_appointments_of_many_leads_fold_into_the_same_tables_however_batched() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let workflows = [
        world.workflow(vec![1440, 60]).await,
        world.workflow(vec![120]).await,
    ];
    let mut appointments = Vec::new();
    for n in 0..12u32 {
        let workflow = workflows[usize::try_from(n % 2).unwrap()];
        let lead = world.lead(n, workflow).await;
        let start = h(24 + i64::from(n) * 5);
        let (id, _) = world
            .book(
                lead,
                workflow,
                h(i64::from(n) % 3),
                start,
                vec![1440, 60, 120],
            )
            .await;
        appointments.push((lead, id, start));
    }
    for (n, (lead, id, start)) in appointments.iter().enumerate() {
        let at = h(5) + minutes(i64::try_from(n).unwrap());
        match n % 4 {
            0 => world.sent(*id, 1440, at).await,
            1 => world.reschedule(*id, at, *start + Duration::days(2)).await,
            2 => {
                let stop = LeadCommand::OptOut {
                    reason: "STOP".into(),
                };
                world.lead_command(*lead, at, stop).await;
            }
            _ => {
                let cancel = AppointmentCommand::Cancel {
                    reason: "moved away".into(),
                    at,
                };
                world.appointment(*id, at, cancel).await;
            }
        }
    }
    world.sync().await;
    let planned: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {LIVE}.timers WHERE kind = '{REMINDER_KIND}'"
    ))
    .fetch_one(&world.pool)
    .await
    .unwrap();
    assert_eq!(
        planned,
        3 * 2 + 3 * 3,
        "two left after the day's went, three after a move"
    );
    world.assert_rebuild_equal().await;
}
