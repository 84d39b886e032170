//! The conversations read model, and what conversations add to the contacts model, fed with
//! real Conversation commands through the command executor.
//!
//! Each lead's story covers every kind of conversation event: sends, delivery reports arriving
//! out of order, retried and failed sends, a requeue and a cancel, AI answers and failures, a
//! hand-off and its notice, and a second channel. Stories of several leads in two tenants are interleaved in
//! the feed; the live models are applied a few events per batch as the stories go, and must
//! equal a rebuild from position zero row for row.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use bookerbot_tests::{
    assert_same_schemas, new_lead, rebuild, tenant_ctx, wait_for_feed_to_settle, TestDb,
};
use chrono::{DateTime, Duration, Utc};
use domain::conversation::{
    AiTurn, Conversation, ConversationCommand, ConversationId, DeliveryStatus, Intent,
    MessageContent, MessageOrigin,
};
use domain::lead::{Lead, LeadCommand};
use domain::values::{LeadId, MessageId, TenantId};
use domain::Channel;
use infrastructure::executor::{CommandExecutor, Existence};
use projections::contacts::query::{ContactFilter, PageRequest, Sort};
use projections::contacts::ContactsProjection;
use projections::conversations::query::{conversation, ConversationView, Window};
use projections::conversations::ConversationsProjection;
use projections::runner::{catch_up, prepare};
use projections::{Projection, Target};
use sqlx::PgPool;

/// An AI turn as the checks see it: the message answered, outcome, attempt, retry time.
type TurnSummary<'a> = (MessageId, &'a str, Option<i32>, Option<DateTime<Utc>>);

const LIVE_CONVERSATIONS: &str = "live_conversations";
const LIVE_CONTACTS: &str = "live_contacts";

/// Where every story's clock starts: after any capture time, so message times are the latest
/// activity of their leads.
fn base() -> DateTime<Utc> {
    "2030-01-07T09:00:00Z".parse().unwrap()
}

fn minutes(n: i64) -> DateTime<Utc> {
    base() + Duration::minutes(n)
}

/// The messages of one lead's story.
#[derive(Debug, Clone, Copy)]
struct Ids {
    outreach: MessageId,
    question: MessageId,
    ai_reply: MessageId,
    whatsapp_in: MessageId,
    whatsapp_out: MessageId,
    follow_up: MessageId,
    operator: MessageId,
    help_me: MessageId,
}

impl Ids {
    fn new() -> Self {
        Self {
            outreach: MessageId::new(),
            question: MessageId::new(),
            ai_reply: MessageId::new(),
            whatsapp_in: MessageId::new(),
            whatsapp_out: MessageId::new(),
            follow_up: MessageId::new(),
            operator: MessageId::new(),
            help_me: MessageId::new(),
        }
    }
}

fn inbound(
    lead: LeadId,
    channel: Channel,
    message_id: MessageId,
    body: &str,
    at: DateTime<Utc>,
) -> ConversationCommand {
    ConversationCommand::ReceiveInbound {
        lead_id: lead,
        channel,
        message_id,
        provider: "twilio".into(),
        provider_message_id: format!("SM{}", message_id.as_uuid().simple()),
        body: body.into(),
        received_at: at,
        engage_ai: true,
    }
}

fn queue(
    lead: LeadId,
    channel: Channel,
    message_id: MessageId,
    content: MessageContent,
    origin: MessageOrigin,
    now: DateTime<Utc>,
) -> ConversationCommand {
    ConversationCommand::QueueOutbound {
        lead_id: lead,
        channel,
        message_id,
        content,
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

fn status(message_id: MessageId, status: DeliveryStatus, at: DateTime<Utc>) -> ConversationCommand {
    ConversationCommand::RecordDeliveryStatus {
        message_id,
        status,
        at,
        error_code: None,
    }
}

fn text(body: &str) -> MessageContent {
    MessageContent::text(body).unwrap()
}

/// The AI's answer to the lead's question (its reply is `ids.ai_reply`).
fn answer(ids: &Ids) -> AiTurn {
    AiTurn {
        in_reply_to: ids.question,
        engine: "openai".into(),
        model: "gpt-test".into(),
        input_tokens: 1_200,
        cached_input_tokens: 1_000,
        output_tokens: 80,
        cost_micros: 1_234,
        price_version: "2030-01".into(),
        latency_ms: 850,
        intent: Intent::Question,
        answers: BTreeMap::from([("budget".to_string(), "500".to_string())]),
        reply_message_id: Some(ids.ai_reply),
        at: minutes(11),
    }
}

/// Every command of a lead's story, in order, with the channel of its conversation.
fn story(lead: LeadId, ids: &Ids) -> Vec<(Channel, ConversationCommand)> {
    use Channel::{Sms, Whatsapp};
    vec![
        (
            Sms,
            queue(
                lead,
                Sms,
                ids.outreach,
                text("Hi! Want to book a visit?"),
                MessageOrigin::Outreach,
                minutes(0),
            ),
        ),
        (Sms, sent(ids.outreach, minutes(1))),
        // The read report overtakes the delivery report: the later one changes nothing.
        (Sms, status(ids.outreach, DeliveryStatus::Read, minutes(5))),
        (
            Sms,
            status(ids.outreach, DeliveryStatus::Delivered, minutes(3)),
        ),
        (
            Sms,
            inbound(
                lead,
                Sms,
                ids.question,
                "What times do you have?",
                minutes(10),
            ),
        ),
        // The provider retries its webhook: recorded once.
        (
            Sms,
            inbound(
                lead,
                Sms,
                ids.question,
                "What times do you have?",
                minutes(10),
            ),
        ),
        (
            Sms,
            ConversationCommand::RecordAiFailure {
                in_reply_to: ids.question,
                error: "model timed out".into(),
                retry_at: Some(minutes(11)),
            },
        ),
        (
            Sms,
            ConversationCommand::RecordAiTurn {
                turn: answer(ids),
                reply: Some(text("We have 3pm tomorrow.")),
            },
        ),
        (Sms, sent(ids.ai_reply, minutes(12))),
        (
            Sms,
            status(ids.ai_reply, DeliveryStatus::Delivered, minutes(13)),
        ),
        (
            Whatsapp,
            inbound(
                lead,
                Whatsapp,
                ids.whatsapp_in,
                "On WhatsApp now",
                minutes(60),
            ),
        ),
        (
            Whatsapp,
            queue(
                lead,
                Whatsapp,
                ids.whatsapp_out,
                MessageContent::template("booking_reminder", "en_GB", vec!["Ada".into()]).unwrap(),
                MessageOrigin::Operator,
                minutes(61),
            ),
        ),
        (
            Sms,
            queue(
                lead,
                Sms,
                ids.follow_up,
                text("Still interested?"),
                MessageOrigin::FollowUp,
                minutes(2 * 1440),
            ),
        ),
        (
            Sms,
            ConversationCommand::RecordSendAttemptFailed {
                message_id: ids.follow_up,
                code: Some("30001".into()),
                error: "queue overflow".into(),
                retry_at: minutes(2 * 1440 + 1),
            },
        ),
        (Sms, sent(ids.follow_up, minutes(2 * 1440 + 5))),
        (
            Sms,
            queue(
                lead,
                Sms,
                ids.operator,
                text("Call us"),
                MessageOrigin::Operator,
                minutes(2 * 1440 + 10),
            ),
        ),
        (
            Sms,
            ConversationCommand::RecordFailed {
                message_id: ids.operator,
                code: Some("21610".into()),
                error: "blocked by the carrier".into(),
                reason: "blocked".into(),
                failed_at: minutes(2 * 1440 + 11),
            },
        ),
        (
            Sms,
            ConversationCommand::RetryMessage {
                message_id: ids.operator,
                at: minutes(2 * 1440 + 12),
            },
        ),
        (
            Sms,
            ConversationCommand::CancelMessage {
                message_id: ids.operator,
                reason: "operator".into(),
                at: minutes(2 * 1440 + 13),
            },
        ),
        (
            Sms,
            inbound(
                lead,
                Sms,
                ids.help_me,
                "Can I talk to someone?",
                minutes(3 * 1440),
            ),
        ),
        (
            Sms,
            ConversationCommand::RecordAiFailure {
                in_reply_to: ids.help_me,
                error: "provider unavailable".into(),
                retry_at: None,
            },
        ),
        (
            Sms,
            ConversationCommand::HandOff {
                reason: "ai_unavailable".into(),
                at: minutes(3 * 1440 + 1),
            },
        ),
        (
            Sms,
            ConversationCommand::RecordHandoffNotified {
                notified: vec!["sms:+447700900000".into()],
                failed: vec![],
                at: minutes(3 * 1440 + 2),
            },
        ),
    ]
}

async fn capture(executor: &CommandExecutor, tenant: TenantId, n: u32) -> LeadId {
    let lead = LeadId::new();
    executor
        .execute::<Lead>(
            &tenant_ctx(tenant),
            &lead.to_string(),
            Existence::MayCreate,
            LeadCommand::CaptureLead(new_lead(n)),
        )
        .await
        .unwrap();
    lead
}

async fn run(
    executor: &CommandExecutor,
    tenant: TenantId,
    lead: LeadId,
    channel: Channel,
    command: ConversationCommand,
) {
    executor
        .execute::<Conversation>(
            &tenant_ctx(tenant),
            &ConversationId::new(lead, channel).to_string(),
            Existence::MayCreate,
            command,
        )
        .await
        .unwrap_or_else(|error| panic!("a story command failed: {error}"));
}

async fn live(pool: &PgPool, projection: Arc<dyn Projection>, schema: &str) -> Target {
    let target = Target::in_schema(projection, schema);
    prepare(pool, &target).await.unwrap();
    target
}

/// The model's view of a lead, all of it.
async fn read_view(pool: &PgPool, tenant: TenantId, lead: LeadId) -> ConversationView {
    let window = Window {
        limit: 100,
        ..Window::default()
    };
    conversation(
        pool,
        LIVE_CONVERSATIONS,
        tenant.as_uuid(),
        lead.as_uuid(),
        &window,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn interleaved_stories_fold_into_threads_that_equal_a_rebuild() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let executor = CommandExecutor::new(pool.clone(), 10);
    let conversations = live(pool, Arc::new(ConversationsProjection), LIVE_CONVERSATIONS).await;
    let contacts = live(pool, Arc::new(ContactsProjection), LIVE_CONTACTS).await;

    let tenants = [TenantId::new(), TenantId::new()];
    let mut leads = Vec::new();
    for n in 0..3 {
        let tenant = tenants[n as usize % 2];
        leads.push((tenant, capture(&executor, tenant, n).await, Ids::new()));
    }
    // A conversation whose lead the contacts model has never seen: skipped there, kept here.
    let stranger = LeadId::new();
    run(
        &executor,
        tenants[0],
        stranger,
        Channel::Sms,
        inbound(
            stranger,
            Channel::Sms,
            MessageId::new(),
            "Hello?",
            minutes(5),
        ),
    )
    .await;

    let stories: Vec<_> = leads
        .iter()
        .map(|(_, lead, ids)| story(*lead, ids))
        .collect();
    for step in 0..stories[0].len() {
        for ((tenant, lead, _), story) in leads.iter().zip(&stories) {
            let (channel, command) = story[step].clone();
            run(&executor, *tenant, *lead, channel, command).await;
        }
        catch_up(pool, &conversations, 1).await.unwrap();
        catch_up(pool, &contacts, 3).await.unwrap();
    }
    wait_for_feed_to_settle(pool).await;
    catch_up(pool, &conversations, 2).await.unwrap();
    catch_up(pool, &contacts, 2).await.unwrap();

    rebuild(
        pool,
        Arc::new(ConversationsProjection),
        "rebuilt_conversations",
    )
    .await;
    assert_same_schemas(pool, LIVE_CONVERSATIONS, "rebuilt_conversations").await;
    rebuild(pool, Arc::new(ContactsProjection), "rebuilt_contacts").await;
    assert_same_schemas(pool, LIVE_CONTACTS, "rebuilt_contacts").await;

    let (tenant, lead, ids) = leads[0];
    let view = read_view(pool, tenant, lead).await;
    let threads: Vec<(&str, bool, Option<&str>, i32, i32)> = view
        .threads
        .iter()
        .map(|t| {
            (
                t.channel.as_str(),
                t.handed_off,
                t.handed_off_reason.as_deref(),
                t.inbound_messages,
                t.outbound_messages,
            )
        })
        .collect();
    assert_eq!(
        threads,
        [
            ("sms", true, Some("ai_unavailable"), 2, 4),
            ("whatsapp", false, None, 1, 1)
        ]
    );
    assert_eq!(view.threads[0].last_inbound_at, Some(minutes(3 * 1440)));
    assert_eq!(
        view.threads[0].handoff_notified_at,
        Some(minutes(3 * 1440 + 2))
    );
    assert_eq!(
        view.threads[0].last_outbound_at,
        Some(minutes(2 * 1440 + 5))
    );

    let order: Vec<MessageId> = view
        .messages
        .iter()
        .map(|m| MessageId::from_uuid(m.message_id))
        .collect();
    assert_eq!(
        order,
        [
            ids.outreach,
            ids.question,
            ids.ai_reply,
            ids.whatsapp_in,
            ids.whatsapp_out,
            ids.follow_up,
            ids.operator,
            ids.help_me
        ]
    );
    let message = |id: MessageId| {
        view.messages
            .iter()
            .find(|m| m.message_id == id.as_uuid())
            .unwrap()
    };
    let outreach = message(ids.outreach);
    assert_eq!(outreach.status, "read", "the furthest status wins");
    assert_eq!(
        (outreach.sent_at, outreach.delivered_at, outreach.read_at),
        (Some(minutes(1)), None, Some(minutes(5)))
    );
    assert_eq!(outreach.origin.as_deref(), Some("outreach"));
    assert_eq!(outreach.provider.as_deref(), Some("twilio"));
    let question = message(ids.question);
    assert_eq!(
        (question.direction.as_str(), question.status.as_str()),
        ("inbound", "received")
    );
    assert_eq!(question.body, "What times do you have?");
    assert_eq!(question.content, None);
    let reply = message(ids.ai_reply);
    assert_eq!(
        (reply.status.as_str(), reply.origin.as_deref()),
        ("delivered", Some("ai"))
    );
    let template = message(ids.whatsapp_out);
    assert_eq!(
        (template.channel.as_str(), template.body.as_str()),
        ("whatsapp", "[template booking_reminder: Ada]")
    );
    assert_eq!(
        template.content.as_ref().unwrap()["type"],
        serde_json::json!("template")
    );
    let follow_up = message(ids.follow_up);
    assert_eq!(
        (
            follow_up.status.as_str(),
            follow_up.attempts,
            follow_up.error_code.as_deref()
        ),
        ("sent", 1, Some("30001"))
    );
    let operator = message(ids.operator);
    assert_eq!(
        (
            operator.status.as_str(),
            operator.reason.as_deref(),
            operator.attempts
        ),
        ("cancelled", Some("operator"), 0)
    );
    assert_eq!(
        (operator.failed_at, operator.error.as_deref()),
        (None, None)
    );
    assert_eq!(operator.cancelled_at, Some(minutes(2 * 1440 + 13)));

    let turns: Vec<TurnSummary> = view
        .turns
        .iter()
        .map(|t| {
            (
                MessageId::from_uuid(t.in_reply_to),
                t.outcome.as_str(),
                t.attempt,
                t.retry_at,
            )
        })
        .collect();
    let mut expected = vec![
        (ids.question, "failed", Some(1), Some(minutes(11))),
        (ids.question, "answered", None, None),
        (ids.help_me, "failed", Some(1), None),
    ];
    expected.sort_by_key(|t| t.0);
    assert_eq!(turns, expected);
    let answered = view.turns.iter().find(|t| t.outcome == "answered").unwrap();
    assert_eq!(answered.cost_micros, Some(1_234));
    assert_eq!(answered.intent.as_deref(), Some("question"));
    assert_eq!(answered.answers, Some(serde_json::json!({"budget": "500"})));
    assert_eq!(answered.reply_message_id, Some(ids.ai_reply.as_uuid()));

    // Another tenant sees nothing of it.
    let other = if tenant == tenants[0] {
        tenants[1]
    } else {
        tenants[0]
    };
    let hidden = read_view(pool, other, lead).await;
    assert!(hidden.threads.is_empty() && hidden.messages.is_empty());
}

#[tokio::test]
async fn conversations_give_contacts_their_message_times_and_follow_ups() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let executor = CommandExecutor::new(pool.clone(), 10);
    let contacts = live(pool, Arc::new(ContactsProjection), LIVE_CONTACTS).await;
    let tenant = TenantId::new();
    let lead = capture(&executor, tenant, 1).await;
    let silent = capture(&executor, tenant, 2).await;
    let ids = Ids::new();
    for (channel, command) in story(lead, &ids) {
        run(&executor, tenant, lead, channel, command).await;
    }
    // A second follow-up, queued but never sent, counts for nothing.
    run(
        &executor,
        tenant,
        lead,
        Channel::Sms,
        queue(
            lead,
            Channel::Sms,
            MessageId::new(),
            text("Last call"),
            MessageOrigin::FollowUp,
            minutes(4 * 1440),
        ),
    )
    .await;
    wait_for_feed_to_settle(pool).await;
    catch_up(pool, &contacts, 4).await.unwrap();

    let row =
        projections::contacts::query::get(pool, LIVE_CONTACTS, tenant.as_uuid(), lead.as_uuid())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(row.last_inbound_at, Some(minutes(3 * 1440)));
    assert_eq!(row.last_contacted_at, Some(minutes(2 * 1440 + 5)));
    assert_eq!(row.last_message_at, Some(minutes(3 * 1440)));
    assert_eq!(row.last_activity_at, minutes(3 * 1440));
    assert_eq!(row.follow_ups_sent, 1);
    assert_eq!(
        row.version, 1,
        "conversation events leave the lead's version alone"
    );
    assert!(
        row.updated_at < base(),
        "nor do they change the lead's details"
    );

    let quiet =
        projections::contacts::query::get(pool, LIVE_CONTACTS, tenant.as_uuid(), silent.as_uuid())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        (
            quiet.last_message_at,
            quiet.last_inbound_at,
            quiet.last_contacted_at,
            quiet.follow_ups_sent
        ),
        (None, None, None, 0)
    );

    // The list filters read these columns.
    let list = |filter: ContactFilter| async move {
        projections::contacts::query::list(
            pool,
            LIVE_CONTACTS,
            tenant.as_uuid(),
            &filter,
            Sort::default(),
            &PageRequest::Number(1),
            50,
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.lead_id)
        .collect::<Vec<_>>()
    };
    let only_lead = vec![lead.as_uuid()];
    assert_eq!(
        list(ContactFilter {
            last_message_from: Some(minutes(3 * 1440)),
            ..ContactFilter::default()
        })
        .await,
        only_lead
    );
    assert_eq!(
        list(ContactFilter {
            contacted_at_or_after: Some(minutes(2 * 1440)),
            ..ContactFilter::default()
        })
        .await,
        only_lead
    );
    assert_eq!(
        list(ContactFilter {
            follow_ups_min: Some(1),
            ..ContactFilter::default()
        })
        .await,
        only_lead
    );
    assert!(list(ContactFilter {
        contacted_at_or_before: Some(minutes(2 * 1440)),
        ..ContactFilter::default()
    })
    .await
    .is_empty());

    rebuild(pool, Arc::new(ContactsProjection), "rebuilt_contacts").await;
    assert_same_schemas(pool, LIVE_CONTACTS, "rebuilt_contacts").await;
}
