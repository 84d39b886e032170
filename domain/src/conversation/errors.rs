//! Why the Conversation aggregate refused a command: business rules only.

use chrono::{DateTime, Utc};
use thiserror::Error;

use super::DeliveryStatus;

/// A command the Conversation aggregate refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConversationError {
    /// No message with that id in this conversation.
    #[error("no such message in this conversation")]
    MessageNotFound,
    /// WhatsApp allows free text only within 24 hours of the lead's last message.
    #[error(
        "WhatsApp's 24-hour window is closed{}: only an approved template may be sent",
        closed_since.map(|t| format!(" since {}", t.to_rfc3339())).unwrap_or_else(|| " (the lead has never written)".to_owned())
    )]
    WindowClosed {
        /// When the window closed (`None`: it never opened).
        closed_since: Option<DateTime<Utc>>,
    },
    /// Only a failed message can be sent again.
    #[error("only a failed message can be retried; this one is {0}")]
    NotRetryable(DeliveryStatus),
    /// A newer message arrived while the model was answering, or the reply was already written.
    #[error("the AI reply is no longer expected for this message")]
    StaleReply,
    /// The conversation is with a human: the AI stays silent.
    #[error("the conversation is handed off to a human")]
    AiPaused,
    /// A message id was used twice.
    #[error("a message with this id already exists")]
    DuplicateMessageId,
    /// The command is for another lead or channel than the conversation's.
    #[error("the command does not belong to this conversation")]
    WrongConversation,
    /// An offer of appointment times must list 1 to 5 times, each ending after it starts and
    /// labelled in at most 100 characters.
    #[error("an offer must list 1 to 5 well-formed appointment times")]
    InvalidOffer,
}
