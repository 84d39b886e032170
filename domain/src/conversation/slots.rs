//! Appointment times offered to a lead in the conversation. The conversation keeps the latest
//! offer so the lead's next message ("2", "Tuesday 3pm") is read against the very times they were
//! shown, with the labels they saw; booking one (or a new offer) replaces it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most times offered at once.
pub const MAX_OFFERED_SLOTS: usize = 5;
/// Longest label, in characters.
pub const MAX_SLOT_LABEL_LEN: usize = 100;

/// One offered time, as shown to the lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotOffer {
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
    /// How it was written in the message, in the lead's time zone ("Tue 3 Mar 15:00").
    pub label: String,
}

impl SlotOffer {
    /// Whether the offer is well formed: it ends after it starts and has a label of at most
    /// [`MAX_SLOT_LABEL_LEN`] characters.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.end > self.start
            && !self.label.trim().is_empty()
            && self.label.chars().count() <= MAX_SLOT_LABEL_LEN
    }
}
