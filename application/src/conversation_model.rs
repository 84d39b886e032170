//! The conversation model port: given the conversation so far and what the workflow wants to
//! learn, read the lead's latest message (intent, answers, chosen slot) and write the reply. The
//! built-in rules engine and the OpenAI-compatible adapter live in `infrastructure::ai`.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::conversation::Intent;
use domain::QualificationQuestion;

/// Who said a line of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    /// The lead.
    Lead,
    /// Us (AI, operator or automation).
    Business,
}

/// One line of the conversation so far, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryLine {
    /// Who said it.
    pub speaker: Speaker,
    /// What was said.
    pub text: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// An appointment time offered to the lead, which they may pick by number or by time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedSlot {
    /// Start.
    pub start: DateTime<Utc>,
    /// How it was shown to the lead, e.g. "Tue 3 Mar 15:00".
    pub label: String,
}

/// Everything the model needs to answer the lead's latest message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRequest {
    /// The business's name as leads see it.
    pub brand_name: String,
    /// The workflow's instructions for the AI (may be empty).
    pub instructions: String,
    /// The qualification questions, in the order they are asked.
    pub questions: Vec<QualificationQuestion>,
    /// Answers recorded so far, by question key.
    pub answers: BTreeMap<String, String>,
    /// The lead's first name (may be empty).
    pub lead_first_name: String,
    /// The lead's IANA timezone, for reading times like "Tuesday 3pm".
    pub timezone: String,
    /// Slots offered in the conversation, if any.
    pub offered_slots: Vec<OfferedSlot>,
    /// The conversation so far; the last line is the lead's message to answer.
    pub history: Vec<HistoryLine>,
    /// Now.
    pub now: DateTime<Utc>,
}

impl ModelRequest {
    /// The message being answered: the last line the lead wrote.
    #[must_use]
    pub fn latest_from_lead(&self) -> &str {
        self.history
            .iter()
            .rev()
            .find(|line| line.speaker == Speaker::Lead)
            .map_or("", |line| line.text.as_str())
    }
}

/// Token counts and what they cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelUsage {
    /// The model that answered, as the provider named it.
    pub model: String,
    /// Prompt tokens (including cached ones).
    pub input_tokens: u32,
    /// Of those, served from the provider's cache.
    pub cached_input_tokens: u32,
    /// Completion tokens.
    pub output_tokens: u32,
    /// Cost in micro-units of the price table's currency (USD): exact integers, never floats.
    pub cost_micros: i64,
    /// Which version of the price table priced it.
    pub price_version: String,
}

/// The model's reading of the lead's message and its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelReply {
    /// What the message means.
    pub intent: Intent,
    /// Answers to qualification questions found in it, by question key.
    pub answers: BTreeMap<String, String>,
    /// The offered slot the lead picked (index into `offered_slots`), if any.
    pub chosen_slot: Option<usize>,
    /// What to say back (`None`: say nothing).
    pub reply: Option<String>,
    /// Tokens and cost; `None` for the rules engine, which costs nothing.
    pub usage: Option<ModelUsage>,
    /// Which engine answered (`rules`, or the provider's name).
    pub engine: String,
    /// How long the model took.
    pub latency: Duration,
}

/// Why the model gave no usable answer. Every variant is retried, then the lead is handed off.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// No answer in time.
    #[error("the model did not answer within {0:?}")]
    Timeout(Duration),
    /// The provider failed (5xx, 429, connection).
    #[error("the model provider failed: {0}")]
    Unavailable(String),
    /// An answer came but could not be used (no tool call, arguments not valid JSON or not
    /// matching the schema).
    #[error("the model answered something unusable: {0}")]
    Malformed(String),
    /// The provider refused the request (4xx: key, model name).
    #[error("the model provider refused the request: {0}")]
    Refused(String),
}

/// Reads lead messages and writes replies.
#[async_trait]
pub trait ConversationModel: Send + Sync + std::fmt::Debug {
    /// Answers the lead's latest message.
    async fn respond(&self, request: &ModelRequest) -> Result<ModelReply, ModelError>;
}
