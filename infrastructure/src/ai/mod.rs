//! Conversation model adapters behind [`application::ConversationModel`]: what reads a lead's
//! message (intent, qualification answers, chosen slot) and writes the reply.
//!
//! # Layout
//! - [`rules`]: [`RulesEngine`], the free, deterministic default and fallback.
//! - [`slots`]: which offered slot a message picks ("2", "the second one", "Tuesday 3pm").
//! - [`openai`]: [`OpenAiCompatibleModel`], any OpenAI-compatible chat completions API.
//! - [`prompt`]: the system prompt, the `respond_to_lead` tool and the checks on its arguments.
//! - [`prices`]: [`PriceTable`], exact integer costs of model tokens, versioned.

pub mod openai;
pub mod prices;
pub mod prompt;
pub mod rules;
pub mod slots;

pub use openai::OpenAiCompatibleModel;
pub use prices::{ModelPrice, PriceTable, PriceTableError};
pub use rules::{RulesEngine, RULES_ENGINE};
pub use slots::read_slot_choice;

/// Longest qualification answer taken from a lead's text or a model's answer, in characters
/// (longer ones are cut; the lead aggregate refuses answers over 1000).
pub const MAX_ANSWER_CHARS: usize = 500;
