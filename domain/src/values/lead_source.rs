//! Where a lead came from. Funnel analytics group by it, so the set is closed and the wire
//! names are stable.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ValueError;

/// The channel through which a lead entered the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadSource {
    /// Messaged the business's WhatsApp number first.
    WaDirect,
    /// Filled in a Meta (Facebook/Instagram) lead ad form.
    FacebookLeadAd,
    /// Referred by someone.
    Referral,
    /// Filled in a form on the business's website.
    Website,
    /// Imported from a CSV file.
    CsvImport,
    /// Created through the public API.
    Api,
    /// Texted the business's number first (SMS).
    Inbound,
}

impl LeadSource {
    /// Every source, in declaration order.
    pub const ALL: [Self; 7] = [
        Self::WaDirect,
        Self::FacebookLeadAd,
        Self::Referral,
        Self::Website,
        Self::CsvImport,
        Self::Api,
        Self::Inbound,
    ];

    /// The wire name, e.g. `"facebook_lead_ad"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::WaDirect => "wa_direct",
            Self::FacebookLeadAd => "facebook_lead_ad",
            Self::Referral => "referral",
            Self::Website => "website",
            Self::CsvImport => "csv_import",
            Self::Api => "api",
            Self::Inbound => "inbound",
        }
    }
}

impl fmt::Display for LeadSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LeadSource {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|source| source.as_str() == s)
            .ok_or_else(|| ValueError::UnknownLeadSource(s.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_source_parses_from_its_wire_name() {
        for source in LeadSource::ALL {
            assert_eq!(source.as_str().parse::<LeadSource>(), Ok(source));
        }
    }

    #[test]
    fn serde_uses_the_same_wire_names_as_as_str() {
        for source in LeadSource::ALL {
            let json = serde_json::to_string(&source).unwrap();
            assert_eq!(json, format!("\"{}\"", source.as_str()));
        }
    }

    #[test]
    fn an_unknown_source_is_rejected_listing_every_allowed_value() {
        let error = "fax".parse::<LeadSource>().unwrap_err();
        assert_eq!(error, ValueError::UnknownLeadSource("fax".into()));
        let message = error.to_string();
        for source in LeadSource::ALL {
            assert!(
                message.contains(source.as_str()),
                "{message} lacks {source}"
            );
        }
    }

    proptest! {
        #[test]
        fn parsing_any_text_never_panics(input in "\\PC{0,20}") {
            if let Ok(source) = input.parse::<LeadSource>() {
                prop_assert_eq!(source.as_str(), input.as_str());
            }
        }
    }
}
