//! The provider channel adapters speak Twilio's and the WhatsApp Cloud API's real wire formats:
//! sends are checked request by request against a local fake (path, auth, content type, every
//! field) and every documented answer maps to the right receipt or `SendError`; webhook
//! signatures are checked against the providers' published test vectors; webhook payloads in the
//! documented shapes parse into what the application needs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use application::{MessageChannel, OutboundRequest, PermanentFailure, SendError, SendReceipt};
use bookerbot_tests::{FakeHttp, FakeResponse, RecordedRequest};
use chrono::{TimeZone, Utc};
use domain::conversation::{DeliveryStatus, MessageContent};
use domain::values::{MessageId, PhoneNumber, TenantId};
use domain::Channel;
use infrastructure::channels::{
    hub_signature, parse_twilio_inbound, parse_twilio_status, parse_whatsapp_webhook,
    twilio_signature, verify_hub_signature, verify_twilio_signature, TwilioChannel,
    TwilioCredentials, TwilioInbound, TwilioStatus, WhatsAppCloudChannel, WhatsAppCloudCredentials,
    WhatsAppInbound, WhatsAppStatus, WhatsAppWebhookError,
};
use infrastructure::http_client::provider_client;
use serde_json::json;

const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
/// `Basic base64("AC0123456789abcdef0123456789abcdef:auth-token-1")`.
const TWILIO_BASIC: &str = "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjphdXRoLXRva2VuLTE=";
const PHONE_NUMBER_ID: &str = "106540352242922";

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn request(channel: Channel, content: MessageContent, callback: Option<&str>) -> OutboundRequest {
    OutboundRequest {
        tenant_id: TenantId::new(),
        message_id: MessageId::new(),
        channel,
        to: PhoneNumber::parse_e164("+16505551234").unwrap(),
        content,
        status_callback: callback.map(str::to_owned),
    }
}

fn text(body: &str) -> MessageContent {
    MessageContent::text(body).unwrap()
}

fn template(variables: &[&str]) -> MessageContent {
    MessageContent::template(
        "HXb5b62575e6e4ff6129ad7c8efe1f983e",
        "en_US",
        variables.iter().map(|v| (*v).to_owned()).collect(),
    )
    .unwrap()
}

fn only_request(fake: &FakeHttp) -> RecordedRequest {
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests.into_iter().next().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Webhook signatures

/// providers.md §0.1.
const TWILIO_VECTOR_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const TWILIO_VECTOR_SIGNATURE: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

fn twilio_vector_params() -> Vec<(String, String)> {
    pairs(&[
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ])
}

#[test]
fn the_twilio_vector_verifies_whatever_the_order_of_the_params() {
    let params = twilio_vector_params();
    assert_eq!(
        twilio_signature("12345", TWILIO_VECTOR_URL, &params),
        TWILIO_VECTOR_SIGNATURE
    );
    let mut shuffled = params.clone();
    shuffled.reverse();
    shuffled.swap(0, 2);
    assert!(verify_twilio_signature(
        "12345",
        TWILIO_VECTOR_URL,
        &shuffled,
        TWILIO_VECTOR_SIGNATURE
    ));
    assert!(verify_twilio_signature(
        "12345",
        "https://mycompany.com:443/myapp.php?foo=1&bar=2",
        &params,
        TWILIO_VECTOR_SIGNATURE
    ));
}

#[test]
fn a_tampered_twilio_request_does_not_verify() {
    let mut tampered = twilio_vector_params();
    tampered[2].1 = "1235".to_owned();
    assert!(!verify_twilio_signature(
        "12345",
        TWILIO_VECTOR_URL,
        &tampered,
        TWILIO_VECTOR_SIGNATURE
    ));
    let mut extra = twilio_vector_params();
    extra.push(("Body".to_owned(), "hi".to_owned()));
    assert!(!verify_twilio_signature(
        "12345",
        TWILIO_VECTOR_URL,
        &extra,
        TWILIO_VECTOR_SIGNATURE
    ));
    for url in [
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        "https://mycompany.com/myapp.php",
        "https://mycompany.com/other.php?foo=1&bar=2",
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        "https://evil.com/myapp.php?foo=1&bar=2",
    ] {
        assert!(
            !verify_twilio_signature(
                "12345",
                url,
                &twilio_vector_params(),
                TWILIO_VECTOR_SIGNATURE
            ),
            "{url}"
        );
    }
    assert!(!verify_twilio_signature(
        "54321",
        TWILIO_VECTOR_URL,
        &twilio_vector_params(),
        TWILIO_VECTOR_SIGNATURE
    ));
}

#[test]
fn the_meta_vector_verifies_and_a_tampered_body_does_not() {
    let header = "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914";
    assert_eq!(hub_signature("secret", b"test"), header);
    assert!(verify_hub_signature("secret", b"test", header));
    assert!(!verify_hub_signature("secret", b"tesT", header));
    assert!(!verify_hub_signature("secret", b"test ", header));
    assert!(!verify_hub_signature("other", b"test", header));
    assert!(!verify_hub_signature(
        "secret",
        b"test",
        "0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
    ));
}

// ---------------------------------------------------------------------------------------------
// Twilio send

fn twilio_credentials() -> TwilioCredentials {
    TwilioCredentials {
        account_sid: ACCOUNT_SID.to_owned(),
        auth_token: "auth-token-1".to_owned(),
        from_number: Some("+15017122661".to_owned()),
        whatsapp_from: Some("+14155238886".to_owned()),
    }
}

fn twilio(fake: &FakeHttp, timeout: Duration) -> TwilioChannel {
    TwilioChannel::new(
        provider_client(timeout).unwrap(),
        fake.base.clone(),
        twilio_credentials(),
    )
}

/// A 201 with every field of providers.md §1.1.
fn twilio_created(sid: &str) -> FakeResponse {
    FakeResponse::json(
        201,
        json!({
            "account_sid": ACCOUNT_SID,
            "api_version": "2010-04-01",
            "body": "Hi Jane",
            "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
            "date_sent": null,
            "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000",
            "direction": "outbound-api",
            "error_code": null,
            "error_message": null,
            "from": "+15017122661",
            "messaging_service_sid": null,
            "num_media": "0",
            "num_segments": "1",
            "price": null,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media.json")},
            "to": "+16505551234",
            "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json")
        }),
    )
}

fn twilio_error(status: u16, code: u32, message: &str) -> FakeResponse {
    FakeResponse::json(
        status,
        json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status
        }),
    )
}

#[tokio::test]
async fn a_twilio_sms_goes_out_in_twilios_exact_format() {
    let fake = FakeHttp::start(|_| twilio_created("SM0123456789abcdef0123456789abcdef")).await;
    let channel = twilio(&fake, Duration::from_secs(5));
    assert_eq!(channel.provider(), "twilio");

    let receipt = channel
        .send(&request(
            Channel::Sms,
            text("Hi Jane + friends & co: 100% ready?"),
            Some("https://hooks.example.com/twilio/status?t=1"),
        ))
        .await
        .unwrap();

    assert_eq!(
        receipt,
        SendReceipt {
            provider: "twilio",
            provider_message_id: "SM0123456789abcdef0123456789abcdef".to_owned(),
            delivered: false,
        }
    );
    let sent = only_request(&fake);
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.path,
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    );
    assert_eq!(sent.query, "");
    assert_eq!(sent.header("authorization"), Some(TWILIO_BASIC));
    assert_eq!(
        sent.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        sent.form(),
        pairs(&[
            ("To", "+16505551234"),
            ("From", "+15017122661"),
            ("Body", "Hi Jane + friends & co: 100% ready?"),
            (
                "StatusCallback",
                "https://hooks.example.com/twilio/status?t=1"
            ),
        ])
    );
}

#[tokio::test]
async fn a_twilio_whatsapp_template_carries_prefixes_content_sid_and_variables() {
    let fake = FakeHttp::start(|_| twilio_created("MM0123456789abcdef0123456789abcdef")).await;
    let channel = twilio(&fake, Duration::from_secs(5));

    let receipt = channel
        .send(&request(
            Channel::Whatsapp,
            template(&["12/1", "3pm \"sharp\""]),
            None,
        ))
        .await
        .unwrap();

    assert_eq!(
        receipt.provider_message_id,
        "MM0123456789abcdef0123456789abcdef"
    );
    let sent = only_request(&fake);
    assert_eq!(sent.header("authorization"), Some(TWILIO_BASIC));
    assert_eq!(
        sent.form(),
        pairs(&[
            ("To", "whatsapp:+16505551234"),
            ("From", "whatsapp:+14155238886"),
            ("ContentSid", "HXb5b62575e6e4ff6129ad7c8efe1f983e"),
            ("ContentVariables", r#"{"1":"12/1","2":"3pm \"sharp\""}"#),
        ])
    );
    let variables: serde_json::Value =
        serde_json::from_str(&sent.form_value("ContentVariables").unwrap()).unwrap();
    assert_eq!(variables, json!({"1": "12/1", "2": "3pm \"sharp\""}));
}

#[tokio::test]
async fn a_twilio_send_without_a_sender_for_the_channel_is_refused_without_a_request() {
    let fake = FakeHttp::start(|_| twilio_created("SM1")).await;
    let channel = TwilioChannel::new(
        provider_client(Duration::from_secs(5)).unwrap(),
        fake.base.clone(),
        TwilioCredentials {
            whatsapp_from: None,
            ..twilio_credentials()
        },
    );

    let error = channel
        .send(&request(Channel::Whatsapp, text("hi"), None))
        .await
        .unwrap_err();

    assert!(matches!(
        error,
        SendError::Permanent {
            kind: PermanentFailure::Refused,
            ..
        }
    ));
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn twilio_error_codes_map_to_what_the_outbox_must_do() {
    let fake = FakeHttp::start(|_| twilio_created("SM1")).await;
    let channel = twilio(&fake, Duration::from_secs(5));
    let cases = [
        (
            400,
            21610,
            "Attempt to send to unsubscribed recipient",
            PermanentFailure::Unsubscribed,
        ),
        (
            400,
            21211,
            "The 'To' number is not a valid phone number.",
            PermanentFailure::InvalidNumber,
        ),
        (
            400,
            63016,
            "Failed to send freeform message because you are outside the allowed window.",
            PermanentFailure::WindowClosed,
        ),
        (
            400,
            63014,
            "Blocked by the recipient",
            PermanentFailure::Blocked,
        ),
        (401, 20003, "Authenticate", PermanentFailure::Refused),
        (
            400,
            21608,
            "The number is unverified. Trial accounts cannot send messages to unverified numbers",
            PermanentFailure::Refused,
        ),
    ];
    for (status, code, message, kind) in cases {
        fake.enqueue(twilio_error(status, code, message));
        let error = channel
            .send(&request(Channel::Sms, text("hi"), None))
            .await
            .unwrap_err();
        assert_eq!(
            error,
            SendError::Permanent {
                kind,
                code: Some(code.to_string()),
                message: message.to_owned(),
            }
        );
    }
}

#[tokio::test]
async fn twilio_rate_limits_server_errors_and_timeouts_are_transient() {
    let fake = FakeHttp::start(|_| twilio_created("SM1")).await;
    let channel = twilio(&fake, Duration::from_millis(500));
    let outbound = request(Channel::Sms, text("hi"), None);
    let send = || channel.send(&outbound);

    fake.enqueue(twilio_error(429, 20429, "Too Many Requests").with_header("Retry-After", "30"));
    assert_eq!(
        send().await.unwrap_err(),
        SendError::Transient {
            code: Some("20429".to_owned()),
            message: "Too Many Requests".to_owned(),
            retry_after: Some(Duration::from_secs(30)),
        }
    );

    fake.enqueue(FakeResponse::text(
        500,
        "<html>Internal Server Error</html>",
    ));
    assert_eq!(
        send().await.unwrap_err(),
        SendError::Transient {
            code: Some("500".to_owned()),
            message: "HTTP 500".to_owned(),
            retry_after: None,
        }
    );

    fake.enqueue(twilio_created("SM2").delayed(Duration::from_secs(3)));
    let error = send().await.unwrap_err();
    assert!(
        matches!(
            error,
            SendError::Transient {
                code: None,
                retry_after: None,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_twilio_error_that_is_not_json_still_maps_by_status() {
    let fake = FakeHttp::start(|_| FakeResponse::text(403, "Forbidden")).await;
    let channel = twilio(&fake, Duration::from_secs(5));

    let error = channel
        .send(&request(Channel::Sms, text("hi"), None))
        .await
        .unwrap_err();

    assert_eq!(
        error,
        SendError::Permanent {
            kind: PermanentFailure::Refused,
            code: Some("403".to_owned()),
            message: "HTTP 403".to_owned(),
        }
    );
    fake.enqueue(FakeResponse::text(429, "slow down").with_header("Retry-After", "5"));
    let error = channel
        .send(&request(Channel::Sms, text("hi"), None))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        SendError::Transient {
            retry_after: Some(wait),
            ..
        } if wait == Duration::from_secs(5)
    ));
}

// ---------------------------------------------------------------------------------------------
// WhatsApp Cloud API send

fn cloud(fake: &FakeHttp) -> WhatsAppCloudChannel {
    WhatsAppCloudChannel::new(
        provider_client(Duration::from_secs(5)).unwrap(),
        fake.base.clone(),
        "v21.0".to_owned(),
        WhatsAppCloudCredentials {
            phone_number_id: PHONE_NUMBER_ID.to_owned(),
            access_token: "EAAG-token".to_owned(),
            app_secret: "app-secret".to_owned(),
            verify_token: "verify-me".to_owned(),
        },
    )
}

fn cloud_accepted(wamid: &str) -> FakeResponse {
    FakeResponse::json(
        200,
        json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": "16505551234", "wa_id": "16505551234"}],
            "messages": [{"id": wamid}]
        }),
    )
}

fn graph_error(status: u16, code: u32, message: &str) -> FakeResponse {
    FakeResponse::json(
        status,
        json!({"error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_subcode": 2_494_010,
            "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"
        }}),
    )
}

#[tokio::test]
async fn a_cloud_api_text_goes_out_in_metas_exact_format() {
    let fake = FakeHttp::start(|_| cloud_accepted("wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI")).await;
    let channel = cloud(&fake);
    assert_eq!(channel.provider(), "whatsapp_cloud");
    let outbound = request(Channel::Whatsapp, text("Hi Jane 👋"), None);

    let receipt = channel.send(&outbound).await.unwrap();

    assert_eq!(
        receipt,
        SendReceipt {
            provider: "whatsapp_cloud",
            provider_message_id: "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI".to_owned(),
            delivered: false,
        }
    );
    let sent = only_request(&fake);
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, format!("/v21.0/{PHONE_NUMBER_ID}/messages"));
    assert_eq!(sent.header("authorization"), Some("Bearer EAAG-token"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(
        sent.json(),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": "text",
            "text": {"preview_url": false, "body": "Hi Jane 👋"},
            "biz_opaque_callback_data": outbound.message_id.to_string()
        })
    );
}

#[tokio::test]
async fn a_cloud_api_template_carries_body_parameters_only_when_it_has_variables() {
    let fake = FakeHttp::start(|_| cloud_accepted("wamid.1")).await;
    let channel = cloud(&fake);
    let with_variables = request(Channel::Whatsapp, template(&["Jane", "3pm"]), None);
    let without = request(Channel::Whatsapp, template(&[]), None);

    channel.send(&with_variables).await.unwrap();
    channel.send(&without).await.unwrap();

    let requests = fake.requests();
    assert_eq!(
        requests[0].json(),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": "template",
            "template": {
                "name": "HXb5b62575e6e4ff6129ad7c8efe1f983e",
                "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": "Jane"},
                    {"type": "text", "text": "3pm"}
                ]}]
            },
            "biz_opaque_callback_data": with_variables.message_id.to_string()
        })
    );
    assert_eq!(
        requests[1].json()["template"],
        json!({"name": "HXb5b62575e6e4ff6129ad7c8efe1f983e", "language": {"code": "en_US"}})
    );
}

#[tokio::test]
async fn cloud_api_errors_map_to_what_the_outbox_must_do() {
    let fake = FakeHttp::start(|_| cloud_accepted("wamid.1")).await;
    let channel = cloud(&fake);
    let outbound = request(Channel::Whatsapp, text("hi"), None);
    let send = || channel.send(&outbound);

    fake.enqueue(graph_error(400, 131_047, "Re-engagement message"));
    assert_eq!(
        send().await.unwrap_err(),
        SendError::Permanent {
            kind: PermanentFailure::WindowClosed,
            code: Some("131047".to_owned()),
            message: "Re-engagement message".to_owned(),
        }
    );

    fake.enqueue(graph_error(401, 190, "Error validating access token"));
    assert_eq!(
        send().await.unwrap_err(),
        SendError::Permanent {
            kind: PermanentFailure::Refused,
            code: Some("190".to_owned()),
            message: "Error validating access token".to_owned(),
        }
    );

    fake.enqueue(graph_error(400, 131_026, "Message undeliverable"));
    assert!(matches!(
        send().await.unwrap_err(),
        SendError::Permanent {
            kind: PermanentFailure::InvalidNumber,
            ..
        }
    ));

    fake.enqueue(graph_error(400, 130_429, "Rate limit hit").with_header("Retry-After", "12"));
    assert_eq!(
        send().await.unwrap_err(),
        SendError::Transient {
            code: Some("130429".to_owned()),
            message: "Rate limit hit".to_owned(),
            retry_after: Some(Duration::from_secs(12)),
        }
    );

    fake.enqueue(FakeResponse::text(500, "oops"));
    assert!(matches!(
        send().await.unwrap_err(),
        SendError::Transient { .. }
    ));

    fake.enqueue(FakeResponse::json(
        200,
        json!({"messaging_product": "whatsapp"}),
    ));
    assert!(matches!(
        send().await.unwrap_err(),
        SendError::Permanent {
            kind: PermanentFailure::Refused,
            ..
        }
    ));
}

#[tokio::test]
async fn the_cloud_api_refuses_sms_without_a_request() {
    let fake = FakeHttp::start(|_| cloud_accepted("wamid.1")).await;

    let error = cloud(&fake)
        .send(&request(Channel::Sms, text("hi"), None))
        .await
        .unwrap_err();

    assert!(matches!(
        error,
        SendError::Permanent {
            kind: PermanentFailure::Refused,
            code: None,
            ..
        }
    ));
    assert!(fake.requests().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Webhook payloads

#[test]
fn the_documented_whatsapp_inbound_message_parses() {
    let raw = br#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
 "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
 "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
 "messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color? \u00e9\ud83d\ude00"}}]}}]}]}"#;

    let webhook = parse_whatsapp_webhook(raw).unwrap();

    assert!(webhook.statuses.is_empty());
    assert_eq!(
        webhook.inbound,
        vec![WhatsAppInbound {
            phone_number_id: "106540352242922".to_owned(),
            wamid: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=".to_owned(),
            from: "+16505551234".to_owned(),
            profile_name: Some("Sheena Nelson".to_owned()),
            timestamp: Utc.timestamp_opt(1_749_416_383, 0).unwrap(),
            body: "Does it come in another color? é😀".to_owned(),
        }]
    );
}

#[test]
fn whatsapp_statuses_carry_pricing_and_errors() {
    let raw = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "statuses": [
                {
                    "id": "wamid.delivered",
                    "status": "delivered",
                    "timestamp": "1750263773",
                    "recipient_id": "16505551234",
                    "conversation": {"id": "c1", "expiration_timestamp": "1750350173", "origin": {"type": "utility"}},
                    "pricing": {"billable": true, "pricing_model": "PMP", "category": "utility", "type": "regular"}
                },
                {
                    "id": "wamid.failed",
                    "status": "failed",
                    "timestamp": "1750263800",
                    "recipient_id": "16505551234",
                    "errors": [{
                        "code": 131_047,
                        "title": "Re-engagement message",
                        "message": "Re-engagement message",
                        "error_data": {"details": "Message failed to send because more than 24 hours have passed"}
                    }]
                },
                {"id": "wamid.read", "status": "read", "timestamp": "1750263900", "recipient_id": "16505551234"}
            ]
        }}]}]
    })
    .to_string();

    let webhook = parse_whatsapp_webhook(raw.as_bytes()).unwrap();

    assert!(webhook.inbound.is_empty());
    let status =
        |wamid: &str, status, at, error: Option<&str>, category: Option<&str>| WhatsAppStatus {
            phone_number_id: PHONE_NUMBER_ID.to_owned(),
            wamid: wamid.to_owned(),
            status,
            timestamp: Utc.timestamp_opt(at, 0).unwrap(),
            error_code: error.map(str::to_owned),
            pricing_category: category.map(str::to_owned),
        };
    assert_eq!(
        webhook.statuses,
        vec![
            status(
                "wamid.delivered",
                DeliveryStatus::Delivered,
                1_750_263_773,
                None,
                Some("utility")
            ),
            status(
                "wamid.failed",
                DeliveryStatus::Failed,
                1_750_263_800,
                Some("131047"),
                None
            ),
            status(
                "wamid.read",
                DeliveryStatus::Read,
                1_750_263_900,
                None,
                None
            ),
        ]
    );
}

#[test]
fn a_whatsapp_payload_that_is_not_json_or_not_whatsapp_is_an_error() {
    assert!(matches!(
        parse_whatsapp_webhook(b"{not json"),
        Err(WhatsAppWebhookError::Invalid(_))
    ));
    assert_eq!(
        parse_whatsapp_webhook(br#"{"object":"page","entry":[]}"#),
        Err(WhatsAppWebhookError::WrongObject("page".to_owned()))
    );
}

#[test]
fn a_twilio_sms_and_a_twilio_whatsapp_message_parse() {
    let sms = pairs(&[
        ("ToCountry", "US"),
        ("SmsMessageSid", "SM11111111111111111111111111111111"),
        ("NumMedia", "1"),
        ("MediaContentType0", "image/jpeg"),
        (
            "MediaUrl0",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        ),
        ("SmsSid", "SM11111111111111111111111111111111"),
        ("SmsStatus", "received"),
        ("Body", "Yes, Tuesday works"),
        ("To", "+15017122661"),
        ("NumSegments", "1"),
        ("MessageSid", "SM11111111111111111111111111111111"),
        ("AccountSid", ACCOUNT_SID),
        ("From", "+16505551234"),
        ("ApiVersion", "2010-04-01"),
    ]);
    assert_eq!(
        parse_twilio_inbound(&sms).unwrap(),
        TwilioInbound {
            message_sid: "SM11111111111111111111111111111111".to_owned(),
            account_sid: ACCOUNT_SID.to_owned(),
            from: "+16505551234".to_owned(),
            to: "+15017122661".to_owned(),
            body: "Yes, Tuesday works".to_owned(),
            channel: Channel::Sms,
            profile_name: None,
            media_urls: vec![
                "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1".to_owned()
            ],
        }
    );

    let whatsapp = pairs(&[
        ("SmsMessageSid", "SM22222222222222222222222222222222"),
        ("NumMedia", "0"),
        ("ProfileName", "Sheena Nelson"),
        ("MessageType", "text"),
        ("WaId", "16505551234"),
        ("SmsStatus", "received"),
        ("Body", "STOP"),
        ("To", "whatsapp:+14155238886"),
        ("MessageSid", "SM22222222222222222222222222222222"),
        ("AccountSid", ACCOUNT_SID),
        ("From", "whatsapp:+16505551234"),
        ("ApiVersion", "2010-04-01"),
    ]);
    assert_eq!(
        parse_twilio_inbound(&whatsapp).unwrap(),
        TwilioInbound {
            message_sid: "SM22222222222222222222222222222222".to_owned(),
            account_sid: ACCOUNT_SID.to_owned(),
            from: "+16505551234".to_owned(),
            to: "+14155238886".to_owned(),
            body: "STOP".to_owned(),
            channel: Channel::Whatsapp,
            profile_name: Some("Sheena Nelson".to_owned()),
            media_urls: Vec::new(),
        }
    );
}

#[test]
fn a_twilio_status_callback_parses_with_its_error_code() {
    let undelivered = pairs(&[
        ("ErrorCode", "30003"),
        ("ErrorMessage", "Unreachable destination handset"),
        ("SmsSid", "SM33333333333333333333333333333333"),
        ("SmsStatus", "undelivered"),
        ("MessageStatus", "undelivered"),
        ("To", "+16505551234"),
        ("MessageSid", "SM33333333333333333333333333333333"),
        ("AccountSid", ACCOUNT_SID),
        ("From", "+15017122661"),
        ("ApiVersion", "2010-04-01"),
    ]);
    assert_eq!(
        parse_twilio_status(&undelivered).unwrap(),
        TwilioStatus {
            message_sid: "SM33333333333333333333333333333333".to_owned(),
            status: Some(DeliveryStatus::Undelivered),
            error_code: Some("30003".to_owned()),
        }
    );

    let queued = pairs(&[
        ("MessageSid", "SM4"),
        ("MessageStatus", "queued"),
        ("SmsStatus", "queued"),
    ]);
    assert_eq!(parse_twilio_status(&queued).unwrap().status, None);
    let read = pairs(&[("MessageSid", "SM5"), ("MessageStatus", "read")]);
    assert_eq!(
        parse_twilio_status(&read).unwrap(),
        TwilioStatus {
            message_sid: "SM5".to_owned(),
            status: Some(DeliveryStatus::Read),
            error_code: None,
        }
    );
}
