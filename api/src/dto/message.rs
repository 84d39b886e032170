//! Bodies of the messaging operations: what an operator sends to a lead (free text or an
//! approved template), hands off or resumes, what the sandbox's lead "texts" back, and what
//! each answers. Requests hold primitives; the parsers here turn them into domain values and
//! name the exact field refused (`body`, `template.name`, `template.variables`).

use chrono::{DateTime, Utc};
use domain::conversation::{Keyword, MessageContent};
use domain::values::ValueError;
use poem_openapi::{Enum, Object};
use serde::Deserialize;

use crate::dto::conversation::MessageStatusDto;
use crate::dto::workflow::Channel;
use crate::error::ApiError;

/// Longest text the sandbox accepts as a lead's message, in characters (WhatsApp's limit).
pub const MAX_INBOUND_LEN: usize = 4096;
/// Longest provider message id the sandbox accepts, in characters.
pub const MAX_PROVIDER_ID_LEN: usize = 200;

/// A message an operator sends: exactly one of `body` and `template`.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct SendMessageRequest {
    /// Free text, 1 to 1600 characters (trimmed). WhatsApp accepts it only within 24 hours of
    /// the lead's last message.
    #[serde(default)]
    pub body: Option<String>,
    /// An approved template (a WhatsApp template name, or a Twilio Content SID `HX…`): the
    /// only thing WhatsApp accepts outside the 24-hour window.
    #[serde(default)]
    pub template: Option<TemplateRequest>,
    /// `sms` or `whatsapp`; default: the channel of the lead's workflow, else `sms`.
    #[serde(default)]
    pub channel: Option<Channel>,
}

/// An approved template and the values of its placeholders.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename = "MessageTemplate", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    /// The template's name or Content SID, 1 to 512 characters.
    pub name: String,
    /// Its language code, e.g. `en_US`.
    pub language: String,
    /// Values of `{{1}}`, `{{2}}`, … in order; at most 20.
    #[oai(default)]
    #[serde(default)]
    pub variables: Vec<String>,
}

impl SendMessageRequest {
    /// The checked content, naming the field that was refused.
    pub fn content(&self) -> Result<MessageContent, ApiError> {
        match (&self.body, &self.template) {
            (Some(body), None) => MessageContent::text(body).map_err(|error| match error {
                ValueError::TooLong { max } => ApiError::invalid_field(
                    "body",
                    format!(
                        "must be at most {max} characters (it has {})",
                        body.trim().chars().count()
                    ),
                ),
                other => ApiError::invalid_field("body", other),
            }),
            (None, Some(template)) => template.content(),
            (Some(_), Some(_)) => Err(ApiError::invalid_field(
                "body",
                "give either body or template, not both",
            )),
            (None, None) => Err(ApiError::invalid_field(
                "body",
                "a message needs a body or a template",
            )),
        }
    }
}

impl TemplateRequest {
    /// The checked template: name and language first, then the variables.
    fn content(&self) -> Result<MessageContent, ApiError> {
        if self.name.trim().is_empty() {
            return Err(ApiError::invalid_field("template.name", ValueError::Empty));
        }
        if self.language.trim().is_empty() {
            return Err(ApiError::invalid_field(
                "template.language",
                ValueError::Empty,
            ));
        }
        MessageContent::template(&self.name, &self.language, Vec::new())
            .map_err(|error| ApiError::invalid_field("template.name", error))?;
        MessageContent::template(&self.name, &self.language, self.variables.clone()).map_err(
            |error| match error {
                ValueError::TooLong { max } => ApiError::invalid_field(
                    "template.variables",
                    format!("must have at most {max} values"),
                ),
                other => ApiError::invalid_field("template.variables", other),
            },
        )
    }
}

/// Why an operator takes a conversation over.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct HandOffRequest {
    /// Recorded on the conversation, 1 to 200 characters (default `operator`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Longest handoff reason, in characters.
const MAX_REASON_LEN: usize = 200;

impl HandOffRequest {
    /// The checked reason, `operator` when none is given.
    pub fn reason(&self) -> Result<String, ApiError> {
        let Some(reason) = &self.reason else {
            return Ok("operator".to_owned());
        };
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(ApiError::invalid_field("reason", ValueError::Empty));
        }
        if reason.chars().count() > MAX_REASON_LEN {
            return Err(ApiError::invalid_field(
                "reason",
                ValueError::TooLong {
                    max: MAX_REASON_LEN,
                },
            ));
        }
        Ok(reason.to_owned())
    }
}

/// A message queued for a lead: the outbox sends it shortly.
#[derive(Debug, Clone, Object)]
#[oai(rename = "QueuedMessage")]
pub struct QueuedMessageDto {
    /// The message's id (also the provider's idempotency key); see it in the lead's
    /// conversation.
    pub message_id: String,
    /// The lead.
    pub lead_id: String,
    /// The channel it goes out on.
    pub channel: Channel,
    /// Always `queued`.
    pub status: MessageStatusDto,
    /// Position of the last event written (pass it as `min_position` to read your write).
    pub position: Option<i64>,
}

/// What a handoff or a resume changed.
#[derive(Debug, Clone, Object)]
pub struct LeadConversationResult {
    /// The lead.
    pub lead_id: String,
    /// Position of the last event written; `null` when nothing changed.
    pub position: Option<i64>,
}

/// A message the sandbox's lead sends.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct SandboxInboundRequest {
    /// What the lead writes, 1 to 4096 characters. A whole message that is STOP, START, HELP
    /// (or their synonyms) acts as that keyword.
    pub body: String,
    /// `sms` or `whatsapp`; default: the channel of the lead's workflow, else `sms`.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// The provider's id of the message (1 to 200 characters): sending the same id again
    /// records nothing, as with a provider's webhook retry. Default: a fresh id.
    #[serde(default)]
    pub message_id: Option<String>,
}

impl SandboxInboundRequest {
    /// The checked text.
    pub fn text(&self) -> Result<&str, ApiError> {
        if self.body.trim().is_empty() {
            return Err(ApiError::invalid_field("body", ValueError::Empty));
        }
        if self.body.chars().count() > MAX_INBOUND_LEN {
            return Err(ApiError::invalid_field(
                "body",
                ValueError::TooLong {
                    max: MAX_INBOUND_LEN,
                },
            ));
        }
        Ok(&self.body)
    }

    /// The checked provider id, or a fresh one.
    pub fn provider_message_id(&self) -> Result<String, ApiError> {
        let Some(id) = &self.message_id else {
            return Ok(uuid::Uuid::now_v7().to_string());
        };
        let id = id.trim();
        if id.is_empty() {
            return Err(ApiError::invalid_field("message_id", ValueError::Empty));
        }
        if id.chars().count() > MAX_PROVIDER_ID_LEN {
            return Err(ApiError::invalid_field(
                "message_id",
                ValueError::TooLong {
                    max: MAX_PROVIDER_ID_LEN,
                },
            ));
        }
        Ok(id.to_owned())
    }
}

/// A keyword a lead texted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "Keyword", rename_all = "snake_case")]
pub enum KeywordDto {
    /// STOP and its synonyms: the lead is opted out.
    OptOut,
    /// START, UNSTOP: the lead may be messaged again.
    OptIn,
    /// HELP, INFO: answered with the business's identity.
    Help,
}

impl From<Keyword> for KeywordDto {
    fn from(keyword: Keyword) -> Self {
        match keyword {
            Keyword::OptOut => Self::OptOut,
            Keyword::OptIn => Self::OptIn,
            Keyword::Help => Self::Help,
        }
    }
}

/// What receiving the sandbox's message did.
#[derive(Debug, Clone, Object)]
pub struct SandboxInboundResult {
    /// The lead.
    pub lead_id: String,
    /// Our id of the message; `null` when the `message_id` was received before (nothing was
    /// recorded).
    pub message_id: Option<String>,
    /// The keyword the message was, if it was one.
    pub keyword: Option<KeywordDto>,
    /// Position of the last event written; `null` when nothing was recorded.
    pub position: Option<i64>,
}

/// What the sandbox "sent".
#[derive(Debug, Clone, Object)]
pub struct SandboxMessageList {
    /// Oldest first: the newest `limit` messages.
    pub messages: Vec<SandboxMessageDto>,
}

/// One message the sandbox "sent": what the lead's phone would show.
#[derive(Debug, Clone, Object)]
#[oai(rename = "SandboxMessage")]
pub struct SandboxMessageDto {
    /// Our id of the message (as in the lead's conversation).
    pub message_id: String,
    /// The channel.
    pub channel: Channel,
    /// The number it went to (E.164).
    pub to: String,
    /// The text; for a template, `[template <name>: <variables>]`.
    pub body: String,
    /// When the sandbox accepted it.
    pub sent_at: DateTime<Utc>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::error::field_of;

    fn request(body: Option<&str>, template: Option<TemplateRequest>) -> SendMessageRequest {
        SendMessageRequest {
            body: body.map(str::to_owned),
            template,
            channel: None,
        }
    }

    fn template(name: &str, language: &str, variables: usize) -> TemplateRequest {
        TemplateRequest {
            name: name.to_owned(),
            language: language.to_owned(),
            variables: vec!["x".to_owned(); variables],
        }
    }

    #[test]
    fn a_body_or_a_template_is_the_content() {
        assert_eq!(
            request(Some(" Hi "), None).content().unwrap(),
            MessageContent::Text {
                body: "Hi".to_owned()
            }
        );
        assert!(!request(None, Some(template("welcome", "en_US", 2)))
            .content()
            .unwrap()
            .is_free_text());
    }

    #[test]
    fn refusals_name_the_field() {
        assert_eq!(field_of(request(None, None).content().unwrap_err()), "body");
        assert_eq!(
            field_of(request(Some("  "), None).content().unwrap_err()),
            "body"
        );
        let long = "a".repeat(1601);
        assert_eq!(
            field_of(request(Some(&long), None).content().unwrap_err()),
            "body"
        );
        assert_eq!(
            field_of(
                request(Some("Hi"), Some(template("welcome", "en", 0)))
                    .content()
                    .unwrap_err()
            ),
            "body"
        );
        let cases = [
            (template(" ", "en", 0), "template.name"),
            (template(&"n".repeat(513), "en", 0), "template.name"),
            (template("welcome", "", 0), "template.language"),
            (template("welcome", "en", 21), "template.variables"),
        ];
        for (template, field) in cases {
            assert_eq!(
                field_of(request(None, Some(template)).content().unwrap_err()),
                field
            );
        }
    }

    #[test]
    fn a_handoff_reason_defaults_to_operator() {
        assert_eq!(
            HandOffRequest { reason: None }.reason().unwrap(),
            "operator"
        );
        let blank = HandOffRequest {
            reason: Some(" ".to_owned()),
        };
        assert_eq!(field_of(blank.reason().unwrap_err()), "reason");
    }

    #[test]
    fn the_sandbox_checks_its_text_and_id() {
        let inbound = |body: &str, id: Option<&str>| SandboxInboundRequest {
            body: body.to_owned(),
            channel: None,
            message_id: id.map(str::to_owned),
        };
        assert_eq!(field_of(inbound(" ", None).text().unwrap_err()), "body");
        assert_eq!(
            field_of(inbound("hi", Some("")).provider_message_id().unwrap_err()),
            "message_id"
        );
        assert_eq!(
            inbound("hi", Some(" SM1 ")).provider_message_id().unwrap(),
            "SM1"
        );
        assert_ne!(
            inbound("hi", None).provider_message_id().unwrap(),
            inbound("hi", None).provider_message_id().unwrap()
        );
    }
}
