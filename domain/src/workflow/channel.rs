//! The messaging channel a workflow speaks on. It decides the provider adapter and the rules
//! that apply (WhatsApp's 24-hour window, SMS segment lengths).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::values::ValueError;

/// A messaging channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Text messages.
    Sms,
    /// WhatsApp Business messages.
    Whatsapp,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Self; 2] = [Self::Sms, Self::Whatsapp];

    /// The wire name: `"sms"` or `"whatsapp"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Whatsapp => "whatsapp",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|channel| channel.as_str() == s)
            .ok_or_else(|| ValueError::UnknownChannel(s.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_parses_from_its_wire_name_and_serde_agrees() {
        for channel in Channel::ALL {
            assert_eq!(channel.as_str().parse::<Channel>(), Ok(channel));
            let json = serde_json::to_string(&channel).unwrap();
            assert_eq!(json, format!("\"{}\"", channel.as_str()));
        }
    }

    #[test]
    fn an_unknown_channel_is_rejected() {
        assert_eq!(
            "fax".parse::<Channel>(),
            Err(ValueError::UnknownChannel("fax".into()))
        );
    }
}
