//! The text of an outbound message with `{placeholders}`. Parsed when a workflow is saved, so
//! every placeholder is known and every brace is balanced before any lead is messaged. Literal
//! braces are not supported: SMS and WhatsApp copy does not need them.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CustomFields, MergeField, ValueError};

/// Longest template, in characters (ten SMS segments).
const MAX_LEN: usize = 1600;

/// A checked message template.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageTemplate {
    /// The trimmed source text.
    text: String,
    /// The text split into literals and placeholders, in order.
    segments: Vec<Segment>,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    /// Copied as is.
    Literal(String),
    /// Replaced when rendering.
    Field(MergeField),
}

impl MessageTemplate {
    /// Parses a template: not blank, at most 1600 characters, known placeholders only, braces
    /// balanced and not nested.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ValueError::Empty);
        }
        if text.chars().count() > MAX_LEN {
            return Err(ValueError::TooLong { max: MAX_LEN });
        }
        let mut segments = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find(['{', '}']) {
            let (literal, tail) = rest.split_at(open);
            let inner = tail.strip_prefix('{').ok_or(ValueError::UnbalancedBraces)?;
            let close = inner.find(['{', '}']).ok_or(ValueError::UnbalancedBraces)?;
            let (name, after) = inner.split_at(close);
            rest = after
                .strip_prefix('}')
                .ok_or(ValueError::UnbalancedBraces)?;
            if !literal.is_empty() {
                segments.push(Segment::Literal(literal.to_owned()));
            }
            segments.push(Segment::Field(MergeField::parse(name)?));
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.to_owned()));
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// The template's source text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The placeholders used, in order of appearance (repeats included).
    pub fn fields(&self) -> impl Iterator<Item = &MergeField> + '_ {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Field(field) => Some(field),
            Segment::Literal(_) => None,
        })
    }

    /// Fills the placeholders. A missing or null custom field renders as nothing; numbers and
    /// booleans render as JSON writes them.
    #[must_use]
    pub fn render(
        &self,
        first_name: &str,
        last_name: &str,
        brand_name: &str,
        custom: &CustomFields,
    ) -> String {
        let mut out = String::with_capacity(self.text.len());
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Field(MergeField::FirstName) => out.push_str(first_name),
                Segment::Field(MergeField::LastName) => out.push_str(last_name),
                Segment::Field(MergeField::BrandName) => out.push_str(brand_name),
                Segment::Field(MergeField::Custom(key)) => match custom.get(key) {
                    Some(Value::String(text)) => out.push_str(text),
                    Some(Value::Number(number)) => out.push_str(&number.to_string()),
                    Some(Value::Bool(flag)) => out.push_str(if *flag { "true" } else { "false" }),
                    _ => {}
                },
            }
        }
        out
    }
}

impl AsRef<str> for MessageTemplate {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for MessageTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for MessageTemplate {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MessageTemplate> for String {
    fn from(value: MessageTemplate) -> Self {
        value.text
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn a_template_lists_its_fields_in_order() {
        let template =
            MessageTemplate::parse("Hi {first_name}, {brand_name} here ({custom.budget})").unwrap();
        let fields: Vec<_> = template.fields().cloned().collect();
        assert_eq!(
            fields,
            vec![
                MergeField::FirstName,
                MergeField::BrandName,
                MergeField::Custom("budget".into())
            ]
        );
    }

    #[test]
    fn rendering_fills_every_placeholder() {
        let template = MessageTemplate::parse("Hi {first_name} {last_name}, {brand_name}: {custom.budget} {custom.vip} {custom.city}!").unwrap();
        let custom =
            CustomFields::parse(json!({"budget": 5000, "vip": true, "city": "Leeds"})).unwrap();
        assert_eq!(
            template.render("Ada", "Lovelace", "Acme", &custom),
            "Hi Ada Lovelace, Acme: 5000 true Leeds!"
        );
    }

    #[test]
    fn a_missing_or_null_custom_field_renders_as_nothing() {
        let template = MessageTemplate::parse("[{custom.budget}][{custom.notes}]").unwrap();
        let custom = CustomFields::parse(json!({"notes": null})).unwrap();
        assert_eq!(template.render("", "", "", &custom), "[][]");
    }

    #[test]
    fn a_blank_template_is_rejected() {
        assert_eq!(MessageTemplate::parse("  \n "), Err(ValueError::Empty));
    }

    #[test]
    fn a_template_longer_than_1600_characters_is_rejected() {
        assert_eq!(
            MessageTemplate::parse(&"a".repeat(1601)),
            Err(ValueError::TooLong { max: 1600 })
        );
    }

    #[test]
    fn an_unknown_placeholder_is_rejected_by_name() {
        assert_eq!(
            MessageTemplate::parse("Hi {frist_name}"),
            Err(ValueError::UnknownMergeField("frist_name".into()))
        );
    }

    #[test]
    fn unbalanced_or_nested_braces_are_rejected() {
        for text in [
            "Hi {first_name",
            "Hi first_name}",
            "Hi {{first_name}}",
            "} {",
            "{a{b}}",
        ] {
            assert_eq!(
                MessageTemplate::parse(text),
                Err(ValueError::UnbalancedBraces),
                "{text}"
            );
        }
    }

    #[test]
    fn a_template_serializes_as_its_text() {
        let template = MessageTemplate::parse("Hi {first_name}").unwrap();
        assert_eq!(
            serde_json::to_string(&template).unwrap(),
            "\"Hi {first_name}\""
        );
        assert!(serde_json::from_str::<MessageTemplate>("\"Hi {nope}\"").is_err());
    }

    proptest! {
        #[test]
        fn parsing_any_text_never_panics(input in "\\PC{0,80}") {
            if let Ok(template) = MessageTemplate::parse(&input) {
                prop_assert_eq!(MessageTemplate::parse(template.as_str()), Ok(template));
            }
        }

        #[test]
        fn text_without_braces_renders_unchanged(input in "[^{}]{1,80}") {
            prop_assume!(!input.trim().is_empty());
            let template = MessageTemplate::parse(&input).unwrap();
            prop_assert_eq!(template.render("a", "b", "c", &CustomFields::default()), input.trim());
        }
    }
}
