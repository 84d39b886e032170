//! One line per event in the audit's table: the payload's fields as `key=value`, scalars bare
//! and anything nested as compact JSON, cut at [`MAX_CHARS`] so a long message body cannot
//! break the table (the full payload is in `--json`).

use serde_json::Value;

/// Longest summary, in characters, before it is cut with `…`.
pub const MAX_CHARS: usize = 120;

/// The summary of a stored payload (`{"EventName": {fields…}}`, or a bare unit variant).
pub fn summarize(payload: &Value) -> String {
    let body = match payload {
        Value::Object(map) if map.len() == 1 => map.values().next().unwrap_or(payload),
        _ => payload,
    };
    let line = match body {
        Value::Object(fields) => fields
            .iter()
            .map(|(key, value)| format!("{key}={}", scalar(value)))
            .collect::<Vec<_>>()
            .join(" "),
        Value::String(name) => name.clone(),
        other => scalar(other),
    };
    cut(&line)
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.replace('\n', " "),
        other => other.to_string(),
    }
}

fn cut(line: &str) -> String {
    if line.chars().count() <= MAX_CHARS {
        return line.to_string();
    }
    let mut short: String = line.chars().take(MAX_CHARS - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_listed_as_key_value_pairs() {
        let payload =
            serde_json::json!({"LeadStatusChanged": {"from": "pending", "to": "contacted"}});
        assert_eq!(summarize(&payload), "from=pending to=contacted");
    }

    #[test]
    fn nested_values_are_compact_json_and_unit_variants_their_name() {
        let payload = serde_json::json!({"AnswersRecorded": {"answers": {"budget": "500"}}});
        assert_eq!(summarize(&payload), r#"answers={"budget":"500"}"#);
        assert_eq!(
            summarize(&serde_json::json!("LeadArchived")),
            "LeadArchived"
        );
    }

    #[test]
    fn long_lines_are_cut_with_an_ellipsis() {
        let payload = serde_json::json!({"E": {"body": "x".repeat(500)}});
        let line = summarize(&payload);
        assert_eq!(line.chars().count(), MAX_CHARS);
        assert!(line.ends_with('…'));
    }
}
