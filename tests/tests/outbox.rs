//! The outbox's last steps before a provider, end to end against a Twilio fake: a send whose
//! earlier attempt never recorded its outcome is failed (`outcome_unknown`) instead of reaching
//! the provider twice, every attempt leaves its marker, the tenant's send rate holds a send back
//! without recording anything, and outreach waits for the lead's own time zone when its custom
//! field names one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use api::state::AppState;
use application::Clock;
use bookerbot_tests::{FakeHttp, FakeResponse};
use chrono::{DateTime, Utc};
use domain::conversation::{
    Conversation, ConversationCommand, ConversationId, DeliveryStatus, MessageContent,
    MessageOrigin,
};
use domain::values::{LeadId, MessageId, TenantId};
use domain::Channel;
use infrastructure::executor::{CommandExecutor, Existence};
use infrastructure::messaging::outbox::{self, SendOutcome};
use infrastructure::messaging::{task_queue, workers};
use reqwest::StatusCode;
use serde_json::{json, Value};

use helpers::{TestApp, TestTenant, ADMIN};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token";
const FROM: &str = "+14155550100";
const LEAD_PHONE: &str = "+14155550123";

/// Polls `check` until it holds, failing the test after ten seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A server without workers (the test runs them), a Twilio fake answering every send with a
/// fresh sid, a tenant on Twilio with a lead, and the state a test's own worker runs on.
struct World {
    app: TestApp,
    twilio: FakeHttp,
    tenant: TestTenant,
    lead: LeadId,
    state: AppState,
}

async fn world(send_rate_per_second: u32) -> World {
    let counter = std::sync::atomic::AtomicU32::new(0);
    let twilio = FakeHttp::start(move |_| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        FakeResponse::json(
            201,
            json!({"sid": format!("SM{n:032x}"), "status": "queued", "account_sid": SID}),
        )
    })
    .await;
    let base = twilio.base.clone();
    let app = TestApp::spawn_with(|settings| {
        settings.twilio_api_base = base;
        settings.run_workers = false;
    })
    .await;
    let tenant = app.create_tenant("Acme").await;
    let reply = app
        .patch(
            ADMIN,
            &format!("/api/v1/tenants/{}", tenant.id),
            json!({"channels": {"twilio": {"account_sid": SID, "auth_token": TOKEN, "from_number": FROM}}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let (lead, _) = app
        .capture_new(
            &tenant.key,
            json!({"first_name": "Ada", "phone": LEAD_PHONE, "source": "website"}),
        )
        .await;
    let mut settings = api::settings::Settings::for_tests(app.db.url().to_string(), ADMIN);
    settings.twilio_api_base = twilio.base.clone();
    settings.send_rate_per_second = send_rate_per_second;
    let state =
        AppState::new(app.db.pool().clone(), Arc::new(app.clock.clone()), settings).unwrap();
    World {
        lead: lead.parse().unwrap(),
        app,
        twilio,
        tenant,
        state,
    }
}

impl World {
    fn conversation_id(&self) -> ConversationId {
        ConversationId::new(self.lead, Channel::Sms)
    }

    /// Queues an operator message straight through the aggregate.
    async fn queue(&self, text: &str) -> MessageId {
        let executor = CommandExecutor::new(self.app.db.pool().clone(), 5);
        let ctx = bookerbot_tests::tenant_ctx(self.tenant_id());
        let message_id = MessageId::new();
        executor
            .execute::<Conversation>(
                &ctx,
                &self.conversation_id().to_string(),
                Existence::MayCreate,
                ConversationCommand::QueueOutbound {
                    lead_id: self.lead,
                    channel: Channel::Sms,
                    message_id,
                    content: MessageContent::text(text).unwrap(),
                    origin: MessageOrigin::Operator,
                    now: self.app.clock.now(),
                },
            )
            .await
            .unwrap();
        message_id
    }

    fn tenant_id(&self) -> TenantId {
        TenantId::from_uuid(self.tenant.id.parse().unwrap())
    }

    async fn conversation(&self) -> Conversation {
        infrastructure::event_store::load::<Conversation>(
            &mut self.app.db.pool().acquire().await.unwrap(),
            self.tenant.id.parse().unwrap(),
            &self.conversation_id().to_string(),
        )
        .await
        .unwrap()
        .aggregate
    }

    async fn status(&self, message: MessageId) -> Option<DeliveryStatus> {
        self.conversation()
            .await
            .outbound(message)
            .map(|m| m.status)
    }

    /// Runs worker rounds until `message` has `status`.
    async fn work_until(&self, message: MessageId, status: DeliveryStatus) {
        eventually(&format!("{message} to be {status:?}"), || async {
            workers::run_once(&self.state.messaging, "test-worker")
                .await
                .unwrap();
            self.status(message).await == Some(status)
        })
        .await;
    }

    /// Waits until the tasks projection holds `count` tasks.
    async fn tasks_due(&self, count: i64) {
        let table = projections::tasks::live_table();
        eventually(&format!("{count} tasks"), || async {
            sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(self.app.db.pool())
                .await
                .unwrap_or(-1)
                == count
        })
        .await;
    }

    /// The attempts marked for `message`, in order.
    async fn markers(&self, message: MessageId) -> Vec<i32> {
        sqlx::query_scalar("SELECT try FROM send_attempts WHERE message_id = $1 ORDER BY try")
            .bind(message.as_uuid())
            .fetch_all(self.app.db.pool())
            .await
            .unwrap()
    }

    /// The payloads of this tenant's events of `event_type`, oldest first.
    async fn events(&self, event_type: &str) -> Vec<Value> {
        sqlx::query_scalar(
            "SELECT payload -> event_type FROM events WHERE event_type = $1 \
             ORDER BY global_position",
        )
        .bind(event_type)
        .fetch_all(self.app.db.pool())
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn a_send_whose_earlier_attempt_left_no_outcome_is_failed_and_never_reaches_the_provider() {
    let world = world(0).await;
    let message = world.queue("Your visit is confirmed").await;
    world.tasks_due(1).await;
    // A worker marked its attempt, then died before the provider's answer was recorded.
    sqlx::query("INSERT INTO send_attempts (message_id, try, started_at) VALUES ($1, 0, $2)")
        .bind(message.as_uuid())
        .bind(world.app.clock.now())
        .execute(world.app.db.pool())
        .await
        .unwrap();
    world.work_until(message, DeliveryStatus::Failed).await;
    assert!(world.twilio.requests().is_empty(), "not sent again");
    let failed = world.events("OutboundMessageFailed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["reason"], "outcome_unknown");
    assert_eq!(
        failed[0]["error"],
        "a previous attempt may have reached the provider; not sent again"
    );

    // The operator knows better and retries it: a new attempt, sent once.
    let path = format!("/api/v1/messages/{message}/retry");
    eventually("the retry to be accepted", || async {
        world
            .app
            .post(&world.tenant.key, &path, json!({}))
            .await
            .status
            == StatusCode::ACCEPTED
    })
    .await;
    world.work_until(message, DeliveryStatus::Sent).await;
    assert_eq!(world.twilio.requests().len(), 1);
    assert_eq!(world.markers(message).await, vec![0, 1000]);
    let conversation = world.conversation().await;
    let sent = conversation.outbound(message).unwrap();
    assert_eq!((sent.requeues, sent.failed_attempts), (1, 0));
}

#[tokio::test]
async fn every_attempt_leaves_its_own_marker_so_retries_after_a_failure_still_go() {
    let world = world(0).await;
    let plain = world.queue("Hello").await;
    world.work_until(plain, DeliveryStatus::Sent).await;
    assert_eq!(world.markers(plain).await, vec![0], "one marker per send");
    assert_eq!(world.twilio.requests().len(), 1);

    // A transient failure is recorded, so the retry is a new attempt, not an unknown outcome.
    world.twilio.enqueue(FakeResponse::json(
        500,
        json!({"code": 20500, "message": "Internal Server Error"}),
    ));
    let retried = world.queue("Hello again").await;
    eventually("the failed attempt", || async {
        workers::run_once(&world.state.messaging, "test-worker")
            .await
            .unwrap();
        !world.events("OutboundSendAttemptFailed").await.is_empty()
    })
    .await;
    world.app.clock.advance(chrono::Duration::seconds(3));
    world.work_until(retried, DeliveryStatus::Sent).await;
    assert_eq!(world.markers(retried).await, vec![0, 1]);
    assert_eq!(world.twilio.requests().len(), 3);
    assert!(world.events("OutboundMessageFailed").await.is_empty());
}

#[tokio::test]
async fn over_the_send_rate_a_send_records_nothing_and_names_when_it_may_go() {
    // Two a second: a burst of two, then one every 500 ms.
    let world = world(2).await;
    let messages = [
        world.queue("One").await,
        world.queue("Two").await,
        world.queue("Three").await,
    ];
    world.tasks_due(3).await;
    let messaging = &world.state.messaging;
    // Claims what is due and sends it, one task after another; the leases end at once, so the
    // next round may claim again.
    let round = || async {
        let tasks = task_queue::claim(
            messaging.executor.pool(),
            &messaging.settings.tasks_table,
            "test-worker",
            world.app.clock.now(),
            Duration::ZERO,
            10,
        )
        .await
        .unwrap();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(outbox::run(messaging, &task).await.unwrap());
        }
        outcomes.sort_by_key(|outcome| format!("{outcome:?}"));
        outcomes
    };
    let before = world.app.event_count().await;
    let until: DateTime<Utc> = world.app.clock.now() + chrono::Duration::milliseconds(500);
    let outcomes = round().await;
    assert_eq!(
        outcomes,
        vec![
            SendOutcome::RateLimited(until),
            SendOutcome::Sent,
            SendOutcome::Sent
        ]
    );
    assert_eq!(outcomes[0].hold_until(), Some(until));
    assert_eq!(outcomes[1].hold_until(), None);
    assert_eq!(world.twilio.requests().len(), 2);
    assert_eq!(
        world.app.event_count().await - before,
        2,
        "the two sends; nothing for the held one"
    );
    let mut statuses = Vec::new();
    for message in messages {
        statuses.push(world.status(message).await.unwrap());
    }
    statuses.sort_by_key(|status| format!("{status:?}"));
    assert_eq!(
        statuses,
        vec![
            DeliveryStatus::Queued,
            DeliveryStatus::Sent,
            DeliveryStatus::Sent
        ]
    );
    // A moment before its slot it is not even claimed (the tenant's next slot is not free);
    // sent once the slot frees.
    world
        .app
        .clock
        .set(until - chrono::Duration::milliseconds(1));
    assert!(round().await.is_empty());
    world.app.clock.set(until);
    assert!(round().await.contains(&SendOutcome::Sent));
    assert_eq!(world.twilio.requests().len(), 3);
    for message in messages {
        assert_eq!(world.status(message).await, Some(DeliveryStatus::Sent));
        assert_eq!(world.markers(message).await, vec![0], "one marker each");
    }
}

/// A tenant (in London) with an active SMS workflow and the clock at Monday 2026-03-30, 10:00
/// UTC: 11:00 in London (open) but 03:00 in Los Angeles.
async fn tenant_with_workflow(app: &TestApp) -> (TestTenant, String) {
    app.clock.set("2026-03-30T10:00:00Z".parse().unwrap());
    let tenant = app.create_tenant("Acme").await;
    let workflow = app.create_workflow(&tenant.key, "Solar enquiries").await;
    let activated = app
        .post(
            &tenant.key,
            &format!("/api/v1/workflows/{workflow}/activate"),
            json!({}),
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    (tenant, workflow)
}

/// The `OutboundSendDeferred` events of `lead`'s conversations.
async fn deferrals(app: &TestApp, lead: &str) -> Vec<Value> {
    sqlx::query_scalar(
        "SELECT payload -> 'OutboundSendDeferred' FROM events \
         WHERE event_type = 'OutboundSendDeferred' AND aggregate_id LIKE $1 \
         ORDER BY global_position",
    )
    .bind(format!("{lead}:%"))
    .fetch_all(app.db.pool())
    .await
    .unwrap()
}

/// The sandbox messages sent to `lead`.
async fn sandbox_count(app: &TestApp, key: &str, lead: &str) -> usize {
    let reply = app
        .get(key, &format!("/api/v1/sandbox/messages?lead_id={lead}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["messages"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn outreach_waits_for_the_leads_own_time_zone_when_its_custom_field_names_one() {
    let app = TestApp::spawn().await;
    let (tenant, workflow) = tenant_with_workflow(&app).await;
    let key = tenant.key.as_str();
    let capture = |phone: &str, timezone: &str| {
        json!({"first_name": "Sam", "phone": phone, "workflow_id": workflow,
               "custom_fields": {"timezone": timezone}})
    };
    // A UK number (London, open now), but the lead says it lives in Los Angeles (03:00).
    let (abroad, _) = app
        .capture_new(key, capture("+44 7700 900555", "America/Los_Angeles"))
        .await;
    // Not an IANA name: the phone's zone (London) decides, and it goes at once.
    let (home, _) = app
        .capture_new(key, capture("+44 7700 900556", "Mars/Olympus"))
        .await;
    for lead in [&abroad, &home] {
        let reply = app
            .post(key, &format!("/api/v1/leads/{lead}/outreach"), json!({}))
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    }
    eventually("the outreach abroad to be deferred", || async {
        !deferrals(&app, &abroad).await.is_empty()
    })
    .await;
    let until: DateTime<Utc> = deferrals(&app, &abroad).await[0]["until"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        until,
        "2026-03-30T15:00:00Z".parse::<DateTime<Utc>>().unwrap(),
        "08:00 PDT, 16:00 BST"
    );
    eventually("the outreach at home to be sent", || async {
        sandbox_count(&app, key, &home).await >= 1
    })
    .await;
    assert_eq!(sandbox_count(&app, key, &abroad).await, 0);
    assert!(deferrals(&app, &home).await.is_empty());
    app.clock.set(until);
    eventually("the outreach abroad to be sent at 08:00 in LA", || async {
        sandbox_count(&app, key, &abroad).await >= 1
    })
    .await;
    app.stop().await;
}
