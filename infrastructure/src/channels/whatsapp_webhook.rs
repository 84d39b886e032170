//! What Meta sends to our WhatsApp webhook: the GET verification handshake, the
//! `X-Hub-Signature-256` over the raw POST body, and the inbound messages and delivery statuses
//! (with how Meta bills each message) inside the `messages` changes of the payload. Pure
//! functions; the HTTP endpoints that call them live in the API layer.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::conversation::{DeliveryStatus, MessagePricing};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

/// The `object` of WhatsApp Business Account webhooks.
const WHATSAPP_OBJECT: &str = "whatsapp_business_account";
/// The prefix of `X-Hub-Signature-256`.
const SIGNATURE_PREFIX: &str = "sha256=";

/// Why a WhatsApp webhook payload cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhatsAppWebhookError {
    /// Not JSON, or not shaped like a webhook.
    #[error("invalid WhatsApp webhook payload: {0}")]
    Invalid(String),
    /// A webhook for another kind of object (a Page, Instagram, …).
    #[error("webhook object {0:?} is not a WhatsApp Business Account")]
    WrongObject(String),
    /// A timestamp that is not Unix seconds.
    #[error("invalid WhatsApp webhook timestamp {0:?}")]
    InvalidTimestamp(String),
}

/// Everything one webhook delivery reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WhatsAppWebhook {
    /// Messages leads sent us.
    pub inbound: Vec<WhatsAppInbound>,
    /// Delivery statuses of messages we sent.
    pub statuses: Vec<WhatsAppStatus>,
    /// How Meta bills our messages, by message id (`wamid.…`): the `pricing` of the first status
    /// of each message that carries one. Meta reports no amount, only whether and how it bills.
    pub pricing: BTreeMap<String, MessagePricing>,
}

/// A message a lead sent to one of our numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsAppInbound {
    /// Our number's id: which tenant it is for.
    pub phone_number_id: String,
    /// The message id (`wamid.…`): the deduplication key of retried webhooks.
    pub wamid: String,
    /// The sender, E.164 (`+` and the digits Meta sends).
    pub from: String,
    /// The sender's WhatsApp profile name, if given.
    pub profile_name: Option<String>,
    /// When the lead sent it.
    pub timestamp: DateTime<Utc>,
    /// The text: the body, a button's or list row's title, a media caption, or `[image]`-style
    /// placeholders for media without a caption and other types.
    pub body: String,
}

/// A delivery status of a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsAppStatus {
    /// Our number's id.
    pub phone_number_id: String,
    /// The message it is about (`wamid.…`).
    pub wamid: String,
    /// Sent, delivered, read or failed.
    pub status: DeliveryStatus,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// The first error's code, on failures.
    pub error_code: Option<String>,
    /// The pricing category (`marketing`, `utility`, `service`, …), when billed or priced.
    pub pricing_category: Option<String>,
}

/// The `X-Hub-Signature-256` of `raw_body`: `sha256=` and the hex HMAC-SHA256 under the app secret.
#[must_use]
pub fn hub_signature(app_secret: &str, raw_body: &[u8]) -> String {
    let digest = body_mac(app_secret, raw_body).finalize().into_bytes();
    format!("{SIGNATURE_PREFIX}{}", hex::encode(digest))
}

/// Whether `header` is the `X-Hub-Signature-256` of `raw_body` (the bytes as received, not
/// re-serialized). Compared in constant time; a header without `sha256=` is refused.
#[must_use]
pub fn verify_hub_signature(app_secret: &str, raw_body: &[u8], header: &str) -> bool {
    let Some(hex_digest) = header.trim().strip_prefix(SIGNATURE_PREFIX) else {
        return false;
    };
    let Ok(digest) = hex::decode(hex_digest) else {
        return false;
    };
    body_mac(app_secret, raw_body).verify_slice(&digest).is_ok()
}

/// Whether the GET verification handshake is ours: `hub.mode` is `subscribe` and
/// `hub.verify_token` is our (non-empty) token, compared in constant time.
#[must_use]
pub fn verify_handshake(mode: &str, token: &str, expected_token: &str) -> bool {
    mode == "subscribe" && !expected_token.is_empty() && constant_time_eq(token, expected_token)
}

/// Reads every `messages` change of a webhook payload. Statuses this code does not know
/// (`deleted`, `warning`, …) are skipped; other fields of the payload are ignored.
pub fn parse_whatsapp_webhook(raw: &[u8]) -> Result<WhatsAppWebhook, WhatsAppWebhookError> {
    let payload: Payload = serde_json::from_slice(raw)
        .map_err(|error| WhatsAppWebhookError::Invalid(error.to_string()))?;
    if payload.object != WHATSAPP_OBJECT {
        return Err(WhatsAppWebhookError::WrongObject(payload.object));
    }
    let mut webhook = WhatsAppWebhook::default();
    for change in payload.entry.into_iter().flat_map(|entry| entry.changes) {
        if change.field != "messages" {
            continue;
        }
        let value: MessagesValue = serde_json::from_value(change.value)
            .map_err(|error| WhatsAppWebhookError::Invalid(error.to_string()))?;
        read_value(value, &mut webhook)?;
    }
    Ok(webhook)
}

/// Adds the messages and statuses of one change to `webhook`.
fn read_value(
    value: MessagesValue,
    webhook: &mut WhatsAppWebhook,
) -> Result<(), WhatsAppWebhookError> {
    let phone_number_id = value.metadata.phone_number_id;
    for message in value.messages {
        let profile_name = value
            .contacts
            .iter()
            .find(|contact| contact.wa_id == message.from)
            .or_else(|| value.contacts.first())
            .and_then(|contact| contact.profile.name.clone())
            .filter(|name| !name.is_empty());
        webhook.inbound.push(WhatsAppInbound {
            phone_number_id: phone_number_id.clone(),
            from: format!("+{}", message.from.trim_start_matches('+')),
            profile_name,
            timestamp: unix_time(&message.timestamp)?,
            body: message_text(&message),
            wamid: message.id,
        });
    }
    for status in value.statuses {
        let Some(delivery) = delivery_status(&status.status) else {
            continue;
        };
        webhook.statuses.push(WhatsAppStatus {
            phone_number_id: phone_number_id.clone(),
            status: delivery,
            timestamp: unix_time(&status.timestamp)?,
            error_code: status
                .errors
                .first()
                .and_then(|error| code_text(&error.code)),
            pricing_category: status
                .pricing
                .as_ref()
                .and_then(|pricing| pricing.category.clone()),
            wamid: status.id.clone(),
        });
        let pricing = status.pricing.map(|pricing| {
            MessagePricing::new(
                None,
                pricing.billable.as_bool(),
                pricing.category.as_deref(),
            )
        });
        if let Some(pricing) = pricing.filter(|pricing| !pricing.is_empty()) {
            webhook.pricing.entry(status.id).or_insert(pricing);
        }
    }
    Ok(())
}

/// The readable text of an inbound message of any type.
fn message_text(message: &InboundMessage) -> String {
    let kind = message.kind.as_str();
    let titled = match kind {
        "text" => message.text.as_ref().map(|text| text.body.clone()),
        "button" => message.button.as_ref().map(|button| button.text.clone()),
        "interactive" => message.interactive.as_ref().and_then(|interactive| {
            interactive
                .button_reply
                .as_ref()
                .or(interactive.list_reply.as_ref())
                .map(|reply| reply.title.clone())
        }),
        _ => message
            .other
            .get(kind)
            .and_then(|media| media.get("caption"))
            .and_then(Value::as_str)
            .filter(|caption| !caption.is_empty())
            .map(str::to_owned),
    };
    titled.unwrap_or_else(|| match kind {
        "text" | "button" => String::new(),
        _ => format!("[{kind}]"),
    })
}

/// The delivery status a WhatsApp status names, if it is one we record.
fn delivery_status(status: &str) -> Option<DeliveryStatus> {
    match status {
        "sent" => Some(DeliveryStatus::Sent),
        "delivered" => Some(DeliveryStatus::Delivered),
        "read" => Some(DeliveryStatus::Read),
        "failed" => Some(DeliveryStatus::Failed),
        _ => None,
    }
}

/// Unix seconds, sent as a string (or, leniently, a number).
fn unix_time(timestamp: &Value) -> Result<DateTime<Utc>, WhatsAppWebhookError> {
    let seconds = match timestamp {
        Value::String(text) => text.trim().parse::<i64>().ok(),
        Value::Number(number) => number.as_i64(),
        _ => None,
    };
    seconds
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .ok_or_else(|| WhatsAppWebhookError::InvalidTimestamp(timestamp.to_string()))
}

/// An error code (a number on the wire) as text.
fn code_text(code: &Value) -> Option<String> {
    match code {
        Value::Number(number) => Some(number.to_string()),
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        _ => None,
    }
}

/// The HMAC over a raw body, before finalizing.
fn body_mac(app_secret: &str, raw_body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(app_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(raw_body);
    mac
}

/// Equality whose time depends only on the lengths, not on where the strings differ.
fn constant_time_eq(left: &str, right: &str) -> bool {
    left.len() == right.len()
        && left
            .bytes()
            .zip(right.bytes())
            .fold(0_u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// The webhook envelope.
#[derive(Deserialize)]
struct Payload {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

/// One entry: a WhatsApp Business Account.
#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

/// One change; its value is read only when the field is `messages`.
#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: Value,
}

/// The value of a `messages` change.
#[derive(Deserialize)]
struct MessagesValue {
    metadata: Metadata,
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<InboundMessage>,
    #[serde(default)]
    statuses: Vec<StatusUpdate>,
}

/// Which of our numbers the change is about.
#[derive(Deserialize)]
struct Metadata {
    phone_number_id: String,
}

/// A sender's profile.
#[derive(Deserialize)]
struct Contact {
    #[serde(default)]
    wa_id: String,
    #[serde(default)]
    profile: Profile,
}

/// The profile's name.
#[derive(Default, Deserialize)]
struct Profile {
    #[serde(default)]
    name: Option<String>,
}

/// An inbound message; type-specific objects other than text, button and interactive stay in
/// `other` (media captions are read from there).
#[derive(Deserialize)]
struct InboundMessage {
    from: String,
    id: String,
    timestamp: Value,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<TextBody>,
    #[serde(default)]
    button: Option<ButtonBody>,
    #[serde(default)]
    interactive: Option<InteractiveBody>,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

/// `text`.
#[derive(Deserialize)]
struct TextBody {
    #[serde(default)]
    body: String,
}

/// `button` (a quick-reply button of a template).
#[derive(Deserialize)]
struct ButtonBody {
    #[serde(default)]
    text: String,
}

/// `interactive`: a reply button or a list row.
#[derive(Deserialize)]
struct InteractiveBody {
    #[serde(default)]
    button_reply: Option<Reply>,
    #[serde(default)]
    list_reply: Option<Reply>,
}

/// The chosen button or row.
#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    title: String,
}

/// A status of a message we sent.
#[derive(Deserialize)]
struct StatusUpdate {
    id: String,
    status: String,
    timestamp: Value,
    #[serde(default)]
    errors: Vec<StatusError>,
    #[serde(default)]
    pricing: Option<Pricing>,
}

/// An error of a failed message.
#[derive(Deserialize)]
struct StatusError {
    #[serde(default)]
    code: Value,
}

/// How the message is priced; `billable` is read leniently (a boolean, else unknown).
#[derive(Deserialize)]
struct Pricing {
    #[serde(default)]
    billable: Value,
    #[serde(default)]
    category: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn inbound(message: Value) -> Result<WhatsAppWebhook, WhatsAppWebhookError> {
        let payload = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "metadata": {"phone_number_id": "PN"},
                "messages": [message]
            }}]}]
        });
        parse_whatsapp_webhook(payload.to_string().as_bytes())
    }

    fn body_of(message: Value) -> String {
        inbound(message).unwrap().inbound[0].body.clone()
    }

    #[test]
    fn every_message_type_has_a_text() {
        let base = |kind: &str, extra: Value| {
            let mut message = serde_json::json!({"from": "1555", "id": "wamid.1", "timestamp": "1", "type": kind});
            message[kind] = extra;
            message
        };
        assert_eq!(
            body_of(base(
                "button",
                serde_json::json!({"text": "Yes", "payload": "Y"})
            )),
            "Yes"
        );
        assert_eq!(
            body_of(base(
                "interactive",
                serde_json::json!({"type": "list_reply", "list_reply": {"id": "r", "title": "Tuesday"}})
            )),
            "Tuesday"
        );
        assert_eq!(
            body_of(base(
                "interactive",
                serde_json::json!({"type": "button_reply", "button_reply": {"id": "b", "title": "Book"}})
            )),
            "Book"
        );
        assert_eq!(
            body_of(base(
                "image",
                serde_json::json!({"id": "m", "caption": "my house"})
            )),
            "my house"
        );
        assert_eq!(
            body_of(base("audio", serde_json::json!({"id": "m"}))),
            "[audio]"
        );
        assert_eq!(
            body_of(base("location", serde_json::json!({"latitude": 1.0}))),
            "[location]"
        );
    }

    #[test]
    fn a_numeric_timestamp_is_accepted_and_garbage_is_not() {
        let message = serde_json::json!({"from": "1555", "id": "w", "timestamp": 1_749_416_383, "type": "text", "text": {"body": "hi"}});
        assert_eq!(
            inbound(message).unwrap().inbound[0].timestamp.timestamp(),
            1_749_416_383
        );
        let message =
            serde_json::json!({"from": "1555", "id": "w", "timestamp": "soon", "type": "text"});
        assert!(matches!(
            inbound(message),
            Err(WhatsAppWebhookError::InvalidTimestamp(_))
        ));
    }

    #[test]
    fn the_handshake_needs_subscribe_and_our_token() {
        assert!(verify_handshake("subscribe", "tok", "tok"));
        assert!(!verify_handshake("unsubscribe", "tok", "tok"));
        assert!(!verify_handshake("subscribe", "tok2", "tok"));
        assert!(!verify_handshake("subscribe", "", ""));
    }

    #[test]
    fn a_signature_without_its_prefix_or_in_bad_hex_is_refused() {
        let signature = hub_signature("secret", b"test");
        let digest = signature.trim_start_matches(SIGNATURE_PREFIX);
        assert!(verify_hub_signature("secret", b"test", &signature));
        assert!(!verify_hub_signature("secret", b"test", digest));
        assert!(!verify_hub_signature("secret", b"test", "sha256=zz"));
    }

    fn statuses(statuses: Value) -> WhatsAppWebhook {
        let payload = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"changes": [{"field": "messages", "value": {
                "metadata": {"phone_number_id": "PN"},
                "statuses": statuses
            }}]}]
        });
        parse_whatsapp_webhook(payload.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn the_first_pricing_of_each_message_is_kept_with_billable_and_a_lower_case_category() {
        let webhook = statuses(serde_json::json!([
            {"id": "w1", "status": "sent", "timestamp": "1",
             "pricing": {"billable": true, "pricing_model": "PMP", "category": "MARKETING", "type": "regular"}},
            {"id": "w1", "status": "delivered", "timestamp": "2",
             "pricing": {"billable": false, "pricing_model": "PMP", "category": "service"}},
            {"id": "w2", "status": "sent", "timestamp": "1",
             "pricing": {"billable": "yes", "category": "service", "type": "free_customer_service"}},
            {"id": "w3", "status": "sent", "timestamp": "1"},
            {"id": "w4", "status": "sent", "timestamp": "1", "pricing": {"pricing_model": "PMP"}}
        ]));
        assert_eq!(
            webhook.pricing,
            BTreeMap::from([
                (
                    "w1".to_owned(),
                    MessagePricing::new(None, Some(true), Some("marketing"))
                ),
                (
                    "w2".to_owned(),
                    MessagePricing::new(None, None, Some("service"))
                ),
            ])
        );
        assert_eq!(webhook.statuses.len(), 5);
    }

    #[test]
    fn other_fields_and_unknown_statuses_are_skipped() {
        let payload = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"changes": [
                {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
                {"field": "messages", "value": {"metadata": {"phone_number_id": "PN"},
                    "statuses": [{"id": "w", "status": "deleted", "timestamp": "1"}]}}
            ]}]
        });
        let webhook = parse_whatsapp_webhook(payload.to_string().as_bytes()).unwrap();
        assert_eq!(webhook, WhatsAppWebhook::default());
    }
}
