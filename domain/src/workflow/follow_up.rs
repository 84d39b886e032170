//! A workflow's follow-up sequence: each step waits some hours for a reply, then sends a
//! template or asks the AI to write the message. A reply stops the sequence.

use serde::{Deserialize, Serialize};

use crate::values::{FollowUpDelayHours, MessageTemplate};

/// One follow-up of a workflow's sequence.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FollowUpStep {
    /// Hours to wait for a reply after the previous message (the outreach or the previous step).
    pub delay_hours: FollowUpDelayHours,
    /// What the follow-up says.
    pub message: FollowUpMessage,
}

/// What a follow-up says.
///
/// Serialized as `{"kind": "template", "template": "..."}` or `{"kind": "ai"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "WireMessage", into = "WireMessage")]
pub enum FollowUpMessage {
    /// This template, rendered for the lead.
    Template(MessageTemplate),
    /// A message the conversation model writes from the conversation so far.
    Ai,
}

impl FollowUpMessage {
    /// The template, when the message is one.
    #[must_use]
    pub const fn template(&self) -> Option<&MessageTemplate> {
        match self {
            Self::Template(template) => Some(template),
            Self::Ai => None,
        }
    }
}

/// The serde form of [`FollowUpMessage`], tagged by `kind`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum WireMessage {
    /// See [`FollowUpMessage::Template`].
    Template {
        /// The template text.
        template: MessageTemplate,
    },
    /// See [`FollowUpMessage::Ai`].
    Ai,
}

impl From<WireMessage> for FollowUpMessage {
    fn from(wire: WireMessage) -> Self {
        match wire {
            WireMessage::Template { template } => Self::Template(template),
            WireMessage::Ai => Self::Ai,
        }
    }
}

impl From<FollowUpMessage> for WireMessage {
    fn from(message: FollowUpMessage) -> Self {
        match message {
            FollowUpMessage::Template(template) => Self::Template { template },
            FollowUpMessage::Ai => Self::Ai,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_step_has_the_documented_json_form() {
        let steps = vec![
            FollowUpStep {
                delay_hours: FollowUpDelayHours::new(24).unwrap(),
                message: FollowUpMessage::Template(
                    MessageTemplate::parse("Hi {first_name}").unwrap(),
                ),
            },
            FollowUpStep {
                delay_hours: FollowUpDelayHours::new(48).unwrap(),
                message: FollowUpMessage::Ai,
            },
        ];
        let expected = json!([
            {"delay_hours": 24, "message": {"kind": "template", "template": "Hi {first_name}"}},
            {"delay_hours": 48, "message": {"kind": "ai"}},
        ]);
        assert_eq!(serde_json::to_value(&steps).unwrap(), expected);
        assert_eq!(
            serde_json::from_value::<Vec<FollowUpStep>>(expected).unwrap(),
            steps
        );
    }

    #[test]
    fn a_bad_template_or_kind_does_not_deserialize() {
        let bad_template = json!({"kind": "template", "template": "Hi {nope}"});
        assert!(serde_json::from_value::<FollowUpMessage>(bad_template).is_err());
        assert!(serde_json::from_value::<FollowUpMessage>(json!({"kind": "sms"})).is_err());
    }

    #[test]
    fn only_a_template_message_has_a_template() {
        let template = MessageTemplate::parse("Hello").unwrap();
        assert_eq!(
            FollowUpMessage::Template(template.clone()).template(),
            Some(&template)
        );
        assert_eq!(FollowUpMessage::Ai.template(), None);
    }
}
