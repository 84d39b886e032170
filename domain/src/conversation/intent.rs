//! What a lead's message means, as the conversation model reads it. Recorded with every AI turn
//! and used by the orchestrator to decide what happens next.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The intent of a lead's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Asked never to be messaged again.
    OptOut,
    /// Wants an appointment, or picked one of the offered times.
    Booking,
    /// Asked a question.
    Question,
    /// Raised a concern (price, timing, trust).
    Objection,
    /// Not interested.
    NotInterested,
    /// This is not the person we think.
    WrongNumber,
    /// Wants to talk to a person.
    HumanRequest,
    /// Answered a qualification question.
    Answer,
    /// Anything else (greetings, small talk).
    Other,
}

impl Intent {
    /// Every intent.
    pub const ALL: [Self; 9] = [
        Self::OptOut,
        Self::Booking,
        Self::Question,
        Self::Objection,
        Self::NotInterested,
        Self::WrongNumber,
        Self::HumanRequest,
        Self::Answer,
        Self::Other,
    ];

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OptOut => "opt_out",
            Self::Booking => "booking",
            Self::Question => "question",
            Self::Objection => "objection",
            Self::NotInterested => "not_interested",
            Self::WrongNumber => "wrong_number",
            Self::HumanRequest => "human_request",
            Self::Answer => "answer",
            Self::Other => "other",
        }
    }

    /// The intent with wire name `name`, if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|intent| intent.as_str() == name)
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
