//! A lead's email address. The rules are deliberately plain (one '@', a sane local part, a
//! dotted DNS domain) rather than full RFC 5322: they catch typos without refusing real
//! addresses. The domain is lower-cased because DNS is case-insensitive; the local part is kept.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValueError;

/// Longest address accepted (RFC 5321 path limit).
const MAX_LEN: usize = 254;
/// Longest local part accepted (RFC 5321).
const MAX_LOCAL_LEN: usize = 64;

/// An email address with a lower-cased domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses an address, trimming surrounding whitespace.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let input = input.trim();
        if input.chars().count() > MAX_LEN {
            return Err(ValueError::TooLong { max: MAX_LEN });
        }
        let mut parts = input.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ValueError::EmailAt);
        };
        let local_len = local.chars().count();
        if local_len == 0
            || local_len > MAX_LOCAL_LEN
            || local.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ValueError::EmailLocalPart);
        }
        if !domain.contains('.') {
            return Err(ValueError::EmailDomain);
        }
        if let Some(label) = domain.split('.').find(|label| !is_valid_label(label)) {
            return Err(ValueError::EmailDomainLabel(label.to_owned()));
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    /// The address as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A DNS label: letters, digits and '-', not empty, not starting or ending with '-'.
fn is_valid_label(label: &str) -> bool {
    !label.is_empty()
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_plain_address_is_accepted_and_trimmed() {
        let email = EmailAddress::parse("  ada@example.com ").unwrap();
        assert_eq!(email.as_str(), "ada@example.com");
    }

    #[test]
    fn the_domain_is_lower_cased_but_the_local_part_is_kept() {
        let email = EmailAddress::parse("Ada.Lovelace@Example.CO.uk").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace@example.co.uk");
    }

    #[test]
    fn an_address_longer_than_254_characters_is_rejected() {
        let input = format!("ada@{}.com", "a".repeat(251));
        assert_eq!(
            EmailAddress::parse(&input),
            Err(ValueError::TooLong { max: 254 })
        );
    }

    #[test]
    fn an_address_without_an_at_sign_is_rejected() {
        assert_eq!(
            EmailAddress::parse("ada.example.com"),
            Err(ValueError::EmailAt)
        );
    }

    #[test]
    fn an_address_with_two_at_signs_is_rejected() {
        assert_eq!(
            EmailAddress::parse("a@b@example.com"),
            Err(ValueError::EmailAt)
        );
    }

    #[test]
    fn an_empty_local_part_is_rejected() {
        assert_eq!(
            EmailAddress::parse("@example.com"),
            Err(ValueError::EmailLocalPart)
        );
    }

    #[test]
    fn a_local_part_longer_than_64_characters_is_rejected() {
        let input = format!("{}@example.com", "a".repeat(65));
        assert_eq!(EmailAddress::parse(&input), Err(ValueError::EmailLocalPart));
    }

    #[test]
    fn a_local_part_with_a_space_is_rejected() {
        assert_eq!(
            EmailAddress::parse("ada l@example.com"),
            Err(ValueError::EmailLocalPart)
        );
    }

    #[test]
    fn a_domain_without_a_dot_is_rejected() {
        assert_eq!(
            EmailAddress::parse("ada@localhost"),
            Err(ValueError::EmailDomain)
        );
    }

    #[test]
    fn a_domain_label_starting_or_ending_with_a_hyphen_is_rejected() {
        assert_eq!(
            EmailAddress::parse("ada@-example.com"),
            Err(ValueError::EmailDomainLabel("-example".into()))
        );
        assert_eq!(
            EmailAddress::parse("ada@example-.com"),
            Err(ValueError::EmailDomainLabel("example-".into()))
        );
    }

    #[test]
    fn a_domain_with_an_empty_label_or_odd_characters_is_rejected() {
        assert!(EmailAddress::parse("ada@example..com").is_err());
        assert!(EmailAddress::parse("ada@exa_mple.com").is_err());
        assert!(EmailAddress::parse("ada@example.com.").is_err());
    }

    #[test]
    fn an_email_address_serializes_as_its_string() {
        let email = EmailAddress::parse("ada@example.com").unwrap();
        assert_eq!(
            serde_json::to_string(&email).unwrap(),
            "\"ada@example.com\""
        );
        assert!(serde_json::from_str::<EmailAddress>("\"nope\"").is_err());
    }

    proptest! {
        #[test]
        fn parsing_any_text_never_panics(input in "\\PC{0,300}") {
            let _ = EmailAddress::parse(&input);
        }

        #[test]
        fn a_generated_address_parses_and_is_stable(
            local in "[a-zA-Z0-9._%+-]{1,64}",
            labels in proptest::collection::vec("[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", 2..4),
        ) {
            let input = format!("{local}@{}", labels.join("."));
            let email = EmailAddress::parse(&input).unwrap();
            prop_assert_eq!(EmailAddress::parse(email.as_str()).unwrap(), email);
        }
    }
}
