//! Conversation model adapters behind [`application::ConversationModel`]: what reads a lead's
//! message (intent, qualification answers, chosen slot) and writes the reply, or writes a
//! follow-up to a lead who has not answered.
//!
//! # Layout
//! - [`rules`]: [`RulesEngine`], the free, deterministic default and fallback.
//! - [`follow_up`]: the rules engine's follow-ups to a lead who went quiet.
//! - [`slots`]: which offered slot a message picks ("2", "the second one", "Tuesday 3pm").
//! - [`openai`]: [`OpenAiCompatibleModel`], any OpenAI-compatible chat completions API.
//! - [`prompt`]: the system prompt, the `respond_to_lead` tool and the checks on its arguments.
//! - [`prices`]: [`PriceTable`], exact integer costs of model tokens, versioned.

pub mod follow_up;
pub mod openai;
pub mod prices;
pub mod prompt;
pub mod rules;
pub mod slots;

pub use follow_up::{rules_follow_up, MAX_FOLLOW_UP_CHARS};
pub use openai::OpenAiCompatibleModel;
pub use prices::{ModelPrice, PriceTable, PriceTableError};
pub use rules::{RulesEngine, RULES_ENGINE};
pub use slots::read_slot_choice;

/// Longest qualification answer taken from a lead's text or a model's answer, in characters
/// (longer ones are cut; the lead aggregate refuses answers over 1000).
pub const MAX_ANSWER_CHARS: usize = 500;
