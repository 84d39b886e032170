//! Provider webhooks end to end: signatures checked before anything is recorded, duplicates
//! recorded once, status callbacks monotonic, and STOP keeps every later request away from the
//! provider (checked on the fake's request log).

use std::time::Duration;

use application::Clock;
use bookerbot_tests::{FakeHttp, FakeResponse};
use domain::conversation::{
    Conversation, ConversationCommand, ConversationId, DeliveryStatus, MessageContent,
    MessageOrigin,
};
use domain::values::{LeadId, MessageId, TenantId};
use domain::{Channel, Lead};
use infrastructure::channels::{hub_signature, twilio_signature};
use infrastructure::executor::{CommandExecutor, Existence};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, TestTenant};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token";
const FROM: &str = "+14155550100";
const LEAD_PHONE: &str = "+14155550123";

/// A fake Twilio Messages API answering every send with a fresh `SM…` sid.
async fn fake_twilio() -> FakeHttp {
    let counter = std::sync::atomic::AtomicU32::new(0);
    FakeHttp::start(move |_| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        FakeResponse::json(
            201,
            json!({"sid": format!("SM{n:032x}"), "status": "queued", "account_sid": SID,
                   "body": "", "direction": "outbound-api", "error_code": null}),
        )
    })
    .await
}

async fn with_twilio(app: &TestApp, tenant: &TestTenant) {
    let reply = app
        .patch(
            crate::helpers::ADMIN,
            &format!("/api/v1/tenants/{}", tenant.id),
            json!({"channels": {"twilio": {"account_sid": SID, "auth_token": TOKEN, "from_number": FROM}}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// POSTs a Twilio webhook signed over `signed_url` with `signed` params, sending `sent` params.
async fn post_twilio(
    app: &TestApp,
    path: &str,
    signed_url: &str,
    signed: &[(&str, &str)],
    sent: &[(&str, &str)],
) -> reqwest::Response {
    let signed: Vec<(String, String)> = signed
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let signature = twilio_signature(TOKEN, signed_url, &signed);
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(sent.iter())
        .finish();
    reqwest::Client::new()
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn inbound_params<'a>(sid: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("AccountSid", SID),
        ("From", LEAD_PHONE),
        ("To", FROM),
        ("Body", body),
        ("NumMedia", "0"),
        ("ApiVersion", "2010-04-01"),
    ]
}

async fn count_events(app: &TestApp, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
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

#[tokio::test]
async fn a_signed_inbound_sms_from_an_unknown_number_makes_one_lead_and_one_message() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Acme").await;
    with_twilio(&app, &tenant).await;
    let path = format!("/webhooks/twilio/{}/inbound", tenant.id);
    let url = format!("{}{path}", app.base);
    let params = inbound_params("SM00000000000000000000000000000001", "Hello there");
    let mut reversed = params.clone();
    reversed.reverse();
    let response = post_twilio(&app, &path, &url, &params, &reversed).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/xml"
    );
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("<Response></Response>"));
    // The provider retries: the same MessageSid again records nothing more.
    let again = post_twilio(&app, &path, &url, &params, &params).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(count_events(&app, "InboundMessageReceived").await, 1);
    assert_eq!(count_events(&app, "LeadCaptured").await, 1);
    let source: String = sqlx::query_scalar(
        "SELECT payload->'LeadCaptured'->>'source' FROM events WHERE event_type = 'LeadCaptured'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(source, "inbound");
}

#[tokio::test]
async fn a_tampered_or_unsigned_webhook_is_refused_and_nothing_is_recorded() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Acme").await;
    let bare = app.create_tenant("No Twilio").await;
    with_twilio(&app, &tenant).await;
    let path = format!("/webhooks/twilio/{}/inbound", tenant.id);
    let url = format!("{}{path}", app.base);
    let params = inbound_params("SM00000000000000000000000000000002", "Hello");
    let before = app.event_count().await;

    let mut tampered = params.clone();
    tampered[5] = ("Body", "Hello!");
    let cases: Vec<(&str, reqwest::Response)> = vec![
        (
            "a changed parameter",
            post_twilio(&app, &path, &url, &params, &tampered).await,
        ),
        ("an added parameter", {
            let mut added = params.clone();
            added.push(("Extra", "1"));
            post_twilio(&app, &path, &url, &params, &added).await
        }),
        ("a signature over another URL", {
            let other = format!("{url}?x=1");
            post_twilio(&app, &path, &other, &params, &params).await
        }),
        ("a query string not signed", {
            let with_query = format!("{path}?x=1");
            post_twilio(&app, &with_query, &url, &params, &params).await
        }),
        ("another tenant's path", {
            let other_path = format!("/webhooks/twilio/{}/inbound", bare.id);
            let other_url = format!("{}{other_path}", app.base);
            post_twilio(&app, &other_path, &other_url, &params, &params).await
        }),
        ("an unknown tenant", {
            let unknown = format!("/webhooks/twilio/{}/inbound", uuid::Uuid::nil());
            let unknown_url = format!("{}{unknown}", app.base);
            post_twilio(&app, &unknown, &unknown_url, &params, &params).await
        }),
        ("no signature", {
            reqwest::Client::new()
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("MessageSid=SM1&From=%2B14155550123&Body=hi")
                .send()
                .await
                .unwrap()
        }),
    ];
    for (case, response) in cases {
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{case}");
    }
    assert_eq!(app.event_count().await, before, "nothing recorded");
}

#[tokio::test]
async fn whatsapp_cloud_handshake_and_signed_events() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Acme").await;
    let reply = app
        .patch(
            crate::helpers::ADMIN,
            &format!("/api/v1/tenants/{}", tenant.id),
            json!({"channels": {"whatsapp_cloud": {"phone_number_id": "106540352242922",
                "access_token": "EAAG-token", "app_secret": "meta-app-secret", "verify_token": "verify-me"}}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let path = format!("/webhooks/whatsapp/{}", tenant.id);
    let client = reqwest::Client::new();
    let handshake = client
        .get(format!(
            "{}{path}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(handshake.status(), StatusCode::OK);
    assert_eq!(handshake.text().await.unwrap(), "1158201444");
    let wrong = client
        .get(format!(
            "{}{path}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);

    let body = json!({"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
        "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
        "messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDU1NTEyMzQ","timestamp":"1749416383","type":"text","text":{"body":"Olá — is Tuesday free? 🙂"}}]}}]}]})
    .to_string();
    let before = app.event_count().await;
    let tampered = body.replace("Tuesday", "Monday");
    let refused = client
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            hub_signature("meta-app-secret", body.as_bytes()),
        )
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.event_count().await, before);
    for _ in 0..2 {
        let accepted = client
            .post(format!("{}{path}", app.base))
            .header("content-type", "application/json")
            .header(
                "x-hub-signature-256",
                hub_signature("meta-app-secret", body.as_bytes()),
            )
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(accepted.status(), StatusCode::OK);
    }
    assert_eq!(count_events(&app, "InboundMessageReceived").await, 1);
    let (source, first_name): (String, String) = sqlx::query_as(
        "SELECT payload->'LeadCaptured'->>'source', payload->'LeadCaptured'->>'first_name' \
         FROM events WHERE event_type = 'LeadCaptured'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(
        (source.as_str(), first_name.as_str()),
        ("wa_direct", "Sheena Nelson")
    );
    let text: String = sqlx::query_scalar(
        "SELECT payload->'InboundMessageReceived'->>'body' FROM events \
         WHERE event_type = 'InboundMessageReceived'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(text, "Olá — is Tuesday free? 🙂");
}

/// Captures a lead with the test phone and returns its id.
async fn lead(app: &TestApp, tenant: &TestTenant) -> LeadId {
    let (id, _) = app
        .capture_new(
            &tenant.key,
            json!({"first_name": "Ada", "phone": LEAD_PHONE, "source": "website"}),
        )
        .await;
    id.parse().unwrap()
}

/// Queues an operator message straight through the aggregate (as any use case would).
async fn queue(app: &TestApp, tenant: &TestTenant, lead: LeadId, text: &str) -> MessageId {
    let executor = CommandExecutor::new(app.db.pool().clone(), 5);
    let ctx = bookerbot_tests::tenant_ctx(TenantId::from_uuid(tenant.id.parse().unwrap()));
    let message_id = MessageId::new();
    executor
        .execute::<Conversation>(
            &ctx,
            &ConversationId::new(lead, Channel::Sms).to_string(),
            Existence::MayCreate,
            ConversationCommand::QueueOutbound {
                lead_id: lead,
                channel: Channel::Sms,
                message_id,
                content: MessageContent::text(text).unwrap(),
                origin: MessageOrigin::Operator,
                now: app.clock.now(),
            },
        )
        .await
        .unwrap();
    message_id
}

async fn conversation(app: &TestApp, tenant: &TestTenant, lead: LeadId) -> Conversation {
    infrastructure::event_store::load::<Conversation>(
        &mut app.db.pool().acquire().await.unwrap(),
        tenant.id.parse().unwrap(),
        &ConversationId::new(lead, Channel::Sms).to_string(),
    )
    .await
    .unwrap()
    .aggregate
}

#[tokio::test]
async fn status_callbacks_out_of_order_leave_the_furthest_status() {
    let twilio = fake_twilio().await;
    let base = twilio.base.clone();
    let app = TestApp::spawn_with(|settings| settings.twilio_api_base = base).await;
    let tenant = app.create_tenant("Acme").await;
    with_twilio(&app, &tenant).await;
    let lead = lead(&app, &tenant).await;
    let message = queue(&app, &tenant, lead, "Your visit is confirmed").await;
    eventually("the message to be sent", || async {
        conversation(&app, &tenant, lead)
            .await
            .outbound(message)
            .is_some_and(|m| m.status == DeliveryStatus::Sent)
    })
    .await;
    let requests = twilio.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].form_value("Body").as_deref(),
        Some("Your visit is confirmed")
    );
    let sid = conversation(&app, &tenant, lead)
        .await
        .outbound(message)
        .and_then(|m| m.provider_message_id.clone())
        .unwrap();

    let path = format!("/webhooks/twilio/{}/status", tenant.id);
    let url = format!("{}{path}", app.base);
    for status in [
        "delivered",
        "sent",
        "delivered",
        "read",
        "delivered",
        "sent",
    ] {
        let params = [
            ("MessageSid", sid.as_str()),
            ("SmsSid", sid.as_str()),
            ("MessageStatus", status),
            ("SmsStatus", status),
            ("AccountSid", SID),
            ("From", FROM),
            ("To", LEAD_PHONE),
            ("ApiVersion", "2010-04-01"),
        ];
        let response = post_twilio(&app, &path, &url, &params, &params).await;
        assert_eq!(response.status(), StatusCode::OK, "{status}");
    }
    let final_status = conversation(&app, &tenant, lead)
        .await
        .outbound(message)
        .unwrap()
        .status;
    assert_eq!(final_status, DeliveryStatus::Read);
    assert_eq!(count_events(&app, "OutboundMessageStatusUpdated").await, 2);
    let tampered = [("MessageSid", sid.as_str()), ("MessageStatus", "failed")];
    let refused = post_twilio(&app, &path, &url, &tampered[..1], &tampered).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn after_stop_no_request_reaches_the_provider_for_that_lead_but_the_confirmation() {
    let twilio = fake_twilio().await;
    let base = twilio.base.clone();
    let app = TestApp::spawn_with(|settings| {
        settings.twilio_api_base = base;
        settings.run_workers = false;
    })
    .await;
    let tenant = app.create_tenant("Acme").await;
    with_twilio(&app, &tenant).await;
    let lead = lead(&app, &tenant).await;
    // Three messages queued and due before the STOP; no worker has sent them yet.
    for text in ["First", "Second", "Third"] {
        queue(&app, &tenant, lead, text).await;
    }
    let tasks = projections::tasks::live_table();
    eventually("the outbox to hold the three sends", || async {
        let due: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {tasks}"))
            .fetch_one(app.db.pool())
            .await
            .unwrap_or(0);
        due == 3
    })
    .await;

    let path = format!("/webhooks/twilio/{}/inbound", tenant.id);
    let url = format!("{}{path}", app.base);
    let params = inbound_params("SM00000000000000000000000000000009", "Stop");
    let response = post_twilio(&app, &path, &url, &params, &params).await;
    assert_eq!(response.status(), StatusCode::OK);

    // Now workers run (a second instance over the same database) until nothing is due.
    let state = api::state::AppState::new(
        app.db.pool().clone(),
        std::sync::Arc::new(app.clock.clone()),
        api::settings::Settings {
            twilio_api_base: twilio.base.clone(),
            ..api::settings::Settings::for_tests(app.db.url().to_string(), crate::helpers::ADMIN)
        },
    )
    .unwrap();
    eventually("the outbox to drain", || async {
        infrastructure::messaging::workers::run_once(&state.messaging, "test-worker")
            .await
            .unwrap();
        let left: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {tasks}"))
            .fetch_one(app.db.pool())
            .await
            .unwrap_or(1);
        left == 0
    })
    .await;

    let requests = twilio.requests();
    let bodies: Vec<String> = requests
        .iter()
        .filter(|r| r.form_value("To").as_deref() == Some(LEAD_PHONE))
        .filter_map(|r| r.form_value("Body"))
        .collect();
    assert_eq!(
        bodies,
        vec![domain::WorkflowDefinition::DEFAULT_OPT_OUT_MESSAGE.to_owned()],
        "only the one opt-out confirmation reached the provider"
    );
    assert_eq!(count_events(&app, "OutboundMessageCancelled").await, 3);
    let lead_state = infrastructure::event_store::load::<Lead>(
        &mut app.db.pool().acquire().await.unwrap(),
        tenant.id.parse().unwrap(),
        &lead.to_string(),
    )
    .await
    .unwrap()
    .aggregate;
    assert!(lead_state.is_opted_out());

    // A second STOP, and anything queued afterwards, sends nothing more.
    let again = inbound_params("SM00000000000000000000000000000010", "STOP");
    assert_eq!(
        post_twilio(&app, &path, &url, &again, &again)
            .await
            .status(),
        StatusCode::OK
    );
    queue(&app, &tenant, lead, "Are you still there?").await;
    eventually("the outbox to drain again", || async {
        infrastructure::messaging::workers::run_once(&state.messaging, "test-worker")
            .await
            .unwrap();
        let left: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {tasks}"))
            .fetch_one(app.db.pool())
            .await
            .unwrap_or(1);
        left == 0 && twilio.requests().len() == 1
    })
    .await;
    assert_eq!(twilio.requests().len(), 1);
}

#[tokio::test]
async fn a_stop_arriving_while_a_send_is_at_the_provider_waits_for_it_and_stops_the_rest() {
    let twilio = fake_twilio().await;
    let base = twilio.base.clone();
    let app = TestApp::spawn_with(|settings| {
        settings.twilio_api_base = base;
        settings.run_workers = false;
    })
    .await;
    let tenant = app.create_tenant("Acme").await;
    with_twilio(&app, &tenant).await;
    let lead = lead(&app, &tenant).await;
    let tasks = projections::tasks::live_table();
    let due = |n: i64| {
        let tasks = tasks.clone();
        let pool = app.db.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {tasks}"))
                .fetch_one(&pool)
                .await
                .unwrap_or(-1)
                == n
        }
    };
    queue(&app, &tenant, lead, "In flight").await;
    eventually("the first send to be due", || due(1)).await;
    let state = api::state::AppState::new(
        app.db.pool().clone(),
        std::sync::Arc::new(app.clock.clone()),
        api::settings::Settings {
            twilio_api_base: twilio.base.clone(),
            ..api::settings::Settings::for_tests(app.db.url().to_string(), crate::helpers::ADMIN)
        },
    )
    .unwrap();
    // The provider takes a second to answer the first send.
    twilio.enqueue(
        FakeResponse::json(201, json!({"sid": "SMslow", "status": "queued"}))
            .delayed(Duration::from_millis(1000)),
    );
    let messaging = state.messaging.clone();
    let worker = tokio::spawn(async move {
        infrastructure::messaging::workers::run_once(&messaging, "slow-worker").await
    });
    eventually("the provider to receive the first send", || async {
        !twilio.requests().is_empty()
    })
    .await;
    queue(&app, &tenant, lead, "Queued before the STOP").await;
    let path = format!("/webhooks/twilio/{}/inbound", tenant.id);
    let url = format!("{}{path}", app.base);
    let params = inbound_params("SM00000000000000000000000000000011", "STOP");
    let started = std::time::Instant::now();
    let response = post_twilio(&app, &path, &url, &params, &params).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(worker.await.unwrap().unwrap() >= 1);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the opt-out waited for the send at the provider ({:?})",
        started.elapsed()
    );
    eventually("the outbox to drain", || async {
        infrastructure::messaging::workers::run_once(&state.messaging, "test-worker")
            .await
            .unwrap();
        due(0).await
    })
    .await;
    let bodies: Vec<String> = twilio
        .requests()
        .iter()
        .filter_map(|r| r.form_value("Body"))
        .collect();
    assert_eq!(
        bodies,
        vec![
            "In flight".to_owned(),
            domain::WorkflowDefinition::DEFAULT_OPT_OUT_MESSAGE.to_owned()
        ]
    );
}

#[tokio::test]
async fn asking_for_a_person_hands_off_and_tells_the_admin_by_text_and_webhook() {
    let twilio = fake_twilio().await;
    let hook = FakeHttp::start(|_| FakeResponse::json(200, json!({"ok": true}))).await;
    let base = twilio.base.clone();
    let app = TestApp::spawn_with(|settings| settings.twilio_api_base = base).await;
    let tenant = app.create_tenant("Acme").await;
    with_twilio(&app, &tenant).await;
    let reply = app
        .patch(
            crate::helpers::ADMIN,
            &format!("/api/v1/tenants/{}", tenant.id),
            json!({"admin_phone": "+14155550199", "webhook_url": format!("{}/hooks/bookerbot", hook.base)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let workflow = app.create_workflow(&tenant.key, "Enquiries").await;
    let activated = app
        .post(
            &tenant.key,
            &format!("/api/v1/workflows/{workflow}/activate"),
            json!({}),
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    app.capture_new(
        &tenant.key,
        json!({"first_name": "Ada", "phone": LEAD_PHONE, "source": "website", "workflow_id": workflow}),
    )
    .await;

    let path = format!("/webhooks/twilio/{}/inbound", tenant.id);
    let url = format!("{}{path}", app.base);
    let params = inbound_params(
        "SM00000000000000000000000000000021",
        "Can I speak to a real person please?",
    );
    assert_eq!(
        post_twilio(&app, &path, &url, &params, &params)
            .await
            .status(),
        StatusCode::OK
    );
    eventually("the admin to be told", || async {
        count_events(&app, "HandoffNotified").await == 1
    })
    .await;
    let to_admin: Vec<String> = twilio
        .requests()
        .iter()
        .filter(|r| r.form_value("To").as_deref() == Some("+14155550199"))
        .filter_map(|r| r.form_value("Body"))
        .collect();
    assert_eq!(to_admin.len(), 1, "{to_admin:?}");
    assert!(
        to_admin[0].contains("Ada (+14155550123) needs a person on sms (human_request)"),
        "{}",
        to_admin[0]
    );
    let posts = hook.requests();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, "/hooks/bookerbot");
    assert_eq!(posts[0].json()["type"], "conversation.handed_off");
    assert_eq!(posts[0].json()["reason"], "human_request");
    let status: String = sqlx::query_scalar(
        "SELECT payload->'LeadStatusChanged'->>'to' FROM events \
         WHERE event_type = 'LeadStatusChanged' ORDER BY global_position DESC LIMIT 1",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(status, "handed_off");
    // While a human has it, the AI stays silent.
    let later = inbound_params("SM00000000000000000000000000000022", "Hello?");
    assert_eq!(
        post_twilio(&app, &path, &url, &later, &later)
            .await
            .status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count_events(&app, "AiTurnRecorded").await, 1);
}

async fn lead_state(app: &TestApp, tenant: &TestTenant, lead: LeadId) -> Lead {
    infrastructure::event_store::load::<Lead>(
        &mut app.db.pool().acquire().await.unwrap(),
        tenant.id.parse().unwrap(),
        &lead.to_string(),
    )
    .await
    .unwrap()
    .aggregate
}

#[tokio::test]
async fn a_transient_provider_error_is_retried_after_its_backoff_and_a_permanent_one_marks_the_lead(
) {
    let twilio = fake_twilio().await;
    let base = twilio.base.clone();
    let app = TestApp::spawn_with(|settings| settings.twilio_api_base = base).await;
    let tenant = app.create_tenant("Acme").await;
    with_twilio(&app, &tenant).await;
    let lead = lead(&app, &tenant).await;

    // 500, then 429 with Retry-After: two attempts recorded, each retried when due, then sent.
    twilio.enqueue(FakeResponse::json(
        500,
        json!({"code": 20500, "message": "Internal Server Error"}),
    ));
    twilio.enqueue(
        FakeResponse::json(429, json!({"code": 20429, "message": "Too Many Requests"}))
            .with_header("retry-after", "30"),
    );
    let message = queue(&app, &tenant, lead, "Hello again").await;
    eventually("the first failed attempt", || async {
        count_events(&app, "OutboundSendAttemptFailed").await == 1
    })
    .await;
    assert_eq!(twilio.requests().len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(twilio.requests().len(), 1, "not retried before its time");
    app.clock.advance(chrono::Duration::seconds(3));
    eventually("the second failed attempt", || async {
        count_events(&app, "OutboundSendAttemptFailed").await == 2
    })
    .await;
    let retry_at: String = sqlx::query_scalar(
        "SELECT payload->'OutboundSendAttemptFailed'->>'retry_at' FROM events \
         WHERE event_type = 'OutboundSendAttemptFailed' ORDER BY global_position DESC LIMIT 1",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    let retry_at: chrono::DateTime<chrono::Utc> = retry_at.parse().unwrap();
    assert!(
        retry_at >= app.clock.now() + chrono::Duration::seconds(29),
        "Retry-After honoured"
    );
    app.clock.advance(chrono::Duration::seconds(31));
    eventually("the send", || async {
        conversation(&app, &tenant, lead)
            .await
            .outbound(message)
            .is_some_and(|m| m.status == DeliveryStatus::Sent)
    })
    .await;
    assert_eq!(twilio.requests().len(), 3);

    // An invalid number fails at once, without retries, and the lead is unreachable.
    twilio.enqueue(FakeResponse::json(
        400,
        json!({"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}),
    ));
    let invalid = queue(&app, &tenant, lead, "Are you there?").await;
    eventually("the lead to be unreachable", || async {
        lead_state(&app, &tenant, lead).await.is_unreachable()
    })
    .await;
    let failed = conversation(&app, &tenant, lead).await;
    assert_eq!(
        failed.outbound(invalid).unwrap().status,
        DeliveryStatus::Failed
    );
    assert_eq!(twilio.requests().len(), 4);

    // Twilio's 21610 (the number sent STOP to Twilio) opts the lead out.
    app.patch(
        &tenant.key,
        &format!("/api/v1/leads/{lead}"),
        json!({"phone": "+14155550124"}),
    )
    .await;
    twilio.enqueue(FakeResponse::json(
        400,
        json!({"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}),
    ));
    queue(&app, &tenant, lead, "One more thing").await;
    eventually("the lead to be opted out", || async {
        lead_state(&app, &tenant, lead).await.is_opted_out()
    })
    .await;
    assert_eq!(twilio.requests().len(), 5);
    let reason: String = sqlx::query_scalar(
        "SELECT payload->'LeadOptedOut'->>'reason' FROM events WHERE event_type = 'LeadOptedOut'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert!(reason.contains("21610"), "{reason}");
}
