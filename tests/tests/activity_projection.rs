//! The activity feed read model, fed by real Lead, Conversation and Appointment commands for two
//! tenants: its rows equal an independent derivation from the raw `events` table (which events
//! are activity, their kind, lead, appointment, channel and message); summaries name the lead as
//! it was called at the time; the query pages newest first and filters by kind and lead; and the
//! live model applied one event per batch equals rebuilds in 500, and three, a batch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bookerbot_tests::{
    assert_same_schemas, new_lead, query_difference, rebuild, tenant_ctx, wait_for_feed_to_settle,
    TestDb,
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use domain::conversation::{
    Conversation, ConversationCommand, ConversationId, MessageContent, MessageOrigin,
};
use domain::lead::{Lead, LeadCommand, LeadDetailsPatch};
use domain::values::{
    AppointmentId, LeadId, LeadSource, MessageId, Tag, TenantId, Timezone, WorkflowId,
};
use domain::{Appointment, AppointmentCommand, CalendarRef, Channel, LeadStatus};
use infrastructure::executor::{CommandExecutor, Existence};
use projections::activity::query::{list, ActivityFilter};
use projections::activity::ActivityProjection;
use projections::runner::{catch_up, prepare};
use projections::Target;
use uuid::Uuid;

const LIVE: &str = "live_activity";

/// Writes leads, conversations and appointments through the command executor.
struct Writer {
    executor: CommandExecutor,
}

impl Writer {
    async fn lead(&self, tenant: TenantId, n: u32, first: &str, last: &str) -> LeadId {
        let lead = LeadId::new();
        let mut new = new_lead(n);
        new.first_name = first.into();
        new.last_name = last.into();
        new.source = LeadSource::Website;
        self.lead_command(tenant, lead, LeadCommand::CaptureLead(new))
            .await;
        lead
    }

    async fn lead_command(&self, tenant: TenantId, lead: LeadId, command: LeadCommand) {
        self.executor
            .execute::<Lead>(
                &tenant_ctx(tenant),
                &lead.to_string(),
                Existence::MayCreate,
                command,
            )
            .await
            .unwrap();
    }

    async fn conversation(
        &self,
        tenant: TenantId,
        lead: LeadId,
        channel: Channel,
        command: ConversationCommand,
    ) {
        self.executor
            .execute::<Conversation>(
                &tenant_ctx(tenant),
                &ConversationId::new(lead, channel).to_string(),
                Existence::MayCreate,
                command,
            )
            .await
            .unwrap_or_else(|error| panic!("a conversation command failed: {error}"));
    }

    async fn inbound(&self, tenant: TenantId, lead: LeadId, channel: Channel) -> MessageId {
        let message_id = MessageId::new();
        self.conversation(
            tenant,
            lead,
            channel,
            ConversationCommand::ReceiveInbound {
                lead_id: lead,
                channel,
                message_id,
                provider: "twilio".into(),
                provider_message_id: format!("SM{}", message_id.as_uuid().simple()),
                body: "Hello".into(),
                received_at: Utc::now(),
                engage_ai: false,
            },
        )
        .await;
        message_id
    }

    /// Queues a message and records it sent; only the send is activity.
    async fn sent(&self, tenant: TenantId, lead: LeadId, channel: Channel) -> MessageId {
        let message_id = MessageId::new();
        self.conversation(
            tenant,
            lead,
            channel,
            ConversationCommand::QueueOutbound {
                lead_id: lead,
                channel,
                message_id,
                content: MessageContent::text("Want to book?").unwrap(),
                origin: MessageOrigin::Operator,
                now: Utc::now(),
            },
        )
        .await;
        self.conversation(
            tenant,
            lead,
            channel,
            ConversationCommand::RecordSent {
                message_id,
                provider: "twilio".into(),
                provider_message_id: format!("SM{}", message_id.as_uuid().simple()),
                sent_at: Utc::now(),
            },
        )
        .await;
        message_id
    }

    async fn appointment(&self, tenant: TenantId, id: AppointmentId, command: AppointmentCommand) {
        self.executor
            .execute::<Appointment>(
                &tenant_ctx(tenant),
                &id.to_string(),
                Existence::MayCreate,
                command,
            )
            .await
            .unwrap();
    }

    async fn book(&self, tenant: TenantId, lead: LeadId, start: DateTime<Utc>) -> AppointmentId {
        let id = AppointmentId::new();
        self.appointment(
            tenant,
            id,
            AppointmentCommand::Book {
                lead_id: lead,
                workflow_id: WorkflowId::new(),
                start,
                end: start + Duration::minutes(30),
                timezone: Timezone::parse("Europe/London").unwrap(),
                calendar: CalendarRef::builtin(),
                location: None,
                meeting_link: None,
                notes: String::new(),
                reminder_offsets_minutes: vec![],
                now: Utc::now(),
            },
        )
        .await;
        id
    }
}

/// The activity the `events` table holds, derived from the raw rows without the projection's
/// code: the columns of the `activity` table but the summary.
const DERIVED: &str = "\
    WITH e AS ( \
      SELECT e.*, e.payload::jsonb -> e.event_type AS p FROM events e), \
    kinds AS ( \
      SELECT e.*, CASE \
          WHEN e.event_type = 'LeadCaptured' THEN 'lead_captured' \
          WHEN e.event_type = 'InboundMessageReceived' THEN 'message_received' \
          WHEN e.event_type = 'OutboundMessageSent' THEN 'message_sent' \
          WHEN e.event_type IN ('LeadStatusChanged', 'LeadStatusOverridden') \
               AND e.p ->> 'to' IN ('qualified', 'booked') THEN 'lead_' || (e.p ->> 'to') \
          WHEN e.event_type = 'LeadOptedOut' THEN 'lead_opted_out' \
          WHEN e.event_type = 'LeadResubscribed' THEN 'lead_resubscribed' \
          WHEN e.event_type = 'ConversationHandedOff' THEN 'handed_off' \
          WHEN e.event_type = 'AppointmentBooked' THEN 'appointment_booked' \
          WHEN e.event_type = 'AppointmentRescheduled' THEN 'appointment_rescheduled' \
          WHEN e.event_type = 'AppointmentCancelled' THEN 'appointment_cancelled' \
          WHEN e.event_type = 'AppointmentCompleted' THEN 'appointment_completed' \
          WHEN e.event_type = 'AppointmentNoShow' THEN 'appointment_no_show' \
        END AS kind \
      FROM e) \
    SELECT k.global_position AS position, k.tenant_id, \
           (k.metadata ->> 'occurred_at')::timestamptz AS occurred_at, k.kind, \
           CASE k.aggregate_type \
             WHEN 'lead' THEN k.aggregate_id::uuid \
             WHEN 'conversation' THEN split_part(k.aggregate_id, ':', 1)::uuid \
             ELSE (SELECT (b.p ->> 'lead_id')::uuid FROM e b \
                   WHERE b.aggregate_type = 'appointment' AND b.aggregate_id = k.aggregate_id \
                     AND b.event_type = 'AppointmentBooked') \
           END AS lead_id, \
           CASE WHEN k.aggregate_type = 'appointment' THEN k.aggregate_id::uuid END, \
           CASE WHEN k.aggregate_type = 'conversation' THEN split_part(k.aggregate_id, ':', 2) END, \
           (k.p ->> 'message_id')::uuid \
    FROM kinds k WHERE k.kind IS NOT NULL";

#[tokio::test]
async fn activity_equals_a_derivation_from_the_events_and_a_rebuild() {
    let db = TestDb::new().await;
    let pool = db.pool().clone();
    let writer = Writer {
        executor: CommandExecutor::new(pool.clone(), 10),
    };
    let live = Target::in_schema(Arc::new(ActivityProjection), LIVE);
    prepare(&pool, &live).await.unwrap();
    let sync = || async {
        wait_for_feed_to_settle(&pool).await;
        catch_up(&pool, &live, 1).await.unwrap();
    };
    let (a, b) = (TenantId::new(), TenantId::new());
    let soon = Utc::now().duration_trunc(Duration::hours(1)).unwrap() + Duration::days(2);

    let ada = writer.lead(a, 1, "Ada", "Lovelace").await;
    let bob = writer.lead(a, 2, "Bob", "").await;
    let nameless = writer.lead(a, 3, "", "").await;
    let eve = writer.lead(b, 4, "Eve", "Smith").await;
    writer
        .lead_command(
            a,
            ada,
            LeadCommand::AddTag {
                tag: Tag::parse("vip").unwrap(),
            },
        )
        .await;
    let ada_in = writer.inbound(a, ada, Channel::Sms).await;
    let ada_out = writer.sent(a, ada, Channel::Sms).await;
    sync().await;
    writer
        .lead_command(
            a,
            ada,
            LeadCommand::OverrideStatus {
                to: LeadStatus::Qualified,
                reason: "called".into(),
            },
        )
        .await;
    writer
        .lead_command(
            a,
            ada,
            LeadCommand::UpdateDetails(LeadDetailsPatch {
                last_name: Some("King".into()),
                ..LeadDetailsPatch::default()
            }),
        )
        .await;
    writer.inbound(a, ada, Channel::Whatsapp).await;
    let ada_meeting = writer.book(a, ada, soon).await;
    writer
        .lead_command(
            a,
            ada,
            LeadCommand::OverrideStatus {
                to: LeadStatus::Booked,
                reason: "booked".into(),
            },
        )
        .await;
    sync().await;
    writer
        .appointment(
            a,
            ada_meeting,
            AppointmentCommand::Reschedule {
                start: soon + Duration::hours(1),
                end: None,
                now: Utc::now(),
            },
        )
        .await;
    writer
        .appointment(
            a,
            ada_meeting,
            AppointmentCommand::Complete {
                at: soon + Duration::hours(2),
            },
        )
        .await;
    writer
        .lead_command(
            a,
            bob,
            LeadCommand::OptOut {
                reason: "STOP".into(),
            },
        )
        .await;
    writer.lead_command(a, bob, LeadCommand::Resubscribe).await;
    writer.inbound(a, bob, Channel::Sms).await;
    writer
        .conversation(
            a,
            bob,
            Channel::Sms,
            ConversationCommand::HandOff {
                reason: "human_request".into(),
                at: Utc::now(),
            },
        )
        .await;
    let bob_meeting = writer.book(a, bob, soon + Duration::days(1)).await;
    writer
        .appointment(
            a,
            bob_meeting,
            AppointmentCommand::Cancel {
                reason: "busy".into(),
                at: Utc::now(),
            },
        )
        .await;
    let missed = writer.book(a, nameless, soon + Duration::days(3)).await;
    writer
        .appointment(
            a,
            missed,
            AppointmentCommand::MarkNoShow {
                at: soon + Duration::days(3) + Duration::hours(1),
            },
        )
        .await;
    writer.inbound(b, eve, Channel::Whatsapp).await;
    writer.book(b, eve, soon).await;
    sync().await;

    // Every row equals the derivation from the raw events, and nothing else is there.
    let stored = format!(
        "SELECT position, tenant_id, occurred_at, kind, lead_id, appointment_id, channel, \
                message_id FROM {LIVE}.activity"
    );
    let difference = query_difference(&pool, &stored, DERIVED).await;
    assert!(
        difference.is_empty(),
        "activity vs derivation:\n{difference}"
    );
    let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {LIVE}.activity"))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 22);

    // Ada's activity, newest first, named as she was called at the time.
    let when = |at: DateTime<Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
    let ada_filter = ActivityFilter {
        lead_id: Some(ada.as_uuid()),
        ..ActivityFilter::default()
    };
    let page = list(&pool, LIVE, a.as_uuid(), &ada_filter, 50, None)
        .await
        .unwrap();
    assert_eq!(page.next, None);
    let items: Vec<(&str, &str)> = page
        .items
        .iter()
        .map(|row| (row.kind.as_str(), row.summary.as_str()))
        .collect();
    let booked = format!("Ada King booked an appointment for {}", when(soon));
    let moved = format!(
        "Ada King moved their appointment to {}",
        when(soon + Duration::hours(1))
    );
    assert_eq!(
        items,
        vec![
            (
                "appointment_completed",
                "Ada King attended their appointment"
            ),
            ("appointment_rescheduled", moved.as_str()),
            ("lead_booked", "Ada King is booked"),
            ("appointment_booked", booked.as_str()),
            ("message_received", "Ada King replied on WhatsApp"),
            ("lead_qualified", "Ada Lovelace qualified"),
            ("message_sent", "Message sent to Ada Lovelace on SMS"),
            ("message_received", "Ada Lovelace replied on SMS"),
            ("lead_captured", "Ada Lovelace was captured from website"),
        ]
    );
    let sms: Vec<(Option<&str>, Option<Uuid>)> = page.items[6..8]
        .iter()
        .map(|row| (row.channel.as_deref(), row.message_id))
        .collect();
    assert_eq!(
        sms,
        vec![
            (Some("sms"), Some(ada_out.as_uuid())),
            (Some("sms"), Some(ada_in.as_uuid()))
        ]
    );
    assert_eq!(page.items[0].appointment_id, Some(ada_meeting.as_uuid()));

    // Bob's and the nameless lead's summaries.
    let summaries = |lead: LeadId| {
        let pool = pool.clone();
        async move {
            let filter = ActivityFilter {
                lead_id: Some(lead.as_uuid()),
                ..ActivityFilter::default()
            };
            list(&pool, LIVE, a.as_uuid(), &filter, 50, None)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|row| row.summary)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        summaries(bob).await,
        vec![
            "Bob had their appointment cancelled".to_owned(),
            format!(
                "Bob booked an appointment for {}",
                when(soon + Duration::days(1))
            ),
            "Bob was handed off to a person on SMS".to_owned(),
            "Bob replied on SMS".to_owned(),
            "Bob re-subscribed".to_owned(),
            "Bob opted out".to_owned(),
            "Bob was captured from website".to_owned(),
        ]
    );
    assert_eq!(
        summaries(nameless).await,
        vec![
            "A lead missed their appointment".to_owned(),
            format!(
                "A lead booked an appointment for {}",
                when(soon + Duration::days(3))
            ),
            "A lead was captured from website".to_owned(),
        ]
    );

    // Paging through tenant A three at a time visits its 19 rows once each, newest first;
    // tenant B sees only its own 3.
    let mut positions = Vec::new();
    let mut before = None;
    loop {
        let page = list(
            &pool,
            LIVE,
            a.as_uuid(),
            &ActivityFilter::default(),
            3,
            before,
        )
        .await
        .unwrap();
        positions.extend(page.items.iter().map(|row| row.position));
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let mut expected = positions.clone();
    expected.sort_unstable_by(|x, y| y.cmp(x));
    expected.dedup();
    assert_eq!(positions, expected);
    assert_eq!(positions.len(), 19);
    let theirs = list(
        &pool,
        LIVE,
        b.as_uuid(),
        &ActivityFilter::default(),
        50,
        None,
    )
    .await
    .unwrap();
    let kinds: Vec<&str> = theirs.items.iter().map(|row| row.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["appointment_booked", "message_received", "lead_captured"]
    );
    assert!(theirs.items.iter().all(|row| row.lead_id == eve.as_uuid()));
    let captured = list(
        &pool,
        LIVE,
        a.as_uuid(),
        &ActivityFilter {
            kind: Some("lead_captured".into()),
            ..ActivityFilter::default()
        },
        50,
        None,
    )
    .await
    .unwrap();
    let leads: Vec<Uuid> = captured.items.iter().map(|row| row.lead_id).collect();
    assert_eq!(
        leads,
        vec![nameless.as_uuid(), bob.as_uuid(), ada.as_uuid()]
    );

    rebuild(&pool, Arc::new(ActivityProjection), "rebuilt_activity").await;
    assert_same_schemas(&pool, LIVE, "rebuilt_activity").await;
    let small = Target::in_schema(Arc::new(ActivityProjection), "rebuilt_activity_by_3");
    prepare(&pool, &small).await.unwrap();
    catch_up(&pool, &small, 3).await.unwrap();
    assert_same_schemas(&pool, LIVE, "rebuilt_activity_by_3").await;
}
