//! `/webhooks/…`: where providers call us. Not part of the OpenAPI document (providers speak their
//! own formats), documented in docs/api.md.
//!
//! Every request is authenticated by the provider's signature before anything is read into the
//! system: Twilio's `X-Twilio-Signature` (HMAC-SHA1 over the public URL and every parameter) and
//! Meta's `X-Hub-Signature-256` (HMAC-SHA256 over the raw body), keyed by the tenant's own secret.
//! A missing or wrong signature, an unknown tenant and a tenant without that provider all answer
//! the same 403, and nothing is recorded. Duplicates (providers retry) are recorded once by the
//! aggregate. Once a request is authentic, a message we cannot use is acknowledged (2xx) and
//! logged, so the provider does not retry it forever; only a failure of ours answers 5xx.

use application::CommandContext;
use domain::values::{PhoneNumber, TenantId};
use domain::Channel;
use infrastructure::channels::{
    parse_twilio_inbound, parse_twilio_pricing, parse_twilio_status, parse_whatsapp_webhook,
    verify_handshake, verify_hub_signature, verify_twilio_signature,
};
use infrastructure::executor::CommandError;
use infrastructure::messaging::inbound::{self, InboundMessage};
use infrastructure::messaging::status_callbacks::{self, StatusReport};
use infrastructure::messaging::MessagingError;
use infrastructure::tenants::Tenant;
use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{get, handler, post, Body, Request, Response, Route};
use serde::Deserialize;

use crate::state::AppState;

/// The webhook routes, to be nested at `/webhooks`.
pub fn routes() -> Route {
    Route::new()
        .at("/twilio/:tenant/inbound", post(twilio_inbound))
        .at("/twilio/:tenant/status", post(twilio_status))
        .at(
            "/whatsapp/:tenant",
            get(whatsapp_verify).post(whatsapp_event),
        )
}

/// TwiML with nothing to do: we answer asynchronously through the Messages API.
const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

fn forbidden() -> Response {
    Response::builder()
        .status(StatusCode::FORBIDDEN)
        .content_type("text/plain")
        .body("invalid signature")
}

fn acknowledged_twiml() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .content_type("text/xml")
        .body(EMPTY_TWIML)
}

fn acknowledged() -> Response {
    Response::builder().status(StatusCode::OK).finish()
}

fn failed(error: &anyhow::Error) -> Response {
    tracing::error!(
        error = format!("{error:#}"),
        "a webhook could not be recorded"
    );
    Response::builder()
        .status(StatusCode::SERVICE_UNAVAILABLE)
        .content_type("text/plain")
        .body("temporarily unavailable; retry")
}

/// The URL the provider called, as it saw it: the configured public base URL (behind a TLS
/// proxy the server cannot know it), else scheme (`X-Forwarded-Proto`) and `Host` of the request.
fn public_url(state: &AppState, req: &Request) -> String {
    let uri = req.original_uri();
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    if let Some(base) = &state.settings.public_url {
        return format!("{}{path_and_query}", base.trim_end_matches('/'));
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let scheme = header("x-forwarded-proto").unwrap_or_else(|| "http".to_owned());
    let host = header("host").unwrap_or_default();
    format!("{scheme}://{host}{path_and_query}")
}

/// The tenant named in the path, if it exists.
async fn tenant(state: &AppState, id: &str) -> Result<Option<Tenant>, anyhow::Error> {
    let Ok(id) = id.parse::<TenantId>() else {
        return Ok(None);
    };
    state.tenants.get(id).await
}

async fn read_body(body: Body) -> Option<Vec<u8>> {
    body.into_bytes_limit(1 << 20)
        .await
        .ok()
        .map(|b| b.to_vec())
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn webhook_ctx(state: &AppState, tenant: TenantId, who: &'static str) -> CommandContext {
    state.messaging.system_ctx(tenant, who)
}

/// Authenticates a Twilio webhook: the tenant's auth token signs the URL and parameters.
async fn twilio_authentic(
    state: &AppState,
    req: &Request,
    tenant_id: &str,
    body: Body,
) -> Result<Option<(Tenant, Vec<(String, String)>)>, anyhow::Error> {
    let Some(tenant) = tenant(state, tenant_id).await? else {
        return Ok(None);
    };
    let credentials = state.tenants.channel_credentials(tenant.id).await?;
    let Some(twilio) = credentials.twilio else {
        return Ok(None);
    };
    let Some(body) = read_body(body).await else {
        return Ok(None);
    };
    let params = form(&body);
    let signature = req
        .headers()
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let url = public_url(state, req);
    if signature.is_empty()
        || !verify_twilio_signature(&twilio.auth_token, &url, &params, signature)
    {
        tracing::warn!(tenant = %tenant.id, %url, "Twilio webhook with an invalid signature");
        return Ok(None);
    }
    Ok(Some((tenant, params)))
}

/// Logs and swallows a refusal; a failure of ours becomes `Err`.
fn settle<T>(
    result: Result<T, CommandError<MessagingError>>,
    what: &str,
) -> Result<(), anyhow::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(CommandError::Database(error)) => Err(error),
        Err(CommandError::Conflict) => {
            Err(anyhow::anyhow!("{what}: concurrent writers kept winning"))
        }
        Err(other) => {
            tracing::warn!(error = %other, "{what}: not recorded");
            Ok(())
        }
    }
}

#[handler]
async fn twilio_inbound(
    req: &Request,
    Path(tenant_id): Path<String>,
    body: Body,
    state: Data<&AppState>,
) -> Response {
    let (tenant, params) = match twilio_authentic(&state, req, &tenant_id, body).await {
        Ok(Some(authentic)) => authentic,
        Ok(None) => return forbidden(),
        Err(error) => return failed(&error),
    };
    let message = match parse_twilio_inbound(&params) {
        Ok(message) => message,
        Err(error) => {
            tracing::warn!(%error, "an unusable Twilio inbound webhook");
            return acknowledged_twiml();
        }
    };
    let Ok(from) = PhoneNumber::parse(&message.from, tenant.default_country) else {
        tracing::warn!(from = %message.from, "a Twilio inbound message from an unusable number");
        return acknowledged_twiml();
    };
    let ctx = webhook_ctx(&state, tenant.id, "webhook:twilio");
    let result = inbound::receive(
        &state.messaging,
        &ctx,
        InboundMessage {
            channel: message.channel,
            from,
            provider: "twilio".to_owned(),
            provider_message_id: message.message_sid,
            body: message.body,
            profile_name: message.profile_name,
        },
    )
    .await;
    match settle(result, "a Twilio inbound message") {
        Ok(()) => acknowledged_twiml(),
        Err(error) => failed(&error),
    }
}

#[handler]
async fn twilio_status(
    req: &Request,
    Path(tenant_id): Path<String>,
    body: Body,
    state: Data<&AppState>,
) -> Response {
    let (tenant, params) = match twilio_authentic(&state, req, &tenant_id, body).await {
        Ok(Some(authentic)) => authentic,
        Ok(None) => return forbidden(),
        Err(error) => return failed(&error),
    };
    let report = match parse_twilio_status(&params) {
        Ok(report) => report,
        Err(error) => {
            tracing::warn!(%error, "an unusable Twilio status callback");
            return acknowledged();
        }
    };
    let Some(status) = report.status else {
        return acknowledged();
    };
    let ctx = webhook_ctx(&state, tenant.id, "webhook:twilio");
    let result = status_callbacks::record(
        &state.messaging,
        &ctx,
        StatusReport {
            provider: "twilio".to_owned(),
            provider_message_id: report.message_sid,
            status,
            error_code: report.error_code,
        },
        parse_twilio_pricing(&params),
    )
    .await;
    match settle(result, "a Twilio status callback") {
        Ok(()) => acknowledged(),
        Err(error) => failed(&error),
    }
}

/// Meta's verification handshake parameters.
#[derive(Debug, Deserialize)]
struct Handshake {
    #[serde(rename = "hub.mode", default)]
    mode: String,
    #[serde(rename = "hub.verify_token", default)]
    verify_token: String,
    #[serde(rename = "hub.challenge", default)]
    challenge: String,
}

#[handler]
async fn whatsapp_verify(
    Path(tenant_id): Path<String>,
    Query(handshake): Query<Handshake>,
    state: Data<&AppState>,
) -> Response {
    let tenant = match tenant(&state, &tenant_id).await {
        Ok(Some(tenant)) => tenant,
        Ok(None) => return forbidden(),
        Err(error) => return failed(&error),
    };
    let cloud = match state.tenants.channel_credentials(tenant.id).await {
        Ok(credentials) => credentials.whatsapp_cloud,
        Err(error) => return failed(&error),
    };
    match cloud {
        Some(cloud)
            if verify_handshake(
                &handshake.mode,
                &handshake.verify_token,
                &cloud.verify_token,
            ) =>
        {
            Response::builder()
                .status(StatusCode::OK)
                .content_type("text/plain")
                .body(handshake.challenge)
        }
        _ => forbidden(),
    }
}

#[handler]
async fn whatsapp_event(
    req: &Request,
    Path(tenant_id): Path<String>,
    body: Body,
    state: Data<&AppState>,
) -> Response {
    let tenant = match tenant(&state, &tenant_id).await {
        Ok(Some(tenant)) => tenant,
        Ok(None) => return forbidden(),
        Err(error) => return failed(&error),
    };
    let cloud = match state.tenants.channel_credentials(tenant.id).await {
        Ok(credentials) => credentials.whatsapp_cloud,
        Err(error) => return failed(&error),
    };
    let Some(cloud) = cloud else {
        return forbidden();
    };
    let Some(raw) = read_body(body).await else {
        return forbidden();
    };
    let signature = req
        .headers()
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !verify_hub_signature(&cloud.app_secret, &raw, signature) {
        tracing::warn!(tenant = %tenant.id, "WhatsApp webhook with an invalid signature");
        return forbidden();
    }
    let webhook = match parse_whatsapp_webhook(&raw) {
        Ok(webhook) => webhook,
        Err(error) => {
            tracing::warn!(%error, "an unusable WhatsApp webhook");
            return acknowledged();
        }
    };
    let ctx = webhook_ctx(&state, tenant.id, "webhook:whatsapp");
    for message in webhook.inbound {
        if message.phone_number_id != cloud.phone_number_id {
            tracing::warn!(
                phone_number_id = %message.phone_number_id,
                "a WhatsApp message to a number that is not the tenant's; ignored"
            );
            continue;
        }
        let Ok(from) = PhoneNumber::parse_e164(&message.from) else {
            tracing::warn!(from = %message.from, "a WhatsApp message from an unusable number");
            continue;
        };
        let result = inbound::receive(
            &state.messaging,
            &ctx,
            InboundMessage {
                channel: Channel::Whatsapp,
                from,
                provider: "whatsapp_cloud".to_owned(),
                provider_message_id: message.wamid,
                body: message.body,
                profile_name: message.profile_name,
            },
        )
        .await;
        if let Err(error) = settle(result, "a WhatsApp inbound message") {
            return failed(&error);
        }
    }
    for status in webhook.statuses {
        if status.phone_number_id != cloud.phone_number_id {
            continue;
        }
        let pricing = webhook.pricing.get(&status.wamid).cloned();
        let result = status_callbacks::record(
            &state.messaging,
            &ctx,
            StatusReport {
                provider: "whatsapp_cloud".to_owned(),
                provider_message_id: status.wamid,
                status: status.status,
                error_code: status.error_code,
            },
            pricing,
        )
        .await;
        if let Err(error) = settle(result, "a WhatsApp status") {
            return failed(&error);
        }
    }
    acknowledged()
}
