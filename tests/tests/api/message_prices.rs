//! Providers' prices from status callbacks, end to end: a signed callback carrying a price
//! records one `OutboundMessagePriced` with the status, repeats and later statuses record no
//! other, a price that cannot be read exactly leaves the status recorded and no price, and the
//! conversation's messages show what was recorded.

use std::time::Duration;

use application::Clock;
use bookerbot_tests::{FakeHttp, FakeResponse};
use domain::conversation::{
    Conversation, ConversationCommand, ConversationId, DeliveryStatus, MessageContent,
    MessageOrigin,
};
use domain::values::{LeadId, MessageId, TenantId};
use domain::Channel;
use infrastructure::channels::{hub_signature, twilio_signature};
use infrastructure::executor::{CommandExecutor, Existence};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{start_time, TestApp, TestTenant, ADMIN};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token";
const FROM: &str = "+14155550100";
const LEAD_PHONE: &str = "+14155550123";
const PHONE_NUMBER_ID: &str = "106540352242922";
const APP_SECRET: &str = "meta-app-secret";
const WAMID: &str = "wamid.HBgLMTQxNTU1NTAxMjMVAgARGBI";

/// A server whose Twilio and WhatsApp Cloud APIs are fakes accepting every send (Twilio with
/// the sid `SM1…`, Meta with [`WAMID`]), and a tenant with both channels.
async fn app_with_providers() -> (TestApp, TestTenant, FakeHttp, FakeHttp) {
    let twilio = FakeHttp::start(|_| {
        FakeResponse::json(
            201,
            json!({"sid": format!("SM{:032x}", 1), "status": "queued", "account_sid": SID,
                   "body": "", "direction": "outbound-api", "error_code": null}),
        )
    })
    .await;
    let meta = FakeHttp::start(|_| {
        FakeResponse::json(
            200,
            json!({"messaging_product": "whatsapp",
                   "contacts": [{"input": "14155550123", "wa_id": "14155550123"}],
                   "messages": [{"id": WAMID}]}),
        )
    })
    .await;
    let (twilio_base, meta_base) = (twilio.base.clone(), meta.base.clone());
    let app = TestApp::spawn_with(|settings| {
        settings.twilio_api_base = twilio_base;
        settings.whatsapp_api_base = meta_base;
    })
    .await;
    let tenant = app.create_tenant("Acme").await;
    let reply = app
        .patch(
            ADMIN,
            &format!("/api/v1/tenants/{}", tenant.id),
            json!({"channels": {
                "twilio": {"account_sid": SID, "auth_token": TOKEN, "from_number": FROM},
                "whatsapp_cloud": {"phone_number_id": PHONE_NUMBER_ID, "access_token": "EAAG-token",
                    "app_secret": APP_SECRET, "verify_token": "verify-me"}}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    (app, tenant, twilio, meta)
}

/// Captures the lead and queues `content` to it on `channel`, then waits until the outbox sent
/// it; returns the lead, the message and the provider's id of it.
async fn sent_message(
    app: &TestApp,
    tenant: &TestTenant,
    channel: Channel,
    content: MessageContent,
) -> (LeadId, MessageId, String) {
    let (lead, _) = app
        .capture_new(
            &tenant.key,
            json!({"first_name": "Ada", "phone": LEAD_PHONE, "source": "website"}),
        )
        .await;
    let lead: LeadId = lead.parse().unwrap();
    let message_id = MessageId::new();
    let ctx = bookerbot_tests::tenant_ctx(TenantId::from_uuid(tenant.id.parse().unwrap()));
    CommandExecutor::new(app.db.pool().clone(), 5)
        .execute::<Conversation>(
            &ctx,
            &ConversationId::new(lead, channel).to_string(),
            Existence::MayCreate,
            ConversationCommand::QueueOutbound {
                lead_id: lead,
                channel,
                message_id,
                content,
                origin: MessageOrigin::Operator,
                now: app.clock.now(),
            },
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let conversation = infrastructure::event_store::load::<Conversation>(
            &mut app.db.pool().acquire().await.unwrap(),
            tenant.id.parse().unwrap(),
            &ConversationId::new(lead, channel).to_string(),
        )
        .await
        .unwrap()
        .aggregate;
        let sent = conversation
            .outbound(message_id)
            .filter(|m| m.status == DeliveryStatus::Sent)
            .and_then(|m| m.provider_message_id.clone());
        if let Some(provider_id) = sent {
            return (lead, message_id, provider_id);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for the send"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// POSTs a Twilio status callback about `sid`, signed over every parameter, with `extra` ones.
async fn twilio_status(
    app: &TestApp,
    tenant: &TestTenant,
    sid: &str,
    status: &str,
    extra: &[(&str, &str)],
) {
    let mut params = vec![
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("MessageStatus", status),
        ("SmsStatus", status),
        ("AccountSid", SID),
        ("From", FROM),
        ("To", LEAD_PHONE),
        ("ApiVersion", "2010-04-01"),
    ];
    params.extend_from_slice(extra);
    let path = format!("/webhooks/twilio/{}/status", tenant.id);
    let signed: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let signature = twilio_signature(TOKEN, &format!("{}{path}", app.base), &signed);
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let response = reqwest::Client::new()
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{status} {extra:?}");
}

/// POSTs a signed WhatsApp webhook carrying `statuses` of our number.
async fn whatsapp_statuses(app: &TestApp, tenant: &TestTenant, statuses: Value) {
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [
        {"field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "statuses": statuses}}]}]})
    .to_string();
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/whatsapp/{}", app.base, tenant.id))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            hub_signature(APP_SECRET, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Every `OutboundMessagePriced` payload, oldest first.
async fn priced(app: &TestApp) -> Vec<Value> {
    sqlx::query_scalar(
        "SELECT payload->'OutboundMessagePriced' FROM events \
         WHERE event_type = 'OutboundMessagePriced' ORDER BY global_position",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap()
}

/// The statuses recorded for messages, in order.
async fn statuses_recorded(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT payload->'OutboundMessageStatusUpdated'->>'status' FROM events \
         WHERE event_type = 'OutboundMessageStatusUpdated' ORDER BY global_position",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap()
}

/// The message as the conversation read model shows it, once it has caught up with every event
/// written so far (the last price and any later status).
async fn shown(app: &TestApp, tenant: &TestTenant, lead: LeadId, message: MessageId) -> Value {
    let position: i64 = sqlx::query_scalar("SELECT MAX(global_position) FROM events")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let path = format!("/api/v1/leads/{lead}/conversation?min_position={position}");
    let reply = app.get(&tenant.key, &path).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == json!(message.to_string()))
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn a_twilio_price_is_recorded_once_in_micros_and_shown_on_the_message() {
    let (app, tenant, _twilio, _meta) = app_with_providers().await;
    let text = MessageContent::text("Your visit is confirmed").unwrap();
    let (lead, message, sid) = sent_message(&app, &tenant, Channel::Sms, text).await;
    let price = [("Price", "-0.00750"), ("PriceUnit", "USD")];

    // `sent` does not move the message on (it is sent already), but its price is the first.
    twilio_status(&app, &tenant, &sid, "sent", &price).await;
    twilio_status(&app, &tenant, &sid, "sent", &price).await;
    let later_price = [("Price", "-0.00790"), ("PriceUnit", "USD")];
    twilio_status(&app, &tenant, &sid, "delivered", &later_price).await;

    let events = priced(&app).await;
    assert_eq!(
        events,
        vec![json!({
            "message_id": message.to_string(),
            "provider": "twilio",
            "amount_micros": 7500,
            "currency": "USD",
            "billable": null,
            "category": null,
            "at": start_time(),
        })]
    );
    assert_eq!(statuses_recorded(&app).await, vec!["delivered"]);

    let row = shown(&app, &tenant, lead, message).await;
    assert_eq!(
        (
            &row["price_micros"],
            &row["price_currency"],
            &row["billable"],
            &row["billing_category"],
            &row["status"],
        ),
        (
            &json!(7500),
            &json!("USD"),
            &Value::Null,
            &Value::Null,
            &json!("delivered")
        )
    );
}

#[tokio::test]
async fn an_unreadable_price_keeps_the_status_and_a_later_readable_one_is_recorded() {
    let (app, tenant, _twilio, _meta) = app_with_providers().await;
    let text = MessageContent::text("Your visit is confirmed").unwrap();
    let (_, message, sid) = sent_message(&app, &tenant, Channel::Sms, text).await;

    let finer_than_a_micro = [("Price", "-0.0075001"), ("PriceUnit", "USD")];
    twilio_status(&app, &tenant, &sid, "delivered", &finer_than_a_micro).await;
    let not_a_number = [("Price", "about a cent"), ("PriceUnit", "USD")];
    twilio_status(&app, &tenant, &sid, "delivered", &not_a_number).await;
    let no_unit = [("Price", "-0.0075"), ("PriceUnit", "")];
    twilio_status(&app, &tenant, &sid, "delivered", &no_unit).await;
    assert_eq!(statuses_recorded(&app).await, vec!["delivered"]);
    assert_eq!(priced(&app).await, Vec::<Value>::new());

    let price = [("Price", "-0.0075"), ("PriceUnit", "usd")];
    twilio_status(&app, &tenant, &sid, "delivered", &price).await;
    let events = priced(&app).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            &events[0]["message_id"],
            &events[0]["amount_micros"],
            &events[0]["currency"]
        ),
        (&json!(message.to_string()), &json!(7500), &json!("USD"))
    );
}

#[tokio::test]
async fn a_whatsapp_status_records_whether_and_how_meta_bills_without_an_amount() {
    let (app, tenant, _twilio, _meta) = app_with_providers().await;
    let template =
        MessageContent::template("appointment_reminder", "en_US", vec!["Ada".into()]).unwrap();
    let (lead, message, wamid) = sent_message(&app, &tenant, Channel::Whatsapp, template).await;
    assert_eq!(wamid, WAMID);

    let status = |status: &str, at: &str, pricing: Value| {
        json!({"id": WAMID, "status": status, "timestamp": at, "recipient_id": "14155550123",
               "pricing": pricing})
    };
    whatsapp_statuses(
        &app,
        &tenant,
        json!([status(
            "sent",
            "1749416383",
            json!({"billable": true, "pricing_model": "PMP", "category": "UTILITY", "type": "regular"})
        )]),
    )
    .await;
    whatsapp_statuses(
        &app,
        &tenant,
        json!([status(
            "delivered",
            "1749416390",
            json!({"billable": false, "pricing_model": "PMP", "category": "service"})
        )]),
    )
    .await;

    let events = priced(&app).await;
    assert_eq!(
        events,
        vec![json!({
            "message_id": message.to_string(),
            "provider": "whatsapp_cloud",
            "amount_micros": null,
            "currency": null,
            "billable": true,
            "category": "utility",
            "at": start_time(),
        })]
    );
    assert_eq!(statuses_recorded(&app).await, vec!["delivered"]);

    let row = shown(&app, &tenant, lead, message).await;
    assert_eq!(
        (
            &row["price_micros"],
            &row["price_currency"],
            &row["billable"],
            &row["billing_category"]
        ),
        (&Value::Null, &Value::Null, &json!(true), &json!("utility"))
    );
}
