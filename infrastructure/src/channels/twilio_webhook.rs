//! What Twilio POSTs to us: checking `X-Twilio-Signature` over the URL and every form parameter,
//! and reading inbound messages, delivery status callbacks and the price a callback may carry
//! out of the form. Pure functions; the HTTP endpoints that call them live in the API layer.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use domain::conversation::{DeliveryStatus, MessagePricing};
use domain::values::Price;
use domain::Channel;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The prefix Twilio puts on WhatsApp addresses.
const WHATSAPP_PREFIX: &str = "whatsapp:";

/// Why a Twilio webhook form cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwilioWebhookError {
    /// A parameter the webhook always carries is missing or empty.
    #[error("Twilio webhook parameter {0} is missing")]
    MissingField(&'static str),
}

/// A message a lead sent us through Twilio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioInbound {
    /// `MessageSid`: the deduplication key of retried webhooks.
    pub message_sid: String,
    /// `AccountSid`: whose account received it.
    pub account_sid: String,
    /// The sender, `whatsapp:` stripped: E.164 (or a short code / sender id on SMS).
    pub from: String,
    /// Our number it was sent to, `whatsapp:` stripped.
    pub to: String,
    /// The text (empty for a media-only message).
    pub body: String,
    /// WhatsApp when `From` starts with `whatsapp:`, else SMS.
    pub channel: Channel,
    /// The sender's WhatsApp profile name, if given.
    pub profile_name: Option<String>,
    /// `MediaUrl0`, `MediaUrl1`, … in order.
    pub media_urls: Vec<String>,
}

/// A delivery status callback for a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioStatus {
    /// The message it is about.
    pub message_sid: String,
    /// The status to record; `None` for statuses that say nothing new (queued, accepted,
    /// scheduled, sending, canceled, or one this code does not know).
    pub status: Option<DeliveryStatus>,
    /// `ErrorCode`, on failed and undelivered messages.
    pub error_code: Option<String>,
}

/// The `X-Twilio-Signature` of a request to `url` carrying form `params`: the URL followed by
/// every parameter as key then value, sorted by key then value, signed with HMAC-SHA1 under the
/// auth token, base64 with padding.
#[must_use]
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(signing_mac(auth_token, url, params).finalize().into_bytes())
}

/// Whether `header` is the signature of a request to `url` with `params`. The URL is also tried
/// with its default port added or removed (`:443` for https, `:80` for http), as Twilio may have
/// signed either. Compared in constant time.
#[must_use]
pub fn verify_twilio_signature(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header: &str,
) -> bool {
    let Ok(signature) = STANDARD.decode(header.trim()) else {
        return false;
    };
    let alternative = toggle_default_port(url);
    std::iter::once(url)
        .chain(alternative.as_deref())
        .any(|candidate| {
            signing_mac(auth_token, candidate, params)
                .verify_slice(&signature)
                .is_ok()
        })
}

/// The HMAC over what Twilio signs, before finalizing.
fn signing_mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Hmac<Sha1> {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(url.as_bytes());
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    for (key, value) in sorted {
        mac.update(key.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// `url` with its scheme's default port removed if present, or added if absent; `None` when the
/// URL is not http(s) or names another port.
fn toggle_default_port(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let (userinfo, host_port) = authority.split_at(host_start);
    let host = match host_port.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            if port != default_port {
                return None;
            }
            return Some(format!("{scheme}://{userinfo}{host}{tail}"));
        }
        _ => host_port,
    };
    Some(format!("{scheme}://{userinfo}{host}:{default_port}{tail}"))
}

/// Reads an inbound message webhook.
pub fn parse_twilio_inbound(
    params: &[(String, String)],
) -> Result<TwilioInbound, TwilioWebhookError> {
    let raw_from = required(params, "From")?;
    let channel = if raw_from.starts_with(WHATSAPP_PREFIX) {
        Channel::Whatsapp
    } else {
        Channel::Sms
    };
    Ok(TwilioInbound {
        message_sid: required(params, "MessageSid")?.to_owned(),
        account_sid: required(params, "AccountSid")?.to_owned(),
        from: strip_whatsapp(raw_from),
        to: strip_whatsapp(required(params, "To")?),
        body: param(params, "Body").unwrap_or_default().to_owned(),
        channel,
        profile_name: param(params, "ProfileName").map(str::to_owned),
        media_urls: media_urls(params),
    })
}

/// Reads a delivery status callback: `MessageStatus`, or `SmsStatus` when it is absent.
pub fn parse_twilio_status(
    params: &[(String, String)],
) -> Result<TwilioStatus, TwilioWebhookError> {
    let message_sid = required(params, "MessageSid")?.to_owned();
    let status = param(params, "MessageStatus")
        .or_else(|| param(params, "SmsStatus"))
        .ok_or(TwilioWebhookError::MissingField("MessageStatus"))?;
    Ok(TwilioStatus {
        message_sid,
        status: delivery_status(status),
        error_code: param(params, "ErrorCode").map(str::to_owned),
    })
}

/// The price a status callback carries: `Price` (`"-0.00750"`, what Twilio charged, negative) and
/// `PriceUnit` (`"USD"`), both needed; missing or empty means none. A price that cannot be read
/// exactly (see [`Price::parse`]) is dropped with a warning, so the status is still recorded.
#[must_use]
pub fn parse_twilio_pricing(params: &[(String, String)]) -> Option<MessagePricing> {
    let amount = param(params, "Price")?;
    let unit = param(params, "PriceUnit")?;
    match Price::parse(amount, unit) {
        Ok(price) => Some(MessagePricing::new(Some(price), None, None)),
        Err(error) => {
            tracing::warn!(%error, amount, unit, "an unusable price in a Twilio status callback");
            None
        }
    }
}

/// The status worth recording for a Twilio message status.
fn delivery_status(status: &str) -> Option<DeliveryStatus> {
    match status {
        "sent" => Some(DeliveryStatus::Sent),
        "delivered" => Some(DeliveryStatus::Delivered),
        "undelivered" => Some(DeliveryStatus::Undelivered),
        "failed" => Some(DeliveryStatus::Failed),
        "read" => Some(DeliveryStatus::Read),
        _ => None,
    }
}

/// The first non-empty value of `name`.
fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, value)| key == name && !value.is_empty())
        .map(|(_, value)| value.as_str())
}

/// The first non-empty value of `name`, which must be there.
fn required<'a>(
    params: &'a [(String, String)],
    name: &'static str,
) -> Result<&'a str, TwilioWebhookError> {
    param(params, name).ok_or(TwilioWebhookError::MissingField(name))
}

/// An address without Twilio's `whatsapp:` prefix.
fn strip_whatsapp(address: &str) -> String {
    address
        .strip_prefix(WHATSAPP_PREFIX)
        .unwrap_or(address)
        .to_owned()
}

/// Every `MediaUrl{N}`, ordered by N.
fn media_urls(params: &[(String, String)]) -> Vec<String> {
    let mut numbered: Vec<(u32, &str)> = params
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .filter_map(|(key, value)| {
            let index = key.strip_prefix("MediaUrl")?.parse::<u32>().ok()?;
            Some((index, value.as_str()))
        })
        .collect();
    numbered.sort_unstable();
    numbered.dedup_by_key(|(index, _)| *index);
    numbered
        .into_iter()
        .map(|(_, url)| url.to_owned())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_default_port_is_added_or_removed() {
        assert_eq!(
            toggle_default_port("https://example.com/hook?a=1").as_deref(),
            Some("https://example.com:443/hook?a=1")
        );
        assert_eq!(
            toggle_default_port("https://example.com:443/hook").as_deref(),
            Some("https://example.com/hook")
        );
        assert_eq!(
            toggle_default_port("http://user:pw@example.com").as_deref(),
            Some("http://user:pw@example.com:80")
        );
        assert_eq!(
            toggle_default_port("http://[::1]:80/x").as_deref(),
            Some("http://[::1]/x")
        );
        assert_eq!(toggle_default_port("https://example.com:8443/hook"), None);
        assert_eq!(toggle_default_port("ftp://example.com/"), None);
    }

    #[test]
    fn a_signature_made_without_the_port_verifies_against_a_url_with_it() {
        let params = pairs(&[("MessageSid", "SM1"), ("Body", "hi")]);
        let signature = twilio_signature("token", "https://example.com/hook", &params);
        assert!(verify_twilio_signature(
            "token",
            "https://example.com:443/hook",
            &params,
            &signature
        ));
        assert!(!verify_twilio_signature(
            "token",
            "https://example.com:8443/hook",
            &params,
            &signature
        ));
        assert!(!verify_twilio_signature(
            "token",
            "https://example.com/hook",
            &params,
            "not base64!"
        ));
    }

    #[test]
    fn repeated_keys_are_sorted_by_value() {
        let one = pairs(&[("MediaUrl", "b"), ("MediaUrl", "a")]);
        let other = pairs(&[("MediaUrl", "a"), ("MediaUrl", "b")]);
        assert_eq!(
            twilio_signature("t", "https://x/", &one),
            twilio_signature("t", "https://x/", &other)
        );
    }

    #[test]
    fn media_urls_come_in_index_order() {
        let params = pairs(&[
            ("MediaUrl10", "k"),
            ("MediaUrl1", "b"),
            ("MediaUrl0", "a"),
            ("MediaContentType0", "image/jpeg"),
        ]);
        assert_eq!(media_urls(&params), vec!["a", "b", "k"]);
    }

    #[test]
    fn a_missing_sid_or_sender_is_named() {
        let no_sid = pairs(&[
            ("From", "+15550001111"),
            ("To", "+1555"),
            ("AccountSid", "AC"),
        ]);
        assert_eq!(
            parse_twilio_inbound(&no_sid),
            Err(TwilioWebhookError::MissingField("MessageSid"))
        );
        let no_from = pairs(&[("MessageSid", "SM1"), ("To", "+1555"), ("AccountSid", "AC")]);
        assert_eq!(
            parse_twilio_inbound(&no_from),
            Err(TwilioWebhookError::MissingField("From"))
        );
    }

    #[test]
    fn a_callback_price_becomes_micros_in_its_currency() {
        let params = pairs(&[
            ("MessageSid", "SM1"),
            ("MessageStatus", "delivered"),
            ("Price", "-0.00750"),
            ("PriceUnit", "usd"),
        ]);
        let pricing = parse_twilio_pricing(&params).unwrap();
        let price = pricing.price().unwrap();
        assert_eq!((price.amount_micros(), price.currency()), (7500, "USD"));
        assert_eq!((pricing.billable(), pricing.category()), (None, None));
    }

    #[test]
    fn a_price_needs_its_unit_and_an_unreadable_one_is_none() {
        for params in [
            pairs(&[("MessageSid", "SM1"), ("Price", "-0.0075")]),
            pairs(&[("Price", ""), ("PriceUnit", "USD")]),
            pairs(&[("Price", "-0.0075"), ("PriceUnit", "")]),
            pairs(&[("Price", "-0.00000075"), ("PriceUnit", "USD")]),
            pairs(&[("Price", "cheap"), ("PriceUnit", "USD")]),
            pairs(&[("Price", "-0.0075"), ("PriceUnit", "US Dollar")]),
            pairs(&[("MessageSid", "SM1")]),
        ] {
            assert_eq!(parse_twilio_pricing(&params), None, "{params:?}");
        }
    }

    #[test]
    fn statuses_that_say_nothing_new_map_to_none() {
        for status in [
            "queued",
            "accepted",
            "scheduled",
            "sending",
            "canceled",
            "receiving",
        ] {
            assert_eq!(delivery_status(status), None, "{status}");
        }
        let params = pairs(&[("MessageSid", "SM1"), ("SmsStatus", "delivered")]);
        assert_eq!(
            parse_twilio_status(&params).unwrap().status,
            Some(DeliveryStatus::Delivered)
        );
        assert_eq!(
            parse_twilio_status(&pairs(&[("MessageSid", "SM1")])),
            Err(TwilioWebhookError::MissingField("MessageStatus"))
        );
    }
}
