//! Lead fixtures: valid value objects and commands, numbered so that each is distinct.

use domain::lead::NewLead;
use domain::values::{CustomFields, LeadSource, PhoneNumber, Tag};

/// A valid UK mobile number, distinct for each `n` below one million.
pub fn phone(n: u32) -> PhoneNumber {
    let text = format!("+447400{:06}", n % 1_000_000);
    PhoneNumber::parse_e164(&text).unwrap_or_else(|error| panic!("{text} is not valid: {error}"))
}

/// The tag `text` (lowercase letters, digits and dashes are always valid).
pub fn tag(text: &str) -> Tag {
    Tag::parse(text).unwrap_or_else(|error| panic!("{text} is not a valid tag: {error}"))
}

/// Lead number `n`: a name, a distinct phone, a custom field and a tag; no workflow.
pub fn new_lead(n: u32) -> NewLead {
    NewLead {
        first_name: format!("Lead{n}"),
        last_name: "Tester".to_owned(),
        phone: Some(phone(n)),
        email: None,
        custom_fields: CustomFields::parse(serde_json::json!({ "n": n }))
            .unwrap_or_else(|error| panic!("custom fields: {error}")),
        source: LeadSource::ALL[n as usize % LeadSource::ALL.len()],
        tags: vec![tag("imported")],
        workflow_id: None,
    }
}
