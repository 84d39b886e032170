//! Sends SMS and WhatsApp messages through Twilio's Programmable Messaging API
//! (`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, HTTP Basic) and turns
//! Twilio's error codes into [`SendError`]s the outbox can act on.

use application::{MessageChannel, OutboundRequest, PermanentFailure, SendError, SendReceipt};
use async_trait::async_trait;
use domain::conversation::MessageContent;
use domain::Channel;
use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;

use super::credentials::TwilioCredentials;
use super::provider_error::{exchange, refused, unreadable_success, CodeTable};

/// The provider name recorded on messages sent through Twilio.
const PROVIDER: &str = "twilio";

/// Twilio's error codes (https://www.twilio.com/docs/api/errors) that mean more than "refused".
/// 21408 (no geo permission for the destination) is left refused: it is the account's
/// configuration, not the number.
const CODES: CodeTable = CodeTable {
    transient: &["20429"],
    permanent: &[
        ("21610", PermanentFailure::Unsubscribed),
        ("21211", PermanentFailure::InvalidNumber),
        ("21612", PermanentFailure::InvalidNumber),
        ("21614", PermanentFailure::InvalidNumber),
        ("21635", PermanentFailure::InvalidNumber),
        ("63003", PermanentFailure::InvalidNumber),
        ("63016", PermanentFailure::WindowClosed),
        ("63014", PermanentFailure::Blocked),
    ],
};

/// A tenant's Twilio account as a [`MessageChannel`].
#[derive(Debug, Clone)]
pub struct TwilioChannel {
    client: reqwest::Client,
    api_base: String,
    credentials: TwilioCredentials,
}

/// The part of Twilio's 201 answer we keep.
#[derive(Deserialize)]
struct Created {
    sid: String,
}

/// Twilio's error body: `{"code","message","more_info","status"}`.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
}

impl TwilioChannel {
    /// A channel sending with `credentials` to `api_base` (`https://api.twilio.com`, or a fake's
    /// address in tests), over `client` (see [`crate::http_client::provider_client`]).
    #[must_use]
    pub fn new(client: reqwest::Client, api_base: String, credentials: TwilioCredentials) -> Self {
        Self {
            client,
            api_base: api_base.trim_end_matches('/').to_owned(),
            credentials,
        }
    }

    /// The form fields of `request`, or why it cannot be sent from this account.
    fn form(&self, request: &OutboundRequest) -> Result<Vec<(&'static str, String)>, SendError> {
        let (to, from) = match request.channel {
            Channel::Sms => (
                request.to.as_str().to_owned(),
                self.credentials.from_number.clone(),
            ),
            Channel::Whatsapp => (
                format!("whatsapp:{}", request.to.as_str()),
                self.credentials
                    .whatsapp_from
                    .as_ref()
                    .map(|number| format!("whatsapp:{number}")),
            ),
        };
        let from = from.ok_or_else(|| {
            refused(format!(
                "the Twilio account has no {} sender",
                request.channel
            ))
        })?;
        let mut fields = vec![("To", to), ("From", from)];
        match &request.content {
            MessageContent::Text { body } => fields.push(("Body", body.clone())),
            MessageContent::Template {
                name, variables, ..
            } => {
                fields.push(("ContentSid", name.clone()));
                if !variables.is_empty() {
                    fields.push(("ContentVariables", content_variables(variables)));
                }
            }
        }
        if let Some(callback) = &request.status_callback {
            fields.push(("StatusCallback", callback.clone()));
        }
        Ok(fields)
    }
}

/// Template variables as Twilio wants them: a JSON object string, `{"1":"…","2":"…"}`.
fn content_variables(variables: &[String]) -> String {
    let numbered: serde_json::Map<String, serde_json::Value> = variables
        .iter()
        .enumerate()
        .map(|(index, value)| ((index + 1).to_string(), value.clone().into()))
        .collect();
    serde_json::Value::Object(numbered).to_string()
}

/// Twilio's code, a number on the wire, as text.
fn code_text(code: &serde_json::Value) -> Option<String> {
    match code {
        serde_json::Value::Number(number) => Some(number.to_string()),
        serde_json::Value::String(text) if !text.is_empty() => Some(text.clone()),
        _ => None,
    }
}

#[async_trait]
impl MessageChannel for TwilioChannel {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    async fn send(&self, request: &OutboundRequest) -> Result<SendReceipt, SendError> {
        let fields = self.form(request)?;
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.api_base, self.credentials.account_sid
        );
        let http = self
            .client
            .post(url)
            .basic_auth(
                &self.credentials.account_sid,
                Some(&self.credentials.auth_token),
            )
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        let answer = exchange(PROVIDER, http).await?;
        if answer.is_success() {
            let created: Created = serde_json::from_slice(&answer.body)
                .map_err(|_| unreadable_success(PROVIDER, answer.status))?;
            return Ok(SendReceipt {
                provider: PROVIDER,
                provider_message_id: created.sid,
                delivered: false,
            });
        }
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&answer.body) {
            Ok(error) => (error.code.as_ref().and_then(code_text), error.message),
            Err(_) => (None, None),
        };
        Err(answer.failure(code, message).into_send_error(&CODES))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn content_variables_are_a_numbered_json_object() {
        let variables = vec!["12/1".to_owned(), "3pm \"sharp\"".to_owned()];
        assert_eq!(
            content_variables(&variables),
            r#"{"1":"12/1","2":"3pm \"sharp\""}"#
        );
    }

    #[test]
    fn numeric_and_string_codes_read_as_text() {
        assert_eq!(
            code_text(&serde_json::json!(21610)),
            Some("21610".to_owned())
        );
        assert_eq!(
            code_text(&serde_json::json!("63016")),
            Some("63016".to_owned())
        );
        assert_eq!(code_text(&serde_json::Value::Null), None);
    }
}
