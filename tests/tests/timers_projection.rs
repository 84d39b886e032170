//! The timers read model, fed with real Lead, Workflow and Conversation commands through the
//! command executor at pinned times (each command's `issued_at` is its event's `occurred_at`).
//!
//! The scenario tests apply every event in a batch of its own and read each lead's timer — kind,
//! step, due time — after every command; each ends by rebuilding the model from position zero,
//! which must equal the live one row for row. The last tests interleave the stories of many leads
//! in two tenants, apply them live a few events per batch as they go, and compare with rebuilds
//! batched differently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use application::{Actor, CommandContext};
use bookerbot_tests::{assert_same_schemas, new_lead, phone, rebuild, TestDb};
use bookerbot_tests::{tag, wait_for_feed_to_settle};
use chrono::{DateTime, Duration, Utc};
use domain::conversation::{
    Conversation, ConversationCommand, ConversationId, MessageContent, MessageOrigin,
};
use domain::lead::{Lead, LeadCommand, LeadDetailsPatch, LeadStatus, NewLead};
use domain::values::{
    EmailAddress, FollowUpCount, FollowUpDelayHours, LeadId, MessageId, MessageTemplate, TenantId,
    WorkflowId, WorkflowName,
};
use domain::{
    Channel, DeferralReason, FollowUpMessage, FollowUpStep, Workflow, WorkflowCommand,
    WorkflowDefinition, WorkflowPatch,
};
use infrastructure::executor::{CommandExecutor, Existence};
use projections::runner::{catch_up, prepare};
use projections::timers::query::{scheduled, ScheduledFilter};
use projections::timers::{timer_key, TimersProjection};
use projections::Target;
use sqlx::PgPool;
use uuid::Uuid;

const LIVE: &str = "live_timers";
const REBUILT: &str = "rebuilt_timers";
/// `scheduled` also lists the outbox; these tests never create its table, so they ask for one
/// timer kind at a time.
const NO_TASKS: &str = "no_tasks";

/// Where every story's clock starts.
fn base() -> DateTime<Utc> {
    "2030-01-07T09:00:00Z".parse().unwrap()
}

/// `n` hours after [`base`].
fn h(n: i64) -> DateTime<Utc> {
    base() + Duration::hours(n)
}

/// `n` minutes after [`base`].
fn m(n: i64) -> DateTime<Utc> {
    base() + Duration::minutes(n)
}

fn hours(n: i64) -> Duration {
    Duration::hours(n)
}

/// A lead's timer as the checks see it: kind, step, due time.
type Due = (String, i32, DateTime<Utc>);

fn due(kind: &str, step: i32, at: DateTime<Utc>) -> Option<Due> {
    Some((kind.to_owned(), step, at))
}

/// A whole timer row but its key and the constant message id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    tenant_id: Uuid,
    kind: String,
    lead_id: Uuid,
    workflow_id: Uuid,
    conversation_id: String,
    due_at: DateTime<Utc>,
    attempt: i32,
    revision: i64,
}

type RowTuple = (Uuid, String, Uuid, Uuid, String, DateTime<Utc>, i32, i64);

/// The context of a command issued for `tenant` at `at`.
fn ctx(tenant: TenantId, at: DateTime<Utc>) -> CommandContext {
    CommandContext {
        tenant_id: tenant,
        actor: Actor::System("tests"),
        request_id: format!("req-{}", Uuid::new_v4().simple()),
        issued_at: at,
    }
}

/// A workflow definition sending on `channel`, with `count` follow-ups `delay` hours apart.
fn definition(channel: Channel, count: i64, delay: i64) -> WorkflowDefinition {
    WorkflowDefinition {
        follow_up_count: FollowUpCount::new(count).unwrap(),
        follow_up_delay_hours: FollowUpDelayHours::new(delay).unwrap(),
        ..WorkflowDefinition::new(
            WorkflowName::parse("Timers").unwrap(),
            channel,
            MessageTemplate::parse("Hi {first_name}!").unwrap(),
        )
    }
}

/// A follow-up sequence with these delays, in hours.
fn steps(delays: &[i64]) -> Vec<FollowUpStep> {
    delays
        .iter()
        .map(|delay| FollowUpStep {
            delay_hours: FollowUpDelayHours::new(*delay).unwrap(),
            message: FollowUpMessage::Ai,
        })
        .collect()
}

fn text(body: &str) -> MessageContent {
    MessageContent::text(body).unwrap()
}

fn queue(
    lead: LeadId,
    channel: Channel,
    message_id: MessageId,
    origin: MessageOrigin,
    now: DateTime<Utc>,
) -> ConversationCommand {
    ConversationCommand::QueueOutbound {
        lead_id: lead,
        channel,
        message_id,
        content: text("Hello from the timers test"),
        origin,
        now,
    }
}

fn sent(message_id: MessageId, at: DateTime<Utc>) -> ConversationCommand {
    ConversationCommand::RecordSent {
        message_id,
        provider: "twilio".into(),
        provider_message_id: format!("SM{}", message_id.as_uuid().simple()),
        sent_at: at,
    }
}

fn failed(message_id: MessageId, at: DateTime<Utc>) -> ConversationCommand {
    ConversationCommand::RecordFailed {
        message_id,
        code: Some("30003".into()),
        error: "unreachable handset".into(),
        reason: "undeliverable".into(),
        failed_at: at,
    }
}

fn inbound(lead: LeadId, channel: Channel, body: &str, at: DateTime<Utc>) -> ConversationCommand {
    let message_id = MessageId::new();
    ConversationCommand::ReceiveInbound {
        lead_id: lead,
        channel,
        message_id,
        provider: "twilio".into(),
        provider_message_id: format!("SM{}", message_id.as_uuid().simple()),
        body: body.into(),
        received_at: at,
        engage_ai: false,
    }
}

fn defer(step: u32, until: DateTime<Utc>) -> LeadCommand {
    LeadCommand::DeferEngagement {
        step,
        until,
        reason: DeferralReason::OutsideWindow,
    }
}

fn advance(to: LeadStatus) -> LeadCommand {
    LeadCommand::AdvanceStatus { to }
}

fn assign(workflow: Option<WorkflowId>) -> LeadCommand {
    LeadCommand::AssignWorkflow {
        workflow_id: workflow,
    }
}

fn set_phone(phone: Option<domain::values::PhoneNumber>) -> LeadCommand {
    LeadCommand::UpdateDetails(LeadDetailsPatch {
        phone: Some(phone),
        ..LeadDetailsPatch::default()
    })
}

/// Lead number `n` in `workflow`, with an email as well as its phone (so the phone can go).
fn lead_in(n: u32, workflow: Option<WorkflowId>) -> NewLead {
    NewLead {
        email: Some(EmailAddress::parse(&format!("lead{n}@example.com")).unwrap()),
        workflow_id: workflow,
        ..new_lead(n)
    }
}

/// A command of a story, for one of its aggregates.
#[derive(Debug, Clone)]
enum Cmd {
    Lead(LeadCommand),
    Workflow(WorkflowId, WorkflowCommand),
    Conversation(Channel, ConversationCommand),
}

/// A live timers model and the commands that feed it.
struct World {
    pool: PgPool,
    executor: CommandExecutor,
    live: Target,
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
        }
    }

    /// Runs `command` at `at`; the position of its last event, if it wrote any.
    async fn run(
        &self,
        tenant: TenantId,
        lead: LeadId,
        at: DateTime<Utc>,
        cmd: Cmd,
    ) -> Option<i64> {
        let ctx = ctx(tenant, at);
        let described = format!("{cmd:?}");
        let position = match cmd {
            Cmd::Lead(command) => self
                .executor
                .execute::<Lead>(&ctx, &lead.to_string(), Existence::MayCreate, command)
                .await
                .map(|c| c.position)
                .map_err(|e| e.to_string()),
            Cmd::Workflow(id, command) => self
                .executor
                .execute::<Workflow>(&ctx, &id.to_string(), Existence::MayCreate, command)
                .await
                .map(|c| c.position)
                .map_err(|e| e.to_string()),
            Cmd::Conversation(channel, command) => self
                .executor
                .execute::<Conversation>(
                    &ctx,
                    &ConversationId::new(lead, channel).to_string(),
                    Existence::MayCreate,
                    command,
                )
                .await
                .map(|c| c.position)
                .map_err(|e| e.to_string()),
        };
        position.unwrap_or_else(|error| panic!("{described} failed: {error}"))
    }

    async fn lead(
        &self,
        tenant: TenantId,
        lead: LeadId,
        at: DateTime<Utc>,
        command: LeadCommand,
    ) -> Option<i64> {
        self.run(tenant, lead, at, Cmd::Lead(command)).await
    }

    async fn conversation(
        &self,
        tenant: TenantId,
        lead: LeadId,
        at: DateTime<Utc>,
        command: ConversationCommand,
    ) -> Option<i64> {
        self.run(tenant, lead, at, Cmd::Conversation(Channel::Sms, command))
            .await
    }

    async fn workflow_command(
        &self,
        tenant: TenantId,
        workflow: WorkflowId,
        at: DateTime<Utc>,
        command: WorkflowCommand,
    ) -> Option<i64> {
        self.run(tenant, LeadId::new(), at, Cmd::Workflow(workflow, command))
            .await
    }

    /// A workflow created at `at`, activated then too when `active`.
    async fn workflow(
        &self,
        tenant: TenantId,
        definition: WorkflowDefinition,
        active: bool,
        at: DateTime<Utc>,
    ) -> WorkflowId {
        let id = WorkflowId::new();
        self.workflow_command(
            tenant,
            id,
            at,
            WorkflowCommand::CreateWorkflow { definition },
        )
        .await;
        if active {
            self.workflow_command(tenant, id, at, WorkflowCommand::Activate)
                .await;
        }
        id
    }

    async fn capture(&self, tenant: TenantId, new: NewLead, at: DateTime<Utc>) -> LeadId {
        let lead = LeadId::new();
        self.lead(tenant, lead, at, LeadCommand::CaptureLead(new))
            .await;
        lead
    }

    /// An outreach or follow-up of `lead`, queued at `queued` and sent at `at` on SMS.
    async fn engage(
        &self,
        tenant: TenantId,
        lead: LeadId,
        origin: MessageOrigin,
        queued: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Option<i64> {
        let message = MessageId::new();
        self.conversation(
            tenant,
            lead,
            queued,
            queue(lead, Channel::Sms, message, origin, queued),
        )
        .await;
        self.conversation(tenant, lead, at, sent(message, at)).await
    }

    /// Applies what the feed holds, one event per batch.
    async fn sync(&self) {
        wait_for_feed_to_settle(&self.pool).await;
        catch_up(&self.pool, &self.live, 1).await.unwrap();
    }

    /// The lead's timer row, once the model has caught up.
    async fn row(&self, lead: LeadId) -> Option<Row> {
        self.sync().await;
        let row: Option<RowTuple> = sqlx::query_as(&format!(
            "SELECT tenant_id, kind, lead_id, workflow_id, conversation_id, due_at, attempt, \
                    revision \
             FROM {LIVE}.timers WHERE task_key = $1"
        ))
        .bind(timer_key(lead.as_uuid()))
        .fetch_optional(&self.pool)
        .await
        .unwrap();
        row.map(
            |(
                tenant_id,
                kind,
                lead_id,
                workflow_id,
                conversation_id,
                due_at,
                attempt,
                revision,
            )| {
                Row {
                    tenant_id,
                    kind,
                    lead_id,
                    workflow_id,
                    conversation_id,
                    due_at,
                    attempt,
                    revision,
                }
            },
        )
    }

    /// The lead's timer, once the model has caught up.
    async fn timer(&self, lead: LeadId) -> Option<Due> {
        self.row(lead)
            .await
            .map(|row| (row.kind, row.attempt, row.due_at))
    }

    /// Rebuilds the model from zero (in one batch, and again three events a batch): both must
    /// equal the live model.
    async fn assert_rebuild_equal(&self) {
        self.sync().await;
        rebuild(&self.pool, Arc::new(TimersProjection), REBUILT).await;
        assert_same_schemas(&self.pool, LIVE, REBUILT).await;
        let small = Target::in_schema(Arc::new(TimersProjection), "rebuilt_timers_by_3");
        prepare(&self.pool, &small).await.unwrap();
        catch_up(&self.pool, &small, 3).await.unwrap();
        assert_same_schemas(&self.pool, LIVE, "rebuilt_timers_by_3").await;
    }
}

#[tokio::test]
async fn a_captured_lead_is_due_for_outreach_at_capture_or_at_its_workflows_activation() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let tenant = TenantId::new();
    let active = world
        .workflow(tenant, definition(Channel::Sms, 3, 24), true, h(-24))
        .await;
    let draft = world
        .workflow(tenant, definition(Channel::Sms, 3, 24), false, h(-24))
        .await;

    let lead = world.capture(tenant, lead_in(1, Some(active)), h(0)).await;
    assert_eq!(world.timer(lead).await, due("outreach", 0, h(0)));
    let row = world.row(lead).await.unwrap();
    assert_eq!(
        (row.tenant_id, row.lead_id, row.workflow_id),
        (tenant.as_uuid(), lead.as_uuid(), active.as_uuid())
    );
    assert_eq!(row.conversation_id, format!("{lead}:sms"));

    // The API's view of it.
    let listed = scheduled(
        &world.pool,
        LIVE,
        NO_TASKS,
        tenant.as_uuid(),
        &ScheduledFilter {
            kind: Some("outreach".into()),
            ..ScheduledFilter::default()
        },
        10,
    )
    .await
    .unwrap();
    assert_eq!(listed.len(), 1);
    let item = &listed[0];
    assert_eq!(
        (
            item.key.as_str(),
            item.lead_id,
            item.workflow_id,
            item.channel.as_str(),
            item.due_at,
            item.number
        ),
        (
            timer_key(lead.as_uuid()).as_str(),
            lead.as_uuid(),
            Some(active.as_uuid()),
            "sms",
            h(0),
            0
        )
    );
    let elsewhere = scheduled(
        &world.pool,
        LIVE,
        NO_TASKS,
        TenantId::new().as_uuid(),
        &ScheduledFilter {
            kind: Some("outreach".into()),
            ..ScheduledFilter::default()
        },
        10,
    )
    .await
    .unwrap();
    assert!(elsewhere.is_empty(), "another tenant sees nothing");

    let waiting = world.capture(tenant, lead_in(2, Some(draft)), h(1)).await;
    assert_eq!(world.timer(waiting).await, None, "a draft engages nobody");
    world
        .workflow_command(tenant, draft, h(3), WorkflowCommand::Activate)
        .await;
    assert_eq!(world.timer(waiting).await, due("outreach", 0, h(3)));
    assert_eq!(
        world.timer(lead).await,
        due("outreach", 0, h(0)),
        "another workflow's activation leaves the lead alone"
    );

    let loose = world.capture(tenant, lead_in(3, None), h(0)).await;
    assert_eq!(world.timer(loose).await, None, "no workflow, no timer");
    let email_only = world
        .capture(
            tenant,
            NewLead {
                phone: None,
                ..lead_in(4, Some(active))
            },
            h(0),
        )
        .await;
    assert_eq!(world.timer(email_only).await, None, "no phone, no timer");
    world
        .lead(tenant, email_only, h(5), set_phone(Some(phone(4))))
        .await;
    assert_eq!(
        world.timer(email_only).await,
        due("outreach", 0, h(0)),
        "a phone makes the waiting lead reachable"
    );

    world.assert_rebuild_equal().await;
}

#[tokio::test]
async fn each_follow_up_is_due_after_the_previous_message_and_the_unresponsive_check_after_the_last(
) {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let tenant = TenantId::new();
    let workflow = world
        .workflow(tenant, definition(Channel::Sms, 2, 10), true, h(-1))
        .await;
    let lead = world
        .capture(tenant, lead_in(1, Some(workflow)), h(0))
        .await;
    assert_eq!(world.timer(lead).await, due("outreach", 0, h(0)));

    let outreach = MessageId::new();
    world
        .conversation(
            tenant,
            lead,
            m(1),
            queue(lead, Channel::Sms, outreach, MessageOrigin::Outreach, m(1)),
        )
        .await;
    assert_eq!(
        world.timer(lead).await,
        None,
        "nothing while the outreach is in flight"
    );
    let sent_at = world
        .conversation(tenant, lead, m(2), sent(outreach, m(2)))
        .await
        .unwrap();
    assert_eq!(
        world.timer(lead).await,
        due("follow_up", 1, m(2) + hours(10))
    );
    assert_eq!(world.row(lead).await.unwrap().revision, sent_at);

    // Delivery reports and the move to `contacted` change no plan, nor the row.
    world
        .conversation(
            tenant,
            lead,
            m(3),
            ConversationCommand::RecordDeliveryStatus {
                message_id: outreach,
                status: domain::conversation::DeliveryStatus::Delivered,
                at: m(3),
                error_code: None,
            },
        )
        .await;
    world
        .lead(tenant, lead, m(4), advance(LeadStatus::Contacted))
        .await;
    world
        .lead(tenant, lead, m(5), LeadCommand::AddTag { tag: tag("vip") })
        .await;
    let row = world.row(lead).await.unwrap();
    assert_eq!(
        (row.kind.as_str(), row.attempt, row.due_at, row.revision),
        ("follow_up", 1, m(2) + hours(10), sent_at)
    );

    let first = h(11);
    world
        .engage(
            tenant,
            lead,
            MessageOrigin::FollowUp,
            first,
            first + hours(1),
        )
        .await;
    assert_eq!(
        world.timer(lead).await,
        due("follow_up", 2, first + hours(11))
    );
    let second = h(30);
    let follow_up = MessageId::new();
    world
        .conversation(
            tenant,
            lead,
            second,
            queue(
                lead,
                Channel::Sms,
                follow_up,
                MessageOrigin::FollowUp,
                second,
            ),
        )
        .await;
    assert_eq!(world.timer(lead).await, None);
    world
        .conversation(
            tenant,
            lead,
            second + hours(1),
            sent(follow_up, second + hours(1)),
        )
        .await;
    assert_eq!(
        world.timer(lead).await,
        due("unresponsive", 3, second + hours(11)),
        "the last follow-up sent to a contacted lead: the silence is checked one delay later"
    );
    world
        .lead(tenant, lead, h(45), advance(LeadStatus::Unresponsive))
        .await;
    assert_eq!(world.timer(lead).await, None);

    // A lead still `pending` after every message failed is never marked unresponsive.
    let never = world
        .capture(tenant, lead_in(2, Some(workflow)), h(0))
        .await;
    for (n, at) in [h(1), h(12), h(24)].into_iter().enumerate() {
        let message = MessageId::new();
        let origin = if n == 0 {
            MessageOrigin::Outreach
        } else {
            MessageOrigin::FollowUp
        };
        world
            .conversation(
                tenant,
                never,
                at,
                queue(never, Channel::Sms, message, origin, at),
            )
            .await;
        world
            .conversation(tenant, never, at + hours(1), failed(message, at + hours(1)))
            .await;
    }
    assert_eq!(world.timer(never).await, None);

    world.assert_rebuild_equal().await;
}

#[tokio::test]
async fn a_failed_message_moves_the_plan_on_and_a_retried_one_is_in_flight_again() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let tenant = TenantId::new();
    let workflow = world
        .workflow(tenant, definition(Channel::Sms, 3, 10), true, h(-1))
        .await;
    let lead = world
        .capture(tenant, lead_in(1, Some(workflow)), h(0))
        .await;

    let outreach = MessageId::new();
    world
        .conversation(
            tenant,
            lead,
            m(1),
            queue(lead, Channel::Sms, outreach, MessageOrigin::Outreach, m(1)),
        )
        .await;
    world
        .conversation(tenant, lead, m(7), failed(outreach, m(7)))
        .await;
    assert_eq!(
        world.timer(lead).await,
        due("follow_up", 1, m(7) + hours(10)),
        "the follow-up comes one delay after the failure"
    );

    let follow_up = MessageId::new();
    world
        .conversation(
            tenant,
            lead,
            h(11),
            queue(
                lead,
                Channel::Sms,
                follow_up,
                MessageOrigin::FollowUp,
                h(11),
            ),
        )
        .await;
    world
        .conversation(tenant, lead, h(12), failed(follow_up, h(12)))
        .await;
    assert_eq!(world.timer(lead).await, due("follow_up", 2, h(22)));
    world
        .conversation(
            tenant,
            lead,
            h(13),
            ConversationCommand::RetryMessage {
                message_id: follow_up,
                at: h(13),
            },
        )
        .await;
    assert_eq!(world.timer(lead).await, None, "requeued: in flight again");
    world
        .conversation(tenant, lead, h(14), sent(follow_up, h(14)))
        .await;
    assert_eq!(world.timer(lead).await, due("follow_up", 2, h(24)));

    // A queued follow-up cancelled by an operator also counts as done.
    let cancelled = MessageId::new();
    world
        .conversation(
            tenant,
            lead,
            h(25),
            queue(
                lead,
                Channel::Sms,
                cancelled,
                MessageOrigin::FollowUp,
                h(25),
            ),
        )
        .await;
    assert_eq!(world.timer(lead).await, None);
    world
        .conversation(
            tenant,
            lead,
            h(26),
            ConversationCommand::CancelMessage {
                message_id: cancelled,
                reason: "operator".into(),
                at: h(26),
            },
        )
        .await;
    assert_eq!(world.timer(lead).await, due("follow_up", 3, h(36)));

    // Messages of other origins are not engagement.
    let operator = MessageId::new();
    world
        .conversation(
            tenant,
            lead,
            h(27),
            queue(lead, Channel::Sms, operator, MessageOrigin::Operator, h(27)),
        )
        .await;
    world
        .conversation(tenant, lead, h(28), sent(operator, h(28)))
        .await;
    assert_eq!(world.timer(lead).await, due("follow_up", 3, h(36)));

    world.assert_rebuild_equal().await;
}

#[tokio::test]
async fn replies_opt_outs_archives_phone_loss_and_handoffs_cancel_the_timer_and_their_undoing_brings_it_back(
) {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let tenant = TenantId::new();
    let workflow = world
        .workflow(tenant, definition(Channel::Sms, 3, 24), true, h(-1))
        .await;
    let follow_up = due("follow_up", 1, h(25));

    // A reply.
    let replied = world
        .capture(tenant, lead_in(1, Some(workflow)), h(0))
        .await;
    world
        .engage(tenant, replied, MessageOrigin::Outreach, h(0), h(1))
        .await;
    world
        .lead(tenant, replied, h(1), advance(LeadStatus::Contacted))
        .await;
    assert_eq!(world.timer(replied).await, follow_up);
    world
        .conversation(
            tenant,
            replied,
            h(2),
            inbound(replied, Channel::Sms, "Yes please", h(2)),
        )
        .await;
    world
        .lead(tenant, replied, h(2), advance(LeadStatus::InConversation))
        .await;
    assert_eq!(world.timer(replied).await, None);

    // An opt-out, then START.
    let opted = world
        .capture(tenant, lead_in(2, Some(workflow)), h(0))
        .await;
    assert_eq!(world.timer(opted).await, due("outreach", 0, h(0)));
    world
        .lead(
            tenant,
            opted,
            h(1),
            LeadCommand::OptOut {
                reason: "STOP".into(),
            },
        )
        .await;
    assert_eq!(world.timer(opted).await, None);
    world
        .lead(tenant, opted, h(5), LeadCommand::Resubscribe)
        .await;
    assert_eq!(
        world.timer(opted).await,
        due("outreach", 0, h(5)),
        "back to pending: the outreach waits from the re-subscription"
    );

    // An opt-out of a contacted lead, then START: the follow-up is back where it was.
    let contacted = world
        .capture(tenant, lead_in(3, Some(workflow)), h(0))
        .await;
    world
        .engage(tenant, contacted, MessageOrigin::Outreach, h(0), h(1))
        .await;
    world
        .lead(tenant, contacted, h(1), advance(LeadStatus::Contacted))
        .await;
    world
        .lead(
            tenant,
            contacted,
            h(2),
            LeadCommand::OptOut {
                reason: "STOP".into(),
            },
        )
        .await;
    assert_eq!(world.timer(contacted).await, None);
    world
        .lead(tenant, contacted, h(3), LeadCommand::Resubscribe)
        .await;
    assert_eq!(world.timer(contacted).await, follow_up);

    // Archived, then restored.
    let archived = world
        .capture(tenant, lead_in(4, Some(workflow)), h(0))
        .await;
    world
        .lead(tenant, archived, h(1), LeadCommand::Archive)
        .await;
    assert_eq!(world.timer(archived).await, None);
    world
        .lead(tenant, archived, h(6), LeadCommand::Restore)
        .await;
    assert_eq!(world.timer(archived).await, due("outreach", 0, h(6)));

    // Handed to a human, then back to the AI.
    let handed = world
        .capture(tenant, lead_in(5, Some(workflow)), h(0))
        .await;
    world
        .engage(tenant, handed, MessageOrigin::Outreach, h(0), h(1))
        .await;
    assert_eq!(world.timer(handed).await, follow_up);
    world
        .conversation(
            tenant,
            handed,
            h(2),
            ConversationCommand::HandOff {
                reason: "asked_for_human".into(),
                at: h(2),
            },
        )
        .await;
    assert_eq!(world.timer(handed).await, None);
    world
        .conversation(
            tenant,
            handed,
            h(3),
            ConversationCommand::ResumeAi { at: h(3) },
        )
        .await;
    assert_eq!(world.timer(handed).await, follow_up);

    // The phone cleared, then a new one; refused by the provider, then changed again.
    let phoneless = world
        .capture(tenant, lead_in(6, Some(workflow)), h(0))
        .await;
    world.lead(tenant, phoneless, h(1), set_phone(None)).await;
    assert_eq!(world.timer(phoneless).await, None);
    world
        .lead(tenant, phoneless, h(2), set_phone(Some(phone(1006))))
        .await;
    assert_eq!(world.timer(phoneless).await, due("outreach", 0, h(0)));
    world
        .lead(
            tenant,
            phoneless,
            h(3),
            LeadCommand::MarkUnreachable {
                reason: "landline".into(),
            },
        )
        .await;
    assert_eq!(world.timer(phoneless).await, None);
    world
        .lead(tenant, phoneless, h(4), set_phone(Some(phone(2006))))
        .await;
    assert_eq!(world.timer(phoneless).await, due("outreach", 0, h(0)));

    // Booked through an override: nothing more to send.
    let booked = world
        .capture(tenant, lead_in(7, Some(workflow)), h(0))
        .await;
    world
        .lead(
            tenant,
            booked,
            h(1),
            LeadCommand::OverrideStatus {
                to: LeadStatus::Booked,
                reason: "booked by phone".into(),
            },
        )
        .await;
    assert_eq!(world.timer(booked).await, None);

    world.assert_rebuild_equal().await;
}

/// A lead is handed off while any of its conversations is (the dispatcher's check ORs every
/// channel): resuming the AI on one of two handed-off conversations must not bring the timer
/// back.
#[tokio::test]
async fn a_lead_stays_handed_off_while_any_of_its_conversations_is() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let tenant = TenantId::new();
    let workflow = world
        .workflow(tenant, definition(Channel::Sms, 3, 24), true, h(-1))
        .await;
    let lead = world
        .capture(tenant, lead_in(1, Some(workflow)), h(0))
        .await;
    world
        .engage(tenant, lead, MessageOrigin::Outreach, h(0), h(1))
        .await;
    for channel in [Channel::Sms, Channel::Whatsapp] {
        world
            .run(
                tenant,
                lead,
                h(2),
                Cmd::Conversation(
                    channel,
                    ConversationCommand::HandOff {
                        reason: "asked_for_human".into(),
                        at: h(2),
                    },
                ),
            )
            .await;
    }
    assert_eq!(world.timer(lead).await, None);
    world
        .run(
            tenant,
            lead,
            h(3),
            Cmd::Conversation(Channel::Sms, ConversationCommand::ResumeAi { at: h(3) }),
        )
        .await;
    assert_eq!(
        world.timer(lead).await,
        None,
        "the WhatsApp conversation is still with a human"
    );
    world
        .run(
            tenant,
            lead,
            h(4),
            Cmd::Conversation(
                Channel::Whatsapp,
                ConversationCommand::ResumeAi { at: h(4) },
            ),
        )
        .await;
    assert_eq!(world.timer(lead).await, due("follow_up", 1, h(25)));
}

#[tokio::test]
async fn pausing_a_workflow_stops_every_timer_of_its_leads_and_resuming_re_plans_them() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let tenant = TenantId::new();
    let workflow = world
        .workflow(tenant, definition(Channel::Sms, 3, 24), true, h(-1))
        .await;
    let other = world
        .workflow(tenant, definition(Channel::Sms, 3, 24), true, h(-1))
        .await;
    let pending = world
        .capture(tenant, lead_in(1, Some(workflow)), h(0))
        .await;
    let engaged = world
        .capture(tenant, lead_in(2, Some(workflow)), h(0))
        .await;
    world
        .engage(tenant, engaged, MessageOrigin::Outreach, h(0), h(1))
        .await;
    let bystander = world.capture(tenant, lead_in(3, Some(other)), h(0)).await;
    assert_eq!(world.timer(pending).await, due("outreach", 0, h(0)));
    assert_eq!(world.timer(engaged).await, due("follow_up", 1, h(25)));
    let untouched = world.row(bystander).await.unwrap();

    world
        .workflow_command(tenant, workflow, h(2), WorkflowCommand::Pause)
        .await;
    assert_eq!(world.timer(pending).await, None);
    assert_eq!(world.timer(engaged).await, None);
    assert_eq!(world.row(bystander).await, Some(untouched.clone()));

    // While paused, the lead's own events plan nothing.
    world
        .lead(tenant, engaged, h(3), advance(LeadStatus::Contacted))
        .await;
    assert_eq!(world.timer(engaged).await, None);

    let resumed = world
        .workflow_command(tenant, workflow, h(5), WorkflowCommand::Resume)
        .await
        .unwrap();
    let row = world.row(pending).await.unwrap();
    assert_eq!(
        (row.kind.as_str(), row.attempt, row.due_at, row.revision),
        ("outreach", 0, h(5), resumed),
        "what fell due while paused is due at the resume"
    );
    assert_eq!(
        world.timer(engaged).await,
        due("follow_up", 1, h(25)),
        "what is due later keeps its time"
    );

    world
        .workflow_command(tenant, workflow, h(6), WorkflowCommand::Pause)
        .await;
    world
        .workflow_command(tenant, workflow, h(30), WorkflowCommand::Resume)
        .await;
    assert_eq!(world.timer(pending).await, due("outreach", 0, h(30)));
    assert_eq!(world.timer(engaged).await, due("follow_up", 1, h(30)));

    world
        .workflow_command(tenant, workflow, h(31), WorkflowCommand::Archive)
        .await;
    assert_eq!(world.timer(pending).await, None);
    assert_eq!(world.timer(engaged).await, None);
    assert_eq!(world.row(bystander).await, Some(untouched));

    world.assert_rebuild_equal().await;
}

#[tokio::test]
async fn a_workflow_update_re_plans_its_leads_with_the_new_follow_up_plan() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let tenant = TenantId::new();
    let workflow = world
        .workflow(tenant, definition(Channel::Sms, 3, 24), true, h(-1))
        .await;
    let lead = world
        .capture(tenant, lead_in(1, Some(workflow)), h(0))
        .await;
    let pending = world
        .capture(tenant, lead_in(2, Some(workflow)), h(0))
        .await;
    world
        .engage(tenant, lead, MessageOrigin::Outreach, h(0), h(1))
        .await;
    world
        .lead(tenant, lead, h(1), advance(LeadStatus::Contacted))
        .await;
    assert_eq!(world.timer(lead).await, due("follow_up", 1, h(25)));
    let pending_row = world.row(pending).await.unwrap();

    let update = |patch: WorkflowPatch| WorkflowCommand::UpdateWorkflow { patch };
    let position = world
        .workflow_command(
            tenant,
            workflow,
            h(2),
            update(WorkflowPatch {
                follow_up_delay_hours: Some(FollowUpDelayHours::new(6).unwrap()),
                ..WorkflowPatch::default()
            }),
        )
        .await
        .unwrap();
    let row = world.row(lead).await.unwrap();
    assert_eq!(
        (row.kind.as_str(), row.attempt, row.due_at, row.revision),
        ("follow_up", 1, h(7), position)
    );
    assert_eq!(
        world.row(pending).await,
        Some(pending_row.clone()),
        "an outreach does not depend on the delay"
    );

    world
        .workflow_command(
            tenant,
            workflow,
            h(3),
            update(WorkflowPatch {
                follow_up_steps: Some(steps(&[2, 48])),
                ..WorkflowPatch::default()
            }),
        )
        .await;
    assert_eq!(world.timer(lead).await, due("follow_up", 1, h(3)));
    world
        .engage(tenant, lead, MessageOrigin::FollowUp, h(4), h(4))
        .await;
    assert_eq!(world.timer(lead).await, due("follow_up", 2, h(52)));
    world
        .engage(tenant, lead, MessageOrigin::FollowUp, h(60), h(60))
        .await;
    assert_eq!(
        world.timer(lead).await,
        due("unresponsive", 3, h(108)),
        "the silence after a sequence lasts its last step's delay"
    );

    // Cleared steps: the count and delay apply again, and a third follow-up is left.
    world
        .workflow_command(
            tenant,
            workflow,
            h(61),
            update(WorkflowPatch {
                follow_up_steps: Some(vec![]),
                ..WorkflowPatch::default()
            }),
        )
        .await;
    assert_eq!(world.timer(lead).await, due("follow_up", 3, h(66)));
    // Fewer follow-ups than already sent: only the unresponsive check is left.
    world
        .workflow_command(
            tenant,
            workflow,
            h(62),
            update(WorkflowPatch {
                follow_up_count: Some(FollowUpCount::new(1).unwrap()),
                ..WorkflowPatch::default()
            }),
        )
        .await;
    assert_eq!(world.timer(lead).await, due("unresponsive", 3, h(66)));
    // A new channel moves the timer to it.
    world
        .workflow_command(
            tenant,
            workflow,
            h(63),
            update(WorkflowPatch {
                channel: Some(Channel::Whatsapp),
                ..WorkflowPatch::default()
            }),
        )
        .await;
    let row = world.row(lead).await.unwrap();
    assert_eq!(row.conversation_id, format!("{lead}:whatsapp"));
    assert_eq!(
        world.row(pending).await.unwrap().conversation_id,
        format!("{pending}:whatsapp")
    );

    world.assert_rebuild_equal().await;
}

#[tokio::test]
async fn a_follow_up_sequence_is_due_at_each_steps_own_delay() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let tenant = TenantId::new();
    let workflow = world
        .workflow(
            tenant,
            WorkflowDefinition {
                follow_up_steps: steps(&[1, 3, 5]),
                ..definition(Channel::Whatsapp, 1, 100)
            },
            true,
            h(-1),
        )
        .await;
    let lead = world
        .capture(tenant, lead_in(1, Some(workflow)), h(0))
        .await;
    world
        .engage(tenant, lead, MessageOrigin::Outreach, h(0), h(0))
        .await;
    world
        .lead(tenant, lead, h(0), advance(LeadStatus::Contacted))
        .await;
    assert_eq!(world.timer(lead).await, due("follow_up", 1, h(1)));
    world
        .engage(tenant, lead, MessageOrigin::FollowUp, h(1), h(1))
        .await;
    assert_eq!(world.timer(lead).await, due("follow_up", 2, h(4)));
    world
        .engage(tenant, lead, MessageOrigin::FollowUp, h(4), h(4))
        .await;
    assert_eq!(world.timer(lead).await, due("follow_up", 3, h(9)));
    world
        .engage(tenant, lead, MessageOrigin::FollowUp, h(9), h(9))
        .await;
    assert_eq!(world.timer(lead).await, due("unresponsive", 4, h(14)));
    assert_eq!(
        world.row(lead).await.unwrap().conversation_id,
        format!("{lead}:whatsapp")
    );

    world.assert_rebuild_equal().await;
}

#[tokio::test]
async fn a_deferral_moves_only_the_step_it_names() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let tenant = TenantId::new();
    let workflow = world
        .workflow(tenant, definition(Channel::Sms, 3, 24), true, h(-1))
        .await;
    let lead = world
        .capture(tenant, lead_in(1, Some(workflow)), h(0))
        .await;
    let before = world.row(lead).await.unwrap();

    world.lead(tenant, lead, h(0), defer(1, h(5))).await;
    assert_eq!(
        world.row(lead).await,
        Some(before),
        "a deferral of another step changes nothing"
    );
    let deferred = world
        .lead(tenant, lead, h(0), defer(0, h(3)))
        .await
        .unwrap();
    let row = world.row(lead).await.unwrap();
    assert_eq!(
        (row.kind.as_str(), row.attempt, row.due_at, row.revision),
        ("outreach", 0, h(3), deferred)
    );
    world.lead(tenant, lead, h(3), defer(0, h(8))).await;
    assert_eq!(world.timer(lead).await, due("outreach", 0, h(8)));

    world
        .engage(tenant, lead, MessageOrigin::Outreach, h(8), h(8))
        .await;
    assert_eq!(
        world.timer(lead).await,
        due("follow_up", 1, h(32)),
        "the outreach's deferral does not hold the follow-up"
    );
    // A stale deferral of the outreach, recorded late, does not move the follow-up.
    let before = world.row(lead).await;
    world.lead(tenant, lead, h(9), defer(0, h(50))).await;
    assert_eq!(world.row(lead).await, before);
    world.lead(tenant, lead, h(32), defer(1, h(40))).await;
    assert_eq!(world.timer(lead).await, due("follow_up", 1, h(40)));
    // Nor does a deferral earlier than the step's own time.
    world.lead(tenant, lead, h(33), defer(1, h(30))).await;
    assert_eq!(world.timer(lead).await, due("follow_up", 1, h(32)));
    world
        .engage(tenant, lead, MessageOrigin::FollowUp, h(32), h(33))
        .await;
    assert_eq!(
        world.timer(lead).await,
        due("follow_up", 2, h(57)),
        "the first follow-up's deferral does not hold the second"
    );

    world.assert_rebuild_equal().await;
}

#[tokio::test]
async fn a_lead_moved_to_another_workflow_follows_it() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let tenant = TenantId::new();
    let first = world
        .workflow(tenant, definition(Channel::Sms, 3, 24), true, h(-10))
        .await;
    let second = world
        .workflow(tenant, definition(Channel::Whatsapp, 3, 6), true, h(-10))
        .await;
    let draft = world
        .workflow(tenant, definition(Channel::Sms, 3, 6), false, h(-10))
        .await;

    let engaged = world.capture(tenant, lead_in(1, Some(first)), h(0)).await;
    world
        .engage(tenant, engaged, MessageOrigin::Outreach, h(0), h(1))
        .await;
    assert_eq!(world.timer(engaged).await, due("follow_up", 1, h(25)));
    world
        .lead(tenant, engaged, h(2), assign(Some(second)))
        .await;
    let row = world.row(engaged).await.unwrap();
    assert_eq!(
        (
            row.kind.as_str(),
            row.attempt,
            row.due_at,
            row.workflow_id,
            row.conversation_id.as_str()
        ),
        (
            "follow_up",
            1,
            h(7),
            second.as_uuid(),
            format!("{engaged}:whatsapp").as_str()
        )
    );
    world.lead(tenant, engaged, h(3), assign(Some(draft))).await;
    assert_eq!(world.timer(engaged).await, None, "a draft engages nobody");
    world.lead(tenant, engaged, h(4), assign(None)).await;
    assert_eq!(world.timer(engaged).await, None);
    world.lead(tenant, engaged, h(5), assign(Some(first))).await;
    assert_eq!(world.timer(engaged).await, due("follow_up", 1, h(25)));

    let pending = world.capture(tenant, lead_in(2, Some(first)), h(0)).await;
    world
        .lead(tenant, pending, h(2), assign(Some(second)))
        .await;
    assert_eq!(
        world.timer(pending).await,
        due("outreach", 0, h(2)),
        "the outreach waits from the assignment"
    );
    // Its old workflow's changes no longer concern it; its new one's do.
    world
        .workflow_command(tenant, first, h(3), WorkflowCommand::Pause)
        .await;
    assert_eq!(world.timer(pending).await, due("outreach", 0, h(2)));
    assert_eq!(world.timer(engaged).await, None);
    world
        .workflow_command(tenant, second, h(4), WorkflowCommand::Pause)
        .await;
    assert_eq!(world.timer(pending).await, None);

    // Captured without a workflow, assigned to one later.
    let late = world.capture(tenant, lead_in(3, None), h(0)).await;
    world.lead(tenant, late, h(6), assign(Some(first))).await;
    assert_eq!(world.timer(late).await, None, "its workflow is paused");
    world
        .workflow_command(tenant, first, h(8), WorkflowCommand::Resume)
        .await;
    assert_eq!(world.timer(late).await, due("outreach", 0, h(8)));
    assert_eq!(world.timer(engaged).await, due("follow_up", 1, h(25)));

    world.assert_rebuild_equal().await;
}

/// One lead's story: at what time, which command.
type Story = Vec<(DateTime<Utc>, Cmd)>;

/// The workflows of a tenant in the interleaved test.
#[derive(Debug, Clone, Copy)]
struct Workflows {
    plain: WorkflowId,
    sequence: WorkflowId,
    draft: WorkflowId,
}

/// Story number `n` of a lead in a tenant with `workflows`, starting at `t`. Four kinds: a
/// silent lead followed up to its unresponsive check, a lead that replies after a hand-off, a
/// lead that opts out and is archived, and a lead that moves between workflows and loses its
/// phone.
fn story(n: u32, lead: LeadId, wf: Workflows, t: DateTime<Utc>) -> Story {
    use Channel::Sms;
    use Cmd::{Conversation as C, Lead as L};
    let at = |minutes: i64| t + Duration::minutes(minutes);
    let ids: Vec<MessageId> = (0..4).map(|_| MessageId::new()).collect();
    let q = |i: usize, origin: MessageOrigin, minutes: i64| {
        (
            at(minutes),
            C(Sms, queue(lead, Sms, ids[i], origin, at(minutes))),
        )
    };
    let s = |i: usize, minutes: i64| (at(minutes), C(Sms, sent(ids[i], at(minutes))));
    let f = |i: usize, minutes: i64| (at(minutes), C(Sms, failed(ids[i], at(minutes))));
    let l = |minutes: i64, command: LeadCommand| (at(minutes), L(command));
    match n % 4 {
        0 => vec![
            l(0, LeadCommand::CaptureLead(lead_in(n, Some(wf.plain)))),
            l(1, defer(0, at(30))),
            q(0, MessageOrigin::Outreach, 30),
            s(0, 31),
            l(32, advance(LeadStatus::Contacted)),
            l(40, defer(1, at(24 * 60 + 90))),
            q(1, MessageOrigin::FollowUp, 24 * 60 + 90),
            s(1, 24 * 60 + 91),
            q(2, MessageOrigin::FollowUp, 48 * 60 + 91),
            f(2, 48 * 60 + 95),
            q(3, MessageOrigin::FollowUp, 72 * 60 + 95),
            s(3, 72 * 60 + 96),
            l(72 * 60 + 97, LeadCommand::AddTag { tag: tag("silent") }),
            l(96 * 60 + 96, advance(LeadStatus::Unresponsive)),
        ],
        1 => vec![
            l(0, LeadCommand::CaptureLead(lead_in(n, Some(wf.sequence)))),
            q(0, MessageOrigin::Outreach, 2),
            s(0, 3),
            l(4, advance(LeadStatus::Contacted)),
            (
                at(60),
                C(
                    Sms,
                    ConversationCommand::HandOff {
                        reason: "asked_for_human".into(),
                        at: at(60),
                    },
                ),
            ),
            (at(90), C(Sms, ConversationCommand::ResumeAi { at: at(90) })),
            q(1, MessageOrigin::FollowUp, 120),
            s(1, 121),
            (at(200), C(Sms, inbound(lead, Sms, "Sounds good", at(200)))),
            l(200, advance(LeadStatus::InConversation)),
            l(300, advance(LeadStatus::Qualified)),
        ],
        2 => vec![
            l(0, LeadCommand::CaptureLead(lead_in(n, Some(wf.draft)))),
            l(5, LeadCommand::AddTag { tag: tag("later") }),
            q(0, MessageOrigin::Outreach, 600),
            (
                at(601),
                C(
                    Sms,
                    ConversationCommand::CancelPending {
                        reason: "opted_out".into(),
                        at: at(601),
                    },
                ),
            ),
            l(
                601,
                LeadCommand::OptOut {
                    reason: "STOP".into(),
                },
            ),
            l(700, LeadCommand::Resubscribe),
            l(800, LeadCommand::Archive),
            l(900, LeadCommand::Restore),
            l(901, defer(1, at(2000))),
        ],
        _ => vec![
            l(0, LeadCommand::CaptureLead(lead_in(n, None))),
            l(10, assign(Some(wf.plain))),
            q(0, MessageOrigin::Outreach, 11),
            f(0, 12),
            (
                at(13),
                C(
                    Sms,
                    ConversationCommand::RetryMessage {
                        message_id: ids[0],
                        at: at(13),
                    },
                ),
            ),
            s(0, 14),
            l(15, assign(Some(wf.sequence))),
            l(16, set_phone(None)),
            l(17, set_phone(Some(phone(10_000 + n)))),
            l(
                18,
                LeadCommand::MarkUnreachable {
                    reason: "landline".into(),
                },
            ),
            l(19, set_phone(Some(phone(20_000 + n)))),
            l(20, assign(Some(wf.draft))),
        ],
    }
}

/// What happens to a tenant's workflows while its leads' stories go on.
fn workflow_story(wf: Workflows, t: DateTime<Utc>) -> Story {
    let at = |minutes: i64| t + Duration::minutes(minutes);
    let update = |patch: WorkflowPatch| WorkflowCommand::UpdateWorkflow { patch };
    vec![
        (at(5), Cmd::Workflow(wf.plain, WorkflowCommand::Pause)),
        (at(20), Cmd::Workflow(wf.plain, WorkflowCommand::Resume)),
        (
            at(25),
            Cmd::Workflow(
                wf.sequence,
                update(WorkflowPatch {
                    follow_up_steps: Some(steps(&[1, 2, 3])),
                    ..WorkflowPatch::default()
                }),
            ),
        ),
        (at(30), Cmd::Workflow(wf.draft, WorkflowCommand::Activate)),
        (
            at(35),
            Cmd::Workflow(
                wf.plain,
                update(WorkflowPatch {
                    follow_up_delay_hours: Some(FollowUpDelayHours::new(12).unwrap()),
                    ..WorkflowPatch::default()
                }),
            ),
        ),
        (at(40), Cmd::Workflow(wf.sequence, WorkflowCommand::Pause)),
        (at(45), Cmd::Workflow(wf.sequence, WorkflowCommand::Resume)),
        (
            at(50),
            Cmd::Workflow(
                wf.draft,
                update(WorkflowPatch {
                    channel: Some(Channel::Whatsapp),
                    ..WorkflowPatch::default()
                }),
            ),
        ),
        (at(55), Cmd::Workflow(wf.plain, WorkflowCommand::Pause)),
        (at(4000), Cmd::Workflow(wf.plain, WorkflowCommand::Resume)),
    ]
}

#[tokio::test]
async fn interleaved_stories_in_two_tenants_fold_into_the_same_tables_as_a_rebuild() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let tenants = [TenantId::new(), TenantId::new()];
    let mut actors: Vec<(TenantId, LeadId, Story)> = Vec::new();
    for (i, tenant) in tenants.into_iter().enumerate() {
        let start = h(i64::try_from(i).unwrap());
        let wf = Workflows {
            plain: world
                .workflow(tenant, definition(Channel::Sms, 3, 24), true, start)
                .await,
            sequence: world
                .workflow(
                    tenant,
                    WorkflowDefinition {
                        follow_up_steps: steps(&[2, 6]),
                        ..definition(Channel::Sms, 3, 24)
                    },
                    true,
                    start,
                )
                .await,
            draft: world
                .workflow(tenant, definition(Channel::Sms, 2, 8), false, start)
                .await,
        };
        for n in 0..8u32 {
            let lead = LeadId::new();
            let begins = start + Duration::minutes(i64::from(n) * 7);
            actors.push((
                tenant,
                lead,
                story(n + 100 * u32::try_from(i).unwrap(), lead, wf, begins),
            ));
        }
        actors.push((tenant, LeadId::new(), workflow_story(wf, start)));
    }

    let mut kinds = BTreeSet::new();
    let longest = actors.iter().map(|(_, _, s)| s.len()).max().unwrap();
    for step in 0..longest {
        for (tenant, lead, story) in &actors {
            if let Some((at, cmd)) = story.get(step) {
                world.run(*tenant, *lead, *at, cmd.clone()).await;
            }
        }
        wait_for_feed_to_settle(&world.pool).await;
        catch_up(
            &world.pool,
            &world.live,
            1 + i64::try_from(step % 3).unwrap(),
        )
        .await
        .unwrap();
        let now: Vec<String> =
            sqlx::query_scalar(&format!("SELECT DISTINCT kind FROM {LIVE}.timers"))
                .fetch_all(&world.pool)
                .await
                .unwrap();
        kinds.extend(now);
    }
    assert_eq!(
        kinds,
        BTreeSet::from([
            "follow_up".to_owned(),
            "outreach".to_owned(),
            "unresponsive".to_owned()
        ]),
        "the stories plan every kind of step"
    );
    world.assert_rebuild_equal().await;

    // And a model built by a runner that applies the whole feed in batches of two.
    let by_two = Target::in_schema(Arc::new(TimersProjection), "rebuilt_timers_by_2");
    prepare(&world.pool, &by_two).await.unwrap();
    catch_up(&world.pool, &by_two, 2).await.unwrap();
    assert_same_schemas(&world.pool, LIVE, "rebuilt_timers_by_2").await;

    let timers: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {LIVE}.timers"))
        .fetch_one(&world.pool)
        .await
        .unwrap();
    assert!(timers > 0, "some leads are still planned at the end");
}

/// Times finer than PostgreSQL's microsecond: `occurred_at` comes from the caller's context,
/// and not every caller truncates its clock (`bookerbot leads import` and `seed` use
/// `Utc::now()`).
///
/// The plan is compared with its stored row at the row's precision, so a later event of the lead
/// does not rewrite it.
#[tokio::test]
async fn a_capture_time_finer_than_a_microsecond_gives_the_same_tables_live_and_rebuilt() {
    let db = TestDb::new().await;
    let world = World::new(&db).await;
    let tenant = TenantId::new();
    let workflow = world
        .workflow(tenant, definition(Channel::Sms, 3, 24), true, h(-1))
        .await;
    let captured_at = h(0) + Duration::nanoseconds(123_456_789);
    let lead = world
        .capture(tenant, lead_in(1, Some(workflow)), captured_at)
        .await;
    let before = world.row(lead).await.unwrap();
    world
        .lead(tenant, lead, h(1), LeadCommand::AddTag { tag: tag("vip") })
        .await;
    assert_eq!(
        world.row(lead).await,
        Some(before),
        "a tag changes nothing in the plan"
    );
    world.assert_rebuild_equal().await;
}
