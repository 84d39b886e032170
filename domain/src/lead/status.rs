//! Where a lead is in its lifecycle, and which moves the normal course of engagement allows.
//!
//! | from              | `AdvanceStatus` may go to                      |
//! |-------------------|------------------------------------------------|
//! | `pending`         | `contacted`, `in_conversation` (wrote to us first) |
//! | `contacted`       | `in_conversation`, `unresponsive`              |
//! | `in_conversation` | `qualified`, `handed_off`, `unresponsive`      |
//! | `qualified`       | `booked`, `handed_off`, `in_conversation`      |
//! | `booked`          | `qualified` (appointment cancelled), `handed_off` |
//! | `unresponsive`    | `in_conversation` (late reply)                 |
//! | `handed_off`      | `in_conversation`                              |
//! | `opted_out`       | nothing: only `Resubscribe` (START) leaves it, back to the status it had |
//!
//! Any status but `opted_out` reaches `opted_out` only through `OptOut`, never through
//! `AdvanceStatus` or `OverrideStatus`. Operators may `OverrideStatus` between any two other
//! statuses, with a reason.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::values::ValueError;

/// The lifecycle status of a lead.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    /// Captured, not yet messaged.
    #[default]
    Pending,
    /// The initial message went out; no reply yet.
    Contacted,
    /// The lead has replied and a conversation is under way.
    InConversation,
    /// The lead met the workflow's qualification questions.
    Qualified,
    /// The lead has an appointment.
    Booked,
    /// The lead asked never to be messaged again.
    OptedOut,
    /// Follow-ups ran out without a reply.
    Unresponsive,
    /// A human took over the conversation.
    HandedOff,
}

impl LeadStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 8] = [
        Self::Pending,
        Self::Contacted,
        Self::InConversation,
        Self::Qualified,
        Self::Booked,
        Self::OptedOut,
        Self::Unresponsive,
        Self::HandedOff,
    ];

    /// The wire name, e.g. `"in_conversation"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Contacted => "contacted",
            Self::InConversation => "in_conversation",
            Self::Qualified => "qualified",
            Self::Booked => "booked",
            Self::OptedOut => "opted_out",
            Self::Unresponsive => "unresponsive",
            Self::HandedOff => "handed_off",
        }
    }

    /// Whether the normal lifecycle (see the module table) allows moving from `self` to `to`.
    #[must_use]
    pub const fn can_advance_to(self, to: Self) -> bool {
        use LeadStatus::{
            Booked, Contacted, HandedOff, InConversation, Pending, Qualified, Unresponsive,
        };
        matches!(
            (self, to),
            (Pending, Contacted | InConversation)
                | (Contacted, InConversation | Unresponsive)
                | (InConversation, Qualified | HandedOff | Unresponsive)
                | (Qualified, Booked | HandedOff | InConversation)
                | (Booked, Qualified | HandedOff)
                | (Unresponsive | HandedOff, InConversation)
        )
    }
}

impl fmt::Display for LeadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LeadStatus {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ValueError::UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use LeadStatus::*;

    #[test]
    fn every_status_parses_from_its_wire_name_and_serde_agrees() {
        for status in LeadStatus::ALL {
            assert_eq!(status.as_str().parse::<LeadStatus>(), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
    }

    #[test]
    fn an_unknown_status_is_rejected_listing_every_allowed_value() {
        let error = "lost".parse::<LeadStatus>().unwrap_err();
        for status in LeadStatus::ALL {
            assert!(error.to_string().contains(status.as_str()));
        }
    }

    #[test]
    fn the_lifecycle_allows_exactly_the_documented_moves() {
        let allowed = [
            (Pending, Contacted),
            (Pending, InConversation),
            (Contacted, InConversation),
            (Contacted, Unresponsive),
            (InConversation, Qualified),
            (InConversation, HandedOff),
            (InConversation, Unresponsive),
            (Qualified, Booked),
            (Qualified, HandedOff),
            (Qualified, InConversation),
            (Booked, Qualified),
            (Booked, HandedOff),
            (Unresponsive, InConversation),
            (HandedOff, InConversation),
        ];
        for from in LeadStatus::ALL {
            for to in LeadStatus::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(from.can_advance_to(to), expected, "{from} -> {to}");
            }
        }
    }
}
