//! Telling a tenant's systems that something happened: one JSON POST to the tenant's
//! `webhook_url`, named by an `x-bookerbot-event` header (and the body's `type`), with an
//! `x-bookerbot-delivery` id the receiver can de-duplicate on. One attempt; the caller records
//! where the notice went or why it could not go.

use serde_json::Value;

/// POSTs `body` (which carries `"type": event`) to `url`; `Err` says why it did not land.
///
/// # Errors
/// The request failed, or the receiver answered with a status other than 2xx.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    event: &str,
    delivery_id: &str,
    body: &Value,
) -> Result<(), String> {
    let response = client
        .post(url)
        .header("x-bookerbot-event", event)
        .header("x-bookerbot-delivery", delivery_id)
        .json(body)
        .send()
        .await
        .map_err(|error| error.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", response.status().as_u16()))
    }
}
