//! The conversation model port: given the conversation so far and what the workflow wants to
//! learn, read the lead's latest message (intent, answers, chosen slot) and write the reply — or,
//! when the lead has gone quiet, write a follow-up ([`ModelPurpose`]). The built-in rules engine
//! and the OpenAI-compatible adapter live in `infrastructure::ai`.

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

/// What the model is asked to write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ModelPurpose {
    /// Read the lead's latest message and answer it.
    #[default]
    Reply,
    /// The lead has not answered our last message: write follow-up `number` (from 1) of the
    /// workflow's `of`. Intent, answers and slot choice are not asked for; the reply is the
    /// follow-up, and a follow-up without text is unusable.
    FollowUp {
        /// Which follow-up, from 1.
        number: u32,
        /// How many the workflow sends in all (`number == of`: the last one).
        of: u32,
    },
}

/// Everything the model needs to answer the lead's latest message, or to write a follow-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRequest {
    /// What to write: a reply (the default) or a follow-up.
    pub purpose: ModelPurpose,
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
    /// The conversation so far; for a reply the last line is the lead's message to answer, for
    /// a follow-up the last lines are ours.
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

/// Why the model gave no usable answer. For a reply every variant is retried, then the lead is
/// handed off; a follow-up is written by the rules engine instead.
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

/// Reads lead messages and writes replies and follow-ups.
#[async_trait]
pub trait ConversationModel: Send + Sync + std::fmt::Debug {
    /// Answers the lead's latest message, or writes the follow-up the request's
    /// [`ModelPurpose`] asks for (then only `reply`, `usage`, `engine` and `latency` matter,
    /// and `reply` is `Some`).
    async fn respond(&self, request: &ModelRequest) -> Result<ModelReply, ModelError>;
}
