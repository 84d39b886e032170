//! `bookerbot audit`: a lead's history (its own events, its conversations' and its
//! appointments') and its state at an instant `T`, which must equal the aggregates folded
//! independently here from the `events` table's rows that occurred at or before `T`.
//!
//! The story is written with real commands at distinct, pinned times (capture, outreach out, a
//! reply in, the AI's answers, status changes, a booking then a reschedule, a WhatsApp message),
//! beside noise that must stay out: another lead's appointment in the same tenant, and another
//! tenant's appointment naming the same lead id. A skewed clock (an event stamped before its
//! predecessor) must leave the aggregate at a prefix of its history.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};

use api::audit::{audit, AuditError, AuditReport};
use application::{Actor, CommandContext};
use bookerbot_tests::{new_lead, TestDb};
use chrono::{DateTime, Duration, Utc};
use cqrs_es::Aggregate;
use domain::conversation::{
    AiTurn, Conversation, ConversationCommand, ConversationId, Intent, MessageContent,
    MessageOrigin,
};
use domain::lead::{Lead, LeadCommand, LeadStatus};
use domain::values::{AppointmentId, LeadId, MessageId, TenantId, Timezone, WorkflowId};
use domain::{Appointment, AppointmentCommand, CalendarRef, Channel};
use infrastructure::executor::{CommandExecutor, Existence};
use sqlx::PgPool;

fn base() -> DateTime<Utc> {
    "2030-03-02T09:00:00Z".parse().unwrap()
}

fn minutes(n: i64) -> DateTime<Utc> {
    base() + Duration::minutes(n)
}

fn ctx(tenant: TenantId, at: DateTime<Utc>) -> CommandContext {
    CommandContext {
        tenant_id: tenant,
        actor: Actor::System("tests"),
        request_id: format!("req-{}", uuid::Uuid::new_v4().simple()),
        issued_at: at,
    }
}

async fn run<A>(
    executor: &CommandExecutor,
    tenant: TenantId,
    id: &str,
    at: DateTime<Utc>,
    command: A::Command,
) where
    A: Aggregate<Services = ()> + 'static,
    A::Command: Clone + Send + 'static,
    A::Error: Send + std::fmt::Display,
{
    executor
        .execute::<A>(&ctx(tenant, at), id, Existence::MayCreate, command)
        .await
        .unwrap_or_else(|error| panic!("a story command failed: {error}"));
}

fn book(lead: LeadId, start: DateTime<Utc>, now: DateTime<Utc>) -> AppointmentCommand {
    AppointmentCommand::Book {
        lead_id: lead,
        workflow_id: WorkflowId::from_uuid(uuid::Uuid::nil()),
        start,
        end: start + Duration::minutes(30),
        timezone: Timezone::parse("Europe/London").unwrap(),
        calendar: CalendarRef::builtin(),
        location: None,
        meeting_link: None,
        notes: "intro call".into(),
        reminder_offsets_minutes: vec![],
        now,
    }
}

/// The ids the checks look at.
struct Story {
    tenant: TenantId,
    lead: LeadId,
    appointment: AppointmentId,
}

async fn write_story(executor: &CommandExecutor) -> Story {
    let tenant = TenantId::new();
    let lead = LeadId::new();
    let appointment = AppointmentId::new();
    let sms = ConversationId::new(lead, Channel::Sms).to_string();
    let whatsapp = ConversationId::new(lead, Channel::Whatsapp).to_string();
    let lead_id = lead.to_string();
    let (outreach, question, reply) = (MessageId::new(), MessageId::new(), MessageId::new());
    let advance = |to| LeadCommand::AdvanceStatus { to };

    run::<Lead>(
        executor,
        tenant,
        &lead_id,
        minutes(0),
        LeadCommand::CaptureLead(new_lead(7)),
    )
    .await;
    run::<Conversation>(
        executor,
        tenant,
        &sms,
        minutes(1),
        ConversationCommand::QueueOutbound {
            lead_id: lead,
            channel: Channel::Sms,
            message_id: outreach,
            content: MessageContent::text("Hi! Want to book a visit?").unwrap(),
            origin: MessageOrigin::Outreach,
            now: minutes(1),
        },
    )
    .await;
    run::<Conversation>(
        executor,
        tenant,
        &sms,
        minutes(2),
        ConversationCommand::RecordSent {
            message_id: outreach,
            provider: "twilio".into(),
            provider_message_id: "SM1".into(),
            sent_at: minutes(2),
        },
    )
    .await;
    run::<Lead>(
        executor,
        tenant,
        &lead_id,
        minutes(3),
        advance(LeadStatus::Contacted),
    )
    .await;
    run::<Conversation>(
        executor,
        tenant,
        &sms,
        minutes(10),
        ConversationCommand::ReceiveInbound {
            lead_id: lead,
            channel: Channel::Sms,
            message_id: question,
            provider: "twilio".into(),
            provider_message_id: "SM2".into(),
            body: "Yes, budget is 500".into(),
            received_at: minutes(10),
            engage_ai: true,
        },
    )
    .await;
    run::<Lead>(
        executor,
        tenant,
        &lead_id,
        minutes(11),
        advance(LeadStatus::InConversation),
    )
    .await;
    let answers = BTreeMap::from([("budget".to_string(), "500".to_string())]);
    run::<Conversation>(
        executor,
        tenant,
        &sms,
        minutes(12),
        ConversationCommand::RecordAiTurn {
            turn: AiTurn {
                in_reply_to: question,
                engine: "openai".into(),
                model: "gpt-test".into(),
                input_tokens: 900,
                cached_input_tokens: 0,
                output_tokens: 40,
                cost_micros: 321,
                price_version: "2030-01".into(),
                latency_ms: 700,
                intent: Intent::Question,
                answers: answers.clone(),
                reply_message_id: Some(reply),
                at: minutes(12),
            },
            reply: Some(MessageContent::text("Great, when suits you?").unwrap()),
        },
    )
    .await;
    run::<Lead>(
        executor,
        tenant,
        &lead_id,
        minutes(13),
        LeadCommand::RecordAnswers { answers },
    )
    .await;
    run::<Lead>(
        executor,
        tenant,
        &lead_id,
        minutes(14),
        advance(LeadStatus::Qualified),
    )
    .await;
    run::<Appointment>(
        executor,
        tenant,
        &appointment.to_string(),
        minutes(20),
        book(lead, minutes(24 * 60), minutes(20)),
    )
    .await;
    run::<Lead>(
        executor,
        tenant,
        &lead_id,
        minutes(21),
        advance(LeadStatus::Booked),
    )
    .await;
    run::<Appointment>(
        executor,
        tenant,
        &appointment.to_string(),
        minutes(30),
        AppointmentCommand::Reschedule {
            start: minutes(26 * 60),
            end: None,
            now: minutes(30),
        },
    )
    .await;
    run::<Conversation>(
        executor,
        tenant,
        &whatsapp,
        minutes(40),
        ConversationCommand::ReceiveInbound {
            lead_id: lead,
            channel: Channel::Whatsapp,
            message_id: MessageId::new(),
            provider: "whatsapp".into(),
            provider_message_id: "wamid.1".into(),
            body: "See you then".into(),
            received_at: minutes(40),
            engage_ai: false,
        },
    )
    .await;

    // Noise: another lead's appointment in the tenant, another tenant's naming this lead.
    let neighbour = LeadId::new();
    run::<Lead>(
        executor,
        tenant,
        &neighbour.to_string(),
        minutes(5),
        LeadCommand::CaptureLead(new_lead(8)),
    )
    .await;
    run::<Appointment>(
        executor,
        tenant,
        &AppointmentId::new().to_string(),
        minutes(22),
        book(neighbour, minutes(30 * 60), minutes(22)),
    )
    .await;
    run::<Appointment>(
        executor,
        TenantId::new(),
        &AppointmentId::new().to_string(),
        minutes(23),
        book(lead, minutes(30 * 60), minutes(23)),
    )
    .await;
    Story {
        tenant,
        lead,
        appointment,
    }
}

/// The expected history at `at`, read and folded here: positions in feed order, and each
/// aggregate's state by (type, id).
struct Expected {
    positions: Vec<i64>,
    leads: HashMap<String, Lead>,
    conversations: HashMap<String, Conversation>,
    appointments: HashMap<String, Appointment>,
}

async fn expected(pool: &PgPool, story: &Story, at: DateTime<Utc>) -> Expected {
    let ids = [
        story.lead.to_string(),
        ConversationId::new(story.lead, Channel::Sms).to_string(),
        ConversationId::new(story.lead, Channel::Whatsapp).to_string(),
        story.appointment.to_string(),
    ];
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT global_position, aggregate_type, aggregate_id, payload::text FROM events \
         WHERE tenant_id = $1 AND aggregate_id = ANY($2) \
           AND (metadata ->> 'occurred_at')::timestamptz <= $3 \
         ORDER BY transaction_id, global_position",
    )
    .bind(story.tenant.as_uuid())
    .bind(&ids[..])
    .bind(at)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut expected = Expected {
        positions: Vec::new(),
        leads: HashMap::new(),
        conversations: HashMap::new(),
        appointments: HashMap::new(),
    };
    for (position, kind, id, payload) in rows {
        expected.positions.push(position);
        match kind.as_str() {
            "lead" => fold(&mut expected.leads, id, &payload),
            "conversation" => fold(&mut expected.conversations, id, &payload),
            "appointment" => fold(&mut expected.appointments, id, &payload),
            other => panic!("unexpected aggregate type {other}"),
        }
    }
    expected
}

fn fold<A: Aggregate>(states: &mut HashMap<String, A>, id: String, payload: &str) {
    let event: A::Event = serde_json::from_str(payload).unwrap();
    states.entry(id).or_default().apply(event);
}

fn assert_matches(report: &AuditReport, expected: &Expected, at: DateTime<Utc>) {
    let positions: Vec<i64> = report.events.iter().map(|e| e.position).collect();
    assert_eq!(positions, expected.positions, "events at {at}");
    let lead: HashMap<String, Lead> = report
        .lead
        .iter()
        .map(|s| (s.id.clone(), s.state.clone()))
        .collect();
    assert_eq!(lead, expected.leads, "lead at {at}");
    let conversations: HashMap<String, Conversation> = report
        .conversations
        .iter()
        .map(|s| (s.id.clone(), s.state.clone()))
        .collect();
    assert_eq!(
        conversations, expected.conversations,
        "conversations at {at}"
    );
    let appointments: HashMap<String, Appointment> = report
        .appointments
        .iter()
        .map(|s| (s.id.clone(), s.state.clone()))
        .collect();
    assert_eq!(appointments, expected.appointments, "appointments at {at}");
    for event in &report.events {
        assert!(
            event.occurred_at <= at,
            "event {} after {at}",
            event.position
        );
    }
}

#[tokio::test]
async fn the_state_at_each_instant_equals_a_replay_of_the_events_up_to_it() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let executor = CommandExecutor::new(pool.clone(), 10);
    let story = write_story(&executor).await;

    let instants = [
        minutes(-1),
        minutes(0),
        minutes(3),
        base() + Duration::seconds(10 * 60 + 30),
        minutes(14),
        minutes(20),
        minutes(29),
        minutes(30),
        minutes(24 * 60),
    ];
    let mut sizes = Vec::new();
    for at in instants {
        let report = audit(pool, story.lead, None, at).await.unwrap();
        assert_eq!(report.tenant_id, story.tenant);
        assert_eq!(report.at, at);
        assert_matches(&report, &expected(pool, &story, at).await, at);
        sizes.push(report.events.len());
    }
    // Every event of the story, counted by hand: lead 6 (captured, 4 status changes, answers),
    // sms 6 (started, queued, sent, received, AI turn, its reply queued), appointment 2 (booked,
    // rescheduled), whatsapp 2 (started, received).
    assert_eq!(sizes, vec![0, 1, 5, 6, 11, 12, 13, 14, 16]);

    let before = audit(pool, story.lead, None, minutes(-1)).await.unwrap();
    assert!(before.lead.is_none());
    assert!(before.conversations.is_empty() && before.appointments.is_empty());

    let booked = audit(pool, story.lead, None, minutes(29)).await.unwrap();
    let lead = booked.lead.as_ref().unwrap();
    assert_eq!(lead.state.status(), LeadStatus::Booked);
    assert_eq!(
        lead.state.answers().get("budget").map(String::as_str),
        Some("500")
    );
    assert_eq!(booked.appointments.len(), 1);
    assert_eq!(booked.appointments[0].id, story.appointment.to_string());
    assert_eq!(booked.appointments[0].version, 1);
    assert_eq!(booked.appointments[0].state.start(), minutes(24 * 60));
    assert_eq!(
        booked
            .conversations
            .iter()
            .map(|c| c.id.clone())
            .collect::<Vec<_>>(),
        vec![ConversationId::new(story.lead, Channel::Sms).to_string()]
    );

    let later = audit(pool, story.lead, None, minutes(24 * 60))
        .await
        .unwrap();
    assert_eq!(later.appointments[0].version, 2);
    assert_eq!(later.appointments[0].state.start(), minutes(26 * 60));
    assert_eq!(later.conversations.len(), 2);
    let kinds: Vec<&str> = later.events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"LeadCaptured"));
    assert_eq!(
        kinds.iter().filter(|k| **k == "AppointmentBooked").count(),
        1
    );
    assert!(later.events.iter().all(|e| e.actor == "system:tests"));
}

#[tokio::test]
async fn an_unknown_lead_and_another_tenants_lead_are_refused() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let executor = CommandExecutor::new(pool.clone(), 10);
    let story = write_story(&executor).await;
    let now = minutes(24 * 60);

    let stranger = LeadId::new();
    match audit(pool, stranger, None, now).await {
        Err(AuditError::UnknownLead { lead_id, tenant_id }) => {
            assert_eq!((lead_id, tenant_id), (stranger, None));
        }
        other => panic!("expected an unknown lead, got {other:?}"),
    }

    let other = TenantId::new();
    match audit(pool, story.lead, Some(other), now).await {
        Err(error @ AuditError::UnknownLead { .. }) => {
            assert_eq!(
                error.to_string(),
                format!("no lead {} in tenant {other}", story.lead)
            );
        }
        other => panic!("expected an unknown lead, got {other:?}"),
    }

    let own = audit(pool, story.lead, Some(story.tenant), now)
        .await
        .unwrap();
    assert_eq!(own.events.len(), 16);
    assert!(api::audit::cli::render(&own)
        .unwrap()
        .contains("AppointmentRescheduled"));
}

#[tokio::test]
async fn an_event_stamped_before_its_predecessor_is_left_out_with_it() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let executor = CommandExecutor::new(pool.clone(), 10);
    let tenant = TenantId::new();
    let lead = LeadId::new();
    let id = lead.to_string();
    run::<Lead>(
        &executor,
        tenant,
        &id,
        minutes(10),
        LeadCommand::CaptureLead(new_lead(9)),
    )
    .await;
    // A skewed clock: the status change says it happened before the capture.
    run::<Lead>(
        &executor,
        tenant,
        &id,
        minutes(5),
        LeadCommand::AdvanceStatus {
            to: LeadStatus::Contacted,
        },
    )
    .await;

    let early = audit(pool, lead, None, minutes(7)).await.unwrap();
    assert!(early.events.is_empty());
    assert!(early.lead.is_none());

    let late = audit(pool, lead, None, minutes(10)).await.unwrap();
    let state = late.lead.unwrap();
    assert_eq!(
        (state.version, state.state.status()),
        (2, LeadStatus::Contacted)
    );
}
