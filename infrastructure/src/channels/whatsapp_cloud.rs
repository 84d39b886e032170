//! Sends WhatsApp messages through Meta's Cloud API (`POST /{version}/{phone_number_id}/messages`,
//! JSON, Bearer token) and turns Graph API error codes into [`SendError`]s the outbox can act on.

use application::{MessageChannel, OutboundRequest, PermanentFailure, SendError, SendReceipt};
use async_trait::async_trait;
use domain::conversation::MessageContent;
use domain::Channel;
use serde::Deserialize;
use serde_json::{json, Value};

use super::credentials::WhatsAppCloudCredentials;
use super::provider_error::{exchange, refused, unreadable_success, CodeTable};

/// The provider name recorded on messages sent through the Cloud API.
const PROVIDER: &str = "whatsapp_cloud";

/// Graph API error codes that mean more than "refused"
/// (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
const CODES: CodeTable = CodeTable {
    // Rate limits and throttling: 130429 throughput, 131048 spam rate limit, 131056 pair rate
    // limit, 80007 WABA rate limit, 4 app rate limit.
    transient: &["130429", "131048", "131056", "80007", "4"],
    permanent: &[
        ("131047", PermanentFailure::WindowClosed),
        ("131026", PermanentFailure::InvalidNumber),
        ("131050", PermanentFailure::Unsubscribed),
    ],
};

/// A tenant's WhatsApp Cloud API number as a [`MessageChannel`] (WhatsApp only).
#[derive(Debug, Clone)]
pub struct WhatsAppCloudChannel {
    client: reqwest::Client,
    graph_base: String,
    api_version: String,
    credentials: WhatsAppCloudCredentials,
}

/// The part of the send answer we keep: `{"messages":[{"id":"wamid.…"}]}`.
#[derive(Deserialize)]
struct Accepted {
    #[serde(default)]
    messages: Vec<AcceptedMessage>,
}

/// One accepted message.
#[derive(Deserialize)]
struct AcceptedMessage {
    id: String,
}

/// The Graph API error envelope: `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`.
#[derive(Deserialize)]
struct ErrorEnvelope {
    error: GraphError,
}

/// The error itself.
#[derive(Deserialize)]
struct GraphError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<i64>,
}

impl WhatsAppCloudChannel {
    /// A channel sending from `credentials`' number through `graph_base`
    /// (`https://graph.facebook.com`, or a fake's address in tests) at `api_version` (`v21.0`),
    /// over `client` (see [`crate::http_client::provider_client`]).
    #[must_use]
    pub fn new(
        client: reqwest::Client,
        graph_base: String,
        api_version: String,
        credentials: WhatsAppCloudCredentials,
    ) -> Self {
        Self {
            client,
            graph_base: graph_base.trim_end_matches('/').to_owned(),
            api_version: api_version.trim_matches('/').to_owned(),
            credentials,
        }
    }
}

/// The JSON body of `request`: the recipient as digits without `+`, our message id as
/// `biz_opaque_callback_data` (echoed back in status webhooks).
fn message_body(request: &OutboundRequest) -> Value {
    let to = request.to.as_str().trim_start_matches('+');
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
    });
    match &request.content {
        MessageContent::Text { body: text } => {
            body["type"] = json!("text");
            body["text"] = json!({ "preview_url": false, "body": text });
        }
        MessageContent::Template {
            name,
            language,
            variables,
        } => {
            let mut template = json!({ "name": name, "language": { "code": language } });
            if !variables.is_empty() {
                let parameters: Vec<Value> = variables
                    .iter()
                    .map(|text| json!({ "type": "text", "text": text }))
                    .collect();
                template["components"] = json!([{ "type": "body", "parameters": parameters }]);
            }
            body["type"] = json!("template");
            body["template"] = template;
        }
    }
    body["biz_opaque_callback_data"] = json!(request.message_id.to_string());
    body
}

#[async_trait]
impl MessageChannel for WhatsAppCloudChannel {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    async fn send(&self, request: &OutboundRequest) -> Result<SendReceipt, SendError> {
        if request.channel != Channel::Whatsapp {
            return Err(refused(format!(
                "the WhatsApp Cloud API cannot send {} messages",
                request.channel
            )));
        }
        let url = format!(
            "{}/{}/{}/messages",
            self.graph_base, self.api_version, self.credentials.phone_number_id
        );
        let http = self
            .client
            .post(url)
            .bearer_auth(&self.credentials.access_token)
            .json(&message_body(request));
        let answer = exchange(PROVIDER, http).await?;
        if answer.is_success() {
            let id = serde_json::from_slice::<Accepted>(&answer.body)
                .ok()
                .and_then(|accepted| accepted.messages.into_iter().next())
                .map(|message| message.id)
                .ok_or_else(|| unreadable_success(PROVIDER, answer.status))?;
            return Ok(SendReceipt {
                provider: PROVIDER,
                provider_message_id: id,
                delivered: false,
            });
        }
        let (code, message) = match serde_json::from_slice::<ErrorEnvelope>(&answer.body) {
            Ok(envelope) => (
                envelope.error.code.map(|code| code.to_string()),
                envelope.error.message,
            ),
            Err(_) => (None, None),
        };
        Err(answer.failure(code, message).into_send_error(&CODES))
    }
}
