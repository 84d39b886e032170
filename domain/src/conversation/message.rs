//! What an outbound message carries and how far it got. Persisted in events: never rename a
//! variant or a wire name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::values::ValueError;

/// Longest message body, in characters (Twilio's limit; WhatsApp allows more).
pub const MAX_BODY_LEN: usize = 1600;
/// Longest template name or content SID, in characters.
const MAX_TEMPLATE_NAME_LEN: usize = 512;
/// Most template variables.
const MAX_TEMPLATE_VARIABLES: usize = 20;

/// The content of an outbound message: free text, or an approved template (the only thing
/// WhatsApp accepts outside the 24-hour window).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MessageContent {
    /// Free text.
    Text {
        /// The body, 1 to 1600 characters.
        body: String,
    },
    /// An approved template: a WhatsApp template name, or a Twilio Content SID (`HX…`).
    Template {
        /// Template name or Content SID.
        name: String,
        /// Language code, e.g. `en_US`.
        language: String,
        /// Values of the template's placeholders, in order (`{{1}}`, `{{2}}`, …).
        variables: Vec<String>,
    },
}

impl MessageContent {
    /// Free text, checked: not blank and at most [`MAX_BODY_LEN`] characters.
    pub fn text(body: &str) -> Result<Self, ValueError> {
        let trimmed = body.trim();
        if trimmed.is_empty() {
            return Err(ValueError::Empty);
        }
        if trimmed.chars().count() > MAX_BODY_LEN {
            return Err(ValueError::TooLong { max: MAX_BODY_LEN });
        }
        Ok(Self::Text {
            body: trimmed.to_owned(),
        })
    }

    /// A template, checked: a name, a language and at most 20 variables.
    pub fn template(
        name: &str,
        language: &str,
        variables: Vec<String>,
    ) -> Result<Self, ValueError> {
        let name = name.trim();
        let language = language.trim();
        if name.is_empty() || language.is_empty() {
            return Err(ValueError::Empty);
        }
        if name.chars().count() > MAX_TEMPLATE_NAME_LEN {
            return Err(ValueError::TooLong {
                max: MAX_TEMPLATE_NAME_LEN,
            });
        }
        if variables.len() > MAX_TEMPLATE_VARIABLES {
            return Err(ValueError::TooLong {
                max: MAX_TEMPLATE_VARIABLES,
            });
        }
        Ok(Self::Template {
            name: name.to_owned(),
            language: language.to_owned(),
            variables,
        })
    }

    /// Whether this is free text (refused outside WhatsApp's window).
    #[must_use]
    pub const fn is_free_text(&self) -> bool {
        matches!(self, Self::Text { .. })
    }

    /// A readable rendering for threads and logs: the body, or `[template name]`.
    #[must_use]
    pub fn preview(&self) -> String {
        match self {
            Self::Text { body } => body.clone(),
            Self::Template {
                name, variables, ..
            } => format!("[template {name}: {}]", variables.join(", ")),
        }
    }
}

/// Why an outbound message was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageOrigin {
    /// The workflow's initial message.
    Outreach,
    /// A follow-up to a silent lead.
    FollowUp,
    /// The AI's reply.
    Ai,
    /// Written by an operator.
    Operator,
    /// The one confirmation sent after an opt-out (the only message an opted-out lead gets).
    OptOutConfirmation,
    /// Confirmation of a re-subscription (START).
    Resubscribed,
    /// The answer to HELP/INFO: the business's identity.
    Help,
    /// A reminder of a booked appointment.
    Reminder,
}

impl MessageOrigin {
    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Outreach => "outreach",
            Self::FollowUp => "follow_up",
            Self::Ai => "ai",
            Self::Operator => "operator",
            Self::OptOutConfirmation => "opt_out_confirmation",
            Self::Resubscribed => "resubscribed",
            Self::Help => "help",
            Self::Reminder => "reminder",
        }
    }

    /// Whether this message may go to a lead that has opted out: only the confirmation of the
    /// opt-out itself.
    #[must_use]
    pub const fn allowed_after_opt_out(self) -> bool {
        matches!(self, Self::OptOutConfirmation)
    }
}

/// How far an outbound message got. Ordered by [`DeliveryStatus::rank`]: a status only ever
/// moves to a higher rank, so callbacks arriving late or twice change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting in the outbox.
    Queued,
    /// Accepted by the provider.
    Sent,
    /// Reached the handset.
    Delivered,
    /// The carrier could not deliver it.
    Undelivered,
    /// The provider refused it, or sending gave up.
    Failed,
    /// Read by the lead (WhatsApp); final.
    Read,
    /// Withdrawn before sending (opt-out, operator).
    Cancelled,
}

impl DeliveryStatus {
    /// Every status.
    pub const ALL: [Self; 7] = [
        Self::Queued,
        Self::Sent,
        Self::Delivered,
        Self::Undelivered,
        Self::Failed,
        Self::Read,
        Self::Cancelled,
    ];

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Undelivered => "undelivered",
            Self::Failed => "failed",
            Self::Read => "read",
            Self::Cancelled => "cancelled",
        }
    }

    /// How far along the message is: queued 0, sent 1, delivered/undelivered/failed 2, read 3.
    /// Cancelled is outside the order (only a queued message can be cancelled).
    #[must_use]
    pub const fn rank(self) -> u8 {
        match self {
            Self::Queued | Self::Cancelled => 0,
            Self::Sent => 1,
            Self::Delivered | Self::Undelivered | Self::Failed => 2,
            Self::Read => 3,
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeliveryStatus {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ValueError::UnknownDeliveryStatus(s.to_owned()))
    }
}
