//! A placeholder a message template may use. The set is closed so that a typo such as
//! `{frist_name}` is caught when the workflow is saved, not when a lead receives "Hi {frist_name}".

use std::fmt;

use super::custom_fields::is_valid_key;
use super::ValueError;

/// Prefix of placeholders that read a custom field.
const CUSTOM_PREFIX: &str = "custom.";

/// A value substituted into a message template.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MergeField {
    /// `{first_name}`: the lead's given name.
    FirstName,
    /// `{last_name}`: the lead's family name.
    LastName,
    /// `{brand_name}`: the tenant's brand.
    BrandName,
    /// `{custom.KEY}`: a custom field of the lead.
    Custom(String),
}

impl MergeField {
    /// Parses a placeholder's name (the text between the braces).
    pub fn parse(name: &str) -> Result<Self, ValueError> {
        match name {
            "first_name" => Ok(Self::FirstName),
            "last_name" => Ok(Self::LastName),
            "brand_name" => Ok(Self::BrandName),
            _ => match name.strip_prefix(CUSTOM_PREFIX) {
                Some(key) if is_valid_key(key) => Ok(Self::Custom(key.to_owned())),
                _ => Err(ValueError::UnknownMergeField(name.to_owned())),
            },
        }
    }
}

impl fmt::Display for MergeField {
    /// The placeholder's name, without braces (`first_name`, `custom.budget`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FirstName => f.write_str("first_name"),
            Self::LastName => f.write_str("last_name"),
            Self::BrandName => f.write_str("brand_name"),
            Self::Custom(key) => write!(f, "{CUSTOM_PREFIX}{key}"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_built_in_fields_are_known() {
        assert_eq!(MergeField::parse("first_name"), Ok(MergeField::FirstName));
        assert_eq!(MergeField::parse("last_name"), Ok(MergeField::LastName));
        assert_eq!(MergeField::parse("brand_name"), Ok(MergeField::BrandName));
    }

    #[test]
    fn a_custom_field_is_read_after_the_custom_prefix() {
        assert_eq!(
            MergeField::parse("custom.budget"),
            Ok(MergeField::Custom("budget".into()))
        );
    }

    #[test]
    fn an_unknown_or_malformed_name_is_rejected() {
        for name in [
            "frist_name",
            "FIRST_NAME",
            "custom.",
            "custom.a-b",
            "",
            " first_name",
        ] {
            assert_eq!(
                MergeField::parse(name),
                Err(ValueError::UnknownMergeField(name.into())),
                "{name}"
            );
        }
    }

    proptest! {
        #[test]
        fn a_field_parses_back_from_its_display_name(key in "[A-Za-z0-9_]{1,64}") {
            let field = MergeField::Custom(key);
            prop_assert_eq!(MergeField::parse(&field.to_string()), Ok(field));
        }
    }
}
