//! What a provider said an outbound message costs or how it bills it. Providers repeat it on
//! several status reports (Twilio's price arrives once the carrier settles it, WhatsApp's
//! `pricing` rides on each status), so the conversation keeps the first report that carries any
//! and records it once per message.

use serde::{Deserialize, Serialize};

use crate::values::Price;

/// A provider's pricing of one outbound message; every part is optional because providers
/// report different parts (Twilio an amount, WhatsApp whether and how it bills).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePricing {
    /// The amount charged.
    price: Option<Price>,
    /// Whether the provider bills the message.
    billable: Option<bool>,
    /// The provider's billing category, lower case, never blank.
    category: Option<String>,
}

impl MessagePricing {
    /// A pricing report; the category is trimmed and lower-cased, and a blank one is none.
    #[must_use]
    pub fn new(price: Option<Price>, billable: Option<bool>, category: Option<&str>) -> Self {
        let category = category
            .map(str::trim)
            .filter(|category| !category.is_empty())
            .map(str::to_lowercase);
        Self {
            price,
            billable,
            category,
        }
    }

    /// The amount charged, if reported.
    #[must_use]
    pub const fn price(&self) -> Option<&Price> {
        self.price.as_ref()
    }

    /// Whether the provider bills the message, if reported.
    #[must_use]
    pub const fn billable(&self) -> Option<bool> {
        self.billable
    }

    /// The billing category (`service`, `utility`, `marketing`, …), if reported.
    #[must_use]
    pub fn category(&self) -> Option<&str> {
        self.category.as_deref()
    }

    /// Whether the report says nothing about pricing at all.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.price.is_none() && self.billable.is_none() && self.category.is_none()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_category_is_trimmed_and_lower_cased() {
        let pricing = MessagePricing::new(None, None, Some(" Marketing "));
        assert_eq!(pricing.category(), Some("marketing"));
    }

    #[test]
    fn a_report_with_only_a_blank_category_says_nothing() {
        assert!(MessagePricing::new(None, None, Some("  ")).is_empty());
        assert!(!MessagePricing::new(None, Some(false), None).is_empty());
        let price = Price::parse("-0.0075", "USD").unwrap();
        assert!(!MessagePricing::new(Some(price), None, None).is_empty());
    }
}
