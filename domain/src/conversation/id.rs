//! A conversation is one lead on one channel, so its id is made of both: `<lead uuid>:<channel>`
//! (e.g. `0191…:sms`). Anyone holding a lead and a channel can name its conversation without a
//! lookup, and any projection can tell the lead from a conversation event's aggregate id.

use std::fmt;
use std::str::FromStr;

use crate::values::{LeadId, ValueError};
use crate::Channel;

/// The id of a Conversation aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConversationId {
    lead_id: LeadId,
    channel: Channel,
}

impl ConversationId {
    /// The conversation of `lead_id` on `channel`.
    #[must_use]
    pub const fn new(lead_id: LeadId, channel: Channel) -> Self {
        Self { lead_id, channel }
    }

    /// The lead.
    #[must_use]
    pub const fn lead_id(&self) -> LeadId {
        self.lead_id
    }

    /// The channel.
    #[must_use]
    pub const fn channel(&self) -> Channel {
        self.channel
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.lead_id, self.channel)
    }
}

impl FromStr for ConversationId {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (lead, channel) = s.split_once(':').ok_or(ValueError::InvalidId)?;
        Ok(Self {
            lead_id: lead.parse()?,
            channel: channel.parse()?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn an_id_round_trips_through_its_text() {
        for channel in Channel::ALL {
            let id = ConversationId::new(LeadId::new(), channel);
            assert_eq!(id.to_string().parse::<ConversationId>().unwrap(), id);
        }
        assert!("nonsense".parse::<ConversationId>().is_err());
        assert!(format!("{}:fax", LeadId::new())
            .parse::<ConversationId>()
            .is_err());
    }
}
